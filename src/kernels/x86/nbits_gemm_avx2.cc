// AVX2 + FMA blockwise n-bit x fp32 kernels (nbits_kernels.h): the AVX-512 kernels' scheme on
// 8 lanes. A 16-byte run of 4-bit codes is read as two halves of 8 bytes: half h's low nibbles
// meet A' [8h, 8h + 8) and its high nibbles A' [16 + 8h, 24 + 8h) (A prepared as [even 16, odd 16]).
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

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i load8_u8_to_i32(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

template <int R, Zp Z>
inline void q4_column(const NBitsWeights& w, const float* a, int64_t lda, float* y, int64_t ldy, int64_t n) {
  const int64_t kb = w.k_blocks, chunks = w.block_size / 32;
  const uint8_t* bp = w.b + n * kb * w.blob_size;
  const float* sp = w.scales + n * kb;
  const __m256i m15 = _mm256_set1_epi32(15);
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  const float* ab = a;
  for (int64_t b = 0; b < kb; ++b) {
    const float s = sp[b];
    const __m256 vs = _mm256_set1_ps(s);
    const __m256 vzs = _mm256_set1_ps(zp_of<Z>(w, n * kb + b) * s);
    for (int64_t c = 0; c < chunks; ++c, bp += 16, ab += 32) {
      for (int h = 0; h < 2; ++h) {
        const __m256i x = load8_u8_to_i32(bp + 8 * h);
        const __m256 wl = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(x, m15)), vs, vzs);
        const __m256 wh = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(x, 4)), vs, vzs);
        for (int r = 0; r < R; ++r) {
          acc0[r] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(ab + r * lda + 8 * h), acc0[r]);
          acc1[r] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(ab + r * lda + 16 + 8 * h), acc1[r]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) y[r * ldy + n] = hsum(_mm256_add_ps(acc0[r], acc1[r]));
}

template <int R, Zp Z>
inline void q8_column(const NBitsWeights& w, const float* a, int64_t lda, float* y, int64_t ldy, int64_t n) {
  const int64_t kb = w.k_blocks, chunks = w.block_size / 16;
  const uint8_t* bp = w.b + n * kb * w.blob_size;
  const float* sp = w.scales + n * kb;
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  const float* ab = a;
  for (int64_t b = 0; b < kb; ++b) {
    const float s = sp[b];
    const __m256 vs = _mm256_set1_ps(s);
    const __m256 vzs = _mm256_set1_ps(zp_of<Z>(w, n * kb + b) * s);
    for (int64_t c = 0; c < chunks; ++c, bp += 16, ab += 16) {
      const __m256 w0 = _mm256_fmsub_ps(_mm256_cvtepi32_ps(load8_u8_to_i32(bp)), vs, vzs);
      const __m256 w1 = _mm256_fmsub_ps(_mm256_cvtepi32_ps(load8_u8_to_i32(bp + 8)), vs, vzs);
      for (int r = 0; r < R; ++r) {
        acc0[r] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(ab + r * lda), acc0[r]);
        acc1[r] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(ab + r * lda + 8), acc1[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) y[r * ldy + n] = hsum(_mm256_add_ps(acc0[r], acc1[r]));
}

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

}  // namespace

void q4_f32_gemm_r4_avx2(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
                         int64_t n0, int64_t n1) {
  dispatch_zp<true>(w, a, lda, m, y, ldy, n0, n1);
}

void q8_f32_gemm_r4_avx2(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
                         int64_t n0, int64_t n1) {
  dispatch_zp<false>(w, a, lda, m, y, ldy, n0, n1);
}

}  // namespace hone::kernels::nbits
