// AVX-512 VNNI int4 x int8 kernel over c16-packed weights (nbits_kernels.h, PackedC16): one lane
// per column. Per run of 8 k: one 64-byte load, low nibbles (and) and high nibbles (shift, and)
// give two u8 operands, each multiplied with 4 broadcast int8 activations by one vpdpbusd per
// digit of A. Per block: y += scale * step * (dot - zp * sum(V)), the scales read from the same
// stream as the codes.
// GCC 12 reports its own intrinsics' deliberately undefined lanes as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/nbits_kernels.h"

namespace hone::kernels::nbits {
namespace {

// The stream is fetched this far ahead into L2 (prefetcht1; one prefetch per 64-byte line, so
// every line of the thread's contiguous run is requested): per thread the hardware prefetchers
// alone left the kernels well under the plain read's bandwidth. On the Zen 4 development machine
// (3-digit kernel, 1 thread, GB/s per CPU second from DRAM, under load): 8 KiB ahead into L2
// 25-27, 16 KiB into L2 25-27, 4 KiB into L2 18-19, 8 KiB into L1 20-22, 4 KiB into L1 16,
// 2 KiB into L1 14-17, no software prefetch 13-15. (The 1-digit kernel is the other way round:
// see group_rows.)
constexpr int64_t kPrefetchBytes = 8192;
inline void prefetch_l2(const void* p) { _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T1); }

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// The block's zero points (16 columns) times the block's sum of V, subtracted from dot:
// dot - zp * vsum, the products of the codes with A less those of the zero points.
template <bool kZp>
inline __m512 less_zero_point(__m512 dot, const uint8_t* zp, float vsum) {
  if constexpr (kZp) {
    const __m512 zpf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zp))));
    return _mm512_fnmadd_ps(zpf, _mm512_set1_ps(vsum), dot);
  } else {
    return _mm512_sub_ps(dot, _mm512_set1_ps(8.0f * vsum));  // 8 * vsum: exact (a power of two)
  }
}

// Group g's 16 columns of the row of y that y_row points to (fewer at the right edge).
inline void store_group(const C16View& w, float* y_row, int64_t g, __m512 v) {
  const int64_t n0 = g * 16, count = w.n - n0 < 16 ? w.n - n0 : 16;
  _mm512_mask_storeu_ps(y_row + n0, static_cast<__mmask16>((1u << count) - 1), v);
}

// Rows r0 .. r0+R-1, column group g; kZp: zero points from w.zp, else 8; kOct: runs of 8 k per
// block (block_size / 8) when fixed at compile time, so that the run loop unrolls; 0: read at run time.
template <int R, bool kZp, int kOct>
void group_rows(const C16View& w, const A8View& a, int64_t r0, float* y, int64_t ldy, int64_t g) {
  const int64_t kb = w.k_blocks, oct = kOct ? kOct : w.block_size / 8, bs = w.block_size;
  const uint8_t* rec = w.stream + g * kb * w.record_bytes;
  const uint8_t* zp = kZp ? w.zp + g * kb * 16 : nullptr;
  const __m512i m15 = _mm512_set1_epi8(0x0F);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; ++b, rec += w.record_bytes) {
    __m512i i0[R], i1[R];
    const int8_t* ab[R];
    for (int r = 0; r < R; ++r) {
      i0[r] = i1[r] = _mm512_setzero_si512();
      ab[r] = a.a8 + (r0 + r) * a.kp + b * bs;  // limbs == 1
    }
#pragma GCC unroll 16
    for (int64_t o = 0; o < oct; ++o) {
      const uint8_t* cp = rec + o * 64;
      const __m512i x = _mm512_load_si512(cp);
      const __m512i lo = _mm512_and_si512(x, m15);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m15);
      for (int r = 0; r < R; ++r) {
        i0[r] = _mm512_dpbusd_epi32(i0[r], lo, bcast4(ab[r] + 8 * o));
        i1[r] = _mm512_dpbusd_epi32(i1[r], hi, bcast4(ab[r] + 8 * o + 4));
      }
    }
    const float* sp = reinterpret_cast<const float*>(rec + oct * 64);
    const __m512 s = _mm512_load_ps(sp);
    for (int r = 0; r < R; ++r) {
      const int64_t ia = (r0 + r) * kb + b;
      const __m512 dot = _mm512_cvtepi32_ps(_mm512_add_epi32(i0[r], i1[r]));
      const __m512 t = less_zero_point<kZp>(dot, zp + b * 16, a.vsum[ia]);
      acc[r] = _mm512_fmadd_ps(t, _mm512_mul_ps(s, _mm512_set1_ps(a.step[ia])), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) store_group(w, y + (r0 + r) * ldy, g, acc[r]);
}

