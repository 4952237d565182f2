// AVX-512 quantization of A for the int8 kernels (nbits_kernels.h, quantize_a): the same double
// arithmetic as quantize_a_ref, 8 lanes at a time, so that both give the same bytes. Per block:
// max|a| over 16-float loads, step and 1 / step as the reference computes them (scalar), then
// round(a * inv) in double (vroundpd to nearest even, as nearbyint), clamped, and split into
// signed base-256 digits with integer shifts and masks.
#include <immintrin.h>

#include "kernels/x86/nbits_kernels.h"

namespace hone::kernels::nbits {
namespace {

// 16 elements from p, lanes at or past `count` read as 0.
inline __m512 load16(const float* p, int64_t count) {
  if (count >= 16) return _mm512_loadu_ps(p);
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
}

// round(x * inv) clamped to [-top, top], for 16 floats, as int32.
inline __m512i quantize16(__m512 x, __m512d inv, __m512d top) {
  const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
  const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
  const __m512d ntop = _mm512_sub_pd(_mm512_setzero_pd(), top);
  auto q = [&](__m512d v) {
    v = _mm512_roundscale_pd(_mm512_mul_pd(v, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_cvtpd_epi32(_mm512_min_pd(_mm512_max_pd(v, ntop), top));
  };
  return _mm512_inserti64x4(_mm512_castsi256_si512(q(lo)), q(hi), 1);
}

// ((v + 128) & 255) - 128: the low signed base-256 digit.
inline __m512i low_digit(__m512i v) {
  const __m512i k128 = _mm512_set1_epi32(128), k255 = _mm512_set1_epi32(255);
  return _mm512_sub_epi32(_mm512_and_si512(_mm512_add_epi32(v, k128), k255), k128);
}

}  // namespace

void quantize_a_avx512(const float* a, int64_t lda, int64_t m, int64_t k, int64_t block_size, int limbs,
                       int64_t kp, int8_t* a8, float* step_out, float* asum, float* vsum) {
  const int64_t kb = kp / block_size;
  const double top = limbs == 3 ? 127.0 * 65536.0 : 127.0;
  const __m512d vtop = _mm512_set1_pd(top);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int64_t r = 0; r < m; ++r) {
    const float* src = a + r * lda;
    for (int64_t b = 0; b < kb; ++b) {
      const int64_t k0 = b * block_size, len = (k - k0 < block_size ? k - k0 : block_size);
      __m512 vmax = _mm512_setzero_ps();
      for (int64_t i = 0; i < len; i += 16)
        vmax = _mm512_max_ps(_mm512_andnot_ps(sign, load16(src + k0 + i, len - i)), vmax);
      const float amax = _mm512_reduce_max_ps(vmax);
      const float step = static_cast<float>(amax / top);
      const __m512d inv = _mm512_set1_pd(step > 0 ? 1.0 / static_cast<double>(step) : 0.0);
      __m512i sum0 = _mm512_setzero_si512(), sum1 = sum0, sum2 = sum0;
      // vsum in int64 lanes: 16 V of up to 127 * 2^16 each could overflow int32 over a long block.
      __m512i vs = _mm512_setzero_si512();
      for (int64_t i = 0; i < len; i += 16) {
        const __m512i v = quantize16(load16(src + k0 + i, len - i), inv, vtop);
        vs = _mm512_add_epi64(vs, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
        vs = _mm512_add_epi64(vs, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
        const __mmask16 keep = len - i >= 16 ? static_cast<__mmask16>(0xFFFF)
                                             : static_cast<__mmask16>((1u << (len - i)) - 1);
        int8_t* dst = a8 + r * limbs * kp + k0 + i;
        if (limbs == 3) {
          const __m512i l = low_digit(v);
          const __m512i v1 = _mm512_srai_epi32(_mm512_sub_epi32(v, l), 8);
          const __m512i mid = low_digit(v1);
          const __m512i h = _mm512_srai_epi32(_mm512_sub_epi32(v1, mid), 8);
          _mm_mask_storeu_epi8(dst, keep, _mm512_cvtepi32_epi8(h));
          _mm_mask_storeu_epi8(dst + kp, keep, _mm512_cvtepi32_epi8(mid));
          _mm_mask_storeu_epi8(dst + 2 * kp, keep, _mm512_cvtepi32_epi8(l));
          sum0 = _mm512_add_epi32(sum0, h);
          sum1 = _mm512_add_epi32(sum1, mid);
          sum2 = _mm512_add_epi32(sum2, l);
        } else {
          _mm_mask_storeu_epi8(dst, keep, _mm512_cvtepi32_epi8(v));
          sum0 = _mm512_add_epi32(sum0, v);
        }
      }
      step_out[r * kb + b] = step;
      vsum[r * kb + b] = static_cast<float>(_mm512_reduce_add_epi64(vs));
      float* as = asum + (r * kb + b) * limbs;
      as[0] = static_cast<float>(_mm512_reduce_add_epi32(sum0));
      if (limbs == 3) {
        as[1] = static_cast<float>(_mm512_reduce_add_epi32(sum1));
        as[2] = static_cast<float>(_mm512_reduce_add_epi32(sum2));
      }
    }
  }
}

}  // namespace hone::kernels::nbits
