// AVX-512 VNNI int4 x int8 kernel over c16-packed weights (nbits_kernels.h, PackedC16): one lane
// per column. Per run of 8 k: one 64-byte load, low nibbles (and) and high nibbles (shift, and)
// give two u8 operands, each multiplied with 4 broadcast int8 activations by one vpdpbusd.
// Per block: y += scale * step * (dot - zp * asum).
// GCC 12 reports its own intrinsics' deliberately undefined lanes as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/nbits_kernels.h"

namespace hone::kernels::nbits {
namespace {

// Codes are fetched this far ahead: per thread the hardware prefetchers alone left the kernels
// well under the bandwidth oneDNN's fp32 GEMV reaches on the same machine (docs/nbits.md).
constexpr int64_t kPrefetchBytes = 2048;

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Rows r0 .. r0+R-1, column group g.
template <int R>
void group_rows(const C16View& w, const A8View& a, int64_t r0, float* y, int64_t ldy, int64_t g) {
  const int64_t kb = w.k_blocks, oct = w.block_size / 8, bs = w.block_size;
  const uint8_t* cp = w.codes + g * kb * oct * 64;
  const float* sp = w.scales + g * kb * 16;
  const uint8_t* zp = w.zp + g * kb * 16;
  const __m512i m15 = _mm512_set1_epi8(0x0F);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    __m512i i0[R], i1[R];
    const int8_t* ab[R];
    for (int r = 0; r < R; ++r) {
      i0[r] = i1[r] = _mm512_setzero_si512();
      ab[r] = a.a8 + (r0 + r) * a.kp + b * bs;  // limbs == 1
    }
    for (int64_t o = 0; o < oct; ++o, cp += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(cp) + kPrefetchBytes, _MM_HINT_T0);
      const __m512i x = _mm512_loadu_si512(cp);
      const __m512i lo = _mm512_and_si512(x, m15);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m15);
      for (int r = 0; r < R; ++r) {
        i0[r] = _mm512_dpbusd_epi32(i0[r], lo, bcast4(ab[r] + 8 * o));
        i1[r] = _mm512_dpbusd_epi32(i1[r], hi, bcast4(ab[r] + 8 * o + 4));
      }
    }
    const __m512 s = _mm512_loadu_ps(sp + b * 16);
    const __m512 zpf =
        _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp + b * 16))));
    for (int r = 0; r < R; ++r) {
      const size_t ia = static_cast<size_t>((r0 + r) * kb + b);
      const __m512 dot = _mm512_cvtepi32_ps(_mm512_add_epi32(i0[r], i1[r]));
      const __m512 t = _mm512_fnmadd_ps(zpf, _mm512_set1_ps(a.asum[ia]), dot);
      acc[r] = _mm512_fmadd_ps(t, _mm512_mul_ps(s, _mm512_set1_ps(a.step[ia])), acc[r]);
    }
  }
  const int64_t n0 = g * 16, count = w.n - n0 < 16 ? w.n - n0 : 16;
  const __mmask16 mask = static_cast<__mmask16>((1u << count) - 1);
  for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(y + (r0 + r) * ldy + n0, mask, acc[r]);
}