// Three int8 digits per activation (A8View::limbs == 3): one accumulator per digit (the blocks'
// chains are independent, so out-of-order execution overlaps them), then per block
// dot = h * 65536 + (m * 256 + l), the bracket in int32 (|m * 256 + l| <= block_size * 15 * 128
// * 257 < 2^31 for block_size <= 4096) and the sum rounded once in float; the zero point's
// share zp * sum(V) is subtracted after (error ~2^-24 of the codes' dot, inside the fp32 bound).
template <int R, bool kZp, int kOct>
void group_rows3(const C16View& w, const A8View& a, int64_t r0, float* y, int64_t ldy, int64_t g) {
  const int64_t kb = w.k_blocks, oct = kOct ? kOct : w.block_size / 8, bs = w.block_size;
  const uint8_t* rec = w.stream + g * kb * w.record_bytes;
  const uint8_t* zp = kZp ? w.zp + g * kb * 16 : nullptr;
  const __m512i m15 = _mm512_set1_epi8(0x0F);
  const __m512 k65536 = _mm512_set1_ps(65536.0f);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; ++b, rec += w.record_bytes) {
    __m512i ih[R], im[R], il[R];
    const int8_t *ah[R], *am[R], *al[R];
    for (int r = 0; r < R; ++r) {
      ih[r] = im[r] = il[r] = _mm512_setzero_si512();
      ah[r] = a.a8 + ((r0 + r) * 3) * a.kp + b * bs;
      am[r] = ah[r] + a.kp;
      al[r] = am[r] + a.kp;
    }
#pragma GCC unroll 16
    for (int64_t o = 0; o < oct; ++o) {
      const uint8_t* cp = rec + o * 64;
      prefetch_l2(cp);
      const __m512i x = _mm512_load_si512(cp);
      const __m512i lo = _mm512_and_si512(x, m15);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m15);
      for (int r = 0; r < R; ++r) {
        ih[r] = _mm512_dpbusd_epi32(ih[r], lo, bcast4(ah[r] + 8 * o));
        im[r] = _mm512_dpbusd_epi32(im[r], lo, bcast4(am[r] + 8 * o));
        il[r] = _mm512_dpbusd_epi32(il[r], lo, bcast4(al[r] + 8 * o));
        ih[r] = _mm512_dpbusd_epi32(ih[r], hi, bcast4(ah[r] + 8 * o + 4));
        im[r] = _mm512_dpbusd_epi32(im[r], hi, bcast4(am[r] + 8 * o + 4));
        il[r] = _mm512_dpbusd_epi32(il[r], hi, bcast4(al[r] + 8 * o + 4));
      }
    }
    const float* sp = reinterpret_cast<const float*>(rec + oct * 64);
    prefetch_l2(sp);
    if constexpr (kZp) _mm_prefetch(reinterpret_cast<const char*>(zp + b * 16) + kPrefetchBytes / 8, _MM_HINT_T1);
    const __m512 s = _mm512_load_ps(sp);
    for (int r = 0; r < R; ++r) {
      const int64_t ia = (r0 + r) * kb + b;
      const __m512i ml = _mm512_add_epi32(_mm512_slli_epi32(im[r], 8), il[r]);
      const __m512 dot = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ih[r]), k65536, _mm512_cvtepi32_ps(ml));
      const __m512 t = less_zero_point<kZp>(dot, zp + b * 16, a.vsum[ia]);
      acc[r] = _mm512_fmadd_ps(t, _mm512_mul_ps(s, _mm512_set1_ps(a.step[ia])), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) store_group(w, y + (r0 + r) * ldy, g, acc[r]);
}

// Where groups g[0 .. J-1] start: their block records in the stream and their zero points.
template <int J>
inline void locate_groups(const C16View& w, const int64_t* g, bool with_zp, const uint8_t** rec,
                          const uint8_t** zp) {
  for (int j = 0; j < J; ++j) {
    rec[j] = w.stream + g[j] * w.k_blocks * w.record_bytes;
    zp[j] = with_zp ? w.zp + g[j] * w.k_blocks * 16 : nullptr;
  }
}

