// f32_attention_avx512: the fused attention kernel on AVX-512 F (16 lanes; tiles of 6 query
// rows x 4 vectors = 64 keys or V columns); body in attention_simd-inl.h.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/x86/attention.h"
#include "kernels/x86/attention_tiles.h"

namespace hone::kernels::x86 {
namespace avx512_attention {
namespace {

struct Ops {
  using V = __m512;
  static constexpr int64_t kLanes = 16;
  static __mmask16 tail_mask(int64_t t) { return static_cast<__mmask16>((1u << t) - 1u); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V load_tail(const float* p, int64_t t, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(t), p);
  }
  static void store_tail(float* p, V v, int64_t t) { _mm512_mask_storeu_ps(p, tail_mask(t), v); }
  static V blend_tail(V v, int64_t t) { return _mm512_maskz_mov_ps(tail_mask(t), v); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // p * 2^n in one instruction (vscalefps), correctly rounded below the normal range too, so the
  // floor can sit where p * 2^n rounds to 0: a key masked to -inf or -10000 weighs exactly 0, as
  // in the reference (the softmax kernel's clamp at exp(-87) gave it ~1e-38 / sum, a denormal
  // that then went through every FMA of the weighted sum of V).
  static V scale_pow2(V p, V n) { return _mm512_scalef_ps(p, n); }
  static constexpr float kExp2Floor = -160.0f;
  static float hsum(V v) { return _mm512_reduce_add_ps(v); }
  static float hmax(V v) { return _mm512_reduce_max_ps(v); }
  // dst[i][j] = src[j][i] for a 16 x 16 block (rows `src_stride` / `dst_stride` floats apart):
  // pairs interleaved, then 64-bit pairs, then 128-bit quarters twice.
  static void transpose_block(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * src_stride);
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int h = 0; h < 16; h += 8)
      for (int i = 0; i < 4; ++i) {
        t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
        t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
      }
    for (int i = 0; i < 8; ++i) {
      _mm512_storeu_ps(dst + i * dst_stride, _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88));
      _mm512_storeu_ps(dst + (i + 8) * dst_stride, _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd));
    }
  }
};
// 6 rows x 4 vectors: 24 accumulators + 4 loaded vectors + 1 broadcast of 32 registers: fewer
// loads and broadcasts per FMA than 4 rows. BERT-base's 12 heads (packed QKV, 1 thread, min of
// 400 interleaved runs) took 486 instead of 559 us on an idle Intel Xeon (-13 %), and 556
// instead of 553 us on this project's loaded 2-core AMD EPYC (the same within noise).
constexpr int kTileRows = 6;
constexpr int kTileVectors = 4;

#include "kernels/x86/attention_simd-inl.h"

}  // namespace
}  // namespace avx512_attention

void f32_attention_avx512(const AttentionArgs& args, int64_t batch, int64_t head, int64_t row_begin, int64_t row_end,
                          float* scratch) {
  avx512_attention::attention_impl(args, batch, head, row_begin, row_end, scratch);
}

}  // namespace hone::kernels::x86
