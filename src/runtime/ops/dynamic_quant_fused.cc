// Producers fused with the DynamicQuantizeLinear of their output, made by the level-2 pass
// fuse_dynamic_quant_producer inside a Session (never exported to a file):
//
//   hone.LayerNormDynQuant(X, Scale, B?) -> (Y, Yq, Y_scale, Y_zero_point)   attrs axis (-1), epsilon
//     = LayerNormalization(X, Scale, B) -> Y; DynamicQuantizeLinear(Y) -> (Yq, Y_scale, Y_zero_point)
//   hone.GeluDynQuant(X) -> (Y, Yq, Y_scale, Y_zero_point)                  attr approximate ("none")
//     = Gelu(X) -> Y; DynamicQuantizeLinear(Y) -> (Yq, Y_scale, Y_zero_point)
//
// The hone.DynQuantMatMul nodes that read Y then take (Yq, Y_scale, Y_zero_point) instead of
// quantizing Y each on their own. Y is still written (the residual Add reads a LayerNorm's Y, and
// a per-tensor range needs every value before the first can be quantized); each thread scans the
// rows it has just written for the range (kernels/x86/dynamic_quant.h,
// u8_dynamic_quantize_produced). The row kernels are the unfused ops' own (f32_layernorm_*,
// f32_gelu_*), so Y and the quantized bytes are the unfused chain's, bit for bit.
#include <string>

#include "kernels/x86/dynamic_quant.h"
#include "kernels/x86/f32_kernels.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace dynq = kernels::dynq;

// Allocates Y (float) and its quantized outputs, runs produce over Y's rows fused with the
// quantization, and stores the scale and zero point.
Status produce_and_quantize(KernelContext& ctx, const Shape& shape, int64_t cols,
                            const std::function<void(float* y, int64_t begin, int64_t end)>& produce_rows) {
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, shape));
  HONE_ASSIGN_OR_RETURN(Tensor * yq, ctx.allocate_output_overwritten(1, DType::kUInt8, shape));
  HONE_ASSIGN_OR_RETURN(Tensor * y_scale, ctx.allocate_output_overwritten(2, DType::kFloat32, Shape{}));
  HONE_ASSIGN_OR_RETURN(Tensor * y_zp, ctx.allocate_output_overwritten(3, DType::kUInt8, Shape{}));
  const int64_t rows = cols == 0 ? 0 : y->numel() / cols;
  float* yd = y->data<float>();
  const dynq::QuantParams p = dynq::u8_dynamic_quantize_produced(
      [&](int64_t begin, int64_t end) { produce_rows(yd, begin, end); }, rows, cols, yd, yq->data<uint8_t>(),
      ctx.threads());
  y_scale->data<float>()[0] = p.scale;
  y_zp->data<uint8_t>()[0] = p.zero_point;
  return Status::Ok();
}

// LayerNormalization over the last axis with one Scale (and B) value per column: the form the
// pass fuses (it checks the attributes and constants; the shapes are checked here).
Status layer_norm_dyn_quant(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* bias = ctx.input(2);
  if (!x || !scale) return ctx.error("inputs X and Scale are required");
  if (x->dtype() != DType::kFloat32 || x->rank() < 1) return ctx.error("X must be a float tensor of rank >= 1");
  const int64_t axis = ctx.node().attr_int("axis", -1);
  if (axis != -1 && axis != x->rank() - 1) return ctx.error("only the last axis is normalized here");
  const int64_t cols = x->shape().back();
  for (const Tensor* t : {scale, bias}) {
    if (t && (t->dtype() != DType::kFloat32 || t->rank() != 1 || t->dim(0) != cols))
      return ctx.error("Scale and B must be float vectors of " + std::to_string(cols) + " values (X " +
                       shape_to_string(x->shape()) + ")");
  }
  const auto layernorm = kernels::x86::layernorm_best();
  const float *xd = x->data<float>(), *sd = scale->data<float>(), *bd = bias ? bias->data<float>() : nullptr;
  const float eps = static_cast<float>(ctx.node().attr_float("epsilon", 1e-5f));
  return produce_and_quantize(ctx, x->shape(), cols, [&](float* y, int64_t begin, int64_t end) {
    layernorm(xd + begin * cols, sd, bd, y + begin * cols, end - begin, cols, eps);
  });
}

Status gelu_dyn_quant(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x || x->dtype() != DType::kFloat32) return ctx.error("X must be a float tensor");
  const std::string approximate = ctx.node().attr_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return ctx.error("attribute approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
  const auto gelu = approximate == "none" ? kernels::x86::gelu_erf_best() : kernels::x86::gelu_tanh_best();
  // Elementwise: rows are the last axis only to give the fused scan its steps.
  const int64_t cols = x->rank() == 0 ? 1 : x->shape().back();
  const float* xd = x->data<float>();
  return produce_and_quantize(ctx, x->shape(), cols, [&](float* y, int64_t begin, int64_t end) {
    gelu(xd + begin * cols, y + begin * cols, (end - begin) * cols);
  });
}

}  // namespace

HONE_REGISTER_FN("hone", LayerNormDynQuant, 1, kMaxOpset, layer_norm_dyn_quant);
HONE_REGISTER_FN("hone", GeluDynQuant, 1, kMaxOpset, gelu_dyn_quant);

}  // namespace hone::rt
