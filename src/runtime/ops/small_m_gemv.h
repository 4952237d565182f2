// The small-M path of Gemm, MatMul and hone.FusedMatMul: A with 1..4 rows times a constant fp32
// B[K, N] (stored [N, K] when transB) runs on hone's packed-panel GEMV (kernels/x86/gemv.h)
// instead of oneDNN's matmul. Why: at M = 1 the product streams every weight once, and oneDNN 2.6
// picks its brgemm matmul there, which reads the weights well below memory speed (measured in
// bench/kernels/x86_kernels_bench gemv_*; docs/kernels_fp32.md). B is packed on the first run that
// takes this path, so models that only ever run large M (BERT) do not hold a second copy.
// HONE_SMALL_M_GEMV=0 turns the path off (oneDNN or the reference then run these products).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "hone/tensor.hpp"
#include "kernels/x86/gemv.h"
#include "runtime/kernel.h"

namespace hone::rt {

class SmallMGemv {
 public:
  // For the node's input `b_input` when it is a 2-D fp32 initializer; nullptr otherwise.
  static std::unique_ptr<SmallMGemv> create(const KernelCreateContext& ctx, size_t b_input, bool trans_b);

  // Whether A with m rows of k takes this path (B has k rows): m in 1..kMaxRows.
  bool serves(int64_t m, int64_t k) const;

  // y[r, :] = a[r, :] x B for r < m (rows of a contiguous, K floats each); y is [m, N].
  Status run(const float* a, int64_t m, float* y, int threads);

  int64_t n() const { return n_; }

  static constexpr int64_t kMaxRows = 4;

 private:
  Tensor b_;  // the constant B, kept until packed
  bool trans_b_ = false;
  int64_t k_ = 0, n_ = 0;
  std::optional<kernels::x86::PackedGemvWeights> packed_;
};

}  // namespace hone::rt
