// AVX-512 variant of kernels/x86/qlinear_add.h: 16 bytes per step widened to int32 lanes, the
// chain's float operations in its order (multiply, add, true division, round half to even), then
// saturated back to bytes; a masked step for the tail.
#include <immintrin.h>

#include "kernels/x86/qlinear_add.h"

namespace hone::kernels::qadd {

namespace {

inline __m512 dequantize16(__m128i bytes, bool is_signed, __m512i zp, __m512 scale) {
  const __m512i v = is_signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
  __m512 product = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, zp)), scale);
  // The chain rounds the product (DequantizeLinear's output) before the Add: keep the compiler
  // from contracting multiply and add into one FMA, which rounds once and differs near ties.
  __asm__("" : "+v"(product));
  return product;
}

}  // namespace

void qlinear_add_avx512(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y) {
  const __m512i za = _mm512_set1_epi32(p.a_zero_point), zb = _mm512_set1_epi32(p.b_zero_point);
  const __m512 sa = _mm512_set1_ps(p.a_scale), sb = _mm512_set1_ps(p.b_scale), sy = _mm512_set1_ps(p.y_scale);
  const __m512 zy = _mm512_set1_ps(static_cast<float>(p.y_zero_point));
  const __m512 lo = _mm512_set1_ps(p.is_signed ? -128.0f : 0.0f), hi = _mm512_set1_ps(p.is_signed ? 127.0f : 255.0f);
  const __m128i b_one = _mm_set1_epi8(static_cast<char>(b[0]));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m128i va = _mm_maskz_loadu_epi8(m, a + i);
    const __m128i vb = b_broadcast ? b_one : _mm_maskz_loadu_epi8(m, b + i);
    const __m512 sum = _mm512_add_ps(dequantize16(va, p.is_signed, za, sa), dequantize16(vb, p.is_signed, zb, sb));
    __m512 q = _mm512_add_ps(
        _mm512_roundscale_ps(_mm512_div_ps(sum, sy), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zy);
    q = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q), zy);  // NaN -> zero point
    q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
    const __m512i qi = _mm512_cvtps_epi32(q);
    const __m128i out = p.is_signed ? _mm512_cvtsepi32_epi8(qi) : _mm512_cvtusepi32_epi8(qi);
    _mm_mask_storeu_epi8(y + i, m, out);
  }
}

}  // namespace hone::kernels::qadd
