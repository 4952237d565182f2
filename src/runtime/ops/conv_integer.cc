// ConvInteger and QLinearConv: quantized (uint8/int8) convolution. Both subtract the zero points
// (per tensor, or per output channel for the weights), run the exact integer convolution of the
// reference kernel with 64-bit accumulators, then ConvInteger wraps the sums to int32 and
// QLinearConv requantizes them: round half to even, add y_zero_point, saturate. With constant
// int8 weights both run on oneDNN's int8 convolution instead (Int8ConvKernel below).
//
// hone.NhwcQLinearConv (session only, made by the layout pass) is QLinearConv with x and y in
// NHWC: the same inputs, attributes (w stays [M, C/group, kh, kw]) and results, laid out so that
// oneDNN's JIT int8 convolution reads and writes the activations without reorders. Its reference
// path transposes x to NCHW, runs QLinearConv's reference and transposes y back.
#include <cmath>
#include <limits>
#include <memory>

#include "kernels/dnnl/conv_int8_dnnl.h"
#include "kernels/ref/conv_ref.h"
#include "runtime/op_registry.h"
#include "runtime/ops/conv_util.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace ref = hone::kernels::ref;

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

int64_t value_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kUInt8 ? int64_t{t.data<uint8_t>()[i]} : int64_t{t.data<int8_t>()[i]};
}

// A zero point input: absent means 0; otherwise 1 value or, when `per_channel` allows it,
// `channels` values, of the element type of the tensor it belongs to.
Result<std::vector<int64_t>> read_zero_point(const KernelContext& ctx, size_t input, const char* name, DType dtype,
                                             int64_t channels, bool per_channel) {
  const Tensor* zp = ctx.input(input);
  if (!zp) return std::vector<int64_t>{0};
  if (zp->dtype() != dtype)
    return ctx.error(std::string(name) + " must have element type " + std::string(dtype_name(dtype)));
  if (zp->rank() > 1 || !(zp->numel() == 1 || (per_channel && zp->numel() == channels)))
    return ctx.error(std::string(name) + " " + shape_to_string(zp->shape()) + " must be a scalar" +
                     (per_channel ? " or have " + std::to_string(channels) + " values" : std::string()));
  std::vector<int64_t> v(static_cast<size_t>(zp->numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = value_at(*zp, static_cast<int64_t>(i));
  return v;
}

// A float scale input: 1 value, or `channels` values when per_channel.
Result<std::vector<float>> read_scale(const KernelContext& ctx, size_t input, const char* name, int64_t channels,
                                      bool per_channel) {
  const Tensor* s = ctx.input(input);
  if (!s) return ctx.error(std::string(name) + " is required");
  if (s->dtype() != DType::kFloat32) return ctx.error(std::string(name) + " must be a float tensor");
  if (s->rank() > 1 || !(s->numel() == 1 || (per_channel && s->numel() == channels)))
    return ctx.error(std::string(name) + " " + shape_to_string(s->shape()) + " must be a scalar" +
                     (per_channel ? " or have " + std::to_string(channels) + " values" : std::string()));
  return std::vector<float>(s->data<float>(), s->data<float>() + s->numel());
}

// The integer convolution of (x - x_zero_point) and (w - w_zero_point[m]) plus `bias`, as 64-bit
// sums laid out as y[N, M, out...]. Validates shapes and geometry like Conv.
struct IntegerConv {
  Shape y_shape;
  size_t count = 0;                 // elements of y_shape
  std::unique_ptr<int64_t[]> sums;  // not zero-filled: conv_nd_ref writes all `count`
};

// x_nchw, when given, replaces input x_input (the NHWC op's transposed x).
Result<IntegerConv> integer_conv(const KernelContext& ctx, size_t x_input, size_t x_zp_input, size_t w_input,
                                 size_t w_zp_input, const Tensor* bias, const Tensor* x_nchw = nullptr) {
  const Tensor* x = x_nchw ? x_nchw : ctx.input(x_input);
  const Tensor* w = ctx.input(w_input);
  if (!x || !w) return ctx.error("inputs x and w are required");
  if (!is_8bit(x->dtype()) || !is_8bit(w->dtype())) return ctx.error("x and w must be uint8 or int8 tensors");
  if (x->rank() < 3) return ctx.error("x must have rank >= 3 (N, C, spatial...), got " + shape_to_string(x->shape()));
  if (w->rank() != x->rank())
    return ctx.error("w " + shape_to_string(w->shape()) + " must have the rank of x " + shape_to_string(x->shape()));
  const int64_t group = ctx.node().attr_int("group", 1);
  if (group < 1) return ctx.error("group must be >= 1, got " + std::to_string(group));
  const int64_t channels = x->dim(1), out_channels = w->dim(0);
  if (w->dim(1) * group != channels || out_channels % group != 0)
    return ctx.error("w " + shape_to_string(w->shape()) + " with group " + std::to_string(group) + " does not fit x " +
                     shape_to_string(x->shape()));
  std::vector<int64_t> kernel(w->shape().begin() + 2, w->shape().end());
  if (ctx.node().attr("kernel_shape") && ctx.node().attr_ints("kernel_shape") != kernel)
    return ctx.error("kernel_shape does not match w " + shape_to_string(w->shape()));
  const Shape in_spatial(x->shape().begin() + 2, x->shape().end());
  auto geometry = make_window_geometry(ctx.node(), in_spatial, kernel, false);
  if (!geometry.ok()) return ctx.error(geometry.status().message());
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> x_zp, read_zero_point(ctx, x_zp_input, "x_zero_point", x->dtype(), 1, false));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> w_zp,
                        read_zero_point(ctx, w_zp_input, "w_zero_point", w->dtype(), out_channels, true));
  std::vector<int64_t> bias_values;
  if (bias) {
    if (bias->dtype() != DType::kInt32 || bias->rank() != 1 || bias->dim(0) != out_channels)
      return ctx.error("B must be an int32 tensor of shape [" + std::to_string(out_channels) + "]");
    bias_values.assign(bias->data<int32_t>(), bias->data<int32_t>() + out_channels);
  }

  std::vector<int64_t> xs(static_cast<size_t>(x->numel())), ws(static_cast<size_t>(w->numel()));
  for (int64_t i = 0; i < x->numel(); ++i) xs[static_cast<size_t>(i)] = value_at(*x, i) - x_zp[0];
  const int64_t per_filter = out_channels == 0 ? 0 : w->numel() / out_channels;
  for (int64_t i = 0; i < w->numel(); ++i)
    ws[static_cast<size_t>(i)] = value_at(*w, i) - w_zp[w_zp.size() == 1 ? 0 : static_cast<size_t>(i / per_filter)];

  const ref::ConvParams p = forward_conv_params(x->dim(0), channels, out_channels, group, *geometry, ctx.threads());
  IntegerConv result;
  result.y_shape = {p.batch, out_channels};
  result.y_shape.insert(result.y_shape.end(), p.out_spatial.begin(), p.out_spatial.end());
  auto count = shape_numel(result.y_shape);
  if (!count.ok()) return ctx.error(count.status().message());
  result.count = static_cast<size_t>(*count);
  result.sums = std::make_unique_for_overwrite<int64_t[]>(result.count);
  ref::conv_nd_ref<int64_t>(p, xs.data(), ws.data(), bias ? bias_values.data() : nullptr, result.sums.get());
  return result;
}

