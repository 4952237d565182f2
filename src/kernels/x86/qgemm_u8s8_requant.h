// qgemm_u8s8_requant: kernels/x86/qgemm_u8s8.h's u8 x s8 GEMM (same packed weights, same tiles)
// with a byte-output epilogue: QLinearConv's requantization, and optionally the QLinearAdd that
// reads the conv's output, for a 1x1 QLinearConv + residual QLinearAdd (ResNet's bottleneck end)
// computed without writing the conv's output to memory:
//
//   s[r, c]  = sum_k (a[r, k] - a_zero_point) * w[k, c] + bias[c]                   (exact, 64-bit)
//   y3[r, c] = saturate_u8(round_half_even(double(s) * double(multiplier[c])) + y_zero_point)
//   y[r, c]  = y3, or with a skip tensor: qadd's float chain on (y3, skip[r, c])   (qlinear_add.h)
//
// y3 is QLinearConv's reference requantization (runtime/ops/conv_integer.cc: the product in
// double, of the float multiplier x_scale * w_scale[c] / y_scale), so the bytes equal the
// reference's for every sum. The vector kernels requantize in float (16 lanes) and redo in
// double only a vector where float could differ: a sum past 2^24 (not exact in float) or a
// float product exactly on .5 (where the float product's own rounding may have put it).
//
// Not used by an op yet: measured against oneDNN's conv plus the separate QLinearAdd it is not
// faster on ResNet-50's shapes (docs/int8.md, bench/kernels/int8_bench.cc BM_ResidualConv_*).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/x86/qgemm_u8s8.h"
#include "kernels/x86/qlinear_add.h"

namespace hone::kernels::qgemm {

struct RequantEpilogue {
  int32_t a_zero_point = 0;
  const int32_t* bias = nullptr;      // n values, or nullptr
  const float* multiplier = nullptr;  // n values
  int32_t y_zero_point = 0;           // of y3, 0 .. 255
  const uint8_t* skip = nullptr;      // [m, ldy] uint8, or nullptr (y = y3)
  qadd::Params add;                   // with skip: a = y3, b = skip, unsigned
  // What the vector kernels read (make_requant_tables), per column:
  const double* offset = nullptr;        // bias[c] - a_zero_point * col_sum[c]
  const double* multiplier_d = nullptr;  // double(multiplier[c])
  const int32_t* offset32 = nullptr;     // the offset as int32, or nullptr: sums + offset may overflow
};

// The per-column terms of RequantEpilogue, owned; set_tables points e at them.
struct RequantTables {
  std::vector<double> offset, multiplier;
  std::vector<int32_t> offset32;  // empty when |u8 x s8 sum| + |offset| may pass int32
  void set_tables(RequantEpilogue& e) const {
    e.offset = offset.data();
    e.multiplier_d = multiplier.data();
    e.offset32 = offset32.empty() ? nullptr : offset32.data();
  }
};
RequantTables make_requant_tables(const PackedWeights& w, int32_t a_zero_point, const int32_t* bias,
                                  const float* multiplier);

// Rows [r0, r1) x panels [p0, p1) of y (uint8, row stride ldy; skip has the same stride).
using RequantGemmFn = void (*)(const WeightsView& w, const uint8_t* a, int64_t lda, const RequantEpilogue& e,
                               uint8_t* y, int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

void qgemm_u8s8_requant_ref(const WeightsView& w, const uint8_t* a, int64_t lda, const RequantEpilogue& e,
                            uint8_t* y, int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1);
void qgemm_u8s8_requant_avx512vnni(const WeightsView& w, const uint8_t* a, int64_t lda, const RequantEpilogue& e,
                                   uint8_t* y, int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

struct RequantVariant {
  const char* name;  // "scalar", "avx512vnni"
  RequantGemmFn fn;
};
// Every variant this CPU (as capped by HONE_ISA) runs, the reference first.
std::vector<RequantVariant> requant_variants();
const RequantVariant& best_requant_variant();
// Whether best_requant_variant() is a vectorized one (a fusion should use it only then).
bool has_fast_requant_variant();

// The whole y[m, n] with variant v, split over up to `threads` OpenMP threads as qgemm_u8s8_with
// splits it. e's tables must be set.
void qgemm_u8s8_requant_with(const RequantVariant& v, const PackedWeights& w, const uint8_t* a, int64_t lda,
                             int64_t m, const RequantEpilogue& e, uint8_t* y, int64_t ldy, int threads);
void qgemm_u8s8_requant(const PackedWeights& w, const uint8_t* a, int64_t lda, int64_t m, const RequantEpilogue& e,
                        uint8_t* y, int64_t ldy, int threads);

}  // namespace hone::kernels::qgemm
