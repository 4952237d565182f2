// Concat, Split and Tile: block copies along one axis (Concat/Split) or repeated rows (Tile).
// All of them move elements without looking at them, so they work for every dtype (strings too).
#include <cstring>

#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

// ---- Concat ----

Status concat(KernelContext& ctx) {
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (const Tensor* t = ctx.input(i)) inputs.push_back(t);
  if (inputs.empty()) return ctx.error("needs at least one input");
  const Tensor& first = *inputs[0];
  const int64_t rank = first.rank();
  if (rank == 0) return ctx.error("cannot concatenate scalars");
  // Opsets 1-3 default the axis to 1; from opset 4 it is required (and may be negative from 11).
  const ir::Attribute* axis_attr = ctx.node().attr("axis");
  auto axis = normalize_axis(axis_attr ? axis_attr->i : 1, rank);
  if (!axis.ok()) return ctx.error(axis.status().message());
  const size_t a = static_cast<size_t>(*axis);

  Shape shape = first.shape();
  shape[a] = 0;
  for (const Tensor* t : inputs) {
    if (t->dtype() != first.dtype()) return ctx.error("inputs have different element types");
    if (t->rank() != rank) return ctx.error("inputs have different ranks");
    for (size_t d = 0; d < static_cast<size_t>(rank); ++d)
      if (d != a && t->shape()[d] != first.shape()[d])
        return ctx.error("input shapes " + shape_to_string(first.shape()) + " and " + shape_to_string(t->shape()) +
                         " differ outside axis " + std::to_string(a));
    shape[a] += t->shape()[a];
  }
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, first.dtype(), shape));
  const int64_t outer = dims_product(shape, 0, a), inner = dims_product(shape, a + 1, shape.size());
  return dispatch_by_size(first.dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    T* dst = elements<T>(*out);
    const int64_t out_block = shape[a] * inner;
    int64_t offset = 0;  // where this input's block starts inside each output block
    for (const Tensor* t : inputs) {
      const int64_t block = t->shape()[a] * inner;
      const T* src = elements<T>(*t);
#pragma omp parallel for if (outer * block > (1 << 16))
      for (int64_t o = 0; o < outer; ++o) std::copy(src + o * block, src + (o + 1) * block, dst + o * out_block + offset);
      offset += block;
    }
    return Status::Ok();
  });
}

// ---- Split ----

Status split(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  const int64_t rank = x->rank();
  auto axis = normalize_axis(ctx.node().attr_int("axis", 0), rank);
  if (!axis.ok()) return ctx.error(axis.status().message());
  const size_t a = static_cast<size_t>(*axis);
  const int64_t dim = x->dim(*axis);
  const int64_t outputs = static_cast<int64_t>(ctx.num_outputs());

  // Sizes come from the split input (opset 13+, also allowed at 1), the split attribute (2-12),
  // or equal parts: exact division, except with opset 18's num_outputs where the last is smaller.
  HONE_ASSIGN_OR_RETURN(auto sizes, ints_from_input_or_attr(ctx, 1, "split"));
  std::vector<int64_t> parts;
  if (sizes && !sizes->empty()) {
    parts = *sizes;
  } else {
    if (outputs < 1) return ctx.error("has no outputs");
    const bool uneven_ok = ctx.node().attr("num_outputs") != nullptr;
    if (!uneven_ok && dim % outputs != 0)
      return ctx.error("axis of size " + std::to_string(dim) + " cannot be split into " + std::to_string(outputs) +
                       " equal parts");
    const int64_t chunk = (dim + outputs - 1) / outputs;
    for (int64_t i = 0; i < outputs; ++i) parts.push_back(std::clamp<int64_t>(dim - i * chunk, 0, chunk));
  }
  if (static_cast<int64_t>(parts.size()) != outputs)
    return ctx.error("split has " + std::to_string(parts.size()) + " sizes for " + std::to_string(outputs) + " outputs");
  int64_t total = 0;
  for (int64_t p : parts) {
    if (p < 0) return ctx.error("split has a negative size");
    total += p;
    if (total > dim) break;
  }
  if (total != dim) return ctx.error("split sizes do not add up to the axis size " + std::to_string(dim));

  const int64_t outer = dims_product(x->shape(), 0, a), inner = dims_product(x->shape(), a + 1, x->shape().size());
  return dispatch_by_size(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* src = elements<T>(*x);
    const int64_t in_block = dim * inner;
    int64_t offset = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      const int64_t block = parts[i] * inner;
      if (ctx.wants_output(i)) {
        Shape shape = x->shape();
        shape[a] = parts[i];
        HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(i, x->dtype(), shape));
        T* dst = elements<T>(*out);
#pragma omp parallel for if (outer * block > (1 << 16))
        for (int64_t o = 0; o < outer; ++o)
          std::copy(src + o * in_block + offset, src + o * in_block + offset + block, dst + o * block);
      }
      offset += block;
    }
    return Status::Ok();
  });
}

