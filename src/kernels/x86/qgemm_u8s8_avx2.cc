// AVX2 variant of kernels/x86/qgemm_u8s8.h, for CPUs without AVX-512 VNNI (Haswell .. Zen 3, and
// AVX-512 parts without VNNI), on the same packed weights as the VNNI kernel.
//
// Exact without VNNI: vpmaddubsw (u8 x s8 pairs summed into int16) saturates (255 * 127 * 2 >
// 32767), which is what makes oneDNN's AVX2 u8s8 kernels inexact. Here both sides are widened to
// 16 bits instead: weights sign-extended (vpmovsxbw), a row's 4 activation bytes zero-extended and
// repeated, then vpmaddwd multiplies 16 pairs and sums each adjacent two into int32, which cannot
// overflow. In the packed layout a column's 4 k bytes are adjacent, so one vpmaddwd lane holds
// (k0 + k1) and its neighbour (k2 + k3) of the same column: the two partial sums stay in separate
// lanes through the k loop and are added (vphaddd) only in the epilogue. A 16-byte weight load
// covers 4 columns; a tile is R <= 6 rows x 8 columns: 12 accumulators, 2 weight vectors and one
// activation broadcast of the 16 ymm registers; per k quad 2 weight loads, R broadcasts, 2R
// vpmaddwd and 2R vpaddd (8 multiply-adds per instruction, against 64 for a 512-bit vpdpbusd).
//
// Loop order: the 8 column groups of a panel outside, the row tiles inside, so a group's weights
// (8 x k bytes: 24 KiB at k = 3072) stay in L1 across all rows.
//
// As in the VNNI file, the accumulators are named variables, never an array.
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/qgemm_u8s8.h"

namespace hone::kernels::qgemm {

namespace {

constexpr int64_t kGroupCols = 8;
constexpr int64_t kQuadBytes = kPanelCols * 4;

// A row's 4 activation bytes at k = 4q, zero-extended to 16 bits, in every 64-bit lane.
inline __m256i bcast_quad_u16(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_cvtepu8_epi16(_mm_set1_epi32(v));
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
#define HONE_QGEMM_ROW(r)                                                                                     \
  if constexpr (R > r) {                                                                                      \
    const __m256i b = bcast_quad_u16(ar + (r) * lda + q * 4);                                                 \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(b, w0));                                            \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(b, w1));                                            \
  }
#define HONE_QGEMM_STORE(r) \
  if constexpr (R > r) store8(c##r##0, c##r##1, w, e, r0 + (r), c0, left, y, ldy);

// Rows r0 .. r0 + R - 1, columns c0 .. c0 + 7 (c0 inside the panel that `group` points into:
// its first column's quad bytes).
template <int R>
void tile(const WeightsView& w, const int8_t* group, const uint8_t* a, int64_t lda, const Epilogue& e, float* y,
          int64_t ldy, int64_t r0, int64_t c0) {
  const uint8_t* ar = a + r0 * lda;
  HONE_QGEMM_DECL(0) HONE_QGEMM_DECL(1) HONE_QGEMM_DECL(2) HONE_QGEMM_DECL(3) HONE_QGEMM_DECL(4) HONE_QGEMM_DECL(5)
  for (int64_t q = 0; q < w.quads; ++q) {
    const int8_t* wq = group + q * kQuadBytes;
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

}  // namespace

void qgemm_u8s8_avx2(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y, int64_t ldy,
                     int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  const int64_t panel_bytes = w.quads * kQuadBytes;
  for (int64_t p = p0; p < p1; ++p) {
    for (int64_t g = 0; g < kPanelCols / kGroupCols; ++g) {
      const int64_t c0 = p * kPanelCols + g * kGroupCols;
      if (c0 >= w.n) break;
      const int8_t* group = w.data + p * panel_bytes + g * kGroupCols * 4;
      int64_t r = r0;
      for (; r + 6 <= r1; r += 6) tile<6>(w, group, a, lda, e, y, ldy, r, c0);
      switch (r1 - r) {
        case 5: tile<5>(w, group, a, lda, e, y, ldy, r, c0); break;
        case 4: tile<4>(w, group, a, lda, e, y, ldy, r, c0); break;
        case 3: tile<3>(w, group, a, lda, e, y, ldy, r, c0); break;
        case 2: tile<2>(w, group, a, lda, e, y, ldy, r, c0); break;
        case 1: tile<1>(w, group, a, lda, e, y, ldy, r, c0); break;
        default: break;
      }
    }
  }
}

}  // namespace hone::kernels::qgemm
