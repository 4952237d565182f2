// hone.NhwcConv: the convolution the layout_nhwc pass puts in place of Conv / hone.FusedConv.
// X and Y are channels last, X[N, in..., C] and Y[N, out..., M] (NWC, NHWC, NDHWC); W, B and the
// attributes are Conv's (W[M, C/group, k...]), plus hone.FusedConv's activation attributes
// (runtime/ops/fused_activation.h) and an optional 4th input Sum of Y's shape (a residual Add the
// pass folded in): Y = act(conv(X, W) + B + Sum). fp32 only. Internal to a Session.
//
// Why channels last: oneDNN 2.6 runs its brgemm convolutions (brgconv:avx512_core) on NHWC and
// only gemm-based ones on plain NCHW, 1.4-1.8x slower on ResNet shapes; with NHWC the activation
// and the residual run as post-ops inside the convolution. 3x3 stride-1 convolutions run as
// oneDNN's Winograd between reorders to its blocked layout instead (kernels/dnnl/conv_dnnl.h,
// winograd_shape; HONE_WINOGRAD=0 keeps them direct). HONE_DNNL=0, a non-constant W or a
// shape oneDNN refuses take the reference path: NCHW copies through kernels/ref/conv_ref.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "kernels/dnnl/conv_dnnl.h"
#include "kernels/ref/conv_ref.h"
#include "runtime/op_registry.h"
#include "runtime/ops/conv_util.h"
#include "runtime/ops/fused_activation.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace ref = hone::kernels::ref;
namespace onednn = hone::kernels::onednn;

// x[N, S, C] -> y[N, C, S] (to_first) or x[N, C, S] -> y[N, S, C]; S is all spatial dims in one.
void swap_channels(const float* x, int64_t n, int64_t s, int64_t c, bool to_first, float* y) {
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = x + b * s * c;
    float* yb = y + b * s * c;
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < c; ++j) {
        if (to_first) yb[j * s + i] = xb[i * c + j];
        else yb[i * c + j] = xb[j * s + i];
      }
  }
}

struct NhwcConvPlan {
  ref::ConvParams p;  // in NCHW terms, for the reference kernel and the oneDNN descriptor
  std::vector<int64_t> pads_end;
  Shape y_shape;  // [N, out..., M]
};

Result<NhwcConvPlan> plan_nhwc_conv(const KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor* x = ctx.input(0);
  const Tensor* w = ctx.input(1);
  const Tensor* b = ctx.input(2);
  if (!x || !w) return ctx.error("inputs X and W are required");
  if (x->dtype() != DType::kFloat32 || w->dtype() != DType::kFloat32) return ctx.error("X and W must be float32");
  if (x->rank() < 3) return ctx.error("X must have rank >= 3 (N, spatial..., C), got " + shape_to_string(x->shape()));
  if (w->rank() != x->rank())
    return ctx.error("W " + shape_to_string(w->shape()) + " must have the rank of X " + shape_to_string(x->shape()));
  const int64_t group = node.attr_int("group", 1);
  if (group < 1) return ctx.error("group must be >= 1, got " + std::to_string(group));
  const int64_t channels = x->dim(x->rank() - 1), out_channels = w->dim(0);
  if (w->dim(1) * group != channels || out_channels % group != 0)
    return ctx.error("W " + shape_to_string(w->shape()) + " with group " + std::to_string(group) +
                     " does not fit channels-last X " + shape_to_string(x->shape()));
  if (b && (b->dtype() != DType::kFloat32 || b->rank() != 1 || b->dim(0) != out_channels))
    return ctx.error("B must be float32 of shape [" + std::to_string(out_channels) + "]");
  std::vector<int64_t> kernel(w->shape().begin() + 2, w->shape().end());
  if (node.attr("kernel_shape") && node.attr_ints("kernel_shape") != kernel)
    return ctx.error("kernel_shape does not match W " + shape_to_string(w->shape()));
  const Shape in_spatial(x->shape().begin() + 1, x->shape().end() - 1);
  auto geometry = make_window_geometry(node, in_spatial, kernel, false);
  if (!geometry.ok()) return ctx.error(geometry.status().message());
  NhwcConvPlan plan;
  plan.p = forward_conv_params(x->dim(0), channels, out_channels, group, *geometry, ctx.threads());
  const ref::ConvParams& p = plan.p;
  plan.pads_end = geometry->pads_end;
  plan.y_shape = {p.batch};
  plan.y_shape.insert(plan.y_shape.end(), p.out_spatial.begin(), p.out_spatial.end());
  plan.y_shape.push_back(out_channels);
  if (const Tensor* sum = ctx.input(3)) {
    if (sum->dtype() != DType::kFloat32 || sum->shape() != plan.y_shape)
      return ctx.error("Sum " + shape_to_string(sum->shape()) + " must be float32 of Y's shape " +
                       shape_to_string(plan.y_shape));
  }
  return plan;
}

