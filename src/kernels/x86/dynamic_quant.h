// u8_dynamic_quantize: ONNX DynamicQuantizeLinear over a float buffer, as one min/max pass and one
// quantizing pass.
//
//   lo = min(0, min x), hi = max(0, max x)        (the range always holds 0; NaNs are ignored)
//   scale = (hi - lo) / 255, zero_point = saturate(round(-lo / scale))   (0 and 0 when scale == 0)
//   y[i] = saturate(round(x[i] / scale) + zero_point)                    (NaN -> zero_point)
//
// round is to nearest, ties to even, and x / scale is the correctly rounded quotient, exactly as
// the reference op (src/runtime/ops/quantize.cc) computes it with a division (the AVX-512 variant
// gets the same quotient from a multiply by 1 / scale and one FMA correction): every variant
// gives the reference's bytes, which the tests check on odd sizes, ties and extreme scales.
// Variants (scalar reference, AVX2, AVX-512) are single-threaded over the range they get;
// u8_dynamic_quantize splits large inputs over OpenMP threads and picks the variant once from
// cpu_features() (HONE_ISA caps it).
#pragma once

#include <cstdint>
#include <functional>
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

// DynamicQuantizeLinear fused into the op that makes its input (LayerNorm, GELU): produce(begin,
// end) writes rows [begin, end) of y (`rows` rows of `cols` floats, single-threaded over what it
// is given); each thread scans a few rows for the range right after writing them, while they are
// still in L1, and quantizes its own rows into yq once every thread's range is known (one
// parallel region, a barrier in the middle). Per-tensor range means nothing can be quantized
// before the last row is written, so y is still written in full: what the fusion saves is the
// separate min/max read of y and one fork/join. Bytes, scale and zero point are those of
// produce-everything-then-u8_dynamic_quantize (the tests check, every variant).
using RowProducer = std::function<void(int64_t begin, int64_t end)>;
QuantParams u8_dynamic_quantize_produced(const RowProducer& produce, int64_t rows, int64_t cols, const float* y,
                                         uint8_t* yq, int threads);
QuantParams u8_dynamic_quantize_produced_with(const Variant& v, const RowProducer& produce, int64_t rows, int64_t cols,
                                              const float* y, uint8_t* yq, int threads);

}  // namespace hone::kernels::dynq
