// AVX-512 variant of kernels/x86/qlinear_add.h: 16 bytes per step widened to int32 lanes, the
// chain's float operations in its order (multiply, add, true division, round half to even), then
// saturated back to bytes; whole steps with plain loads and stores, one masked step for the tail.
//
// Measured on ResNet-50's residual sizes (bench/kernels/qlinear_add_bench.cc, Zen 4, 1 thread):
// masked loads and stores on every step cost ~20 % (0.22 vs 0.18 ms at 56x56x256). Multiplying by
// 1/y_scale instead of dividing (dividing only lanes near a rounding tie, to keep the bytes) was
// no faster: the step is bound by its ~18 vector operations, not by the division.
#include <immintrin.h>

#include <cmath>

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

struct Consts {
  __m512i za, zb;
  __m512 sa, sb, sy, zy, lo, hi;
  __m128i b_one;

  Consts(const Params& p, const uint8_t* b)
      : za(_mm512_set1_epi32(p.a_zero_point)),
        zb(_mm512_set1_epi32(p.b_zero_point)),
        sa(_mm512_set1_ps(p.a_scale)),
        sb(_mm512_set1_ps(p.b_scale)),
        sy(_mm512_set1_ps(p.y_scale)),
        zy(_mm512_set1_ps(static_cast<float>(p.y_zero_point))),
        lo(_mm512_set1_ps(p.is_signed ? -128.0f : 0.0f)),
        hi(_mm512_set1_ps(p.is_signed ? 127.0f : 255.0f)),
        b_one(_mm_set1_epi8(static_cast<char>(b[0]))) {}
};

// round(t) (already integral) + zero point, saturated, to 16 bytes; NaN -> the zero point.
inline __m128i to_bytes(__m512 rounded, const Consts& c, bool is_signed, bool may_be_nan) {
  __m512 q = _mm512_add_ps(rounded, c.zy);
  if (may_be_nan) q = _mm512_mask_mov_ps(q, _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q), c.zy);
  q = _mm512_min_ps(_mm512_max_ps(q, c.lo), c.hi);
  const __m512i qi = _mm512_cvtps_epi32(q);
  return is_signed ? _mm512_cvtsepi32_epi8(qi) : _mm512_cvtusepi32_epi8(qi);
}

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

template <bool kMayBeNan>
inline __m128i step(const Consts& c, bool is_signed, __m128i va, __m128i vb) {
  const __m512 sum = _mm512_add_ps(dequantize16(va, is_signed, c.za, c.sa), dequantize16(vb, is_signed, c.zb, c.sb));
  return to_bytes(_mm512_roundscale_ps(_mm512_div_ps(sum, c.sy), kRound), c, is_signed, kMayBeNan);
}

template <class Step>
void add_loop(const Consts& c, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y,
              Step step) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i vb = b_broadcast ? c.b_one : _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), step(va, vb));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m128i va = _mm_maskz_loadu_epi8(m, a + i);
    const __m128i vb = b_broadcast ? c.b_one : _mm_maskz_loadu_epi8(m, b + i);
    _mm_mask_storeu_epi8(y + i, m, step(va, vb));
  }
}

}  // namespace

void qlinear_add_avx512(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y) {
  const Consts c(p, b);
  const bool s = p.is_signed;
  // |a - a_zp| and |b - b_zp| are at most 255: when that bound's sum is finite, so is every sum,
  // and sum / y_scale (y_scale finite, non-zero) is never NaN.
  if (std::isfinite(255.0f * std::fabs(p.a_scale) + 255.0f * std::fabs(p.b_scale)))
    add_loop(c, a, b, b_broadcast, n, y, [&](__m128i va, __m128i vb) { return step<false>(c, s, va, vb); });
  else
    add_loop(c, a, b, b_broadcast, n, y, [&](__m128i va, __m128i vb) { return step<true>(c, s, va, vb); });
}

}  // namespace hone::kernels::qadd
