#include "passes/pass_manager.h"

#include "ir/verifier.h"
#include "passes/passes.h"

namespace hone::passes {

const std::vector<PassInfo>& all_passes() {
  // Order matters: Identity removal and folding first expose patterns (a Conv whose BatchNorm
  // parameters came from Constant nodes); dead code last sweeps up what the others orphaned.
  static const std::vector<PassInfo> kPasses = {
      {"eliminate_identity", 1, "remove Identity, and Dropout in inference whose mask is unused", &eliminate_identity},
      // Before fold_constants, which would turn DequantizeLinear(int8 weights) into float weights.
      {"fuse_qdq", 2, "DQ -> Conv/MatMul -> Q into QLinearConv/QLinearMatMul (oneDNN int8); DQ -> Relu/Clip/LeakyRelu -> Q into a table lookup (session only)",
       &fuse_qdq},
      {"fold_constants", 1, "evaluate nodes whose inputs are all constant (and Shape/Size of values whose shape inference proves static) into initializers",
       &fold_constants},
      {"fold_batchnorm", 2, "fold BatchNormalization into the preceding Conv or Gemm", &fold_batchnorm},
      // Before the fusions into hone.* nodes (both read ONNX shape inference's shapes), after
      // fold_constants (the Gather's index must be a constant).
      {"hoist_gather", 2,
       "Gather of one row (a classifier's [CLS] token) moves above the row-wise ops that make its input (elementwise, LayerNorm, MatMul): they compute that row only",
       &hoist_gather},
      {"sink_views_below_add", 2,
       "Add reading a GEMM's output through Reshapes / order-keeping Transposes reads it directly (views move below the Add), so its residual epilogue takes the Add",
       &sink_views_below_add},
      // fp32 fusions into internal hone.* nodes; fuse_gelu before fuse_matmul_bias, which absorbs the GELU.
      {"fuse_layernorm", 2, "decomposed LayerNorm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add) into one node (session only)",
       &fuse_layernorm},
      {"fuse_gelu", 2, "Erf-based GELU (Div/Erf/Add/Mul/Mul) into one node (session only)", &fuse_gelu},
      {"fuse_attention", 2,
       "Transpose/MatMul/scale/mask Add/Softmax/MatMul/Transpose attention core into one node reading Q/K/V in place (session only)",
       &fuse_attention},
      {"fuse_matmul_bias", 2, "MatMul with a constant B + bias Add (+ activation) into one oneDNN matmul (session only)",
       &fuse_matmul_bias},
      {"fuse_conv_activation", 2, "Conv + Relu/Clip/Sigmoid/Tanh/Gelu into one oneDNN convolution (session only)",
       &fuse_conv_activation},
      {"fuse_dynamic_quant_matmul", 2,
       "DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ bias Add) (+ residual Add) into one int8 GEMM with its epilogue (session only)",
       &fuse_dynamic_quant_matmul},
      {"fuse_dynamic_quant_producer", 2,
       "LayerNorm/GELU + the DynamicQuantizeLinear of every int8 GEMM reading its output into one node: quantized once, in the producer's pass (session only)",
       &fuse_dynamic_quant_producer},
      {"fuse_dynamic_quant_activation", 2,
       "int8 GEMM + the GELU (and its quantization) after it into one node: applied by each thread to the part it computed (session only)",
       &fuse_dynamic_quant_activation},
      // After the int8 fusions, so that their bias Add stays theirs.
      {"fuse_add_activation", 2, "fp32 Add + Relu/Clip/Sigmoid/Tanh/Gelu (residual Add + Relu) into one pass (session only)",
       &fuse_add_activation},
      // After the conv and add fusions, whose nodes it turns channels-last (docs/layout.md).
      {"layout_nhwc", 2,
       "Conv/pooling on channels-last activations (oneDNN brgemm convolutions), transposes only at the boundaries, residual Adds into the conv (session only)",
       &layout_nhwc},
      // After layout_nhwc, whose hone.NhwcConv nodes (and folded residuals) it fuses.
      {"fuse_inverted_residual", 2,
       "expand 1x1 + depthwise 3x3 + project 1x1 hone.NhwcConv (MobileNet-v2 block) into one node that keeps the expanded rows in cache (session only)",
       &fuse_inverted_residual},
      {"sink_transposes", 2, "move Transposes down through elementwise ops and cancel inverse pairs", &sink_transposes},
      {"dead_code", 1, "remove nodes whose outputs are unused, unused initializers and stale value_info", &dead_code},
  };
  return kPasses;
}

namespace {

std::string valid_names() {
  std::string names;
  for (const auto& p : all_passes()) names += (names.empty() ? "" : ", ") + std::string(p.name);
  return names;
}

Status run_one(ir::Model& model, const PassInfo& p, bool verify) {
  HONE_RETURN_IF_ERROR(p.run(model).with_context(std::string("pass ") + p.name));
  if (verify) {
    Status st = ir::verify(model);
    if (!st.ok()) return check_failed(std::string("pass ") + p.name + " produced an invalid graph: " + st.message());
  }
  return Status::Ok();
}

}  // namespace

Status optimize(ir::Model& model, const PassOptions& options) {
  if (options.level < 0 || options.level > kMaxLevel)
    return invalid_argument("optimization level " + std::to_string(options.level) + " is not in 0.." +
                            std::to_string(kMaxLevel));
  for (const auto& name : options.disabled) {
    bool known = false;
    for (const auto& p : all_passes()) known |= name == p.name;
    if (!known) return invalid_argument("unknown pass '" + name + "' (passes: " + valid_names() + ")");
  }
  for (const auto& p : all_passes())
    if (p.level <= options.level && !options.disabled.count(p.name))
      HONE_RETURN_IF_ERROR(run_one(model, p, options.verify_each));
  return Status::Ok();
}

Status run_pass(ir::Model& model, const std::string& name, bool verify) {
  for (const auto& p : all_passes())
    if (name == p.name) return run_one(model, p, verify);
  return invalid_argument("unknown pass '" + name + "' (passes: " + valid_names() + ")");
}

}  // namespace hone::passes