Status conv_integer(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(IntegerConv conv, integer_conv(ctx, 0, 2, 1, 3, nullptr));
  // Every element is written below: no zero fill.
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kInt32, conv.y_shape));
  // int32 output as the spec's int32 accumulator: sums beyond its range wrap (C++20 conversion).
  for (size_t i = 0; i < conv.count; ++i) y->data<int32_t>()[i] = static_cast<int32_t>(conv.sums[i]);
  return Status::Ok();
}

template <class T>
void requantize(const IntegerConv& conv, int64_t channels, int64_t plane, const std::vector<float>& multiplier,
                int64_t y_zero_point, T* y) {
  constexpr double lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  const int64_t* sums = conv.sums.get();
  for (size_t i = 0; i < conv.count; ++i) {
    const size_t m = multiplier.size() == 1 ? 0 : static_cast<size_t>(static_cast<int64_t>(i) / plane % channels);
    // nearbyint rounds half to even in the default rounding mode.
    const double v = std::nearbyint(static_cast<double>(sums[i]) * static_cast<double>(multiplier[m])) +
                     static_cast<double>(y_zero_point);
    y[i] = static_cast<T>(std::clamp(v, lo, hi));
  }
}

// The shape of a 4-D tensor moved between NCHW and NHWC: to [N, H, W, C] when to_nhwc, else
// from it to [N, C, H, W].
Shape transposed_4d(const Shape& s, bool to_nhwc) {
  return to_nhwc ? Shape{s[0], s[2], s[3], s[1]} : Shape{s[0], s[3], s[1], s[2]};
}

