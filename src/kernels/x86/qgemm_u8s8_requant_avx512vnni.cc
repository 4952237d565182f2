// AVX-512 VNNI variant of kernels/x86/qgemm_u8s8_requant.h. The product is qgemm_u8s8_avx512vnni's
// tile (R <= 6 rows x 64 columns of int32 accumulators, one vpdpbusd per 4 k per 16 columns, the
// accumulators in named variables: GCC 12 spilled an array of them), repeated here (sharing it
// would take the tile into a header both files include); only the epilogue differs: each
// accumulator vector becomes 16 bytes in registers, so neither the conv's output nor its int32
// sums go to memory.
//
// Epilogue per 16 columns: the sums + offset in float, times the multiplier, rounded half to even
// (exact unless a sum passes 2^24 or the float product lands on .5: then that vector is redone
// in double, as the reference computes it), clamped. With a skip tensor, QLinearAdd's float
// chain follows in qlinear_add_avx512's order (dequantize both, add, true division, round half to
// even, zero point, saturate).
//
// Measured (bench/kernels/int8_bench.cc BM_ResidualConv_*, Zen 4, 1 thread): on ResNet-50's four
// residual 1x1 convs this kernel with the add takes 1.04-1.10x the time of oneDNN's conv plus
// hone's separate QLinearAdd: the add's chain is bound by its ~15 vector operations per 16
// bytes, not by memory, so fusing saves little, and this epilogue (~25 operations) costs more
// than oneDNN's. No op uses it yet (docs/int8.md).
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/qgemm_u8s8_requant.h"

namespace hone::kernels::qgemm {

namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

inline __m512i bcast_quad(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// The exact requantization of 16 columns in double, as the reference computes it (8 lanes per
// double vector): sums + offset (exact), times the multiplier (one rounding, as the reference's
// double product), rounded half to even, clamped to [lo, hi]. The fast path's fallback.
[[gnu::noinline]] __m512 requantize16_double(__m512i acc, const double* offset, const double* multiplier,
                                             __mmask16 mask, __m512d lo, __m512d hi) {
  auto half = [&](__m256i a8, int part) {
    const __mmask8 m8 = static_cast<__mmask8>(mask >> (8 * part));
    __m512d v = _mm512_add_pd(_mm512_cvtepi32_pd(a8), _mm512_maskz_loadu_pd(m8, offset + 8 * part));
    __asm__("" : "+v"(v));  // no FMA contraction: the reference rounds the product of the exact sum
    v = _mm512_roundscale_pd(_mm512_mul_pd(v, _mm512_maskz_loadu_pd(m8, multiplier + 8 * part)), kRound);
    return _mm512_cvtpd_ps(_mm512_min_pd(_mm512_max_pd(v, lo), hi));  // integral, |v| <= 255: exact
  };
  const __m256 lo8 = half(_mm512_castsi512_si256(acc), 0), hi8 = half(_mm512_extracti64x4_epi64(acc, 1), 1);
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo8)), _mm256_castps_pd(hi8), 1));
}

// The epilogue. Its operator() must inline into the tile: a call clobbers every zmm register,
// and the tile's 24 accumulators were spilled around each one (GCC 12 did not inline it).
struct Store {
  const RequantEpilogue& e;
  uint8_t* y;
  int64_t ldy;
  __m512d lo_d, hi_d;      // -y_zero_point, 255 - y_zero_point
  __m512 lo, hi, y3_zp;    // the same in float; y3's zero point
  __m512 a_shift;          // y3's zero point less the add's zero point for y3
  __m512 half;
  __m512i two24, two25;
  __m512i zb;
  __m512 sa, sb, sy, zy, zero, byte_max;

