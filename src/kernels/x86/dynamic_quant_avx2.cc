// AVX2 variant of kernels/x86/dynamic_quant.h (32 floats per step; tails one float at a time with
// the same arithmetic as the vector body).
#include <immintrin.h>

#include "kernels/x86/dynamic_quant.h"

namespace hone::kernels::dynq {

namespace {

float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline __m256i quantize8(__m256 v, __m256 scale, __m256 zp) {
  __m256 q = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(v, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
  q = _mm256_blendv_ps(q, zp, _mm256_cmp_ps(q, q, _CMP_UNORD_Q));  // NaN -> zero point
  q = _mm256_min_ps(_mm256_max_ps(q, _mm256_setzero_ps()), _mm256_set1_ps(255.0f));
  return _mm256_cvtps_epi32(q);
}

}  // namespace

void f32_minmax_avx2(const float* x, int64_t n, float* lo, float* hi) {
  __m256 l0 = _mm256_set1_ps(*lo), h0 = _mm256_set1_ps(*hi), l1 = l0, h1 = h0;
  int64_t i = 0;
  // min(x, acc) returns acc when x is NaN (the second operand wins): NaNs are ignored.
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    l0 = _mm256_min_ps(a, l0);
    h0 = _mm256_max_ps(a, h0);
    l1 = _mm256_min_ps(b, l1);
    h1 = _mm256_max_ps(b, h1);
  }
  float l = hmin(_mm256_min_ps(l0, l1)), h = hmax(_mm256_max_ps(h0, h1));
  for (; i < n; ++i) {
    if (x[i] < l) l = x[i];
    if (x[i] > h) h = x[i];
  }
  *lo = l;
  *hi = h;
}

void u8_quantize_avx2(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y) {
  const __m256 s = _mm256_set1_ps(scale), zp = _mm256_set1_ps(static_cast<float>(zero_point));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = quantize8(_mm256_loadu_ps(x + i), s, zp), b = quantize8(_mm256_loadu_ps(x + i + 8), s, zp);
    const __m256i c = quantize8(_mm256_loadu_ps(x + i + 16), s, zp), d = quantize8(_mm256_loadu_ps(x + i + 24), s, zp);
    // packs interleave 128-bit lanes: dwords come out as a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7.
    const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_permutevar8x32_epi32(bytes, order));
  }
  for (; i < n; ++i) {
    // Scalar SSE with the vector body's operations, so the tail rounds identically.
    __m128 q = _mm_add_ss(_mm_round_ss(_mm_setzero_ps(), _mm_div_ss(_mm_set_ss(x[i]), _mm_set_ss(scale)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                          _mm_set_ss(static_cast<float>(zero_point)));
    const float v = _mm_cvtss_f32(q);
    y[i] = v != v ? zero_point : static_cast<uint8_t>(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
  }
}

}  // namespace hone::kernels::dynq
