// Resize (opset 10, 11-17) and Upsample (7-9). Nearest, linear and cubic interpolation are all
// separable: each axis gets a table of (source index, weight) taps per output coordinate, and the
// tensor is resampled one axis at a time (axes that map 1:1 are skipped). The coordinate
// arithmetic follows the ONNX reference implementation, including its choice of neighbours
// (edge-padded) and its exclude_outside renormalization.
#include <cmath>
#include <limits>

#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn, kTfCropAndResize };
// kSimple: opset 10 and Upsample (onnxruntime's behaviour): floor when upsampling, ceil when
// downsampling.
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct ResizeParams {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation_value = 0;
};

struct Tap {
  int64_t index;
  double weight;
};

// Interpolation taps of one axis: taps[o] for output coordinate o; outside[o] when o maps outside
// the input (tf_crop_and_resize), where the output is extrapolation_value.
struct AxisPlan {
  std::vector<std::vector<Tap>> taps;
  std::vector<bool> outside;
  bool identity = true;
};

AxisPlan plan_axis(const ResizeParams& p, int64_t in, int64_t out, double scale, double roi_start, double roi_end) {
  AxisPlan plan;
  plan.taps.resize(static_cast<size_t>(out));
  plan.outside.assign(static_cast<size_t>(out), false);
  const double length_resized = scale * static_cast<double>(in);
  for (int64_t o = 0; o < out; ++o) {
    const double x = static_cast<double>(o);
    double xo = 0;
    switch (p.coord) {
      case Coord::kHalfPixel: xo = (x + 0.5) / scale - 0.5; break;
      case Coord::kPytorchHalfPixel: xo = length_resized == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
      case Coord::kAlignCorners:
        xo = length_resized == 1 ? 0 : x * static_cast<double>(in - 1) / (length_resized - 1);
        break;
      case Coord::kAsymmetric: xo = x / scale; break;
      case Coord::kTfHalfPixelForNn: xo = (x + 0.5) / scale; break;
      case Coord::kTfCropAndResize:
        xo = length_resized == 1 ? (roi_end - roi_start) * static_cast<double>(in - 1) / 2
                                 : x * (roi_end - roi_start) * static_cast<double>(in - 1) / (length_resized - 1);
        xo += roi_start * static_cast<double>(in - 1);
        if (xo < 0 || xo > static_cast<double>(in - 1)) plan.outside[static_cast<size_t>(o)] = true;
        break;
    }
    auto& taps = plan.taps[static_cast<size_t>(o)];
    if (plan.outside[static_cast<size_t>(o)]) {
      plan.identity = false;
      continue;
    }
    // The reference prefers the left neighbour pair when xo is an integer: base = xo - 1 with
    // ratio 1, which puts the whole weight on xo.
    const bool integral = xo == std::floor(xo);
    const int64_t base = integral ? static_cast<int64_t>(xo) - 1 : static_cast<int64_t>(std::floor(xo));
    const double ratio = integral ? 1.0 : xo - std::floor(xo);
    std::vector<Tap> raw;
    switch (p.mode) {
      case Mode::kNearest: {
        if (p.nearest == Nearest::kSimple) {
          const int64_t pick = scale < 1 ? static_cast<int64_t>(std::ceil(xo)) : static_cast<int64_t>(std::floor(xo));
          raw.push_back({pick, 1});
          break;
        }
        bool right = true;
        if (!integral) {
          switch (p.nearest) {
            case Nearest::kRoundPreferFloor: right = ratio > 0.5; break;
            case Nearest::kRoundPreferCeil: right = ratio >= 0.5; break;
            case Nearest::kFloor: right = false; break;
            case Nearest::kCeil: right = true; break;
            case Nearest::kSimple: break;
          }
        }
        raw.push_back({right ? base + 1 : base, 1});
        break;
      }
      case Mode::kLinear:
        raw.push_back({base, 1 - ratio});
        raw.push_back({base + 1, ratio});
        break;
      case Mode::kCubic: {
        const double a = p.cubic_a, r = ratio, s = 1 - ratio;
        raw.push_back({base - 1, ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a});
        raw.push_back({base, ((a + 2) * r - (a + 3)) * r * r + 1});
        raw.push_back({base + 1, ((a + 2) * s - (a + 3)) * s * s + 1});
        raw.push_back({base + 2, ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a});
        break;
      }
    }
    if (p.exclude_outside && p.mode != Mode::kNearest) {
      double sum = 0;
      for (Tap& t : raw) {
        if (t.index < 0 || t.index >= in) t.weight = 0;
        sum += t.weight;
      }
      if (sum != 0)
        for (Tap& t : raw) t.weight /= sum;
    }
    // Neighbours beyond the edges read the edge value (the reference pads with "edge").
    for (Tap t : raw) {
      if (t.weight == 0) continue;
      t.index = std::clamp<int64_t>(t.index, 0, in - 1);
      taps.push_back(t);
    }
    if (taps.size() != 1 || taps[0].index != o || taps[0].weight != 1) plan.identity = false;
  }
  if (out != in) plan.identity = false;
  return plan;
}

