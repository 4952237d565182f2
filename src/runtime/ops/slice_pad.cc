// Slice and Pad: each output element reads one input element (or Pad's constant), chosen per
// axis, so both reduce to per-axis index maps. Slice is a strided view copied out; Pad maps each
// output coordinate of each axis to a source coordinate (or "the constant").
#include <cmath>
#include <limits>

#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

// ---- Slice ----

Status slice_with(KernelContext& ctx, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                  const std::optional<std::vector<int64_t>>& axes_in, const std::optional<std::vector<int64_t>>& steps_in) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  const int64_t rank = x->rank();
  if (starts.size() != ends.size()) return ctx.error("starts and ends have different lengths");
  std::vector<int64_t> axes;
  if (axes_in && !axes_in->empty()) {
    axes = *axes_in;
  } else {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (axes.size() != starts.size()) return ctx.error("axes and starts have different lengths");
  std::vector<int64_t> steps(starts.size(), 1);
  if (steps_in && !steps_in->empty()) {
    if (steps_in->size() != starts.size()) return ctx.error("steps and starts have different lengths");
    steps = *steps_in;
  }

  Shape shape = x->shape();
  const auto in_strides = strides_of(x->shape());
  std::vector<int64_t> strides = in_strides;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  int64_t offset = 0;
  for (size_t i = 0; i < axes.size(); ++i) {
    auto axis_r = normalize_axis(axes[i], rank);
    if (!axis_r.ok()) return ctx.error(axis_r.status().message());
    const size_t a = static_cast<size_t>(*axis_r);
    if (seen[a]) return ctx.error("axis " + std::to_string(axes[i]) + " appears twice");
    seen[a] = true;
    const int64_t dim = x->shape()[a], step = steps[i];
    if (step == 0) return ctx.error("step is 0");
    // Python slicing: negative positions count from the end, then clamp to the valid range.
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    int64_t count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    shape[a] = count;
    if (count > 0) offset += start * in_strides[a];
    strides[a] = in_strides[a] * step;
  }
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), shape));
  if (out->numel() == 0) return Status::Ok();
  return dispatch_by_size(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    strided_copy(elements<T>(*x), offset, shape, strides, elements<T>(*out));
    return Status::Ok();
  });
}

// Opsets 1-9: starts/ends/axes are attributes.
Status slice_v1(KernelContext& ctx) {
  const ir::Node& n = ctx.node();
  std::optional<std::vector<int64_t>> axes;
  if (n.attr("axes")) axes = n.attr_ints("axes");
  return slice_with(ctx, n.attr_ints("starts"), n.attr_ints("ends"), axes, std::nullopt);
}

Status slice_v10(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* starts_t, required_input(ctx, 1));
  HONE_ASSIGN_OR_RETURN(const Tensor* ends_t, required_input(ctx, 2));
  auto starts = read_ints(*starts_t);
  auto ends = read_ints(*ends_t);
  if (!starts.ok() || !ends.ok()) return ctx.error("starts and ends must be int32 or int64");
  HONE_ASSIGN_OR_RETURN(auto axes, optional_ints_input(ctx, 3));
  HONE_ASSIGN_OR_RETURN(auto steps, optional_ints_input(ctx, 4));
  return slice_with(ctx, *starts, *ends, axes, steps);
}

// ---- Pad ----

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// Source coordinate along one axis for each output coordinate; -1 where the constant goes.
Result<std::vector<int64_t>> pad_map(const KernelContext& ctx, int64_t dim, int64_t before, int64_t out_dim, PadMode mode) {
  std::vector<int64_t> map(static_cast<size_t>(out_dim));
  for (int64_t o = 0; o < out_dim; ++o) {
    int64_t c = o - before;
    if (c < 0 || c >= dim) {
      if (mode == PadMode::kConstant) {
        c = -1;
      } else if (dim == 0) {
        return ctx.error("cannot pad an empty axis in this mode");
      } else if (mode == PadMode::kEdge) {
        c = std::clamp<int64_t>(c, 0, dim - 1);
      } else if (mode == PadMode::kWrap) {
        c = ((c % dim) + dim) % dim;
      } else if (dim == 1) {
        c = 0;
      } else {  // reflect without repeating the edge, bouncing as often as needed
        const int64_t period = 2 * (dim - 1);
        c = ((c % period) + period) % period;
        if (c >= dim) c = period - c;
      }
    }
    map[static_cast<size_t>(o)] = c;
  }
  return map;
}