// Which oneDNN post-op adds Sum: a binary add reading it (default), or, with
// HONE_NHWC_RESIDUAL=sum, a copy into Y and a sum post-op (kept to compare the two).
onednn::ConvDesc::Residual residual_mode() {
  static const onednn::ConvDesc::Residual mode = [] {
    const char* v = std::getenv("HONE_NHWC_RESIDUAL");
    return v && std::strcmp(v, "sum") == 0 ? onednn::ConvDesc::Residual::kSumIntoY
                                           : onednn::ConvDesc::Residual::kBinaryAdd;
  }();
  return mode;
}

class NhwcConvKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<NhwcConvKernel>();
    auto act = read_fused_activation(ctx.node());
    if (!act.ok()) return ctx.error(act.status().message());
    k->activation_ = *act;
    const Tensor* w = ctx.constant_input(1);
    if (onednn::enabled() && w && w->dtype() == DType::kFloat32) {
      k->weights_ = *w;
      k->dnnl_ = std::make_unique<onednn::ConvF32Dnnl>();
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    // The plan is a function of the operands' types and shapes (W is constant on the oneDNN
    // path): a node that sees the same ones as last run reuses it, instead of reading the
    // attributes and rebuilding the geometry and the oneDNN descriptor on every run.
    if (dnnl_ && last_ && same_operands(ctx, *last_)) {
      Status s = run_dnnl(ctx, last_->plan, last_->desc);
      if (s.code() != ErrorCode::kUnsupported) return s;
    }
    HONE_ASSIGN_OR_RETURN(NhwcConvPlan plan, plan_nhwc_conv(ctx));
    if (dnnl_) {
      auto last = std::make_unique<LastRun>();
      last->desc = dnnl_desc(ctx, plan);
      Status s = run_dnnl(ctx, plan, last->desc);
      if (s.ok()) {
        remember_operands(ctx, *last);
        last->plan = std::move(plan);
        last_ = std::move(last);
      }
      if (s.code() != ErrorCode::kUnsupported) return s;
    }
    return run_ref(ctx, plan);
  }

 private:
  // What the last successful oneDNN run was planned for: the types and shapes of X, B and Sum
  // (absent: DType::kUndefined), and the plan and descriptor made from them.
  struct LastRun {
    DType types[3] = {DType::kUndefined, DType::kUndefined, DType::kUndefined};
    Shape shapes[3];
    NhwcConvPlan plan;
    onednn::ConvDesc desc;
  };
  static constexpr size_t kOperands[3] = {0, 2, 3};  // X, B, Sum

  static void remember_operands(const KernelContext& ctx, LastRun& last) {
    for (size_t i = 0; i < 3; ++i) {
      const Tensor* t = ctx.input(kOperands[i]);
      last.types[i] = t ? t->dtype() : DType::kUndefined;
      last.shapes[i] = t ? t->shape() : Shape{};
    }
  }
  static bool same_operands(const KernelContext& ctx, const LastRun& last) {
    for (size_t i = 0; i < 3; ++i) {
      const Tensor* t = ctx.input(kOperands[i]);
      if ((t ? t->dtype() : DType::kUndefined) != last.types[i]) return false;
      if (t && t->shape() != last.shapes[i]) return false;
    }
    return true;
  }

  onednn::ConvDesc dnnl_desc(const KernelContext& ctx, const NhwcConvPlan& plan) const {
    onednn::ConvDesc d = dnnl_conv_desc(plan.p, plan.pads_end);
    d.channels_last = true;
    d.has_bias = ctx.input(2) != nullptr;
    if (ctx.input(3)) d.residual = residual_mode();
    // On NHWC oneDNN runs brgemm convolutions, which apply post-ops in their JIT epilogue while
    // the output is in registers (unlike the gemm-based NCHW ones, see conv.cc).
    append_post_op(activation_, d.post_ops);
    return d;
  }

  Status run_dnnl(KernelContext& ctx, const NhwcConvPlan& plan, const onednn::ConvDesc& d) {
    const Tensor* b = ctx.input(2);
    const Tensor* sum = ctx.input(3);
    Status s = dnnl_->prepare(d, weights_.data<float>());
    if (s.ok()) {
      HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, plan.y_shape));
      if (d.residual == onednn::ConvDesc::Residual::kSumIntoY)
        std::memcpy(y->data<float>(), sum->data<float>(), y->nbytes());
      s = dnnl_->run(d, ctx.input(0)->data<float>(), weights_.data<float>(), b ? b->data<float>() : nullptr,
                     y->data<float>(), sum ? sum->data<float>() : nullptr);
    }
    return s.ok() || s.code() == ErrorCode::kUnsupported ? s : s.with_context(node_label(ctx.node()));
  }

  // The oracle: NCHW copies through the reference convolution, then Sum and the activation.
  Status run_ref(KernelContext& ctx, const NhwcConvPlan& plan) {
    const ref::ConvParams& p = plan.p;
    const Tensor& x = *ctx.input(0);
    const Tensor* b = ctx.input(2);
    const Tensor* sum = ctx.input(3);
    int64_t in_size = 1, out_size = 1;
    for (int64_t d : p.in_spatial) in_size *= d;
    for (int64_t d : p.out_spatial) out_size *= d;
    HONE_ASSIGN_OR_RETURN(Tensor x_first, Tensor::create(DType::kFloat32, {p.batch, p.in_channels, in_size}));
    HONE_ASSIGN_OR_RETURN(Tensor y_first, Tensor::create(DType::kFloat32, {p.batch, p.out_channels, out_size}));
    swap_channels(x.data<float>(), p.batch, in_size, p.in_channels, /*to_first=*/true, x_first.data<float>());
    ref::conv_nd_ref(p, x_first.data<float>(), ctx.input(1)->data<float>(), b ? b->data<float>() : nullptr,
                     y_first.data<float>());
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DType::kFloat32, plan.y_shape));
    float* yd = y->data<float>();
    swap_channels(y_first.data<float>(), p.batch, out_size, p.out_channels, /*to_first=*/false, yd);
    if (sum) {
      const float* sd = sum->data<float>();
      for (int64_t i = 0; i < y->numel(); ++i) yd[i] += sd[i];
    }
    apply_activation(activation_, yd, y->numel(), ctx.threads());
    return Status::Ok();
  }

  FusedActivation activation_;
  Tensor weights_;  // the constant W, kept alive: each new shape packs its copy from it
  std::unique_ptr<onednn::ConvF32Dnnl> dnnl_;
  std::unique_ptr<LastRun> last_;
};

}  // namespace

HONE_REGISTER_KERNEL("hone", NhwcConv, 1, kMaxOpset, NhwcConvKernel);

}  // namespace hone::rt