// Resamples `src` (shape `shape`) along `axis` into a new buffer; updates shape.
std::vector<double> resample_axis(const std::vector<double>& src, Shape& shape, size_t axis, const AxisPlan& plan) {
  const int64_t in = shape[axis], out = static_cast<int64_t>(plan.taps.size());
  const int64_t outer = dims_product(shape, 0, axis), inner = dims_product(shape, axis + 1, shape.size());
  std::vector<double> dst(static_cast<size_t>(outer * out * inner), 0.0);
#pragma omp parallel for if (outer * out * inner > (1 << 16))
  for (int64_t w = 0; w < outer * out; ++w) {
    const int64_t o = w / out, j = w % out;
    double* y = dst.data() + w * inner;
    for (const Tap& t : plan.taps[static_cast<size_t>(j)]) {
      const double* x = src.data() + (o * in + t.index) * inner;
      for (int64_t i = 0; i < inner; ++i) y[i] += t.weight * x[i];
    }
  }
  shape[axis] = out;
  return dst;
}

// Reads element type T as double and writes it back (float16/bfloat16 through float; integers
// clamped to their range, then truncated like the reference's astype).
template <class T>
double load(const T& v, DType dt) {
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (dt == DType::kFloat16) return half_to_float(v);
    if (dt == DType::kBFloat16) return bfloat16_to_float(v);
  }
  return static_cast<double>(v);
}
template <class T>
T store(double v, DType dt) {
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (dt == DType::kFloat16) return float_to_half(static_cast<float>(v));
    if (dt == DType::kBFloat16) return float_to_bfloat16(static_cast<float>(v));
  }
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    v = std::clamp(v, static_cast<double>(std::numeric_limits<T>::lowest()), static_cast<double>(std::numeric_limits<T>::max()));
  }
  return static_cast<T>(v);
}

Status resize_with(KernelContext& ctx, const ResizeParams& p, const std::vector<double>* scales_in,
                   const std::vector<int64_t>* sizes, const std::vector<double>& roi) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  const size_t rank = x->shape().size();
  Shape out_shape(rank);
  std::vector<double> scales(rank);
  if (sizes) {
    if (sizes->size() != rank) return ctx.error("sizes has " + std::to_string(sizes->size()) + " values for rank " + std::to_string(rank));
    for (size_t d = 0; d < rank; ++d) {
      if ((*sizes)[d] < 0) return ctx.error("sizes has a negative value");
      out_shape[d] = (*sizes)[d];
      scales[d] = x->shape()[d] == 0 ? 1.0 : static_cast<double>(out_shape[d]) / static_cast<double>(x->shape()[d]);
    }
  } else {
    if (!scales_in || scales_in->size() != rank) return ctx.error("scales must have one value per input dim");
    for (size_t d = 0; d < rank; ++d) {
      scales[d] = (*scales_in)[d];
      if (!(scales[d] > 0) || !std::isfinite(scales[d])) return ctx.error("scales must be positive");
      const double n = std::floor(scales[d] * static_cast<double>(x->shape()[d]));
      if (n > 9.0e15) return ctx.error("output is too large");
      out_shape[d] = static_cast<int64_t>(n);
    }
  }
  if (p.coord == Coord::kTfCropAndResize && roi.size() != 2 * rank)
    return ctx.error("tf_crop_and_resize needs roi with 2 values per input dim");
  for (size_t d = 0; d < rank; ++d)
    if (x->shape()[d] == 0 && out_shape[d] != 0) return ctx.error("cannot resize an empty axis to a non-empty one");

  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), out_shape));
  if (out->numel() == 0) return Status::Ok();
  std::vector<AxisPlan> plans(rank);
  for (size_t d = 0; d < rank; ++d)
    plans[d] = plan_axis(p, x->shape()[d], out_shape[d], scales[d], roi.empty() ? 0 : roi[d], roi.empty() ? 1 : roi[d + rank]);

  return dispatch_all(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("bool tensors cannot be resized");
    } else {
      const DType dt = x->dtype();
      std::vector<double> buf(static_cast<size_t>(x->numel()));
      const T* src = x->data<T>();
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = load(src[i], dt);
      Shape shape = x->shape();
      for (size_t d = 0; d < rank; ++d)
        if (!plans[d].identity) buf = resample_axis(buf, shape, d, plans[d]);
      // tf_crop_and_resize: an output coordinate outside the input on any axis is the
      // extrapolation value.
      if (p.coord == Coord::kTfCropAndResize) {
        const auto strides = strides_of(out_shape);
        for (int64_t i = 0; i < out->numel(); ++i)
          for (size_t d = 0; d < rank; ++d)
            if (plans[d].outside[static_cast<size_t>(i / strides[d] % out_shape[d])]) {
              buf[static_cast<size_t>(i)] = p.extrapolation_value;
              break;
            }
      }
      T* dst = out->data<T>();
      for (size_t i = 0; i < buf.size(); ++i) dst[i] = store<T>(buf[i], dt);
      return Status::Ok();
    }
  });
}

