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

namespace {

// Runs f(begin, end) over [0, n) in chunks, in parallel when n is large.
template <class F>
void chunked(int64_t n, int threads, F f) {
  constexpr int64_t kChunk = 16384;
#pragma omp parallel for num_threads(std::max(1, threads)) if (n > 4 * kChunk) schedule(static)
  for (int64_t begin = 0; begin < n; begin += kChunk) f(begin, std::min(n, begin + kChunk));
}

}  // namespace

void apply_activation(const FusedActivation& a, float* y, int64_t n, int threads) {
  using K = FusedActivation::Kind;
  const float alpha = a.alpha, beta = a.beta;
  // One loop per kind, so that each vectorizes (a switch inside the loop would not).
  switch (a.kind) {
    case K::kNone: return;
    case K::kGeluErf:
    case K::kGeluTanh: {
      const auto fn = a.kind == K::kGeluErf ? kernels::x86::gelu_erf_best() : kernels::x86::gelu_tanh_best();
      chunked(n, threads, [&](int64_t b, int64_t e) { fn(y + b, y + b, e - b); });
      return;
    }
    case K::kRelu:
      chunked(n, threads, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
      });
      return;
    case K::kLeakyRelu:
      chunked(n, threads, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = y[i] > 0.0f ? y[i] : alpha * y[i];
      });
      return;
    case K::kClip:
      chunked(n, threads, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = std::min(std::max(y[i], alpha), beta);
      });
      return;
    case K::kSigmoid:
      chunked(n, threads, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = 1.0f / (1.0f + std::exp(-y[i]));
      });
      return;
    case K::kTanh:
      chunked(n, threads, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = std::tanh(y[i]);
      });
      return;
  }
}

}  // namespace hone::rt