// Copies a 4-D tensor of 1-byte elements between NCHW and NHWC; to_nhwc picks the direction.
// `src` is [N, C, H, W] when to_nhwc, else [N, H, W, C]; `out_bytes` holds transposed_4d(src's shape)
// and every byte of it is written.
void transpose_8bit_4d(const Tensor& src, bool to_nhwc, void* out_bytes) {
  const int64_t n = src.dim(0);
  const int64_t c = to_nhwc ? src.dim(1) : src.dim(3), h = to_nhwc ? src.dim(2) : src.dim(1),
                w = to_nhwc ? src.dim(3) : src.dim(2);
  const uint8_t* in = static_cast<const uint8_t*>(src.raw());
  uint8_t* out = static_cast<uint8_t*>(out_bytes);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < h * w; ++p) {
        const int64_t nchw = (b * c + ch) * h * w + p, nhwc = (b * h * w + p) * c + ch;
        out[to_nhwc ? nhwc : nchw] = in[to_nhwc ? nchw : nhwc];
      }
}

// Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B.
// nhwc: x and y are NHWC (hone.NhwcQLinearConv); computed on NCHW copies.
Status qlinear_conv(KernelContext& ctx, bool nhwc) {
  Tensor x_nchw;
  if (nhwc) {
    const Tensor* x = ctx.input(0);
    if (!x || !is_8bit(x->dtype()) || x->rank() != 4)
      return ctx.error("x must be a 4-D uint8 or int8 NHWC tensor");
    HONE_ASSIGN_OR_RETURN(x_nchw, Tensor::create(x->dtype(), transposed_4d(x->shape(), /*to_nhwc=*/false)));
    transpose_8bit_4d(*x, /*to_nhwc=*/false, x_nchw.raw());
  }
  const Tensor* w = ctx.input(3);
  const Tensor* y_zp = ctx.input(7);
  if (!w || !y_zp) return ctx.error("inputs w and y_zero_point are required");
  if (!is_8bit(y_zp->dtype())) return ctx.error("y_zero_point must be uint8 or int8");
  const int64_t out_channels = w->rank() >= 1 ? w->dim(0) : 0;
  HONE_ASSIGN_OR_RETURN(std::vector<float> x_scale, read_scale(ctx, 1, "x_scale", 1, false));
  HONE_ASSIGN_OR_RETURN(std::vector<float> w_scale, read_scale(ctx, 4, "w_scale", out_channels, true));
  HONE_ASSIGN_OR_RETURN(std::vector<float> y_scale, read_scale(ctx, 6, "y_scale", 1, false));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> y_zero_point,
                        read_zero_point(ctx, 7, "y_zero_point", y_zp->dtype(), 1, false));
  HONE_ASSIGN_OR_RETURN(IntegerConv conv, integer_conv(ctx, 0, 2, 3, 5, ctx.input(8), nhwc ? &x_nchw : nullptr));
  // The float multiplier per output channel, computed in float as the reference does.
  std::vector<float> multiplier(w_scale.size());
  for (size_t m = 0; m < multiplier.size(); ++m) {
    multiplier[m] = x_scale[0] * w_scale[m] / y_scale[0];
    // A NaN would reach the float-to-integer conversion, where it has no defined value.
    if (!std::isfinite(multiplier[m])) return ctx.error("x_scale * w_scale / y_scale is not finite");
  }
  Tensor y_nchw;
  Tensor* y = nullptr;
  if (nhwc) {
    HONE_ASSIGN_OR_RETURN(y_nchw, Tensor::create(y_zp->dtype(), conv.y_shape));
    y = &y_nchw;
  } else {
    // requantize() writes every element: no zero fill.
    HONE_ASSIGN_OR_RETURN(y, ctx.allocate_output_overwritten(0, y_zp->dtype(), conv.y_shape));
  }
  const int64_t plane = y->numel() == 0 ? 1 : y->numel() / (conv.y_shape[0] * out_channels);
  if (y->dtype() == DType::kUInt8)
    requantize(conv, out_channels, plane, multiplier, y_zero_point[0], y->data<uint8_t>());
  else
    requantize(conv, out_channels, plane, multiplier, y_zero_point[0], y->data<int8_t>());
  if (nhwc) {
    if (conv.y_shape.size() != 4) return ctx.error("NHWC convolution must be 2-D");
    // Transposed straight into the output, every byte of it: no zero fill, no extra copy.
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(
                                            0, y_zp->dtype(), transposed_4d(y_nchw.shape(), /*to_nhwc=*/true)));
    transpose_8bit_4d(y_nchw, /*to_nhwc=*/true, out->raw());
  }
  return Status::Ok();
}

namespace onednn = kernels::onednn;

