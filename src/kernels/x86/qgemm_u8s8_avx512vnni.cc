// AVX-512 VNNI variant of kernels/x86/qgemm_u8s8.h. A tile is R <= 6 rows x 64 columns: 24 int32
// accumulators, the panel's 4 weight vectors of the current k quad, and one broadcast of a row's
// 4 activation bytes; per quad 4 loads, R broadcasts and 4R vpdpbusd (u8 activations x s8 weights,
// exact int32 sums). The tile walks the whole k (a panel is 64 x k bytes: 48 KiB at k = 768, kept
// in L2 across the row tiles), then the epilogue runs in registers.
//
// The accumulators are named variables, never gathered into an array (not even for the
// epilogue): GCC 12 then kept them in memory and stored every product (2-2.5x slower, measured).
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/qgemm_u8s8.h"

namespace hone::kernels::qgemm {

namespace {

// A row's 4 activation bytes at k = 4q, broadcast to every 32-bit lane.
inline __m512i bcast_quad(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// What the epilogue adds to and multiplies with one vector of 16 columns, the same for every
// row of a tile: computed once per tile. Per row and vector, a 6 x 64 tile's epilogue took 24
// vpmulld and 72 loads or broadcasts, now 4 and 12: BERT-base's K = 768 layers ~2 % faster at
// 1 thread (int8_bench, medians of six alternated runs: 1.075 -> 1.05 ms, 0.354 -> 0.346 ms).
struct ColumnTerms {
  __m512i comp;  // a_zero_point * sum_k w[k, c]
  __m512 scale;
  __m512 bias;   // 0 without a bias (then unused)
};

inline ColumnTerms column_terms(const WeightsView& w, const Epilogue& e, int64_t c0, __mmask16 mask) {
  ColumnTerms t;
  t.comp = _mm512_mullo_epi32(_mm512_set1_epi32(e.a_zero_point), _mm512_maskz_loadu_epi32(mask, w.col_sum + c0));
  t.scale = e.per_column ? _mm512_maskz_loadu_ps(mask, e.scale + c0) : _mm512_set1_ps(e.scale[0]);
  t.bias = e.bias ? _mm512_maskz_loadu_ps(mask, e.bias + c0) : _mm512_setzero_ps();
  return t;
}

// y[r, c0 .. c0 + 16) from one accumulator vector (mask: the columns that exist).
inline void store16(__m512i acc, const ColumnTerms& t, const Epilogue& e, int64_t r, int64_t c0, __mmask16 mask,
                    float* y, int64_t ldy) {
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, t.comp)), t.scale);
  // The chain rounds the product (its Mul's output) before each Add: keep the compiler from
  // contracting multiply and add into one FMA, which rounds once.
  __asm__("" : "+v"(v));
  if (e.bias) v = _mm512_add_ps(v, t.bias);
  if (e.residual) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, e.residual + r * ldy + c0));
  _mm512_mask_storeu_ps(y + r * ldy + c0, mask, v);
}

#define HONE_QGEMM_DECL(r) \
  __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0;
#define HONE_QGEMM_ROW(r, bcast)                                                                              \
  if constexpr (R > r) {                                                                                      \
    const __m512i b = bcast;                                                                                  \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, b, w0);                                                            \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, b, w1);                                                            \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, b, w2);                                                            \
    c##r##3 = _mm512_dpbusd_epi32(c##r##3, b, w3);                                                            \
  }
#define HONE_QGEMM_ROWS(BCAST)                                                                                \
  HONE_QGEMM_ROW(0, BCAST(0)) HONE_QGEMM_ROW(1, BCAST(1)) HONE_QGEMM_ROW(2, BCAST(2))                        \
  HONE_QGEMM_ROW(3, BCAST(3)) HONE_QGEMM_ROW(4, BCAST(4)) HONE_QGEMM_ROW(5, BCAST(5))
