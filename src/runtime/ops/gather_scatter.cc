// Indexed reads and writes: Gather, GatherElements, GatherND, ScatterElements (and its
// deprecated name Scatter), ScatterND. Indices come from the model's data, so every one is
// wrapped once when negative and checked against its axis before any element moves: a bad index
// is a run-time error naming the node, never an out-of-bounds access.
#include <cmath>

#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

// The values of an index tensor, wrapped once when negative; `dims[i % dims.size()]` bounds
// element i (one dim for Gather*, the tuple's dims for *ND).
Result<std::vector<int64_t>> read_indices(const KernelContext& ctx, const Tensor& indices, const std::vector<int64_t>& dims) {
  auto v = read_ints(indices);
  if (!v.ok()) return ctx.error("indices: " + v.status().message());
  std::vector<int64_t> idx = std::move(v).value();
  if (dims.empty()) {
    if (!idx.empty()) return ctx.error("indices index into no dimension");
    return idx;
  }
  for (size_t i = 0; i < idx.size(); ++i) {
    const int64_t dim = dims[i % dims.size()];
    int64_t k = idx[i];
    if (k < 0) k += dim;
    if (k < 0 || k >= dim)
      return ctx.error("index " + std::to_string(idx[i]) + " is out of range for a dimension of size " + std::to_string(dim));
    idx[i] = k;
  }
  return idx;
}

// ---- Gather ----

Status gather(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1));
  auto axis_r = normalize_axis(ctx.node().attr_int("axis", 0), data->rank());
  if (!axis_r.ok()) return ctx.error(axis_r.status().message());
  const size_t axis = static_cast<size_t>(*axis_r);
  const int64_t axis_dim = data->shape()[axis];
  HONE_ASSIGN_OR_RETURN(auto idx, read_indices(ctx, *indices, {axis_dim}));

  Shape shape(data->shape().begin(), data->shape().begin() + static_cast<int64_t>(axis));
  shape.insert(shape.end(), indices->shape().begin(), indices->shape().end());
  shape.insert(shape.end(), data->shape().begin() + static_cast<int64_t>(axis) + 1, data->shape().end());
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data->dtype(), shape));
  const int64_t outer = dims_product(data->shape(), 0, axis);
  const int64_t inner = dims_product(data->shape(), axis + 1, data->shape().size());
  const int64_t n = static_cast<int64_t>(idx.size());
  return dispatch_by_size(data->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* src = elements<T>(*data);
    T* dst = elements<T>(*out);
#pragma omp parallel for if (out->numel() > (1 << 16))
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < n; ++j) {
        const T* from = src + (o * axis_dim + idx[static_cast<size_t>(j)]) * inner;
        std::copy(from, from + inner, dst + (o * n + j) * inner);
      }
    return Status::Ok();
  });
}

// ---- GatherElements, ScatterElements ----

// Checks the shared shape rules of GatherElements/ScatterElements: indices have the data's rank
// and, off the axis, no dim larger than the data's (so every derived position is inside data).
Status check_elements_shapes(const KernelContext& ctx, const Tensor& data, const Tensor& indices, size_t axis) {
  if (indices.rank() != data.rank())
    return ctx.error("indices have rank " + std::to_string(indices.rank()) + ", data rank " + std::to_string(data.rank()));
  for (size_t d = 0; d < data.shape().size(); ++d)
    if (d != axis && indices.shape()[d] > data.shape()[d])
      return ctx.error("indices shape " + shape_to_string(indices.shape()) + " exceeds data shape " +
                       shape_to_string(data.shape()) + " off the axis");
  return Status::Ok();
}

// Offset into data of element i of indices (row-major over indices' shape), with the axis
// coordinate replaced by its index value.
struct ElementsAddressing {
  std::vector<int64_t> ind_shape, data_strides;
  size_t axis;
  int64_t offset(int64_t i, int64_t index_value) const {
    int64_t off = 0;
    for (size_t d = ind_shape.size(); d-- > 0;) {
      const int64_t c = i % ind_shape[d];
      i /= ind_shape[d];
      off += (d == axis ? index_value : c) * data_strides[d];
    }
    return off;
  }
};