// The GEMV (M = 1) with J column groups in step: groups g0 + j * part + i for j < J, so each
// thread reads J stretches of the stream at once, a line of each in turn, and each broadcast of
// an activation digit serves J groups. One stream per thread left the hardware too few misses in
// flight. On the Zen 5 development VM (2 threads, K = N = 4096, from DRAM; J = 1, 2, 4 and a
// one-stream read taken in turns, medians of 8 and 5 samples, GEMV GB/s over read GB/s): the
// 3-digit kernel 0.79 (J = 1), 0.89 (J = 2), 0.83 (J = 4, whose 12 digit accumulators crowd
// the 32 registers); the 1-digit kernel 0.97, 1.05, 1.14. Groups left over (fewer than J) run alone.
template <int J, bool kZp, int kOct>
void group_streams3(const C16View& w, const A8View& a, float* y, const int64_t* g) {
  const int64_t kb = w.k_blocks, oct = kOct ? kOct : w.block_size / 8, bs = w.block_size;
  const uint8_t* rec[J];
  const uint8_t* zp[J];
  locate_groups<J>(w, g, kZp, rec, zp);
  const __m512i m15 = _mm512_set1_epi8(0x0F);
  const __m512 k65536 = _mm512_set1_ps(65536.0f);
  __m512 acc[J];
  for (int j = 0; j < J; ++j) acc[j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    __m512i ih[J], im[J], il[J];
    for (int j = 0; j < J; ++j) ih[j] = im[j] = il[j] = _mm512_setzero_si512();
    const int8_t* ah = a.a8 + b * bs;
    const int8_t* am = ah + a.kp;
    const int8_t* al = am + a.kp;
#pragma GCC unroll 16
    for (int64_t o = 0; o < oct; ++o) {
      const __m512i h0 = bcast4(ah + 8 * o), m0 = bcast4(am + 8 * o), l0 = bcast4(al + 8 * o);
      const __m512i h1 = bcast4(ah + 8 * o + 4), m1 = bcast4(am + 8 * o + 4), l1 = bcast4(al + 8 * o + 4);
      for (int j = 0; j < J; ++j) {
        const uint8_t* cp = rec[j] + o * 64;
        prefetch_l2(cp);
        const __m512i x = _mm512_load_si512(cp);
        const __m512i lo = _mm512_and_si512(x, m15);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m15);
        ih[j] = _mm512_dpbusd_epi32(ih[j], lo, h0);
        im[j] = _mm512_dpbusd_epi32(im[j], lo, m0);
        il[j] = _mm512_dpbusd_epi32(il[j], lo, l0);
        ih[j] = _mm512_dpbusd_epi32(ih[j], hi, h1);
        im[j] = _mm512_dpbusd_epi32(im[j], hi, m1);
        il[j] = _mm512_dpbusd_epi32(il[j], hi, l1);
      }
    }
    const __m512 step = _mm512_set1_ps(a.step[b]);
    for (int j = 0; j < J; ++j) {
      const float* sp = reinterpret_cast<const float*>(rec[j] + oct * 64);
      prefetch_l2(sp);
      if constexpr (kZp) _mm_prefetch(reinterpret_cast<const char*>(zp[j] + b * 16) + kPrefetchBytes / 8, _MM_HINT_T1);
      const __m512 s = _mm512_load_ps(sp);
      const __m512i ml = _mm512_add_epi32(_mm512_slli_epi32(im[j], 8), il[j]);
      const __m512 dot = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ih[j]), k65536, _mm512_cvtepi32_ps(ml));
      const __m512 t = less_zero_point<kZp>(dot, zp[j] + b * 16, a.vsum[b]);
      acc[j] = _mm512_fmadd_ps(t, _mm512_mul_ps(s, step), acc[j]);
      rec[j] += w.record_bytes;
    }
  }
  for (int j = 0; j < J; ++j) store_group(w, y, g[j], acc[j]);
}

// The 1-digit form of group_streams3 (no software prefetch, as group_rows).
template <int J, bool kZp, int kOct>
void group_streams1(const C16View& w, const A8View& a, float* y, const int64_t* g) {
  const int64_t kb = w.k_blocks, oct = kOct ? kOct : w.block_size / 8, bs = w.block_size;
  const uint8_t* rec[J];
  const uint8_t* zp[J];
  locate_groups<J>(w, g, kZp, rec, zp);
  const __m512i m15 = _mm512_set1_epi8(0x0F);
  __m512 acc[J];
  for (int j = 0; j < J; ++j) acc[j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    __m512i i0[J], i1[J];
    for (int j = 0; j < J; ++j) i0[j] = i1[j] = _mm512_setzero_si512();
    const int8_t* ab = a.a8 + b * bs;
#pragma GCC unroll 16
    for (int64_t o = 0; o < oct; ++o) {
      const __m512i b0 = bcast4(ab + 8 * o), b1 = bcast4(ab + 8 * o + 4);
      for (int j = 0; j < J; ++j) {
        const __m512i x = _mm512_load_si512(rec[j] + o * 64);
        const __m512i lo = _mm512_and_si512(x, m15);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m15);
        i0[j] = _mm512_dpbusd_epi32(i0[j], lo, b0);
        i1[j] = _mm512_dpbusd_epi32(i1[j], hi, b1);
      }
    }
    const __m512 step = _mm512_set1_ps(a.step[b]);
    for (int j = 0; j < J; ++j) {
      const __m512 s = _mm512_load_ps(reinterpret_cast<const float*>(rec[j] + oct * 64));
      const __m512 dot = _mm512_cvtepi32_ps(_mm512_add_epi32(i0[j], i1[j]));
      const __m512 t = less_zero_point<kZp>(dot, zp[j] + b * 16, a.vsum[b]);
      acc[j] = _mm512_fmadd_ps(t, _mm512_mul_ps(s, step), acc[j]);
      rec[j] += w.record_bytes;
    }
  }
  for (int j = 0; j < J; ++j) store_group(w, y, g[j], acc[j]);
}

