// AVX-512 blockwise n-bit x fp32 kernels (nbits_kernels.h). Per column, per block: 16 bytes of
// codes become 16 int32 lanes (vpmovzxbd); for 4 bits the low nibbles (even elements) and high
// nibbles (odd elements) are split with one and / one shift, then code * scale - zp * scale in one
// fmsub, then one FMA per row against A prepared as [even 16, odd 16] per 32 elements.
// GCC 12 reports its own intrinsics' deliberately undefined lanes (_mm512_undefined_*, used by
// the conversions and reductions) as maybe-uninitialized; nothing here reads an undefined lane.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/x86/nbits_kernels.h"

namespace hone::kernels::nbits {
namespace {

enum class Zp { kDefault, kU8, kF32 };

template <Zp Z>
inline float zp_of(const NBitsWeights& w, int64_t i) {
  if constexpr (Z == Zp::kU8) return static_cast<float>(w.zp_u8[i]);
  else if constexpr (Z == Zp::kF32) return w.zp_f32[i];
  else return static_cast<float>(1 << (w.bits - 1));  // not default_zero_point(): an inline from a
  // header compiled here with ISA flags could be the copy the linker keeps for scalar callers
}

// Rows r0 .. r0+R-1 of y for column n.
template <int R, Zp Z>
inline void q4_column(const NBitsWeights& w, const float* a, int64_t lda, float* y, int64_t ldy, int64_t n) {
  const int64_t kb = w.k_blocks, chunks = w.block_size / 32;
  const uint8_t* bp = w.b + n * kb * w.blob_size;
  const float* sp = w.scales + n * kb;
  const __m512i m15 = _mm512_set1_epi32(15);
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  const float* ab = a;
  for (int64_t b = 0; b < kb; ++b) {
    const float s = sp[b];
    const __m512 vs = _mm512_set1_ps(s);
    const __m512 vzs = _mm512_set1_ps(zp_of<Z>(w, n * kb + b) * s);
    for (int64_t c = 0; c < chunks; ++c, bp += 16, ab += 32) {
      const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp)));
      const __m512 wl = _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(x, m15)), vs, vzs);
      const __m512 wh = _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(x, 4)), vs, vzs);
      for (int r = 0; r < R; ++r) {
        acc0[r] = _mm512_fmadd_ps(wl, _mm512_loadu_ps(ab + r * lda), acc0[r]);
        acc1[r] = _mm512_fmadd_ps(wh, _mm512_loadu_ps(ab + r * lda + 16), acc1[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) y[r * ldy + n] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

template <int R, Zp Z>
inline void q8_column(const NBitsWeights& w, const float* a, int64_t lda, float* y, int64_t ldy, int64_t n) {
  const int64_t kb = w.k_blocks, chunks = w.block_size / 16;
  const uint8_t* bp = w.b + n * kb * w.blob_size;
  const float* sp = w.scales + n * kb;
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  const float* ab = a;
  for (int64_t b = 0; b < kb; ++b) {
    const float s = sp[b];
    const __m512 vs = _mm512_set1_ps(s);
    const __m512 vzs = _mm512_set1_ps(zp_of<Z>(w, n * kb + b) * s);
    int64_t c = 0;
    // Two chunks per step into two accumulators: one FMA chain per accumulator would otherwise
    // wait on the previous FMA's latency.
    for (; c + 2 <= chunks; c += 2, bp += 32, ab += 32) {
      const __m512i x0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp)));
      const __m512i x1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp + 16)));
      const __m512 w0 = _mm512_fmsub_ps(_mm512_cvtepi32_ps(x0), vs, vzs);
      const __m512 w1 = _mm512_fmsub_ps(_mm512_cvtepi32_ps(x1), vs, vzs);
      for (int r = 0; r < R; ++r) {
        acc0[r] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(ab + r * lda), acc0[r]);
        acc1[r] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(ab + r * lda + 16), acc1[r]);
      }
    }
    if (c < chunks) {
      const __m512i x0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp)));
      const __m512 w0 = _mm512_fmsub_ps(_mm512_cvtepi32_ps(x0), vs, vzs);
      for (int r = 0; r < R; ++r) acc0[r] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(ab + r * lda), acc0[r]);
      bp += 16;
      ab += 16;
    }
  }
  for (int r = 0; r < R; ++r) y[r * ldy + n] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