// ---- Tile ----

Status tile_with(KernelContext& ctx, const Tensor& x, const std::vector<int64_t>& repeats) {
  if (static_cast<int64_t>(repeats.size()) != x.rank())
    return ctx.error("repeats has " + std::to_string(repeats.size()) + " values for a rank-" + std::to_string(x.rank()) +
                     " input");
  Shape shape(repeats.size());
  for (size_t d = 0; d < repeats.size(); ++d) {
    if (repeats[d] < 0) return ctx.error("repeats has a negative value");
    auto n = checked_mul(x.shape()[d], repeats[d]);
    if (!n) return ctx.error("output size overflows");
    shape[d] = *n;
  }
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x.dtype(), shape));
  if (out->numel() == 0) return Status::Ok();
  return dispatch_by_size(x.dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* src = elements<T>(x);
    T* dst = elements<T>(*out);
    if (shape.empty()) {
      dst[0] = src[0];
      return Status::Ok();
    }
    // Each output row (last dim) is its source row repeated; the source row is found by reducing
    // the row's outer index modulo the input dims.
    const size_t last = shape.size() - 1;
    const int64_t in_row = x.shape()[last], out_row = shape[last];
    const int64_t rows = out->numel() / out_row;
    const auto in_strides = strides_of(x.shape());
#pragma omp parallel for if (out->numel() > (1 << 16))
    for (int64_t r = 0; r < rows; ++r) {
      int64_t rem = r, off = 0;
      for (size_t d = last; d-- > 0;) {
        off += (rem % shape[d]) % x.shape()[d] * in_strides[d];
        rem /= shape[d];
      }
      T* row = dst + r * out_row;
      for (int64_t k = 0; k < out_row; k += in_row) std::copy(src + off, src + off + in_row, row + k);
    }
    return Status::Ok();
  });
}

Status tile(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* r, required_input(ctx, 1));
  auto repeats = read_ints(*r);
  if (!repeats.ok()) return ctx.error("repeats: " + repeats.status().message());
  return tile_with(ctx, *x, *repeats);
}

// Opsets 1-5: Tile(input, tiles, axis) repeats along a single axis.
Status tile_v1(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* tiles_t, required_input(ctx, 1));
  HONE_ASSIGN_OR_RETURN(const Tensor* axis_t, required_input(ctx, 2));
  auto tiles = read_ints(*tiles_t);
  auto axis_v = read_ints(*axis_t);
  if (!tiles.ok() || !axis_v.ok() || tiles->size() != 1 || axis_v->size() != 1)
    return ctx.error("tiles and axis must be integer scalars");
  auto axis = normalize_axis((*axis_v)[0], x->rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  std::vector<int64_t> repeats(static_cast<size_t>(x->rank()), 1);
  repeats[static_cast<size_t>(*axis)] = (*tiles)[0];
  return tile_with(ctx, *x, repeats);
}

}  // namespace

HONE_REGISTER_FN("", Concat, 1, kMaxOpset, concat);
HONE_REGISTER_FN("", Split, 1, kMaxOpset, split);
HONE_REGISTER_FN("", Tile, 1, 5, tile_v1);
HONE_REGISTER_FN("", Tile, 6, kMaxOpset, tile);

}  // namespace hone::rt
