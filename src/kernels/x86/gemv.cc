// The fp32 GEMV dispatcher (kernels/x86/gemv.h): the variant table from gemv.inc, weight packing
// and the threaded driver.
#include "kernels/x86/gemv.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace hone::kernels::x86 {

const std::vector<GemvVariant>& gemv_variants() {
  static const std::vector<GemvVariant> v = {
#define HONE_GEMV_KERNEL(isa, fn) {#fn, Isa::isa, &fn},
#include "kernels/x86/gemv.inc"
#undef HONE_GEMV_KERNEL
  };
  return v;
}

const GemvVariant& gemv_best() {
  static const GemvVariant* best = [] {
    const GemvVariant* b = &gemv_variants().front();
    for (const auto& v : gemv_variants())
      if (isa_available(v.isa)) b = &v;
    return b;
  }();
  return *best;
}

PackedGemvWeights PackedGemvWeights::pack(const float* b, int64_t k, int64_t n, bool trans_b) {
  PackedGemvWeights w;
  w.k_ = k;
  w.n_ = n;
  w.panels_ = (n + kGemvPanelCols - 1) / kGemvPanelCols;
  const size_t bytes = std::max<size_t>(w.bytes(), 64);
  w.data_.reset(static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!w.data_) throw std::bad_alloc();
  float* out = w.data_.get();
  for (int64_t p = 0; p < w.panels_; ++p) {
    const int64_t n0 = p * kGemvPanelCols, cols = std::min(kGemvPanelCols, n - n0);
    for (int64_t i = 0; i < k; ++i) {
      float* row = out + (p * k + i) * kGemvPanelCols;
      for (int64_t j = 0; j < cols; ++j) row[j] = trans_b ? b[(n0 + j) * k + i] : b[i * n + n0 + j];
      for (int64_t j = cols; j < kGemvPanelCols; ++j) row[j] = 0.0f;
    }
  }
  return w;
}

namespace {

// Panels [p0, p1) for rows [0, m): full panels are written straight into y, the last partial
// one through a 64-float buffer. Rows are the inner loop, so a panel read from memory for the
// first row comes from cache for the others.
void gemv_panels(GemvPanelFn fn, const PackedGemvWeights& w, const float* a, int64_t lda, int64_t m, float* y,
                 int64_t ldy, int64_t p0, int64_t p1) {
  alignas(64) float tail[kGemvPanelCols];
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t n0 = p * kGemvPanelCols, cols = std::min(kGemvPanelCols, w.n() - n0);
    for (int64_t r = 0; r < m; ++r) {
      float* dst = y + r * ldy + n0;
      if (cols == kGemvPanelCols) {
        fn(a + r * lda, w.panel(p), w.k(), dst);
      } else {
        fn(a + r * lda, w.panel(p), w.k(), tail);
        std::memcpy(dst, tail, static_cast<size_t>(cols) * sizeof(float));
      }
    }
  }
}

}  // namespace

void gemv(const GemvVariant& v, const PackedGemvWeights& w, const float* a, int64_t lda, int64_t m, float* y,
          int64_t ldy, int threads) {
  // Below ~256 KiB of weights a second thread costs more to wake than it saves.
  constexpr size_t kParallelBytes = size_t{256} << 10;
  const int64_t panels = w.panels();
  int64_t nt = w.bytes() * static_cast<size_t>(std::max<int64_t>(m, 1)) >= kParallelBytes ? std::max(threads, 1) : 1;
  nt = std::min(nt, panels);
  if (nt <= 1) {
    gemv_panels(v.fn, w, a, lda, m, y, ldy, 0, panels);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(nt)) schedule(static)
  for (int64_t t = 0; t < nt; ++t) gemv_panels(v.fn, w, a, lda, m, y, ldy, panels * t / nt, panels * (t + 1) / nt);
}

}  // namespace hone::kernels::x86