// The oneDNN int8 path (u8s8_conv_dnnl) of ConvInteger and QLinearConv: 2-D, W a constant int8
// initializer with zero points 0, x uint8 with a per-tensor zero point; for QLinearConv also
// constant scales, y zero point and int32 bias (the output scale x_scale * w_scale[m] / y_scale
// is fixed in the primitive). Anything else, and HONE_DNNL=0, runs the reference above, which
// stays the oracle of the tests. Requantized outputs may differ from the reference by one step on
// rounding ties (oneDNN rounds in float after adding the zero point; the reference in double).
class Int8ConvKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx, bool qlinear, bool nhwc = false) {
    auto k = std::make_unique<Int8ConvKernel>();
    k->qlinear_ = qlinear;
    k->nhwc_ = nhwc;
    if (!onednn::enabled()) return std::unique_ptr<Kernel>(std::move(k));
    const size_t w_in = qlinear ? 3 : 1, w_zp_in = qlinear ? 5 : 3;
    const Tensor* w = ctx.constant_input(w_in);
    if (!w || w->dtype() != DType::kInt8 || w->rank() != 4 || w->dim(0) == 0) return std::unique_ptr<Kernel>(std::move(k));
    if (!ctx.node().input(w_zp_in).empty()) {
      const Tensor* zp = ctx.constant_input(w_zp_in);
      if (!zp || zp->dtype() != DType::kInt8) return std::unique_ptr<Kernel>(std::move(k));
      for (int64_t i = 0; i < zp->numel(); ++i)
        if (zp->data<int8_t>()[i] != 0) return std::unique_ptr<Kernel>(std::move(k));
    }
    const int64_t m = w->dim(0);
    onednn::ConvInt8Desc d;
    d.dst = onednn::Int8Dst::kS32;
    d.nhwc = nhwc;
    if (qlinear) {
      const Tensor* xs = ctx.constant_input(1);
      const Tensor* ws = ctx.constant_input(4);
      const Tensor* ys = ctx.constant_input(6);
      const Tensor* yzp = ctx.constant_input(7);
      if (!xs || !ws || !ys || !yzp) return std::unique_ptr<Kernel>(std::move(k));
      if (xs->dtype() != DType::kFloat32 || xs->numel() != 1 || ys->dtype() != DType::kFloat32 || ys->numel() != 1 ||
          ws->dtype() != DType::kFloat32 || ws->rank() > 1 || (ws->numel() != 1 && ws->numel() != m) ||
          !is_8bit(yzp->dtype()) || yzp->numel() != 1)
        return std::unique_ptr<Kernel>(std::move(k));
      for (int64_t j = 0; j < ws->numel(); ++j) {
        const float mult = xs->data<float>()[0] * ws->data<float>()[j] / ys->data<float>()[0];
        if (!std::isfinite(mult)) return std::unique_ptr<Kernel>(std::move(k));
        d.out_scales.push_back(mult);
      }
      d.dst = yzp->dtype() == DType::kUInt8 ? onednn::Int8Dst::kU8 : onednn::Int8Dst::kS8;
      d.y_zero_point = static_cast<int32_t>(value_at(*yzp, 0));
      if (!ctx.node().input(8).empty()) {
        const Tensor* b = ctx.constant_input(8);
        if (!b || b->dtype() != DType::kInt32 || b->rank() != 1 || b->dim(0) != m)
          return std::unique_ptr<Kernel>(std::move(k));
        k->bias_ = *b;
      }
    }
    k->w_ = *w;
    k->desc_ = d;
    k->dnnl_ = std::make_unique<onednn::ConvU8S8Dnnl>();
    k->dnnl_->set_weights(k->w_.data<int8_t>());
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    if (dnnl_) {
      Status s = run_dnnl(ctx);
      if (s.code() != ErrorCode::kUnsupported) return s;
    }
    return qlinear_ ? qlinear_conv(ctx, nhwc_) : conv_integer(ctx);
  }

 private:
  // kUnsupported (nothing allocated: prepare() comes first) when this run's operands are not
  // what the bridge serves.
  Status run_dnnl(KernelContext& ctx) {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(qlinear_ ? 3 : 1);
    const Tensor* x_zp = ctx.input(2);
    if (!x || !w || w->data<int8_t>() != w_.data<int8_t>()) return unsupported("not the constant weights");
    if (x_zp && (x_zp->dtype() != DType::kUInt8 || x_zp->numel() != 1 || x_zp->rank() > 1))
      return unsupported("x zero point not served");
    const int32_t zp = x_zp ? x_zp->data<uint8_t>()[0] : 0;
    // The descriptor depends only on x's shape and on whether x has a zero point: the last run's
    // holds while they stay (a model's shapes rarely change), so a run skips the geometry and the
    // descriptor comparison, which were a measurable part of a small conv's time.
    if (!last_.valid || x->shape() != last_.x_shape || (zp != 0) != last_.x_zero_point) {
      last_.valid = false;
      HONE_RETURN_IF_ERROR(prepare_for(ctx, *x, zp != 0));
    }
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, last_.y_type, last_.y_shape));
    Status s = dnnl_->run_prepared(x->data<uint8_t>(), zp, bias_.defined() ? bias_.data<int32_t>() : nullptr, y->raw());
    return s.ok() ? s : s.with_context(node_label(ctx.node()));
  }

  // Makes the descriptor for x's shape, prepares the primitive and records both in last_.
  Status prepare_for(const KernelContext& ctx, const Tensor& x, bool x_zero_point) {
    const int64_t c_axis = nhwc_ ? 3 : 1;
    const int64_t group = ctx.node().attr_int("group", 1);
    if (x.dtype() != DType::kUInt8 || x.rank() != 4 || x.dim(c_axis) != w_.dim(1) * group)
      return unsupported("x not served");
    const std::vector<int64_t> kernel(w_.shape().begin() + 2, w_.shape().end());
    if (ctx.node().attr("kernel_shape") && ctx.node().attr_ints("kernel_shape") != kernel) return unsupported("kernel_shape");
    const Shape in_spatial = nhwc_ ? Shape{x.dim(1), x.dim(2)} : Shape(x.shape().begin() + 2, x.shape().end());
    auto geometry = make_window_geometry(ctx.node(), in_spatial, kernel, false);
    if (!geometry.ok()) return unsupported("geometry");  // the reference reports it
    onednn::ConvInt8Desc d = desc_;
    onednn::ConvDesc& g = d.geometry;
    g = dnnl_conv_desc(forward_conv_params(x.dim(0), x.dim(c_axis), w_.dim(0), group, *geometry, ctx.threads()),
                       geometry->pads_end);
    g.has_bias = bias_.defined();
    d.x_zero_point = x_zero_point;
    if (Status ready = dnnl_->prepare(d); !ready.ok())
      return ready.code() == ErrorCode::kUnsupported ? ready : ready.with_context(node_label(ctx.node()));
    last_.y_shape = nhwc_ ? Shape{g.batch, g.out_spatial[0], g.out_spatial[1], g.out_channels}
                          : Shape{g.batch, g.out_channels, g.out_spatial[0], g.out_spatial[1]};
    last_.y_type = d.dst == onednn::Int8Dst::kS32 ? DType::kInt32
                   : d.dst == onednn::Int8Dst::kU8 ? DType::kUInt8
                                                   : DType::kInt8;
    last_.x_shape = x.shape();
    last_.x_zero_point = x_zero_point;
    last_.valid = true;
    return Status::Ok();
  }

  // What prepare_for() made for the last x shape; dnnl_ holds that descriptor's primitive.
  struct LastRun {
    bool valid = false;
    Shape x_shape;
    bool x_zero_point = false;
    Shape y_shape;
    DType y_type = DType::kInt32;
  };

  bool qlinear_ = false, nhwc_ = false;
  Tensor w_, bias_;  // constants, kept alive (oneDNN reads w_ when packing)
  onednn::ConvInt8Desc desc_;
  std::unique_ptr<onednn::ConvU8S8Dnnl> dnnl_;
  LastRun last_;
};

Result<std::unique_ptr<Kernel>> create_conv_integer(const KernelCreateContext& ctx) { return Int8ConvKernel::create(ctx, false); }
Result<std::unique_ptr<Kernel>> create_qlinear_conv(const KernelCreateContext& ctx) { return Int8ConvKernel::create(ctx, true); }
Result<std::unique_ptr<Kernel>> create_nhwc_qlinear_conv(const KernelCreateContext& ctx) {
  return Int8ConvKernel::create(ctx, true, /*nhwc=*/true);
}

}  // namespace

static const bool kConvIntegerRegistered =
    OpRegistry::global().add({"", "ConvInteger", 10, kMaxOpset, &create_conv_integer});
static const bool kQLinearConvRegistered =
    OpRegistry::global().add({"", "QLinearConv", 10, kMaxOpset, &create_qlinear_conv});
static const bool kNhwcQLinearConvRegistered =
    OpRegistry::global().add({"hone", "NhwcQLinearConv", 1, kMaxOpset, &create_nhwc_qlinear_conv});

}  // namespace hone::rt