// One step of the GEMV over groups g[0 .. J-1]: the 3-digit or the 1-digit kernel (Limbs).
template <int Limbs, int J, bool kZp, int kOct>
inline void group_streams(const C16View& w, const A8View& a, float* y, const int64_t* g) {
  if constexpr (Limbs == 3) group_streams3<J, kZp, kOct>(w, a, y, g);
  else group_streams1<J, kZp, kOct>(w, a, y, g);
}

// Groups g0 .. g1-1 of the GEMV, J at a time, the rest one by one.
template <int Limbs, int J, bool kZp, int kOct>
void gemv_streams(const C16View& w, const A8View& a, float* y, int64_t g0, int64_t g1) {
  const int64_t part = (g1 - g0) / J;
  for (int64_t i = 0; i < part; ++i) {
    int64_t g[J];
    for (int j = 0; j < J; ++j) g[j] = g0 + j * part + i;
    group_streams<Limbs, J, kZp, kOct>(w, a, y, g);
  }
  for (int64_t g = g0 + J * part; g < g1; ++g) group_streams<Limbs, 1, kZp, kOct>(w, a, y, &g);
}

template <bool kZp, int kOct>
void run3(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0, int64_t g1) {
  if (a.m == 1) return gemv_streams<3, 2, kZp, kOct>(w, a, y, g0, g1);
  for (int64_t g = g0; g < g1; ++g) {
    int64_t r = 0;
    // Two rows at a time: 3 accumulators per row and the digits' broadcasts fit the 32 zmm registers.
    for (; r + 2 <= a.m; r += 2) group_rows3<2, kZp, kOct>(w, a, r, y, ldy, g);
    if (r < a.m) group_rows3<1, kZp, kOct>(w, a, r, y, ldy, g);
  }
}

template <bool kZp, int kOct>
void run1(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0, int64_t g1) {
  if (a.m == 1) return gemv_streams<1, 4, kZp, kOct>(w, a, y, g0, g1);
  for (int64_t g = g0; g < g1; ++g) {
    int64_t r = 0;
    for (; r + 4 <= a.m; r += 4) group_rows<4, kZp, kOct>(w, a, r, y, ldy, g);
    switch (a.m - r) {
      case 3: group_rows<3, kZp, kOct>(w, a, r, y, ldy, g); break;
      case 2: group_rows<2, kZp, kOct>(w, a, r, y, ldy, g); break;
      case 1: group_rows<1, kZp, kOct>(w, a, r, y, ldy, g); break;
      default: break;
    }
  }
}

// The common block sizes (32, 64) with their run count fixed; others read it at run time.
template <int kLimbs, bool kZp>
void run_block(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0, int64_t g1) {
  switch (w.block_size) {
    case 32:
      if constexpr (kLimbs == 3) run3<kZp, 4>(w, a, y, ldy, g0, g1);
      else run1<kZp, 4>(w, a, y, ldy, g0, g1);
      break;
    case 64:
      if constexpr (kLimbs == 3) run3<kZp, 8>(w, a, y, ldy, g0, g1);
      else run1<kZp, 8>(w, a, y, ldy, g0, g1);
      break;
    default:
      if constexpr (kLimbs == 3) run3<kZp, 0>(w, a, y, ldy, g0, g1);
      else run1<kZp, 0>(w, a, y, ldy, g0, g1);
      break;
  }
}

}  // namespace

void q4_s8x3_gemm_c16_avx512vnni(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0,
                                 int64_t g1) {
  if (w.zp) run_block<3, true>(w, a, y, ldy, g0, g1);
  else run_block<3, false>(w, a, y, ldy, g0, g1);
}

void q4_s8_gemm_c16_avx512vnni(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0,
                               int64_t g1) {
  if (w.zp) run_block<1, true>(w, a, y, ldy, g0, g1);
  else run_block<1, false>(w, a, y, ldy, g0, g1);
}

}  // namespace hone::kernels::nbits
