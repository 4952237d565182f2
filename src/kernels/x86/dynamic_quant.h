// u8_dynamic_quantize: ONNX DynamicQuantizeLinear over a float buffer, as one min/max pass and one
// quantizing pass.
//
//   lo = min(0, min x), hi = max(0, max x)        (the range always holds 0; NaNs are ignored)
//   scale = (hi - lo) / 255, zero_point = saturate(round(-lo / scale))   (0 and 0 when scale == 0)
//   y[i] = saturate(round(x[i] / scale) + zero_point)                    (NaN -> zero_point)
//
// round is to nearest, ties to even, and x / scale is a true division, exactly as the reference op
// (src/runtime/ops/quantize.cc) computes it: every variant gives the reference's bytes, which the
// tests check on odd sizes. Variants (scalar reference, AVX2, AVX-512) are single-threaded over the
// range they get; u8_dynamic_quantize splits large inputs over OpenMP threads and picks the
// variant once from cpu_features() (HONE_ISA caps it).
#pragma once

#include <cstdint>
#include <vector>

namespace hone::kernels::dynq {

// lo = min(lo, x[i]...), hi = max(hi, x[i]...), NaNs ignored.
using MinMaxFn = void (*)(const float* x, int64_t n, float* lo, float* hi);
// y[i] = saturate(round(x[i] / scale) + zero_point), NaN -> zero_point; scale > 0.
using QuantizeFn = void (*)(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y);

void f32_minmax_ref(const float* x, int64_t n, float* lo, float* hi);
void u8_quantize_ref(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y);
void f32_minmax_avx2(const float* x, int64_t n, float* lo, float* hi);
void u8_quantize_avx2(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y);
void f32_minmax_avx512(const float* x, int64_t n, float* lo, float* hi);
void u8_quantize_avx512(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y);

struct Variant {
  const char* name;  // "scalar", "avx2", "avx512"
  MinMaxFn minmax;
  QuantizeFn quantize;
};
// Every variant this CPU (as capped by HONE_ISA) can run, the reference first; tests walk this list.
std::vector<Variant> available_variants();
// The fastest of available_variants(), chosen once.
const Variant& best_variant();

struct QuantParams {
  float scale = 0.0f;
  uint8_t zero_point = 0;
};
// ONNX's scale and zero point for a range that already includes 0.
QuantParams params_from_range(float lo, float hi);

// The whole operator: y[n] from x[n]; returns the scale and zero point. Threads: at most this many
// OpenMP threads for inputs large enough to pay for them.
QuantParams u8_dynamic_quantize(const float* x, int64_t n, uint8_t* y, int threads);
// The same with a given variant (tests).
QuantParams u8_dynamic_quantize_with(const Variant& v, const float* x, int64_t n, uint8_t* y, int threads);

}  // namespace hone::kernels::dynq
