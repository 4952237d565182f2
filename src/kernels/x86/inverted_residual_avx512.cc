// AVX-512 micro-kernels of the fused inverted-residual block (kernels/x86/inverted_residual.h).
//
// f32_gemm_bias_clip_sum_c48_avx512: register tiles of MR pixel rows x one 48-wide (3-vector)
// weight panel: 8 x 48 = 24 accumulators + 3 panel vectors + the broadcast fit the 32 zmm
// registers, and per k it is 3 loads + 8 broadcasts for 24 FMAs, so the FMA units, not the loads,
// set the pace. Narrower last panels (16, 32 columns) take up to 12 rows. Bias, residual and clamp
// are applied while the tile is in registers; the last columns are stored under a mask.
//
// f32_dwconv3x3_bias_clip_avx512: 16 channels at a time, the 9 taps and the bias in registers for
// a whole output row; at stride 1 each row slides its 3-pixel window, so one new load per input
// row per output pixel instead of three.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/x86/inverted_residual.h"

namespace hone::kernels::x86 {

namespace {

__mmask16 column_mask(int64_t valid) {
  if (valid >= 16) return 0xFFFF;
  if (valid <= 0) return 0;
  return static_cast<__mmask16>((1u << valid) - 1u);
}

using TileFn = void (*)(const float* a, int64_t lda, int64_t k, const float* b, int64_t pw, const float* bias,
                        const float* sum, int64_t lds, float lo, float hi, float* const* c, int64_t ncols);

// MR rows x (NV zmm + HALF ymm) columns: a panel of 8 * (2 NV + HALF) columns. The ymm half
// serves panels whose width is an odd multiple of 8 (24 outputs: 16 + 8 instead of 32 with a
// quarter of the FMAs on padding).
template <int NV, int HALF, int MR>
void tile(const float* a, int64_t lda, int64_t k, const float* b, int64_t pw, const float* bias, const float* sum,
          int64_t lds, float lo_s, float hi_s, float* const* c, int64_t ncols) {
  const __m512 lo = _mm512_set1_ps(lo_s), hi = _mm512_set1_ps(hi_s);
  __m512 acc[MR][NV > 0 ? NV : 1];
  __m256 acc_h[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    if (HALF) acc_h[r] = _mm256_setzero_ps();
  }
  for (int64_t kk = 0; kk < k; ++kk) {
    __m512 bv[NV > 0 ? NV : 1];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + kk * pw + 16 * v);
    __m256 bh = _mm256_setzero_ps();
    if (HALF) bh = _mm256_loadu_ps(b + kk * pw + 16 * NV);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + kk]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      if (HALF) acc_h[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(av), bh, acc_h[r]);
    }
  }
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    const __mmask16 mask = column_mask(ncols - 16 * v);
    if (!mask) continue;
    const __m512 bias_v = _mm512_loadu_ps(bias + 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      __m512 x = _mm512_add_ps(acc[r][v], bias_v);
      if (sum) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, sum + r * lds + 16 * v));
      x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
      _mm512_mask_storeu_ps(c[r] + 16 * v, mask, x);
    }
  }
  if (HALF) {
    const __mmask8 mask = static_cast<__mmask8>(column_mask(ncols - 16 * NV) & 0xFF);
    if (!mask) return;
    const __m256 bias_h = _mm256_loadu_ps(bias + 16 * NV);
    const __m256 lo_h = _mm512_castps512_ps256(lo), hi_h = _mm512_castps512_ps256(hi);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      __m256 x = _mm256_add_ps(acc_h[r], bias_h);
      if (sum) x = _mm256_add_ps(x, _mm256_maskz_loadu_ps(mask, sum + r * lds + 16 * NV));
      x = _mm256_min_ps(_mm256_max_ps(x, lo_h), hi_h);
      _mm256_mask_storeu_ps(c[r] + 16 * NV, mask, x);
    }
  }
}

// Rows per tile for a panel of `eighths` x 8 columns: at most 24 accumulators (of either width),
// at most 12 rows.
constexpr int max_rows(int eighths) { return std::min(12, 24 / ((eighths + 1) / 2)); }
constexpr int kMaxRows = 12;

template <int E, size_t... R>
constexpr std::array<TileFn, kMaxRows> tiles_for(std::index_sequence<R...>) {
  // Entries past max_rows(E) are never used (the driver caps the rows); they repeat the largest.
  return {&tile<E / 2, E % 2, std::min(static_cast<int>(R) + 1, max_rows(E))>...};
}

// kTiles[E - 1][rows - 1]: a panel E x 8 columns wide (E = 1 .. 6).
const std::array<TileFn, kMaxRows> kTiles[6] = {
    tiles_for<1>(std::make_index_sequence<kMaxRows>{}), tiles_for<2>(std::make_index_sequence<kMaxRows>{}),
    tiles_for<3>(std::make_index_sequence<kMaxRows>{}), tiles_for<4>(std::make_index_sequence<kMaxRows>{}),
    tiles_for<5>(std::make_index_sequence<kMaxRows>{}), tiles_for<6>(std::make_index_sequence<kMaxRows>{})};

}  // namespace

