// TopK, ArgMax, ArgMin: selections along one axis. Ties go to the lowest index (ArgMax/ArgMin
// with select_last_index: the highest), as the ONNX reference does. float16/bfloat16 compare
// through their float value.
#include <numeric>

#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

// Calls f(T{}, key) where key(const T&) gives a value that compares like the element.
template <class F>
Status dispatch_ordered(DType dtype, F&& f) {
  if (dtype == DType::kFloat16) return f(uint16_t{}, [](uint16_t h) { return half_to_float(h); });
  if (dtype == DType::kBFloat16) return f(uint16_t{}, [](uint16_t h) { return bfloat16_to_float(h); });
  return dispatch_numeric(dtype, [&](auto zero) -> Status {
    using T = decltype(zero);
    return f(T{}, [](T v) { return v; });
  });
}

// ---- TopK ----

Status topk_with(KernelContext& ctx, int64_t k) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  auto axis_r = normalize_axis(ctx.node().attr_int("axis", -1), x->rank());
  if (!axis_r.ok()) return ctx.error(axis_r.status().message());
  const size_t axis = static_cast<size_t>(*axis_r);
  const int64_t dim = x->shape()[axis];
  if (k < 0 || k > dim) return ctx.error("k " + std::to_string(k) + " is out of range for an axis of size " + std::to_string(dim));
  const bool largest = ctx.node().attr_int("largest", 1) != 0;
  Shape shape = x->shape();
  shape[axis] = k;
  HONE_ASSIGN_OR_RETURN(Tensor * values, ctx.allocate_output(0, x->dtype(), shape));
  HONE_ASSIGN_OR_RETURN(Tensor * indices, ctx.allocate_output(1, DType::kInt64, shape));
  const int64_t outer = dims_product(x->shape(), 0, axis), inner = dims_product(x->shape(), axis + 1, x->shape().size());
  // The result is always sorted: "sorted=0" leaves the order open, so sorted is a valid answer.
  return dispatch_ordered(x->dtype(), [&](auto zero, auto key) -> Status {
    using T = decltype(zero);
    const T* src = x->data<T>();
    T* out_v = values->data<T>();
    int64_t* out_i = indices->data<int64_t>();
#pragma omp parallel for if (x->numel() > (1 << 16))
    for (int64_t s = 0; s < outer * inner; ++s) {
      const int64_t o = s / inner, in = s % inner;
      const T* base = src + o * dim * inner + in;
      std::vector<int64_t> order(static_cast<size_t>(dim));
      std::iota(order.begin(), order.end(), 0);
      // A copy local to the loop body: clang 16 refuses a lambda naming `largest` directly inside
      // an OpenMP region of a generic lambda ("reference to local variable declared in enclosing function").
      const bool descending = largest;
      auto before = [&](int64_t a, int64_t b) {
        const auto va = key(base[a * inner]), vb = key(base[b * inner]);
        if (va != vb) return descending ? va > vb : va < vb;
        return a < b;
      };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        const int64_t at = o * k * inner + j * inner + in;
        out_v[at] = base[order[static_cast<size_t>(j)] * inner];
        out_i[at] = order[static_cast<size_t>(j)];
      }
    }
    return Status::Ok();
  });
}

Status topk_v1(KernelContext& ctx) {
  if (!ctx.node().attr("k")) return ctx.error("attribute k is required");
  return topk_with(ctx, ctx.node().attr_int("k", 0));
}

Status topk_v10(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* k_t, required_input(ctx, 1));
  auto k = read_ints(*k_t);
  if (!k.ok() || k->size() != 1) return ctx.error("K must be a single integer");
  return topk_with(ctx, (*k)[0]);
}

// ---- ArgMax, ArgMin ----

template <bool kMax>
Status arg_extreme(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  auto axis_r = normalize_axis(ctx.node().attr_int("axis", 0), x->rank());
  if (!axis_r.ok()) return ctx.error(axis_r.status().message());
  const size_t axis = static_cast<size_t>(*axis_r);
  const int64_t dim = x->shape()[axis];
  if (dim == 0) return ctx.error("cannot take the arg of an empty axis");
  const bool keepdims = ctx.node().attr_int("keepdims", 1) != 0;
  const bool last = ctx.node().attr_int("select_last_index", 0) != 0;
  Shape shape = x->shape();
  if (keepdims) shape[axis] = 1;
  else shape.erase(shape.begin() + static_cast<int64_t>(axis));
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DType::kInt64, shape));
  const int64_t outer = dims_product(x->shape(), 0, axis), inner = dims_product(x->shape(), axis + 1, x->shape().size());
  return dispatch_ordered(x->dtype(), [&](auto zero, auto key) -> Status {
    using T = decltype(zero);
    const T* src = x->data<T>();
    int64_t* dst = out->data<int64_t>();
#pragma omp parallel for if (x->numel() > (1 << 16))
    for (int64_t s = 0; s < outer * inner; ++s) {
      const int64_t o = s / inner, in = s % inner;
      const T* base = src + o * dim * inner + in;
      int64_t best = 0;
      auto best_v = key(base[0]);
      for (int64_t j = 1; j < dim; ++j) {
        const auto v = key(base[j * inner]);
        const bool better = kMax ? (last ? v >= best_v : v > best_v) : (last ? v <= best_v : v < best_v);
        if (better) best = j, best_v = v;
      }
      dst[s] = best;
    }
    return Status::Ok();
  });
}

}  // namespace

HONE_REGISTER_FN("", TopK, 1, 9, topk_v1);
HONE_REGISTER_FN("", TopK, 10, kMaxOpset, topk_v10);
HONE_REGISTER_FN("", ArgMax, 1, kMaxOpset, arg_extreme<true>);
HONE_REGISTER_FN("", ArgMin, 1, kMaxOpset, arg_extreme<false>);

}  // namespace hone::rt
