// qlinear_add: the elementwise sum of two quantized 8-bit tensors, requantized (com.microsoft
// QLinearAdd; fuse_qdq makes it from DQ(a), DQ(b) -> Add -> QuantizeLinear):
//
//   y[i] = saturate(round((float(a[i] - a_zp) * a_scale + float(b[i] - b_zp) * b_scale) / y_scale) + y_zp)
//
// in float, step for step as the QDQ chain computes it (DequantizeLinear's product, the Add, then
// QuantizeLinear's true division and round half to even), so every variant gives the chain's
// bytes exactly; the tests check each variant against the scalar reference on every pair of
// byte values. All three tensors are uint8 or all int8 (`is_signed`). Variants: scalar reference
// and AVX-512 (16 lanes, masked tail), picked once from cpu_features() (HONE_ISA caps it).
#pragma once

#include <cstdint>
#include <vector>

namespace hone::kernels::qadd {

struct Params {
  float a_scale = 1, b_scale = 1, y_scale = 1;
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  bool is_signed = false;  // int8 bytes (else uint8)
};

// y[i] from a[i] and b[i], i < n; b_broadcast: b is one value, read as b[0] for every i.
using AddFn = void (*)(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y);

void qlinear_add_ref(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y);
void qlinear_add_avx512(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y);

struct Variant {
  const char* name;  // "scalar", "avx512"
  AddFn add;
};
// Every variant this CPU (as capped by HONE_ISA) runs, the reference first; tests walk the list.
std::vector<Variant> available_variants();
// The last of available_variants(), chosen once.
const Variant& best_variant();

// The whole op over n elements, split across up to `threads` OpenMP threads when large.
void qlinear_add(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y,
                 int threads);

}  // namespace hone::kernels::qadd