void f32_gemm_bias_clip_sum_c48_avx512(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels,
                                       int64_t n_pad, const float* bias, const float* sum, int64_t lds, float lo,
                                       float hi, IrOut out, int64_t n) {
  // Row tiles outside, panels inside: a tile of A stays in L1 while the panels go by.
  const int64_t tile_rows = max_rows(static_cast<int>(std::min(kIrPanelCols, n_pad) / 8));
  for (int64_t i0 = 0; i0 < m; i0 += tile_rows) {
    const int64_t mr = std::min(tile_rows, m - i0);
    float* rows[kMaxRows];
    for (int64_t r = 0; r < mr; ++r) rows[r] = out.row(i0 + r);
    for (int64_t p0 = 0; p0 < n_pad && p0 < n; p0 += kIrPanelCols) {
      const int64_t pw = std::min(kIrPanelCols, n_pad - p0);
      const int64_t ncols = std::min(pw, n - p0);
      const int e = static_cast<int>(pw / 8);
      // A narrower last panel may take more rows than the tile has: it never needs fewer.
      float* at[kMaxRows];
      for (int64_t r = 0; r < mr; ++r) at[r] = rows[r] + p0;
      kTiles[e - 1][mr - 1](a + i0 * lda, lda, k, panels + p0 * k, pw, bias + p0, sum ? sum + i0 * lds + p0 : nullptr,
                            lds, lo, hi, at, ncols);
    }
  }
}

void f32_dwconv3x3_bias_clip_avx512(const float* const rows[3], int64_t wo, int64_t stride, int64_t cpad,
                                    const float* w9, const float* bias, float lo, float hi, float* out) {
  const __m512 lo_v = _mm512_set1_ps(lo), hi_v = _mm512_set1_ps(hi);
  for (int64_t c0 = 0; c0 < cpad; c0 += 16) {
    __m512 w[9];
    for (int t = 0; t < 9; ++t) w[t] = _mm512_loadu_ps(w9 + t * cpad + c0);
    const __m512 b = _mm512_loadu_ps(bias + c0);
    const float* r0 = rows[0] + c0;
    const float* r1 = rows[1] + c0;
    const float* r2 = rows[2] + c0;
    float* o = out + c0;
    if (stride == 1) {
      __m512 a0 = _mm512_loadu_ps(r0), a1 = _mm512_loadu_ps(r1), a2 = _mm512_loadu_ps(r2);
      __m512 b0 = _mm512_loadu_ps(r0 + cpad), b1 = _mm512_loadu_ps(r1 + cpad), b2 = _mm512_loadu_ps(r2 + cpad);
      for (int64_t x = 0; x < wo; ++x) {
        const int64_t off = (x + 2) * cpad;
        const __m512 n0 = _mm512_loadu_ps(r0 + off), n1 = _mm512_loadu_ps(r1 + off), n2 = _mm512_loadu_ps(r2 + off);
        __m512 s = _mm512_fmadd_ps(a0, w[0], b);
        __m512 t = _mm512_mul_ps(a1, w[3]);
        s = _mm512_fmadd_ps(b0, w[1], s);
        t = _mm512_fmadd_ps(b1, w[4], t);
        s = _mm512_fmadd_ps(n0, w[2], s);
        t = _mm512_fmadd_ps(n1, w[5], t);
        s = _mm512_fmadd_ps(a2, w[6], s);
        t = _mm512_fmadd_ps(b2, w[7], t);
        s = _mm512_fmadd_ps(n2, w[8], s);
        s = _mm512_add_ps(s, t);
        _mm512_storeu_ps(o + x * cpad, _mm512_min_ps(_mm512_max_ps(s, lo_v), hi_v));
        a0 = b0, a1 = b1, a2 = b2;
        b0 = n0, b1 = n1, b2 = n2;
      }
      continue;
    }
    for (int64_t x = 0; x < wo; ++x) {
      const int64_t off = x * stride * cpad;
      __m512 s = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + off), w[0], b);
      __m512 t = _mm512_mul_ps(_mm512_loadu_ps(r1 + off), w[3]);
      s = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + off + cpad), w[1], s);
      t = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + off + cpad), w[4], t);
      s = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + off + 2 * cpad), w[2], s);
      t = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + off + 2 * cpad), w[5], t);
      s = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + off), w[6], s);
      t = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + off + cpad), w[7], t);
      s = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + off + 2 * cpad), w[8], s);
      s = _mm512_add_ps(s, t);
      _mm512_storeu_ps(o + x * cpad, _mm512_min_ps(_mm512_max_ps(s, lo_v), hi_v));
    }
  }
}

}  // namespace hone::kernels::x86