Status gather_elements(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1));
  auto axis_r = normalize_axis(ctx.node().attr_int("axis", 0), data->rank());
  if (!axis_r.ok()) return ctx.error(axis_r.status().message());
  const size_t axis = static_cast<size_t>(*axis_r);
  HONE_RETURN_IF_ERROR(check_elements_shapes(ctx, *data, *indices, axis));
  HONE_ASSIGN_OR_RETURN(auto idx, read_indices(ctx, *indices, {data->shape()[axis]}));
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data->dtype(), indices->shape()));
  const ElementsAddressing addr{indices->shape(), strides_of(data->shape()), axis};
  return dispatch_by_size(data->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* src = elements<T>(*data);
    T* dst = elements<T>(*out);
#pragma omp parallel for if (out->numel() > (1 << 16))
    for (int64_t i = 0; i < out->numel(); ++i) dst[i] = src[addr.offset(i, idx[static_cast<size_t>(i)])];
    return Status::Ok();
  });
}

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Result<Reduction> read_reduction(const KernelContext& ctx) {
  const std::string r = ctx.node().attr_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  return ctx.error("unknown reduction '" + r + "'");
}

template <class T>
void combine(T& target, const T& update, Reduction r) {
  if constexpr (!std::is_arithmetic_v<T>) {
    target = update;  // dispatch_scatter only hands non-numbers to plain writes
  } else {
    switch (r) {
      case Reduction::kNone: target = update; break;
      case Reduction::kAdd: target = static_cast<T>(target + update); break;
      case Reduction::kMul: target = static_cast<T>(target * update); break;
      case Reduction::kMax: target = std::max(target, update); break;
      case Reduction::kMin: target = std::min(target, update); break;
    }
  }
}

// Runs f(T{}) with a type that can hold the elements: by size for plain writes, by value type
// (numeric only) when a reduction combines them.
template <class F>
Status dispatch_scatter(DType dtype, Reduction r, F&& f) {
  if (r == Reduction::kNone) return dispatch_by_size(dtype, std::forward<F>(f));
  if (dtype == DType::kBool || dtype == DType::kFloat16 || dtype == DType::kBFloat16)
    return unsupported("scatter reductions on " + std::string(dtype_name(dtype)) + " are not supported");
  return dispatch_numeric(dtype, std::forward<F>(f));
}

Status scatter_elements(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1));
  HONE_ASSIGN_OR_RETURN(const Tensor* updates, required_input(ctx, 2));
  HONE_ASSIGN_OR_RETURN(Reduction reduction, read_reduction(ctx));
  auto axis_r = normalize_axis(ctx.node().attr_int("axis", 0), data->rank());
  if (!axis_r.ok()) return ctx.error(axis_r.status().message());
  const size_t axis = static_cast<size_t>(*axis_r);
  if (updates->dtype() != data->dtype()) return ctx.error("updates and data have different element types");
  if (updates->shape() != indices->shape())
    return ctx.error("updates shape " + shape_to_string(updates->shape()) + " differs from indices shape " +
                     shape_to_string(indices->shape()));
  HONE_RETURN_IF_ERROR(check_elements_shapes(ctx, *data, *indices, axis));
  HONE_ASSIGN_OR_RETURN(auto idx, read_indices(ctx, *indices, {data->shape()[axis]}));
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data->dtype(), data->shape()));
  const ElementsAddressing addr{indices->shape(), strides_of(data->shape()), axis};
  // Sequential: with duplicate indices the updates apply in order (the last write wins).
  Status s = dispatch_scatter(data->dtype(), reduction, [&](auto zero) -> Status {
    using T = decltype(zero);
    T* dst = elements<T>(*out);
    std::copy(elements<T>(*data), elements<T>(*data) + data->numel(), dst);
    const T* upd = elements<T>(*updates);
    for (int64_t i = 0; i < updates->numel(); ++i) combine(dst[addr.offset(i, idx[static_cast<size_t>(i)])], upd[i], reduction);
    return Status::Ok();
  });
  if (!s.ok()) return ctx.error(s.message());
  return Status::Ok();
}

// ---- GatherND, ScatterND ----

// Where index tuples of length m (the last dim of indices) point into data: each tuple selects
// a slice of `slice` elements; tuples in batch b (GatherND's batch_dims) index batch b of data.
struct NdAddressing {
  int64_t m = 0, tuples = 0, slice = 1, batches = 1, tuples_per_batch = 0, data_batch_size = 0;
  std::vector<int64_t> idx;           // normalized, tuples * m values
  std::vector<int64_t> tuple_strides;  // data strides of the m indexed dims
  int64_t offset(int64_t t) const {
    int64_t off = (t / tuples_per_batch) * data_batch_size;
    for (int64_t k = 0; k < m; ++k) off += idx[static_cast<size_t>(t * m + k)] * tuple_strides[static_cast<size_t>(k)];
    return off;
  }
};

