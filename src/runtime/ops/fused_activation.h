// The activation a fusion pass folded into a Conv or MatMul (hone.FusedConv, hone.FusedMatMul),
// read from the node's attributes:
//   activation        "Relu" | "LeakyRelu" | "Clip" | "Sigmoid" | "Tanh" | "Gelu" | "GeluTanh"
//   activation_alpha  LeakyRelu's slope; Clip's min
//   activation_beta   Clip's max
// hone.FusedMatMul runs it as a oneDNN post-op inside the matmul (brgemm applies post-ops in its
// JIT epilogue); hone.FusedConv applies it in place right after the convolution (see conv.cc), as
// do the reference paths, so every path computes the same function.
#pragma once

#include <cstdint>
#include <string>

#include "hone/status.hpp"
#include "ir/graph.h"
#include "kernels/dnnl/dnnl_common.h"

namespace hone::rt {

struct FusedActivation {
  enum class Kind { kNone, kRelu, kLeakyRelu, kClip, kSigmoid, kTanh, kGeluErf, kGeluTanh };
  Kind kind = Kind::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// An error naming the attribute for an unknown activation.
Result<FusedActivation> read_fused_activation(const ir::Node& node);

// Appends the oneDNN post-op computing `a` (nothing for kNone).
void append_post_op(const FusedActivation& a, kernels::onednn::PostOps& ops);

// y[i] = a(y[i]) for i < n, in place, split over `threads` for large n.
void apply_activation(const FusedActivation& a, float* y, int64_t n, int threads);

}  // namespace hone::rt
