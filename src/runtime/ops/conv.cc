// Conv and ConvTranspose (1D/2D/3D and beyond, groups, dilations, auto_pad). fp32 with constant
// weights runs through oneDNN (kernels/dnnl, f32_conv_dnnl; 3x3 stride-1 shapes as Winograd, see
// winograd_shape there) unless HONE_DNNL=0; everything else, and any shape oneDNN refuses, runs
// on the reference kernels of kernels/ref/conv_ref.
// float16/bfloat16 run through float copies.
#include "core/checked_math.h"
#include "kernels/dnnl/conv_dnnl.h"
#include "kernels/ref/conv_ref.h"
#include "runtime/op_registry.h"
#include "runtime/ops/conv_util.h"
#include "runtime/ops/fused_activation.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace ref = hone::kernels::ref;

// Checks what Conv and ConvTranspose share: presence, ranks, element types and group.
Status check_operands(const KernelContext& ctx, int64_t group) {
  const Tensor* x = ctx.input(0);
  const Tensor* w = ctx.input(1);
  if (!x || !w) return ctx.error("inputs X and W are required");
  if (x->rank() < 3) return ctx.error("X must have rank >= 3 (N, C, spatial...), got " + shape_to_string(x->shape()));
  if (w->rank() != x->rank())
    return ctx.error("W " + shape_to_string(w->shape()) + " must have the rank of X " + shape_to_string(x->shape()));
  if (w->dtype() != x->dtype()) return ctx.error("X and W must have the same element type");
  if (group < 1) return ctx.error("group must be >= 1, got " + std::to_string(group));
  if (const Tensor* b = ctx.input(2); b && b->dtype() != x->dtype())
    return ctx.error("B must have the element type of X");
  return Status::Ok();
}

Status check_bias(const KernelContext& ctx, int64_t out_channels) {
  const Tensor* b = ctx.input(2);
  if (b && (b->rank() != 1 || b->dim(0) != out_channels))
    return ctx.error("B " + shape_to_string(b->shape()) + " must have shape [" + std::to_string(out_channels) + "]");
  return Status::Ok();
}

// Reads the kernel from W's spatial dims; a kernel_shape attribute must agree with it.
Result<std::vector<int64_t>> kernel_of(const KernelContext& ctx, const Tensor& w) {
  std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  if (ctx.node().attr("kernel_shape") && ctx.node().attr_ints("kernel_shape") != kernel)
    return ctx.error("kernel_shape does not match W " + shape_to_string(w.shape()));
  return kernel;
}

// Allocates y and runs run_float or run_double on X, W, B by X's element type; half types are
// computed in float.
template <class RunFloat, class RunDouble>
Status run_typed(KernelContext& ctx, const Shape& y_shape, RunFloat run_float, RunDouble run_double) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor* b = ctx.input(2);
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), y_shape));
  if (x.dtype() == DType::kFloat32) {
    run_float(x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, y->data<float>());
  } else if (x.dtype() == DType::kFloat64) {
    run_double(x.data<double>(), w.data<double>(), b ? b->data<double>() : nullptr, y->data<double>());
  } else if (is_half(x.dtype())) {
    HONE_ASSIGN_OR_RETURN(Tensor xf, half_to_float_tensor(x));
    HONE_ASSIGN_OR_RETURN(Tensor wf, half_to_float_tensor(w));
    Tensor bf;
    if (b) {
      HONE_ASSIGN_OR_RETURN(bf, half_to_float_tensor(*b));
    }
    HONE_ASSIGN_OR_RETURN(Tensor yf, Tensor::create(DType::kFloat32, y_shape));
    run_float(xf.data<float>(), wf.data<float>(), b ? bf.data<float>() : nullptr, yf.data<float>());
    float_to_half_tensor(yf, y);
  } else {
    return ctx.error("element type " + std::string(dtype_name(x.dtype())) + " is not supported");
  }
  return Status::Ok();
}

// What a Conv or ConvTranspose run computes, validated: the reference parameters, the end pads in
// oneDNN's sense and y's shape.
struct ConvPlan {
  ref::ConvParams p;
  std::vector<int64_t> pads_end;
  Shape y_shape;
};