  Store(const RequantEpilogue& ep, uint8_t* out, int64_t ld)
      : e(ep),
        y(out),
        ldy(ld),
        lo_d(_mm512_set1_pd(-static_cast<double>(ep.y_zero_point))),
        hi_d(_mm512_set1_pd(255.0 - static_cast<double>(ep.y_zero_point))),
        lo(_mm512_set1_ps(-static_cast<float>(ep.y_zero_point))),
        hi(_mm512_set1_ps(255.0f - static_cast<float>(ep.y_zero_point))),
        y3_zp(_mm512_set1_ps(static_cast<float>(ep.y_zero_point))),
        a_shift(_mm512_set1_ps(static_cast<float>(ep.y_zero_point - ep.add.a_zero_point))),
        half(_mm512_set1_ps(0.5f)),
        two24(_mm512_set1_epi32(1 << 24)),
        two25(_mm512_set1_epi32(1 << 25)),
        zb(_mm512_set1_epi32(ep.add.b_zero_point)),
        sa(_mm512_set1_ps(ep.add.a_scale)),
        sb(_mm512_set1_ps(ep.add.b_scale)),
        sy(_mm512_set1_ps(ep.add.y_scale)),
        zy(_mm512_set1_ps(static_cast<float>(ep.add.y_zero_point))),
        zero(_mm512_setzero_ps()),
        byte_max(_mm512_set1_ps(255.0f)) {}

  // y3 - its zero point for 16 columns (float, integral). In float when that is provably the
  // reference's result: the sum s is exact in float (|s| <= 2^24), and the float product p is
  // not exactly on .5. Then round(p) is the reference's round(s * m): the exact product lies
  // within half a float ulp of p, and every .5 nearby is a float, so the exact product and p
  // are on the same side of the nearest .5 (p itself on it is the one case sent to double).
  [[gnu::always_inline]] __m512 requantize16(__m512i acc, int64_t c0, __mmask16 mask) const {
    if (e.offset32) {
      const __m512i s = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(mask, e.offset32 + c0));
      const __m512 p = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_maskz_loadu_ps(mask, e.multiplier + c0));
      const __m512 r = _mm512_roundscale_ps(p, kRound);
      const __mmask16 tie = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, r)), half, _CMP_EQ_OQ);
      const __mmask16 large = _mm512_cmpgt_epu32_mask(_mm512_add_epi32(s, two24), two25);  // |s| > 2^24
      if (!((tie | large) & mask)) return _mm512_min_ps(_mm512_max_ps(r, lo), hi);
    }
    return requantize16_double(acc, e.offset + c0, e.multiplier_d + c0, mask, lo_d, hi_d);
  }

  // y[r, c0 .. c0 + 16) from one accumulator vector (mask: the columns that exist).
  [[gnu::always_inline]] void operator()(__m512i acc, int64_t r, int64_t c0, __mmask16 mask) const {
    const __m512 q = requantize16(acc, c0, mask);  // y3 - y3's zero point
    uint8_t* out = y + r * ldy + c0;
    if (!e.skip) {
      _mm512_mask_cvtusepi32_storeu_epi8(out, mask, _mm512_cvtps_epi32(_mm512_add_ps(q, y3_zp)));
      return;
    }
    __m512 fa = _mm512_mul_ps(_mm512_add_ps(q, a_shift), sa);  // the add's (y3 - zero point) * scale
    const __m512i b = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, e.skip + r * ldy + c0));
    __m512 fb = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(b, zb)), sb);
    // Each DequantizeLinear's product is rounded before the Add: no FMA contraction.
    __asm__("" : "+v"(fa), "+v"(fb));
    const __m512 t = _mm512_roundscale_ps(_mm512_div_ps(_mm512_add_ps(fa, fb), sy), kRound);
    const __m512 sat = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(t, zy), zero), byte_max);
    _mm512_mask_cvtusepi32_storeu_epi8(out, mask, _mm512_cvtps_epi32(sat));
  }
};

#define HONE_QGEMM_DECL(r) \
  __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0;
#define HONE_QGEMM_ROW(r)                                 \
  if constexpr (R > r) {                                  \
    const __m512i b = bcast_quad(ar + (r) * lda + q * 4); \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, b, w0);        \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, b, w1);        \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, b, w2);        \
    c##r##3 = _mm512_dpbusd_epi32(c##r##3, b, w3);        \
  }
