// hone.NhwcInvertedResidual: a MobileNet-v2 inverted-residual block in one node, made by
// fuse_inverted_residual from three hone.NhwcConv nodes (passes/fuse_inverted_residual.cc):
//   inputs   X [N, H, W, C], W_expand [M, C, 1, 1], B_expand [M], W_dw [M, 1, 3, 3], B_dw [M],
//            W_project [K, M, 1, 1], B_project [K], Sum [N, Ho, Wo, K] (optional residual)
//   attrs    strides [s, s] (the depthwise's, 1 or 2; pads are 1, the 1x1s have none),
//            expand_activation*, dw_activation*, activation* (Relu or Clip, fused_activation.h;
//            the last one applied after Sum)
//   output   Y [N, Ho, Wo, K]
// W_expand and B_expand may be absent ("": a block without the expand conv, M = C); biases may
// be absent. Weights must be constants: they are packed once, at session creation, into the
// fused kernel's layout (kernels/x86/inverted_residual.h). fp32 only. Internal to a Session.
#include <memory>
#include <string>

#include "kernels/x86/inverted_residual.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace x86 = hone::kernels::x86;

enum Input : size_t { kX, kWExpand, kBExpand, kWDw, kBDw, kWProject, kBProject, kSum };

// The clamp of `<prefix>activation`: absent, Relu or Clip (what the fused kernel applies).
Result<x86::IrClamp> read_clamp(const KernelCreateContext& ctx, const std::string& prefix) {
  const ir::Node& n = ctx.node();
  const std::string kind = n.attr_string(prefix + "activation", "");
  x86::IrClamp c;
  if (kind.empty()) return c;
  if (kind == "Relu") {
    c.lo = 0.0f;
    return c;
  }
  if (kind == "Clip") {
    c.lo = n.attr_float(prefix + "activation_alpha", c.lo);
    c.hi = n.attr_float(prefix + "activation_beta", c.hi);
    return c;
  }
  return ctx.error("attribute " + prefix + "activation: '" + kind + "' is not one of Relu, Clip");
}

// A constant fp32 input of exactly `shape` (absent allowed when `optional`), else an error.
Result<const float*> constant_weights(const KernelCreateContext& ctx, size_t i, const Shape& shape, bool optional,
                                      const char* what) {
  if (ctx.node().input(i).empty()) {
    if (optional) return static_cast<const float*>(nullptr);
    return ctx.error(std::string(what) + " is required");
  }
  const Tensor* t = ctx.constant_input(i);
  if (!t) return ctx.error(std::string(what) + " must be a constant (initializer)");
  if (t->dtype() != DType::kFloat32 || t->shape() != shape)
    return ctx.error(std::string(what) + " " + shape_to_string(t->shape()) + " must be float32 of shape " +
                     shape_to_string(shape));
  return t->data<float>();
}

class NhwcInvertedResidualKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    const ir::Node& node = ctx.node();
    const Tensor* wd = ctx.constant_input(kWDw);
    const Tensor* wp = ctx.constant_input(kWProject);
    if (!wd || wd->rank() != 4 || !wp || wp->rank() != 4)
      return ctx.error("W_dw and W_project must be constant 4-D weights");
    const int64_t c_mid = wd->dim(0), c_out = wp->dim(0);
    const bool has_expand = !node.input(kWExpand).empty();
    int64_t c_in = c_mid;
    if (has_expand) {
      const Tensor* we = ctx.constant_input(kWExpand);
      if (!we || we->rank() != 4) return ctx.error("W_expand must be a constant 4-D weight");
      c_in = we->dim(1);
    }
    if (c_mid < 1 || c_out < 1 || c_in < 1) return ctx.error("empty weights");
    const std::vector<int64_t> strides = node.attr_ints("strides");
    if (strides.size() != 2 || strides[0] != strides[1] || (strides[0] != 1 && strides[0] != 2))
      return ctx.error("strides must be [1, 1] or [2, 2]");
    const float *we = nullptr, *be = nullptr;
    if (has_expand) {
      HONE_ASSIGN_OR_RETURN(we, constant_weights(ctx, kWExpand, {c_mid, c_in, 1, 1}, false, "W_expand"));
      HONE_ASSIGN_OR_RETURN(be, constant_weights(ctx, kBExpand, {c_mid}, true, "B_expand"));
    } else if (!node.input(kBExpand).empty()) {
      return ctx.error("B_expand without W_expand");
    }
    HONE_ASSIGN_OR_RETURN(const float* wd_data, constant_weights(ctx, kWDw, {c_mid, 1, 3, 3}, false, "W_dw"));
    HONE_ASSIGN_OR_RETURN(const float* bd, constant_weights(ctx, kBDw, {c_mid}, true, "B_dw"));
    HONE_ASSIGN_OR_RETURN(const float* wp_data, constant_weights(ctx, kWProject, {c_out, c_mid, 1, 1}, false, "W_project"));
    HONE_ASSIGN_OR_RETURN(const float* bp, constant_weights(ctx, kBProject, {c_out}, true, "B_project"));
    auto k = std::make_unique<NhwcInvertedResidualKernel>();
    k->weights_ = x86::InvertedResidualWeights::pack(c_in, c_mid, c_out, strides[0], we, be, wd_data, bd, wp_data, bp);
    HONE_ASSIGN_OR_RETURN(k->weights_.expand_clamp, read_clamp(ctx, "expand_"));
    HONE_ASSIGN_OR_RETURN(k->weights_.depthwise_clamp, read_clamp(ctx, "dw_"));
    HONE_ASSIGN_OR_RETURN(k->weights_.project_clamp, read_clamp(ctx, ""));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const x86::InvertedResidualWeights& w = weights_;
    const Tensor* x = ctx.input(kX);
    if (!x || x->dtype() != DType::kFloat32 || x->rank() != 4 || x->dim(3) != w.c_in)
      return ctx.error("X must be float32 [N, H, W, " + std::to_string(w.c_in) + "], got " +
                       (x ? shape_to_string(x->shape()) : std::string("none")));
    const int64_t batch = x->dim(0), height = x->dim(1), width = x->dim(2);
    const Shape y_shape{batch, x86::ir_out_size(height, w.stride), x86::ir_out_size(width, w.stride), w.c_out};
    const Tensor* sum = ctx.input(kSum);
    if (sum && (sum->dtype() != DType::kFloat32 || sum->shape() != y_shape))
      return ctx.error("Sum " + shape_to_string(sum->shape()) + " must be float32 of Y's shape " +
                       shape_to_string(y_shape));
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, y_shape));
    if (y->numel() == 0) return Status::Ok();
    const int threads = std::max(1, ctx.threads());
    const x86::IrSchedule schedule = x86::inverted_residual_schedule(w, height, width, threads);
    const int64_t need = x86::inverted_residual_scratch_floats(w, height, width, threads, schedule);
    if (scratch_.size() < need) scratch_ = x86::IrBuffer(need);
    x86::inverted_residual(x86::inverted_residual_best(), w, x->data<float>(), batch, height, width,
                           sum ? sum->data<float>() : nullptr, y->data<float>(), scratch_.data(), threads, schedule);
    return Status::Ok();
  }

 private:
  x86::InvertedResidualWeights weights_;
  x86::IrBuffer scratch_;
};

}  // namespace

HONE_REGISTER_KERNEL("hone", NhwcInvertedResidual, 1, kMaxOpset, NhwcInvertedResidualKernel);

}  // namespace hone::rt