Result<ConvPlan> plan_conv(const KernelContext& ctx) {
  const int64_t group = ctx.node().attr_int("group", 1);
  HONE_RETURN_IF_ERROR(check_operands(ctx, group));
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const int64_t channels = x.dim(1), out_channels = w.dim(0);
  if (w.dim(1) * group != channels || out_channels % group != 0)
    return ctx.error("W " + shape_to_string(w.shape()) + " with group " + std::to_string(group) +
                     " does not fit X " + shape_to_string(x.shape()));
  HONE_RETURN_IF_ERROR(check_bias(ctx, out_channels));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, kernel_of(ctx, w));
  const Shape in_spatial(x.shape().begin() + 2, x.shape().end());
  auto geometry = make_window_geometry(ctx.node(), in_spatial, kernel, false);
  if (!geometry.ok()) return ctx.error(geometry.status().message());

  ref::ConvParams p = forward_conv_params(x.dim(0), channels, out_channels, group, *geometry, ctx.threads());
  Shape y_shape{p.batch, out_channels};
  y_shape.insert(y_shape.end(), p.out_spatial.begin(), p.out_spatial.end());
  return ConvPlan{std::move(p), geometry->pads_end, std::move(y_shape)};
}

// `act`: hone.FusedConv's activation, applied to the float result (fused Convs are fp32 only).
Status run_conv_ref(KernelContext& ctx, const ConvPlan& plan, const FusedActivation& act = {}) {
  const ref::ConvParams& p = plan.p;
  return run_typed(
      ctx, plan.y_shape,
      [&](const float* xd, const float* wd, const float* bd, float* yd) {
        ref::conv_nd_ref(p, xd, wd, bd, yd);
        int64_t n = 1;
        for (int64_t d : plan.y_shape) n *= d;
        apply_activation(act, yd, n, ctx.threads());
      },
      [&](const double* xd, const double* wd, const double* bd, double* yd) { ref::conv_nd_ref(p, xd, wd, bd, yd); });
}

