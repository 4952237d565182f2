#include "runtime/ops/fused_activation.h"

#include <algorithm>
#include <cmath>

#include "kernels/x86/f32_kernels.h"

namespace hone::rt {

Result<FusedActivation> read_fused_activation(const ir::Node& node) {
  const std::string name = node.attr_string("activation", "");
  FusedActivation a;
  a.alpha = node.attr_float("activation_alpha", 0.0f);
  a.beta = node.attr_float("activation_beta", 0.0f);
  using K = FusedActivation::Kind;
  if (name.empty()) a.kind = K::kNone;
  else if (name == "Relu") a.kind = K::kRelu;
  else if (name == "LeakyRelu") a.kind = K::kLeakyRelu;
  else if (name == "Clip") a.kind = K::kClip;
  else if (name == "Sigmoid") a.kind = K::kSigmoid;
  else if (name == "Tanh") a.kind = K::kTanh;
  else if (name == "Gelu") a.kind = K::kGeluErf;
  else if (name == "GeluTanh") a.kind = K::kGeluTanh;
  else return invalid_argument("attribute activation: unknown activation '" + name + "'");
  return a;
}

void append_post_op(const FusedActivation& a, kernels::onednn::PostOps& ops) {
  using K = FusedActivation::Kind;
  using P = kernels::onednn::PostOp;
  switch (a.kind) {
    case K::kNone: break;
    case K::kRelu: ops.push_back(P::relu()); break;
    case K::kLeakyRelu: ops.push_back(P::relu(a.alpha)); break;
    case K::kClip: ops.push_back(P::clip(a.alpha, a.beta)); break;
    case K::kSigmoid: ops.push_back({P::Kind::kSigmoid, 0.0f, 0.0f}); break;
    case K::kTanh: ops.push_back({P::Kind::kTanh, 0.0f, 0.0f}); break;
    case K::kGeluErf: ops.push_back({P::Kind::kGeluErf, 0.0f, 0.0f}); break;
    case K::kGeluTanh: ops.push_back({P::Kind::kGeluTanh, 0.0f, 0.0f}); break;
  }
}

void apply_activation(const FusedActivation& a, float* y, int64_t n, int threads) {
  using K = FusedActivation::Kind;
  if (a.kind == K::kNone) return;
  if (a.kind == K::kGeluErf || a.kind == K::kGeluTanh) {
    const auto fn = a.kind == K::kGeluErf ? kernels::x86::gelu_erf_best() : kernels::x86::gelu_tanh_best();
    const int64_t chunk = 4096;
#pragma omp parallel for num_threads(std::max(1, threads)) if (n > (1 << 16)) schedule(static)
    for (int64_t begin = 0; begin < n; begin += chunk) fn(y + begin, y + begin, std::min(chunk, n - begin));
    return;
  }
  const float alpha = a.alpha, beta = a.beta;
#pragma omp parallel for num_threads(std::max(1, threads)) if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = y[i];
    switch (a.kind) {
      case K::kRelu: y[i] = v > 0 ? v : 0.0f; break;
      case K::kLeakyRelu: y[i] = v > 0 ? v : alpha * v; break;
      case K::kClip: y[i] = std::min(std::max(v, alpha), beta); break;
      case K::kSigmoid: y[i] = 1.0f / (1.0f + std::exp(-v)); break;
      case K::kTanh: y[i] = std::tanh(v); break;
      default: break;
    }
  }
}

}  // namespace hone::rt
