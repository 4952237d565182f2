// f32_attention_avx2: the fused attention kernel on AVX2 + FMA (8 lanes; tiles of 4 query rows x
// 2 vectors = 16 keys or V columns); body in attention_simd-inl.h.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/x86/attention.h"
#include "kernels/x86/attention_tiles.h"

namespace hone::kernels::x86 {
namespace avx2_attention {
namespace {

struct Ops {
  using V = __m256;
  static constexpr int64_t kLanes = 8;
  // Lanes [0, t) set: -1 in the lanes whose index is below t.
  static __m256i tail_mask(int64_t t) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(t)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V load_tail(const float* p, int64_t t, float fill) {
    const __m256i m = tail_mask(t);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store_tail(float* p, V v, int64_t t) { _mm256_maskstore_ps(p, tail_mask(t), v); }
  static V blend_tail(V v, int64_t t) { return _mm256_and_ps(v, _mm256_castsi256_ps(tail_mask(t))); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // p * 2^n for integral n in [-127, 0] by building 2^n in the float's exponent bits: n = -127
  // gives exponent field 0, i.e. +0.0, so the floor (a key masked to -inf or -10000) weighs
  // exactly 0, as in the reference; n >= -126 gives the normal 2^n (n below -127 would wrap the
  // field). Weights that would be denormal (2^-127 .. 2^-150) become 0: against the row's max,
  // which weighs 1, they are below float resolution. The floor used to be -125, which left
  // masked keys a weight of ~2e-38 (visible when their V rows are huge; tested).
  static V scale_pow2(V p, V n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
  }
  static constexpr float kExp2Floor = -127.0f;
  static float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(V v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // dst[i][j] = src[j][i] for an 8 x 8 block (rows `src_stride` / `dst_stride` floats apart):
  // pairs interleaved, then 64-bit pairs, then the 128-bit halves.
  static void transpose_block(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
      _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
  }
};
// 4 rows x 2 vectors: 8 accumulators + 2 loaded vectors + 1 broadcast of 16 registers.
constexpr int kTileRows = 4;
constexpr int kTileVectors = 2;

#include "kernels/x86/attention_simd-inl.h"

}  // namespace
}  // namespace avx2_attention

void f32_attention_avx2(const AttentionArgs& args, int64_t batch, int64_t head, int64_t row_begin, int64_t row_end,
                        float* scratch) {
  avx2_attention::attention_impl(args, batch, head, row_begin, row_end, scratch);
}

}  // namespace hone::kernels::x86