Result<NdAddressing> nd_addressing(const KernelContext& ctx, const Tensor& data, const Tensor& indices, int64_t batch_dims) {
  const int64_t r = data.rank(), q = indices.rank();
  if (q < 1) return ctx.error("indices must have rank >= 1");
  if (batch_dims < 0 || batch_dims >= std::min(r, q))
    return ctx.error("batch_dims " + std::to_string(batch_dims) + " is out of range");
  for (int64_t d = 0; d < batch_dims; ++d)
    if (data.dim(d) != indices.dim(d)) return ctx.error("data and indices differ in batch dim " + std::to_string(d));
  NdAddressing a;
  a.m = indices.dim(q - 1);
  if (a.m < 1 || a.m > r - batch_dims)
    return ctx.error("index tuples of length " + std::to_string(a.m) + " do not fit data of rank " + std::to_string(r));
  const size_t b = static_cast<size_t>(batch_dims), mm = static_cast<size_t>(a.m);
  const auto strides = strides_of(data.shape());
  std::vector<int64_t> tuple_dims(data.shape().begin() + static_cast<int64_t>(b),
                                  data.shape().begin() + static_cast<int64_t>(b + mm));
  a.tuple_strides.assign(strides.begin() + static_cast<int64_t>(b), strides.begin() + static_cast<int64_t>(b + mm));
  a.slice = dims_product(data.shape(), b + mm, data.shape().size());
  a.batches = dims_product(data.shape(), 0, b);
  a.data_batch_size = dims_product(data.shape(), b, data.shape().size());
  a.tuples = indices.numel() / a.m;
  a.tuples_per_batch = a.batches == 0 ? 0 : a.tuples / a.batches;
  HONE_ASSIGN_OR_RETURN(a.idx, read_indices(ctx, indices, tuple_dims));
  return a;
}

Status gather_nd(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1));
  const int64_t batch_dims = ctx.node().attr_int("batch_dims", 0);
  HONE_ASSIGN_OR_RETURN(NdAddressing a, nd_addressing(ctx, *data, *indices, batch_dims));
  Shape shape(indices->shape().begin(), indices->shape().end() - 1);
  shape.insert(shape.end(), data->shape().begin() + batch_dims + a.m, data->shape().end());
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data->dtype(), shape));
  return dispatch_by_size(data->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* src = elements<T>(*data);
    T* dst = elements<T>(*out);
#pragma omp parallel for if (out->numel() > (1 << 16))
    for (int64_t t = 0; t < a.tuples; ++t) {
      const T* from = src + a.offset(t);
      std::copy(from, from + a.slice, dst + t * a.slice);
    }
    return Status::Ok();
  });
}

Status scatter_nd(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* data, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* indices, required_input(ctx, 1));
  HONE_ASSIGN_OR_RETURN(const Tensor* updates, required_input(ctx, 2));
  HONE_ASSIGN_OR_RETURN(Reduction reduction, read_reduction(ctx));
  if (updates->dtype() != data->dtype()) return ctx.error("updates and data have different element types");
  HONE_ASSIGN_OR_RETURN(NdAddressing a, nd_addressing(ctx, *data, *indices, 0));
  Shape want(indices->shape().begin(), indices->shape().end() - 1);
  want.insert(want.end(), data->shape().begin() + a.m, data->shape().end());
  if (updates->shape() != want)
    return ctx.error("updates shape " + shape_to_string(updates->shape()) + " should be " + shape_to_string(want));
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data->dtype(), data->shape()));
  Status s = dispatch_scatter(data->dtype(), reduction, [&](auto zero) -> Status {
    using T = decltype(zero);
    T* dst = elements<T>(*out);
    std::copy(elements<T>(*data), elements<T>(*data) + data->numel(), dst);
    const T* upd = elements<T>(*updates);
    for (int64_t t = 0; t < a.tuples; ++t) {
      T* to = dst + a.offset(t);
      for (int64_t j = 0; j < a.slice; ++j) combine(to[j], upd[t * a.slice + j], reduction);
    }
    return Status::Ok();
  });
  if (!s.ok()) return ctx.error(s.message());
  return Status::Ok();
}

}  // namespace

HONE_REGISTER_FN("", Gather, 1, kMaxOpset, gather);
HONE_REGISTER_FN("", GatherElements, 11, kMaxOpset, gather_elements);
HONE_REGISTER_FN("", GatherND, 11, kMaxOpset, gather_nd);
HONE_REGISTER_FN("", Scatter, 9, 10, scatter_elements);
HONE_REGISTER_FN("", ScatterElements, 11, kMaxOpset, scatter_elements);
HONE_REGISTER_FN("", ScatterND, 11, kMaxOpset, scatter_nd);

}  // namespace hone::rt
