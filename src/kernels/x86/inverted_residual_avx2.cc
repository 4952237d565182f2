// AVX2/FMA micro-kernels of the fused inverted-residual block (kernels/x86/inverted_residual.h).
// With 16 ymm registers a 48-wide panel is done as two 24-column halves: tiles of up to 4 rows x
// 3 vectors (12 accumulators + 3 panel vectors + the broadcast). The depthwise row keeps its 9
// taps and bias in registers and loads the 9 inputs per output vector.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/x86/inverted_residual.h"

namespace hone::kernels::x86 {

namespace {

// Lanes < valid all ones (for maskload / maskstore).
__m256i lane_mask(int64_t valid) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(valid, 0, 8))), lanes);
}

using TileFn = void (*)(const float* a, int64_t lda, int64_t k, const float* b, int64_t pw, const float* bias,
                        const float* sum, int64_t lds, float lo, float hi, float* const* c, int64_t ncols);

template <int NV, int MR>
void tile(const float* a, int64_t lda, int64_t k, const float* b, int64_t pw, const float* bias, const float* sum,
          int64_t lds, float lo_s, float hi_s, float* const* c, int64_t ncols) {
  const __m256 lo = _mm256_set1_ps(lo_s), hi = _mm256_set1_ps(hi_s);
  __m256 acc[MR][NV];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    __m256 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + kk * pw + 8 * v);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + kk);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    const int64_t valid = ncols - 8 * v;
    if (valid <= 0) continue;
    const __m256i mask = lane_mask(valid);
    const __m256 bias_v = _mm256_loadu_ps(bias + 8 * v);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      __m256 x = _mm256_add_ps(acc[r][v], bias_v);
      if (sum) x = _mm256_add_ps(x, _mm256_maskload_ps(sum + r * lds + 8 * v, mask));
      x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
      _mm256_maskstore_ps(c[r] + 8 * v, mask, x);
    }
  }
}

constexpr int kMaxRows = 4;

template <int NV, size_t... R>
constexpr std::array<TileFn, sizeof...(R)> tiles_for(std::index_sequence<R...>) {
  return {&tile<NV, static_cast<int>(R) + 1>...};
}

const std::array<TileFn, kMaxRows> kTiles[3] = {tiles_for<1>(std::make_index_sequence<kMaxRows>{}),
                                                tiles_for<2>(std::make_index_sequence<kMaxRows>{}),
                                                tiles_for<3>(std::make_index_sequence<kMaxRows>{})};

}  // namespace

void f32_gemm_bias_clip_sum_c48_avx2(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels,
                                     int64_t n_pad, const float* bias, const float* sum, int64_t lds, float lo,
                                     float hi, IrOut out, int64_t n) {
  for (int64_t i0 = 0; i0 < m; i0 += kMaxRows) {
    const int64_t mr = std::min<int64_t>(kMaxRows, m - i0);
    float* rows[kMaxRows];
    for (int64_t r = 0; r < mr; ++r) rows[r] = out.row(i0 + r);
    for (int64_t p0 = 0; p0 < n_pad && p0 < n; p0 += kIrPanelCols) {
      const int64_t pw = std::min(kIrPanelCols, n_pad - p0);
      const float* panel = panels + p0 * k;
      // Up to 24 columns (3 vectors) of the panel at a time.
      for (int64_t q = 0; q < pw && p0 + q < n; q += 24) {
        const int64_t nv = std::min<int64_t>(3, (pw - q) / 8);
        float* at[kMaxRows];
        for (int64_t r = 0; r < mr; ++r) at[r] = rows[r] + p0 + q;
        kTiles[nv - 1][mr - 1](a + i0 * lda, lda, k, panel + q, pw, bias + p0 + q,
                               sum ? sum + i0 * lds + p0 + q : nullptr, lds, lo, hi, at, std::min(nv * 8, n - p0 - q));
      }
    }
  }
}

void f32_dwconv3x3_bias_clip_avx2(const float* const rows[3], int64_t wo, int64_t stride, int64_t cpad,
                                  const float* w9, const float* bias, float lo, float hi, float* out) {
  const __m256 lo_v = _mm256_set1_ps(lo), hi_v = _mm256_set1_ps(hi);
  for (int64_t c0 = 0; c0 < cpad; c0 += 8) {
    __m256 w[9];
    for (int t = 0; t < 9; ++t) w[t] = _mm256_loadu_ps(w9 + t * cpad + c0);
    const __m256 b = _mm256_loadu_ps(bias + c0);
    for (int64_t x = 0; x < wo; ++x) {
      const int64_t off = x * stride * cpad + c0;
      __m256 s = b;
      for (int dy = 0; dy < 3; ++dy)
        for (int dx = 0; dx < 3; ++dx)
          s = _mm256_fmadd_ps(_mm256_loadu_ps(rows[dy] + off + dx * cpad), w[dy * 3 + dx], s);
      _mm256_storeu_ps(out + x * cpad + c0, _mm256_min_ps(_mm256_max_ps(s, lo_v), hi_v));
    }
  }
}

}  // namespace hone::kernels::x86