Result<ConvPlan> plan_conv_transpose(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const int64_t group = node.attr_int("group", 1);
  HONE_RETURN_IF_ERROR(check_operands(ctx, group));
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const int64_t channels = x.dim(1), out_channels = w.dim(1) * group;
  if (w.dim(0) != channels)
    return ctx.error("W " + shape_to_string(w.shape()) + " must have dim 0 equal to X's channels " +
                     std::to_string(channels));
  if (channels % group != 0)
    return ctx.error("X's channels " + std::to_string(channels) + " are not divisible by group " + std::to_string(group));
  HONE_RETURN_IF_ERROR(check_bias(ctx, out_channels));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, kernel_of(ctx, w));
  const size_t nd = kernel.size();
  const Shape in_spatial(x.shape().begin() + 2, x.shape().end());

  auto read = [&](const char* name, size_t count, int64_t fallback, int64_t min_value) {
    auto v = read_window_ints(node, name, count, fallback, min_value);
    return v.ok() ? v : Result<std::vector<int64_t>>(ctx.error(v.status().message()));
  };
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> strides, read("strides", nd, 1, 1));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> dilations, read("dilations", nd, 1, 1));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> output_padding, read("output_padding", nd, 0, 0));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> pads, read("pads", 2 * nd, 0, 0));
  auto auto_pad = read_auto_pad(node);
  if (!auto_pad.ok()) return ctx.error(auto_pad.status().message());
  // output_shape may list the spatial dims only or, in older exporters' models, N and C too.
  std::vector<int64_t> output_shape = node.attr_ints("output_shape");
  if (output_shape.size() == nd + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (node.attr("output_shape") && output_shape.size() != nd)
    return ctx.error("output_shape has " + std::to_string(node.attr_ints("output_shape").size()) + " values for " +
                     std::to_string(nd) + " spatial dims");

  ref::ConvParams p;
  p.batch = x.dim(0);
  p.in_channels = channels;
  p.out_channels = out_channels;
  p.groups = group;
  p.in_spatial = in_spatial;
  p.kernel = kernel;
  p.strides = strides;
  p.dilations = dilations;
  p.pads_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(nd));
  p.out_spatial.resize(nd);
  p.threads = ctx.threads();
  for (size_t i = 0; i < nd; ++i) {
    // The size of the full (uncropped) transposed convolution along dim i.
    std::optional<int64_t> full = checked_mul(strides[i], in_spatial[i] - 1);
    if (full) full = checked_add(*full, output_padding[i] + (kernel[i] - 1) * dilations[i] + 1);
    const bool same = *auto_pad == AutoPad::kSameUpper || *auto_pad == AutoPad::kSameLower;
    const std::optional<int64_t> same_out = checked_mul(in_spatial[i], strides[i]);
    if (!full || !same_out) return ctx.error("the output size along spatial dim " + std::to_string(i) + " overflows");
    if (!output_shape.empty() || same) {
      const int64_t out = !output_shape.empty() ? output_shape[i] : *same_out;
      if (out < 0) return ctx.error("output_shape value " + std::to_string(out) + " is negative");
      // A requested size beyond the full result pads the end with bias-only values.
      const int64_t total = std::max<int64_t>(0, *full - out);
      p.pads_begin[i] = *auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      p.out_spatial[i] = out;
    } else {
      if (*auto_pad == AutoPad::kValid) pads[i] = pads[i + nd] = p.pads_begin[i] = 0;
      p.out_spatial[i] = *full - pads[i] - pads[i + nd];
      if (p.out_spatial[i] < 0)
        return ctx.error("pads crop more than the whole output along spatial dim " + std::to_string(i));
    }
  }
  // oneDNN's end pads are relative to the full result without output_padding, so they go
  // negative where the output reaches past it.
  std::vector<int64_t> pads_end(nd);
  for (size_t i = 0; i < nd; ++i)
    pads_end[i] = (in_spatial[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - p.pads_begin[i] - p.out_spatial[i];
  Shape y_shape{p.batch, out_channels};
  y_shape.insert(y_shape.end(), p.out_spatial.begin(), p.out_spatial.end());
  return ConvPlan{std::move(p), std::move(pads_end), std::move(y_shape)};
}

Status run_conv_transpose_ref(KernelContext& ctx, const ConvPlan& plan) {
  const ref::ConvParams& p = plan.p;
  return run_typed(
      ctx, plan.y_shape,
      [&](const float* xd, const float* wd, const float* bd, float* yd) { ref::conv_transpose_nd_ref(p, xd, wd, bd, yd); },
      [&](const double* xd, const double* wd, const double* bd, double* yd) {
        ref::conv_transpose_nd_ref(p, xd, wd, bd, yd);
      });
}

// Conv and ConvTranspose. Chooses oneDNN at creation when W is a constant fp32 initializer (its
// packed copy is made once per shape and kept); X's element type is checked on every run, since
// a graph input's declared type is only a promise.
template <bool kTransposed>
class ConvKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<ConvKernel>();
    if (ctx.node().domain == "hone") {  // hone.FusedConv: an activation folded in by fuse_conv_activation
      auto act = read_fused_activation(ctx.node());
      if (!act.ok()) return ctx.error(act.status().message());
      k->activation_ = *act;
    }
    const Tensor* w = ctx.constant_input(1);
    if (kernels::onednn::enabled() && w && w->dtype() == DType::kFloat32) {
      k->weights_ = *w;
      k->dnnl_ = std::make_unique<kernels::onednn::ConvF32Dnnl>();
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    HONE_ASSIGN_OR_RETURN(ConvPlan plan, kTransposed ? plan_conv_transpose(ctx) : plan_conv(ctx));
    if (dnnl_ && ctx.input(0)->dtype() == DType::kFloat32) {
      Status s = run_dnnl(ctx, plan);
      if (s.code() != ErrorCode::kUnsupported) return s;
    }
    return kTransposed ? run_conv_transpose_ref(ctx, plan) : run_conv_ref(ctx, plan, activation_);
  }

 private:
  Status run_dnnl(KernelContext& ctx, const ConvPlan& plan) {
    const ref::ConvParams& p = plan.p;
    kernels::onednn::ConvDesc d = dnnl_conv_desc(p, plan.pads_end);
    d.transposed = kTransposed;
    const Tensor* b = ctx.input(2);
    d.has_bias = b != nullptr;
    // hone.FusedConv's activation is applied here, in place right after the primitive, and not as
    // a oneDNN post-op: with the plain (NCHW) layouts the bridge uses, oneDNN runs gemm-based
    // convolutions whose post-op path made MobileNet-v2 (Conv + Clip) about 2x slower than
    // unfused (measured, docs/kernels_fp32.md).
    // Unsupported here means "take the reference path"; y is allocated only once oneDNN has agreed.
    Status s = dnnl_->prepare(d, weights_.data<float>());
    if (s.ok()) {
      HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, plan.y_shape));
      s = dnnl_->run(d, ctx.input(0)->data<float>(), weights_.data<float>(), b ? b->data<float>() : nullptr,
                     y->data<float>());
      if (s.ok()) apply_activation(activation_, y->data<float>(), y->numel(), ctx.threads());
    }
    return s.ok() || s.code() == ErrorCode::kUnsupported ? s : s.with_context(node_label(ctx.node()));
  }

  FusedActivation activation_;  // hone.FusedConv's folded activation; kNone for Conv
  Tensor weights_;  // the constant W, kept alive: each new shape packs its copy from it
  std::unique_ptr<kernels::onednn::ConvF32Dnnl> dnnl_;
};

}  // namespace

HONE_REGISTER_KERNEL("", Conv, 1, kMaxOpset, ConvKernel<false>);
HONE_REGISTER_KERNEL("", ConvTranspose, 1, kMaxOpset, ConvKernel<true>);
// Conv + Relu/Clip/Sigmoid/... from the fuse_conv_activation pass (internal to a Session).
HONE_REGISTER_KERNEL("hone", FusedConv, 1, kMaxOpset, ConvKernel<false>);

}  // namespace hone::rt
