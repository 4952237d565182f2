// fp32 GEMV / small-M GEMM against a constant weight matrix: y[r, :] = a[r, :] x W for a few rows
// r (batch-1 classifiers and MLPs: Gemm/MatMul with M = 1..4). At M = 1 every weight is used
// once, so the product runs at the speed weights stream from memory; oneDNN 2.6's brgemm matmul
// (its pick for M = 1 with packed weights) reaches only ~half of the read bandwidth there.
//
// Layout: W [K, N] is packed once (at session creation) into panels of 64 columns, panel p
// holding W[k][64p .. 64p + 63] for k = 0 .. K-1 contiguously ([panels][K][64], columns past N
// zero). A panel is one forward stream: the inner loop broadcasts a[k] and does 4 (AVX-512) or 8
// (AVX2) FMAs into 64 column accumulators, with no horizontal sums. Threads split the panels.
//
// Names per docs/naming.md: f32_gemv_c64_ref (kernels/ref) / _avx2 / _avx512, listed once in
// gemv.inc, which the dispatcher and tests/unit/kernels/gemv_test.cc both read.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels/x86/f32_kernels.h"  // Isa, isa_available

namespace hone::kernels::x86 {

constexpr int64_t kGemvPanelCols = 64;

// out[j] = sum_k a[k] * panel[k * 64 + j] for j < 64: one row of A against one packed panel.
using GemvPanelFn = void (*)(const float* a, const float* panel, int64_t k, float* out);

struct GemvVariant {
  const char* name;  // "f32_gemv_c64_avx512"
  Isa isa;
  GemvPanelFn fn;
};
// Every variant of gemv.inc, scalar reference first.
const std::vector<GemvVariant>& gemv_variants();
// The widest variant this CPU runs (as capped by HONE_ISA), chosen once.
const GemvVariant& gemv_best();

// W packed into 64-column panels, 64-byte aligned.
class PackedGemvWeights {
 public:
  // W is b[K, N] row-major, or b[N, K] when trans_b (Gemm's transB = 1).
  static PackedGemvWeights pack(const float* b, int64_t k, int64_t n, bool trans_b);
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  int64_t panels() const { return panels_; }
  const float* panel(int64_t p) const { return data_.get() + p * k_ * kGemvPanelCols; }
  size_t bytes() const { return static_cast<size_t>(panels_ * k_ * kGemvPanelCols) * sizeof(float); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  int64_t k_ = 0, n_ = 0, panels_ = 0;
  std::unique_ptr<float, Free> data_;
};

// y[r * ldy + j] = sum_k a[r * lda + k] * W[k][j] for r < m, j < N, with variant v; the panels are
// split over `threads` OpenMP threads when the weights are large enough to be worth it.
void gemv(const GemvVariant& v, const PackedGemvWeights& w, const float* a, int64_t lda, int64_t m, float* y,
          int64_t ldy, int threads);

// The variants (gemv.inc).
void f32_gemv_c64_ref(const float* a, const float* panel, int64_t k, float* out);
void f32_gemv_c64_avx2(const float* a, const float* panel, int64_t k, float* out);
void f32_gemv_c64_avx512(const float* a, const float* panel, int64_t k, float* out);

}  // namespace hone::kernels::x86
