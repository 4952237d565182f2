// f32_attention_avx512: the fused attention kernel on AVX-512 F (16 lanes; tiles of 4 query
// rows x 4 vectors = 64 keys or V columns); body in attention_simd-inl.h, softmax by
// f32_softmax_avx512.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/attention.h"
#include "kernels/x86/attention_tiles.h"
#include "kernels/x86/f32_kernels_impl.h"

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
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};
// 4 rows x 4 vectors: 16 accumulators + 4 loaded vectors + 1 broadcast of 32 registers.
constexpr int kTileVectors = 4;

inline void softmax_row(float* s, int64_t n) { f32_softmax_avx512(s, s, 1, n); }

#include "kernels/x86/attention_simd-inl.h"

}  // namespace
}  // namespace avx512_attention

void f32_attention_avx512(const AttentionArgs& args, int64_t batch, int64_t head, int64_t row_begin, int64_t row_end,
                          float* scratch) {
  avx512_attention::attention_impl(args, batch, head, row_begin, row_end, scratch);
}

}  // namespace hone::kernels::x86
