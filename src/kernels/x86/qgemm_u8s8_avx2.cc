// AVX2 variant of kernels/x86/qgemm_u8s8.h, for CPUs without AVX-512 VNNI (Haswell .. Zen 3, and
// AVX-512 parts without VNNI), on the same packed weights as the VNNI kernel.
//
// Exact without VNNI: vpmaddubsw (u8 x s8 pairs summed into int16) saturates (255 * 127 * 2 >
// 32767), which is what makes oneDNN's AVX2 u8s8 kernels inexact. Here both sides are widened to
// 16 bits instead: weights sign-extended (vpmovsxbw), activations zero-extended, then vpmaddwd
// multiplies 16 pairs and sums each adjacent two into int32, which cannot overflow. In the packed
// layout a column's 4 k bytes are adjacent, so one vpmaddwd lane holds (k0 + k1) and its
// neighbour (k2 + k3) of the same column: the two partial sums stay in separate lanes through the
// k loop and are added (vphaddd) only in the epilogue.
//
// A tile is R <= 6 rows x 8 columns: 12 accumulators (4 columns x 2 partial sums each), the 8
// columns' weights of the current k quad as 2 vectors of 16-bit values, and 2 scratch registers:
// all 16 ymm registers. Per quad: 2 weight loads and sign extensions, R activation broadcasts
// (loads: each row tile's activations are widened once into a buffer first), 2R vpmaddwd and 2R
// vpaddd, 8 multiply-adds per instruction against 64 for a 512-bit vpdpbusd.
//
// Order: panels outside, then row tiles (activations widened per tile, R x k x 2 bytes, kept in
// L1 across the panel's 8 column groups), then the groups; a panel (64 x k bytes) stays in L2.
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/qgemm_u8s8.h"

namespace hone::kernels::qgemm {

namespace {

constexpr int64_t kGroupCols = 8;
constexpr int64_t kQuadBytes = kPanelCols * 4;

// acc0 += the products of w0 (columns 0 .. 3 of the group, 4 k each, 16 bits) with a row's 4
// activations at k = 4q, acc1 += those of w1 (columns 4 .. 7); a16: the activations, already
// widened to 16 bits, broadcast to every 64-bit lane by one vpbroadcastq from memory (a load, no
// shuffle). In asm because GCC 12, given the intrinsics, computed the sums into fresh registers
// and spilled the accumulators to the stack on every quad (from R = 5 on): here each sum lands in
// its accumulator's own register and two scratch registers suffice.
inline void madd_quad(__m256i& acc0, __m256i& acc1, const uint16_t* a16, __m256i w0, __m256i w1) {
  __m256i b, t;
  __asm__("vpbroadcastq %[a], %[b]\n\t"
          "vpmaddwd %[w0], %[b], %[t]\n\t"
          "vpaddd %[t], %[c0], %[c0]\n\t"
          "vpmaddwd %[w1], %[b], %[b]\n\t"
          "vpaddd %[b], %[c1], %[c1]"
          : [c0] "+x"(acc0), [c1] "+x"(acc1), [b] "=&x"(b), [t] "=&x"(t)
          : [w0] "x"(w0), [w1] "x"(w1), [a] "m"(*reinterpret_cast<const uint16_t(*)[4]>(a16)));
}

// Rows r0 .. r0 + R - 1 of a, quads * 4 bytes each, zero-extended to 16 bits into out, quad
// by quad: the R rows' 4 values at quad q are out[(q * R + r) * 4 ..], so that a tile finds all
// its broadcasts at fixed offsets from one pointer.
template <int R>
void widen_rows(const uint8_t* a, int64_t lda, int64_t r0, int64_t quads, uint16_t* out) {
  for (int64_t r = 0; r < R; ++r) {
    const uint8_t* src = a + (r0 + r) * lda;
    uint16_t* dst = out + r * 4;
    int64_t q = 0;
    for (; q + 4 <= quads; q += 4) {  // 4 quads: 16 bytes in, 4 pieces of 8 bytes out
      const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + q * 4)));
      const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (q + 0) * R * 4), lo);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (q + 1) * R * 4), _mm_unpackhi_epi64(lo, lo));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (q + 2) * R * 4), hi);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (q + 3) * R * 4), _mm_unpackhi_epi64(hi, hi));
    }
    for (; q < quads; ++q)
      for (int64_t j = 0; j < 4; ++j) dst[q * R * 4 + j] = src[q * 4 + j];
  }
}

