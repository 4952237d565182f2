// AVX-512 (F/BW/VL/DQ) variants of the fp32 kernel families (16 lanes, masked tails); bodies in
// f32_kernels_simd-inl.h.
#include <immintrin.h>

#include <cmath>
#include <limits>

#include "kernels/x86/f32_kernels_impl.h"

namespace hone::kernels::x86 {
namespace avx512 {
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
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^n for integral n in [-126, 127].
  static V pow2n(V n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static float hsum(V v) { return _mm512_reduce_add_ps(v); }
  static float hmax(V v) { return _mm512_reduce_max_ps(v); }
};

#include "kernels/x86/f32_kernels_simd-inl.h"

}  // namespace
}  // namespace avx512

void f32_softmax_avx512(const float* x, float* y, int64_t rows, int64_t n) { avx512::softmax_impl(x, y, rows, n); }
void f32_layernorm_avx512(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
                          float eps) {
  avx512::layernorm_impl(x, scale, bias, y, rows, n, eps);
}
void f32_gelu_erf_avx512(const float* x, float* y, int64_t n) { avx512::map_ps(x, y, n, avx512::gelu_erf_ps); }
void f32_gelu_tanh_avx512(const float* x, float* y, int64_t n) { avx512::map_ps(x, y, n, avx512::gelu_tanh_ps); }
void f32_erf_avx512(const float* x, float* y, int64_t n) { avx512::map_ps(x, y, n, avx512::erf_ps); }
void f32_add_avx512(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx512::binary_impl(a, sa, b, sb, y, n, avx512::Ops::add);
}
void f32_sub_avx512(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx512::binary_impl(a, sa, b, sb, y, n, avx512::Ops::sub);
}
void f32_mul_avx512(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx512::binary_impl(a, sa, b, sb, y, n, avx512::Ops::mul);
}
void f32_div_avx512(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  avx512::binary_impl(a, sa, b, sb, y, n, avx512::Ops::div);
}

}  // namespace hone::kernels::x86
