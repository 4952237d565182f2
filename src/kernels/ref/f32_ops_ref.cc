// Scalar references of the fp32 kernel families of kernels/x86 (f32_kernels.h): the baseline
// every SIMD variant is tested against, and what runs when HONE_ISA=scalar or the CPU lacks AVX2.
// Plain loops over libm; statistics are accumulated in double.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/x86/f32_kernels_impl.h"

namespace hone::kernels::x86 {

void f32_softmax_ref(const float* x, float* y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) max = std::max(max, xr[i]);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      yr[i] = std::exp(xr[i] - max);
      sum += yr[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
  }
}

void f32_layernorm_ref(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
                       float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(n);
    double sq = 0;
    for (int64_t i = 0; i < n; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
    const double inv_std = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      const double v = (xr[i] - mean) * inv_std * scale[i];
      yr[i] = static_cast<float>(bias ? v + bias[i] : v);
    }
  }
}

void f32_gelu_erf_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), ONNX Gelu's approximate="tanh".
void f32_gelu_tanh_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
  }
}

void f32_erf_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::erf(x[i]);
}

namespace {

template <class Op>
void binary_ref(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, Op op) {
  for (int64_t i = 0; i < n; ++i) y[i] = op(a[i * sa], b[i * sb]);
}

}  // namespace

void f32_add_ref(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  binary_ref(a, sa, b, sb, y, n, [](float p, float q) { return p + q; });
}
void f32_sub_ref(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  binary_ref(a, sa, b, sb, y, n, [](float p, float q) { return p - q; });
}
void f32_mul_ref(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  binary_ref(a, sa, b, sb, y, n, [](float p, float q) { return p * q; });
}
void f32_div_ref(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  binary_ref(a, sa, b, sb, y, n, [](float p, float q) { return p / q; });
}

}  // namespace hone::kernels::x86
