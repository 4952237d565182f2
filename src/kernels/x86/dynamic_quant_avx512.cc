// AVX-512 variant of kernels/x86/dynamic_quant.h (16 floats per step, masked tails).
#include <immintrin.h>

#include "kernels/x86/dynamic_quant.h"

namespace hone::kernels::dynq {

void f32_minmax_avx512(const float* x, int64_t n, float* lo, float* hi) {
  __m512 l0 = _mm512_set1_ps(*lo), h0 = _mm512_set1_ps(*hi), l1 = l0, h1 = h0;
  int64_t i = 0;
  // min(x, acc) returns acc when x is NaN (the second operand wins): NaNs are ignored.
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    l0 = _mm512_min_ps(a, l0);
    h0 = _mm512_max_ps(a, h0);
    l1 = _mm512_min_ps(b, l1);
    h1 = _mm512_max_ps(b, h1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(m, x + i);
    l0 = _mm512_mask_min_ps(l0, m, a, l0);
    h0 = _mm512_mask_max_ps(h0, m, a, h0);
  }
  *lo = _mm512_reduce_min_ps(_mm512_min_ps(l0, l1));
  *hi = _mm512_reduce_max_ps(_mm512_max_ps(h0, h1));
}

namespace {

inline __m128i quantize16(__m512 v, __m512 scale, __m512 zp) {
  __m512 q = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(v, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
  q = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q), zp);  // NaN -> zero point
  q = _mm512_min_ps(_mm512_max_ps(q, _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
  return _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(q));
}

}  // namespace

void u8_quantize_avx512(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y) {
  const __m512 s = _mm512_set1_ps(scale), zp = _mm512_set1_ps(static_cast<float>(zero_point));
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), quantize16(_mm512_loadu_ps(x + i), s, zp));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm_mask_storeu_epi8(y + i, m, quantize16(_mm512_maskz_loadu_ps(m, x + i), s, zp));
  }
}

}  // namespace hone::kernels::dynq