Result<ResizeParams> read_params(const KernelContext& ctx, bool legacy) {
  const ir::Node& n = ctx.node();
  ResizeParams p;
  const std::string mode = n.attr_string("mode", "nearest");
  if (mode == "nearest") p.mode = Mode::kNearest;
  else if (mode == "linear" || mode == "bilinear") p.mode = Mode::kLinear;
  else if (mode == "cubic" && !legacy) p.mode = Mode::kCubic;
  else return ctx.error("unknown mode '" + mode + "'");
  if (legacy) {
    p.coord = Coord::kAsymmetric;
    p.nearest = Nearest::kSimple;
    return p;
  }
  const std::string coord = n.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") p.coord = Coord::kHalfPixel;
  else if (coord == "pytorch_half_pixel") p.coord = Coord::kPytorchHalfPixel;
  else if (coord == "align_corners") p.coord = Coord::kAlignCorners;
  else if (coord == "asymmetric") p.coord = Coord::kAsymmetric;
  else if (coord == "tf_half_pixel_for_nn") p.coord = Coord::kTfHalfPixelForNn;
  else if (coord == "tf_crop_and_resize") p.coord = Coord::kTfCropAndResize;
  else return ctx.error("unknown coordinate_transformation_mode '" + coord + "'");
  const std::string nearest = n.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") p.nearest = Nearest::kRoundPreferFloor;
  else if (nearest == "round_prefer_ceil") p.nearest = Nearest::kRoundPreferCeil;
  else if (nearest == "floor") p.nearest = Nearest::kFloor;
  else if (nearest == "ceil") p.nearest = Nearest::kCeil;
  else return ctx.error("unknown nearest_mode '" + nearest + "'");
  p.cubic_a = n.attr_float("cubic_coeff_a", -0.75f);
  p.exclude_outside = n.attr_int("exclude_outside", 0) != 0;
  p.extrapolation_value = n.attr_float("extrapolation_value", 0.f);
  return p;
}

Result<std::vector<double>> read_doubles(const KernelContext& ctx, const Tensor& t, const char* what) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  Status s = dispatch_all(t.dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      return runtime_error("must be numeric");
    } else {
      for (size_t i = 0; i < v.size(); ++i) v[i] = load(t.data<T>()[i], t.dtype());
      return Status::Ok();
    }
  });
  if (!s.ok()) return ctx.error(std::string(what) + ": " + s.message());
  return v;
}

// Opset 10 Resize and Upsample 9: (X, scales).
Status resize_v10(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(ResizeParams p, read_params(ctx, true));
  HONE_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1));
  HONE_ASSIGN_OR_RETURN(auto scales, read_doubles(ctx, *s, "scales"));
  return resize_with(ctx, p, &scales, nullptr, {});
}

// Upsample 7: scales is an attribute.
Status upsample_v7(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(ResizeParams p, read_params(ctx, true));
  std::vector<double> scales;
  for (float f : ctx.node().attr("scales") ? ctx.node().attr("scales")->floats : std::vector<float>{}) scales.push_back(f);
  return resize_with(ctx, p, &scales, nullptr, {});
}

// Opset 11+: (X, roi, scales, sizes); exactly one of scales and sizes is non-empty.
Status resize_v11(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(ResizeParams p, read_params(ctx, false));
  std::vector<double> roi, scales;
  if (const Tensor* t = ctx.input(1)) {
    HONE_ASSIGN_OR_RETURN(roi, read_doubles(ctx, *t, "roi"));
  }
  if (const Tensor* t = ctx.input(2)) {
    HONE_ASSIGN_OR_RETURN(scales, read_doubles(ctx, *t, "scales"));
  }
  HONE_ASSIGN_OR_RETURN(auto sizes, optional_ints_input(ctx, 3));
  if (sizes && !sizes->empty()) {
    if (!scales.empty()) return ctx.error("only one of scales and sizes may be given");
    return resize_with(ctx, p, nullptr, &*sizes, roi);
  }
  if (scales.empty()) return ctx.error("one of scales and sizes is required");
  return resize_with(ctx, p, &scales, nullptr, roi);
}

}  // namespace

HONE_REGISTER_FN("", Upsample, 7, 8, upsample_v7);
HONE_REGISTER_FN("", Upsample, 9, 9, resize_v10);
HONE_REGISTER_FN("", Resize, 10, 10, resize_v10);
HONE_REGISTER_FN("", Resize, 11, 17, resize_v11);

}  // namespace hone::rt