#define HONE_QGEMM_STORE(r)                                         \
  if constexpr (R > r) {                                            \
    if (masks[0]) store(c##r##0, r0 + (r), c0, masks[0]);           \
    if (masks[1]) store(c##r##1, r0 + (r), c0 + 16, masks[1]);      \
    if (masks[2]) store(c##r##2, r0 + (r), c0 + 32, masks[2]);      \
    if (masks[3]) store(c##r##3, r0 + (r), c0 + 48, masks[3]);      \
  }

// Rows r0 .. r0 + R - 1, columns of panel p; `next`: the panel after p (prefetched into L2 one
// line per quad, the line chosen by the tile's index `lane`, as the float kernel does).
template <int R>
void tile(const WeightsView& w, const uint8_t* a, int64_t lda, int64_t r0, int64_t p, const int8_t* next, int lane,
          const Store& store) {
  const int8_t* panel = w.data + p * w.quads * kPanelCols * 4;
  const uint8_t* ar = a + r0 * lda;
  HONE_QGEMM_DECL(0) HONE_QGEMM_DECL(1) HONE_QGEMM_DECL(2) HONE_QGEMM_DECL(3) HONE_QGEMM_DECL(4) HONE_QGEMM_DECL(5)
  for (int64_t q = 0; q < w.quads; ++q) {
    const int8_t* wq = panel + q * kPanelCols * 4;
    if (next) _mm_prefetch(reinterpret_cast<const char*>(next + q * kPanelCols * 4 + (lane & 3) * 64), _MM_HINT_T1);
    const __m512i w0 = _mm512_load_si512(wq), w1 = _mm512_load_si512(wq + 64), w2 = _mm512_load_si512(wq + 128),
                  w3 = _mm512_load_si512(wq + 192);
    HONE_QGEMM_ROW(0) HONE_QGEMM_ROW(1) HONE_QGEMM_ROW(2) HONE_QGEMM_ROW(3) HONE_QGEMM_ROW(4) HONE_QGEMM_ROW(5)
  }
  const int64_t c0 = p * kPanelCols;
  __mmask16 masks[4];
  for (int j = 0; j < 4; ++j) {
    const int64_t left = w.n - (c0 + 16 * j);
    masks[j] = left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }
  HONE_QGEMM_STORE(0) HONE_QGEMM_STORE(1) HONE_QGEMM_STORE(2) HONE_QGEMM_STORE(3) HONE_QGEMM_STORE(4)
  HONE_QGEMM_STORE(5)
}

#undef HONE_QGEMM_DECL
#undef HONE_QGEMM_ROW
#undef HONE_QGEMM_STORE

}  // namespace

// The caller guarantees the add's scales finite and non-zero with 255 * (|a_scale| + |b_scale|)
// finite: no NaN arises, so the reference's NaN branch is never needed here.
void qgemm_u8s8_requant_avx512vnni(const WeightsView& w, const uint8_t* a, int64_t lda, const RequantEpilogue& e,
                                   uint8_t* y, int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  const Store store(e, y, ldy);
  const int64_t panel_bytes = w.quads * kPanelCols * 4;
  for (int64_t p = p0; p < p1; ++p) {
    const int8_t* next = p + 1 < p1 ? w.data + (p + 1) * panel_bytes : nullptr;
    int64_t r = r0;
    int lane = 0;
    for (; r + 6 <= r1; r += 6) tile<6>(w, a, lda, r, p, next, lane++, store);
    switch (r1 - r) {
      case 5: tile<5>(w, a, lda, r, p, next, lane, store); break;
      case 4: tile<4>(w, a, lda, r, p, next, lane, store); break;
      case 3: tile<3>(w, a, lda, r, p, next, lane, store); break;
      case 2: tile<2>(w, a, lda, r, p, next, lane, store); break;
      case 1: tile<1>(w, a, lda, r, p, next, lane, store); break;
      default: break;
    }
  }
}

}  // namespace hone::kernels::qgemm
