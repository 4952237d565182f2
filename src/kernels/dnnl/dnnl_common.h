// The oneDNN bridge, part shared by its kernels: the process-wide on/off switch and the post-op
// list that fusion passes hand to a kernel. This header does not include oneDNN, so the op files
// that choose between oneDNN and the reference path compile without it.
//
// Kernel names follow STYLE: f32_conv_dnnl, f32_matmul_dnnl — oneDNN picks the ISA itself
// (jit:avx512_core, brgconv:avx2 ...); impl_name() reports what it chose for the last shape run.
#pragma once

#include <vector>

namespace hone::kernels::onednn {

// False when the environment variable HONE_DNNL is "0" (read once, at the first call): every
// kernel then takes its reference path. Tests use it to run the oracle through whole models.
bool enabled();

// An operation applied to each output element after the convolution or matmul (and its bias),
// in list order, inside the oneDNN primitive — the hook that fusion passes use to fold a
// following activation or residual Add into the producer.
struct PostOp {
  enum class Kind {
    kRelu,       // x > 0 ? x : alpha * x (alpha = 0: ReLU; otherwise LeakyRelu)
    kClip,       // min(max(x, alpha), beta)
    kSigmoid,
    kTanh,
    kElu,        // x > 0 ? x : alpha * (exp(x) - 1)
    kSwish,      // x * sigmoid(alpha * x)
    kGeluErf,
    kGeluTanh,
    kSum,        // y = result + alpha * (what y held before the call): residual Add into y
  };
  Kind kind = Kind::kRelu;
  float alpha = 0.0f;
  float beta = 0.0f;

  static PostOp relu(float slope = 0.0f) { return {Kind::kRelu, slope, 0.0f}; }
  static PostOp clip(float lo, float hi) { return {Kind::kClip, lo, hi}; }
  static PostOp sum(float scale = 1.0f) { return {Kind::kSum, scale, 0.0f}; }

  bool operator==(const PostOp&) const = default;
};
using PostOps = std::vector<PostOp>;

}  // namespace hone::kernels::onednn