#define HONE_QGEMM_STORE(r)                                                                                   \
  if constexpr (R > r) {                                                                                      \
    if (masks[0]) store16(c##r##0, t0, e, r0 + r, c0, masks[0], y, ldy);                                     \
    if (masks[1]) store16(c##r##1, t1, e, r0 + r, c0 + 16, masks[1], y, ldy);                                \
    if (masks[2]) store16(c##r##2, t2, e, r0 + r, c0 + 32, masks[2], y, ldy);                                \
    if (masks[3]) store16(c##r##3, t3, e, r0 + r, c0 + 48, masks[3], y, ldy);                                \
  }

// Rows r0 .. r0 + R - 1, columns of panel p. next: the panel this thread reads after p (or
// nullptr); the tile prefetches one line of it into L2 per quad, the line chosen by the tile's
// index (`lane`), so that four tiles in a row bring in all of it. Without this each panel's first
// tile waited on DRAM: in a model the weights are never in cache (BERT-base's 85 MB), and on the
// Zen 4 development machine 128 x 768 x 3072 took 0.80-0.83 ms with weights cycled through 94 MB
// against 0.72 ms with one matrix kept in cache; the prefetch brought it to 0.74-0.76 ms.
template <int R>
void tile(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y, int64_t ldy, int64_t r0,
          int64_t p, const int8_t* next, int lane) {
  const int8_t* panel = w.data + p * w.quads * kPanelCols * 4;
  const uint8_t* ar = a + r0 * lda;
  HONE_QGEMM_DECL(0) HONE_QGEMM_DECL(1) HONE_QGEMM_DECL(2) HONE_QGEMM_DECL(3) HONE_QGEMM_DECL(4) HONE_QGEMM_DECL(5)
  for (int64_t q = 0; q < w.quads; ++q) {
    const int8_t* wq = panel + q * kPanelCols * 4;
    if (next) _mm_prefetch(reinterpret_cast<const char*>(next + q * kPanelCols * 4 + (lane & 3) * 64), _MM_HINT_T1);
    const __m512i w0 = _mm512_load_si512(wq), w1 = _mm512_load_si512(wq + 64), w2 = _mm512_load_si512(wq + 128),
                  w3 = _mm512_load_si512(wq + 192);
#define HONE_QGEMM_BCAST(r) bcast_quad(ar + (r) * lda + q * 4)
    HONE_QGEMM_ROWS(HONE_QGEMM_BCAST)
#undef HONE_QGEMM_BCAST
  }
  const int64_t c0 = p * kPanelCols;
  __mmask16 masks[4];
  for (int j = 0; j < 4; ++j) {
    const int64_t left = w.n - (c0 + 16 * j);
    masks[j] = left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }
  const ColumnTerms t0 = column_terms(w, e, c0, masks[0]), t1 = column_terms(w, e, c0 + 16, masks[1]),
                    t2 = column_terms(w, e, c0 + 32, masks[2]), t3 = column_terms(w, e, c0 + 48, masks[3]);
  HONE_QGEMM_STORE(0) HONE_QGEMM_STORE(1) HONE_QGEMM_STORE(2) HONE_QGEMM_STORE(3) HONE_QGEMM_STORE(4)
  HONE_QGEMM_STORE(5)
}

#undef HONE_QGEMM_DECL
#undef HONE_QGEMM_ROW
#undef HONE_QGEMM_ROWS
#undef HONE_QGEMM_STORE

}  // namespace

void qgemm_u8s8_avx512vnni(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y,
                           int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  const int64_t panel_bytes = w.quads * kPanelCols * 4;
  const int64_t prefetch_end = w.prefetch_end > p1 ? w.prefetch_end : p1;
  for (int64_t p = p0; p < p1; ++p) {
    const int8_t* next = p + 1 < prefetch_end ? w.data + (p + 1) * panel_bytes : nullptr;
    // Six-row tiles, but no tile of 1-4 rows where five-row ones can take their place: such a
    // tile loads the panel for few products and waits on L2 (BERT's 128 rows were 21 x 6 + 2,
    // now 18 x 6 + 4 x 5). R leftover rows and 5 - R six-row tiles make 6 - R five-row tiles.
    int64_t six = (r1 - r0) / 6, five = 0;
    const int64_t left = (r1 - r0) % 6;
    if (left != 0 && left != 5 && six >= 5 - left) {
      six -= 5 - left;
      five = 6 - left;
    }
    int64_t r = r0;
    int lane = 0;
    for (int64_t i = 0; i < six; ++i, r += 6) tile<6>(w, a, lda, e, y, ldy, r, p, next, lane++);
    for (int64_t i = 0; i < five; ++i, r += 5) tile<5>(w, a, lda, e, y, ldy, r, p, next, lane++);
    switch (r1 - r) {
      case 5: tile<5>(w, a, lda, e, y, ldy, r, p, next, lane); break;
      case 4: tile<4>(w, a, lda, e, y, ldy, r, p, next, lane); break;
      case 3: tile<3>(w, a, lda, e, y, ldy, r, p, next, lane); break;
      case 2: tile<2>(w, a, lda, e, y, ldy, r, p, next, lane); break;
      case 1: tile<1>(w, a, lda, e, y, ldy, r, p, next, lane); break;
      default: break;
    }
  }
}

}  // namespace hone::kernels::qgemm