// pads: [x1_begin, x2_begin, ..., x1_end, x2_end, ...] over `axes` (all axes when empty).
Status pad_with(KernelContext& ctx, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes_in,
                const std::string& mode_name, const Tensor* constant, double attr_value) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  const int64_t rank = x->rank();
  PadMode mode;
  if (mode_name == "constant") mode = PadMode::kConstant;
  else if (mode_name == "reflect") mode = PadMode::kReflect;
  else if (mode_name == "edge") mode = PadMode::kEdge;
  else if (mode_name == "wrap") mode = PadMode::kWrap;
  else return ctx.error("unknown mode '" + mode_name + "'");

  std::vector<int64_t> axes = axes_in;
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    return ctx.error("pads has " + std::to_string(pads.size()) + " values for " + std::to_string(axes.size()) + " axes");
  std::vector<int64_t> before(static_cast<size_t>(rank), 0), after(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    auto a = normalize_axis(axes[i], rank);
    if (!a.ok()) return ctx.error(a.status().message());
    before[static_cast<size_t>(*a)] = pads[i];
    after[static_cast<size_t>(*a)] = pads[i + axes.size()];
  }
  Shape shape(static_cast<size_t>(rank));
  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(rank));
  for (size_t d = 0; d < shape.size(); ++d) {
    auto s = checked_add(x->shape()[d], before[d]);
    auto e = s ? checked_add(*s, after[d]) : std::nullopt;
    if (!e || *e < 0) return ctx.error("pads make axis " + std::to_string(d) + " negative or too large");
    shape[d] = *e;
  }
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), shape));
  if (out->numel() == 0) return Status::Ok();
  for (size_t d = 0; d < shape.size(); ++d) {
    HONE_ASSIGN_OR_RETURN(maps[d], pad_map(ctx, x->shape()[d], before[d], shape[d], mode));
  }
  if (constant && constant->dtype() != x->dtype()) return ctx.error("constant_value has a different element type");
  if (constant && constant->numel() != 1) return ctx.error("constant_value must hold one element");

  return dispatch_all(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    T value{};
    if (constant) {
      value = constant->data<T>()[0];
    } else if constexpr (std::is_same_v<T, uint16_t>) {
      const float f = static_cast<float>(attr_value);
      value = x->dtype() == DType::kFloat16    ? float_to_half(f)
              : x->dtype() == DType::kBFloat16 ? float_to_bfloat16(f)
                                               : static_cast<T>(attr_value);
    } else {
      value = static_cast<T>(attr_value);
    }
    const T* src = x->data<T>();
    T* dst = out->data<T>();
    const auto in_strides = strides_of(x->shape());
    if (rank == 0) {
      dst[0] = src[0];
      return Status::Ok();
    }
    const size_t last = shape.size() - 1;
    const int64_t row = shape[last];
    const int64_t rows = out->numel() / row;
    const std::vector<int64_t>& last_map = maps[last];
#pragma omp parallel for if (out->numel() > (1 << 16))
    for (int64_t r = 0; r < rows; ++r) {
      int64_t rem = r, off = 0;
      bool outside = false;
      for (size_t d = last; d-- > 0;) {
        const int64_t c = maps[d][static_cast<size_t>(rem % shape[d])];
        rem /= shape[d];
        if (c < 0) outside = true;
        off += c * in_strides[d];
      }
      T* y = dst + r * row;
      if (outside) {
        std::fill(y, y + row, value);
        continue;
      }
      for (int64_t j = 0; j < row; ++j) {
        const int64_t c = last_map[static_cast<size_t>(j)];
        y[j] = c < 0 ? value : src[off + c];
      }
    }
    return Status::Ok();
  });
}

// Opsets 1-10: pads (opset 1: paddings), mode and value are attributes.
Status pad_v1(KernelContext& ctx) {
  const ir::Node& n = ctx.node();
  std::vector<int64_t> pads = n.attr("pads") ? n.attr_ints("pads") : n.attr_ints("paddings");
  return pad_with(ctx, pads, {}, n.attr_string("mode", "constant"), nullptr, n.attr_float("value", 0.f));
}

// Opset 11+: pads, constant_value and (18+) axes are inputs.
Status pad_v11(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* pads_t, required_input(ctx, 1));
  auto pads = read_ints(*pads_t);
  if (!pads.ok()) return ctx.error("pads: " + pads.status().message());
  std::vector<int64_t> axes;
  if (const Tensor* axes_t = ctx.input(3)) {
    auto v = read_ints(*axes_t);
    if (!v.ok()) return ctx.error("axes: " + v.status().message());
    axes = *v;
  }
  return pad_with(ctx, *pads, axes, ctx.node().attr_string("mode", "constant"), ctx.input(2), 0.0);
}

}  // namespace

HONE_REGISTER_FN("", Slice, 1, 9, slice_v1);
HONE_REGISTER_FN("", Slice, 10, kMaxOpset, slice_v10);
HONE_REGISTER_FN("", Pad, 1, 10, pad_v1);
HONE_REGISTER_FN("", Pad, 11, kMaxOpset, pad_v11);

}  // namespace hone::rt