// Column by column; within a column rows four at a time, so the column's codes come from memory
// once and from L1 for the next rows.
template <bool kFour, Zp Z>
void run(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy, int64_t n0,
         int64_t n1) {
  for (int64_t n = n0; n < n1; ++n) {
    int64_t r = 0;
    for (; r + 4 <= m; r += 4) {
      if constexpr (kFour) q4_column<4, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
      else q8_column<4, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
    }
    switch (m - r) {
      case 3:
        if constexpr (kFour) q4_column<3, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
        else q8_column<3, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
        break;
      case 2:
        if constexpr (kFour) q4_column<2, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
        else q8_column<2, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
        break;
      case 1:
        if constexpr (kFour) q4_column<1, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
        else q8_column<1, Z>(w, a + r * lda, lda, y + r * ldy, ldy, n);
        break;
      default: break;
    }
  }
}

template <bool kFour>
void dispatch_zp(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy, int64_t n0,
                 int64_t n1) {
  if (w.zp_f32) run<kFour, Zp::kF32>(w, a, lda, m, y, ldy, n0, n1);
  else if (w.zp_u8) run<kFour, Zp::kU8>(w, a, lda, m, y, ldy, n0, n1);
  else run<kFour, Zp::kDefault>(w, a, lda, m, y, ldy, n0, n1);
}

template <bool kFour, Zp Z>
void dequant(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  const int64_t kb = w.k_blocks;
  const __m512i m15 = _mm512_set1_epi32(15);
  // Interleave even (low nibble) and odd (high nibble) elements back into k order.
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* bp = w.b + n * kb * w.blob_size;
    float* row = out + (n - n0) * ldo;
    for (int64_t b = 0; b < kb; ++b) {
      const float s = w.scales[n * kb + b];
      const __m512 vs = _mm512_set1_ps(s);
      const __m512 vzs = _mm512_set1_ps(zp_of<Z>(w, n * kb + b) * s);
      for (int64_t k = b * w.block_size, end = k + w.block_size; k < end; k += 32, bp += kFour ? 16 : 32) {
        __m512 v0, v1;
        if constexpr (kFour) {
          const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp)));
          const __m512 lo = _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(x, m15)), vs, vzs);
          const __m512 hi = _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(x, 4)), vs, vzs);
          v0 = _mm512_permutex2var_ps(lo, lo_idx, hi);
          v1 = _mm512_permutex2var_ps(lo, hi_idx, hi);
        } else {
          v0 = _mm512_fmsub_ps(
              _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp)))), vs,
              vzs);
          v1 = _mm512_fmsub_ps(
              _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp + 16)))),
              vs, vzs);
        }
        // The last block may run past K: only k < K is written.
        const int64_t left = w.k - k;
        if (left >= 32) {
          _mm512_storeu_ps(row + k, v0);
          _mm512_storeu_ps(row + k + 16, v1);
        } else if (left > 0) {
          const int64_t c0 = left < 16 ? left : 16, c1 = left - c0;
          _mm512_mask_storeu_ps(row + k, static_cast<__mmask16>((1u << c0) - 1), v0);
          if (c1 > 0) _mm512_mask_storeu_ps(row + k + 16, static_cast<__mmask16>((1u << c1) - 1), v1);
        }
      }
    }
  }
}

template <bool kFour>
void dequant_zp(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  if (w.zp_f32) dequant<kFour, Zp::kF32>(w, n0, n1, out, ldo);
  else if (w.zp_u8) dequant<kFour, Zp::kU8>(w, n0, n1, out, ldo);
  else dequant<kFour, Zp::kDefault>(w, n0, n1, out, ldo);
}

}  // namespace

void q4_dequant_avx512(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  dequant_zp<true>(w, n0, n1, out, ldo);
}

void q8_dequant_avx512(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  dequant_zp<false>(w, n0, n1, out, ldo);
}

void q4_f32_gemm_r4_avx512(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
                           int64_t n0, int64_t n1) {
  dispatch_zp<true>(w, a, lda, m, y, ldy, n0, n1);
}

void q8_f32_gemm_r4_avx512(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
                           int64_t n0, int64_t n1) {
  dispatch_zp<false>(w, a, lda, m, y, ldy, n0, n1);
}

}  // namespace hone::kernels::nbits
