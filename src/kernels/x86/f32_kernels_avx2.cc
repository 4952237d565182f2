// AVX2 + FMA variants of the fp32 kernel families (8 lanes); bodies in f32_kernels_simd-inl.h.
#include <immintrin.h>

#include <cmath>
#include <limits>

#include "kernels/x86/f32_kernels_impl.h"

namespace hone::kernels::x86 {
namespace avx2 {
namespace {

struct Ops {
  using V = __m256;
  static constexpr int64_t kLanes = 8;
  // Lane i is on when i < t (1 <= t < 8): a window into {-1 x8, 0 x8}.
  static __m256i tail_mask(int64_t t) {
    alignas(32) static const int32_t kBits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kBits + 8 - t));
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
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^n for integral n in [-126, 127].
  static V pow2n(V n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
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
};

#include "kernels/x86/f32_kernels_simd-inl.h"

}  // namespace
}  // namespace avx2

void f32_softmax_avx2(const float* x, float* y, int64_t rows, int64_t n) { avx2::softmax_impl(x, y, rows, n); }
void f32_layernorm_avx2(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
                        float eps) {
  avx2::layernorm_impl(x, scale, bias, y, rows, n, eps);
}
void f32_gelu_erf_avx2(const float* x, float* y, int64_t n) { avx2::map_ps(x, y, n, avx2::gelu_erf_ps); }
void f32_gelu_tanh_avx2(const float* x, float* y, int64_t n) { avx2::map_ps(x, y, n, avx2::gelu_tanh_ps); }
void f32_erf_avx2(const float* x, float* y, int64_t n) { avx2::map_ps(x, y, n, avx2::erf_ps); }
void f32_add_avx2(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx2::binary_impl(a, sa, b, sb, y, n, avx2::Ops::add);
}
void f32_sub_avx2(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx2::binary_impl(a, sa, b, sb, y, n, avx2::Ops::sub);
}
void f32_mul_avx2(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx2::binary_impl(a, sa, b, sb, y, n, avx2::Ops::mul);
}
void f32_div_avx2(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx2::binary_impl(a, sa, b, sb, y, n, avx2::Ops::div);
}

}  // namespace hone::kernels::x86