// Three int8 digits per activation (A8View::limbs == 3): one accumulator per digit, the zero
// point subtracted per digit in float (all integers below 2^24, so exact), then
// t = (t_h * 65536 + t_m * 256) + t_l rounded once.
template <int R>
void group_rows3(const C16View& w, const A8View& a, int64_t r0, float* y, int64_t ldy, int64_t g) {
  const int64_t kb = w.k_blocks, oct = w.block_size / 8, bs = w.block_size;
  const uint8_t* cp = w.codes + g * kb * oct * 64;
  const float* sp = w.scales + g * kb * 16;
  const uint8_t* zp = w.zp + g * kb * 16;
  const __m512i m15 = _mm512_set1_epi8(0x0F);
  const __m512 k256 = _mm512_set1_ps(256.0f), k65536 = _mm512_set1_ps(65536.0f);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    // Low and high nibbles into separate accumulators: six chains of block_size / 8 vpdpbusd
    // each, short enough for their latency to hide behind the others.
    __m512i ih[R], im[R], il[R], jh[R], jm[R], jl[R];
    const int8_t *ah[R], *am[R], *al[R];
    for (int r = 0; r < R; ++r) {
      ih[r] = im[r] = il[r] = jh[r] = jm[r] = jl[r] = _mm512_setzero_si512();
      ah[r] = a.a8 + ((r0 + r) * 3) * a.kp + b * bs;
      am[r] = ah[r] + a.kp;
      al[r] = am[r] + a.kp;
    }
    for (int64_t o = 0; o < oct; ++o, cp += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(cp) + kPrefetchBytes, _MM_HINT_T0);
      const __m512i x = _mm512_loadu_si512(cp);
      const __m512i lo = _mm512_and_si512(x, m15);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m15);
      for (int r = 0; r < R; ++r) {
        ih[r] = _mm512_dpbusd_epi32(ih[r], lo, bcast4(ah[r] + 8 * o));
        im[r] = _mm512_dpbusd_epi32(im[r], lo, bcast4(am[r] + 8 * o));
        il[r] = _mm512_dpbusd_epi32(il[r], lo, bcast4(al[r] + 8 * o));
        jh[r] = _mm512_dpbusd_epi32(jh[r], hi, bcast4(ah[r] + 8 * o + 4));
        jm[r] = _mm512_dpbusd_epi32(jm[r], hi, bcast4(am[r] + 8 * o + 4));
        jl[r] = _mm512_dpbusd_epi32(jl[r], hi, bcast4(al[r] + 8 * o + 4));
      }
    }
    for (int r = 0; r < R; ++r) {
      ih[r] = _mm512_add_epi32(ih[r], jh[r]);
      im[r] = _mm512_add_epi32(im[r], jm[r]);
      il[r] = _mm512_add_epi32(il[r], jl[r]);
    }
    const __m512 s = _mm512_loadu_ps(sp + b * 16);
    const __m512 zpf =
        _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp + b * 16))));
    for (int r = 0; r < R; ++r) {
      const size_t ia = static_cast<size_t>((r0 + r) * kb + b);
      const float* as = a.asum + ia * 3;
      const __m512 th = _mm512_fnmadd_ps(zpf, _mm512_set1_ps(as[0]), _mm512_cvtepi32_ps(ih[r]));
      const __m512 tm = _mm512_fnmadd_ps(zpf, _mm512_set1_ps(as[1]), _mm512_cvtepi32_ps(im[r]));
      const __m512 tl = _mm512_fnmadd_ps(zpf, _mm512_set1_ps(as[2]), _mm512_cvtepi32_ps(il[r]));
      const __m512 t = _mm512_add_ps(_mm512_fmadd_ps(th, k65536, _mm512_mul_ps(tm, k256)), tl);
      acc[r] = _mm512_fmadd_ps(t, _mm512_mul_ps(s, _mm512_set1_ps(a.step[ia])), acc[r]);
    }
  }
  const int64_t n0 = g * 16, count = w.n - n0 < 16 ? w.n - n0 : 16;
  const __mmask16 mask = static_cast<__mmask16>((1u << count) - 1);
  for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(y + (r0 + r) * ldy + n0, mask, acc[r]);
}

}  // namespace

void q4_s8x3_gemm_c16_avx512vnni(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0,
                                 int64_t g1) {
  for (int64_t g = g0; g < g1; ++g) {
    int64_t r = 0;
    // Two rows at a time: 6 accumulators per row must fit the 32 zmm registers.
    for (; r + 2 <= a.m; r += 2) group_rows3<2>(w, a, r, y, ldy, g);
    if (r < a.m) group_rows3<1>(w, a, r, y, ldy, g);
  }
}

void q4_s8_gemm_c16_avx512vnni(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0,
                               int64_t g1) {
  for (int64_t g = g0; g < g1; ++g) {
    int64_t r = 0;
    for (; r + 4 <= a.m; r += 4) group_rows<4>(w, a, r, y, ldy, g);
    switch (a.m - r) {
      case 3: group_rows<3>(w, a, r, y, ldy, g); break;
      case 2: group_rows<2>(w, a, r, y, ldy, g); break;
      case 1: group_rows<1>(w, a, r, y, ldy, g); break;
      default: break;
    }
  }
}

}  // namespace hone::kernels::nbits