// y[r, c0 .. c0 + 8) from the two accumulators of 4 columns each (lo: columns c0 .. c0 + 3, hi:
// c0 + 4 .. c0 + 7; every column's two partial sums side by side). left: columns that exist.
inline void store8(__m256i lo, __m256i hi, const WeightsView& w, const Epilogue& e, int64_t r, int64_t c0,
                   int64_t left, float* y, int64_t ldy) {
  // vphaddd works within 128-bit halves: [c0 c1 c4 c5 | c2 c3 c6 c7]; vpermq puts them in order.
  const __m256i acc = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
  const __m256i zp = _mm256_set1_epi32(e.a_zero_point);
  float* out = y + r * ldy + c0;
  if (left >= kGroupCols) {
    const __m256i comp =
        _mm256_mullo_epi32(zp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.col_sum + c0)));
    const __m256 scale = e.per_column ? _mm256_loadu_ps(e.scale + c0) : _mm256_set1_ps(e.scale[0]);
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc, comp)), scale);
    // The chain rounds the product (its Mul's output) before each Add: keep the compiler from
    // contracting multiply and add into one FMA, which rounds once.
    __asm__("" : "+x"(v));
    if (e.bias) v = _mm256_add_ps(v, _mm256_loadu_ps(e.bias + c0));
    if (e.residual) v = _mm256_add_ps(v, _mm256_loadu_ps(e.residual + r * ldy + c0));
    _mm256_storeu_ps(out, v);
    return;
  }
  // The panel's last, partial group: masked loads and stores never touch columns past n.
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(left)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i comp = _mm256_mullo_epi32(zp, _mm256_maskload_epi32(w.col_sum + c0, mask));
  const __m256 scale = e.per_column ? _mm256_maskload_ps(e.scale + c0, mask) : _mm256_set1_ps(e.scale[0]);
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc, comp)), scale);
  __asm__("" : "+x"(v));
  if (e.bias) v = _mm256_add_ps(v, _mm256_maskload_ps(e.bias + c0, mask));
  if (e.residual) v = _mm256_add_ps(v, _mm256_maskload_ps(e.residual + r * ldy + c0, mask));
  _mm256_maskstore_ps(out, mask, v);
}

#define HONE_QGEMM_DECL(r) __m256i c##r##0 = _mm256_setzero_si256(), c##r##1 = c##r##0;
#define HONE_QGEMM_ROW(r) \
  if constexpr (R > r) madd_quad(c##r##0, c##r##1, aq + (r) * 4, w0, w1);
#define HONE_QGEMM_STORE(r) \
  if constexpr (R > r) store8(c##r##0, c##r##1, w, e, r0 + (r), c0, left, y, ldy);

// Rows r0 .. r0 + R - 1 (widened in a16 by widen_rows<R>), columns c0 .. c0 + 7
// (`group`: their bytes in the panel's first quad).
template <int R>
void tile(const WeightsView& w, const int8_t* group, const uint16_t* a16, const Epilogue& e, float* y, int64_t ldy,
          int64_t r0, int64_t c0) {
  HONE_QGEMM_DECL(0) HONE_QGEMM_DECL(1) HONE_QGEMM_DECL(2) HONE_QGEMM_DECL(3) HONE_QGEMM_DECL(4) HONE_QGEMM_DECL(5)
  for (int64_t q = 0; q < w.quads; ++q) {
    const int8_t* wq = group + q * kQuadBytes;
    const uint16_t* aq = a16 + q * R * 4;
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(wq)));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(wq + 16)));
    HONE_QGEMM_ROW(0) HONE_QGEMM_ROW(1) HONE_QGEMM_ROW(2) HONE_QGEMM_ROW(3) HONE_QGEMM_ROW(4) HONE_QGEMM_ROW(5)
  }
  const int64_t left = w.n - c0;
  HONE_QGEMM_STORE(0) HONE_QGEMM_STORE(1) HONE_QGEMM_STORE(2) HONE_QGEMM_STORE(3) HONE_QGEMM_STORE(4)
  HONE_QGEMM_STORE(5)
}

#undef HONE_QGEMM_DECL
#undef HONE_QGEMM_ROW
#undef HONE_QGEMM_STORE

// The row tile's widened activations live on the stack up to this many quads (k = 4096: 48 KiB
// for 6 rows), on the heap beyond.
constexpr int64_t kStackQuads = 1024;

// Rows r0 .. r0 + R - 1 of panel p: the rows widened once, then each 8-column group.
template <int R>
void row_tile(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y, int64_t ldy,
              int64_t r0, int64_t p, uint16_t* a16) {
  widen_rows<R>(a, lda, r0, w.quads, a16);
  const int8_t* panel = w.data + p * w.quads * kQuadBytes;
  for (int64_t g = 0; g < kPanelCols / kGroupCols; ++g) {
    const int64_t c0 = p * kPanelCols + g * kGroupCols;
    if (c0 >= w.n) break;
    tile<R>(w, panel + g * kGroupCols * 4, a16, e, y, ldy, r0, c0);
  }
}

}  // namespace

// Panels outside, row tiles inside (as the VNNI kernel): a panel (64 x k bytes) stays in L2
// across the row tiles; a row tile's widened activations (R x k x 2 bytes) stay in L1 across
// the panel's 8 column groups.
void qgemm_u8s8_avx2(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y, int64_t ldy,
                     int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  alignas(32) uint16_t stack_rows[6 * kStackQuads * 4];
  uint16_t* heap_rows = w.quads > kStackQuads ? new uint16_t[static_cast<size_t>(6 * w.quads * 4)] : nullptr;
  uint16_t* a16 = heap_rows ? heap_rows : stack_rows;
  for (int64_t p = p0; p < p1; ++p) {
    int64_t r = r0;
    for (; r + 6 <= r1; r += 6) row_tile<6>(w, a, lda, e, y, ldy, r, p, a16);
    switch (r1 - r) {
      case 5: row_tile<5>(w, a, lda, e, y, ldy, r, p, a16); break;
      case 4: row_tile<4>(w, a, lda, e, y, ldy, r, p, a16); break;
      case 3: row_tile<3>(w, a, lda, e, y, ldy, r, p, a16); break;
      case 2: row_tile<2>(w, a, lda, e, y, ldy, r, p, a16); break;
      case 1: row_tile<1>(w, a, lda, e, y, ldy, r, p, a16); break;
      default: break;
    }
  }
  delete[] heap_rows;
}

}  // namespace hone::kernels::qgemm
