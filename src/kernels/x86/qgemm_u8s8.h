// qgemm_u8s8: the u8 x s8 GEMM behind hone.DynQuantMatMul (ONNX Runtime's dynamic-int8 chain
// DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul (-> Add bias) (-> Add residual)), with the
// chain's float epilogue fused:
//
//   y[r, c] = float(sum_k (a[r, k] - a_zero_point) * w[k, c]) * scale[c] (+ bias[c]) (+ residual[r, c])
//
// The int32 sum is exact: it is computed as sum_k a * w - a_zero_point * col_sum[c], with col_sum
// taken once when the weights are packed. The epilogue is the chain's operations in its order
// (multiply, then each add, every one rounded), so every variant gives the chain's floats to the
// last bit; the tests check each variant against a naive oracle.
//
// Why our own kernel: oneDNN 2.6's u8s8 matmul serves the scale and bias only as binary post-ops,
// which cost it 10-15 % at BERT's shapes (128 x 768 x {768, 2304, 3072} on the Zen 4 development
// machine, bench/kernels/int8_bench.cc); with plain int32 output it is at the VNNI peak, and this
// kernel keeps that speed with the epilogue in registers.
//
// Variants: the scalar reference (on the packed layout), AVX2 (exact: 16-bit widened operands,
// vpmaddwd pair sums; 6 rows x 8 columns) and AVX-512 VNNI (6 rows x 64 columns of int32
// accumulators, one vpdpbusd per 4 k per 16 columns), picked once from cpu_features()
// (HONE_ISA caps it). Threads split the column panels (each thread streams its own panels of w
// once and keeps each in cache across all rows), and the rows as well when there are fewer panels
// than threads.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/x86/huge_page_buffer.h"

namespace hone::kernels::qgemm {

// Columns per packed panel (four 16-lane vectors of int32).
constexpr int64_t kPanelCols = 64;

// w [k, n] int8, packed once: panel p holds columns [64p, 64p + 64); within a panel, k goes in
// quads, each quad 256 bytes: column j's four k values at bytes 4j .. 4j + 3 (the order vpdpbusd
// multiplies). Columns past n and k past k are zero.
struct PackedWeights {
  int64_t k = 0, n = 0;
  HugePageBuffer data;           // [panels][quads][64][4]
  std::vector<int32_t> col_sum;  // [n]: sum over k of w[k, c]
  int64_t quads() const { return (k + 3) / 4; }
  int64_t panels() const { return (n + kPanelCols - 1) / kPanelCols; }
};
// w is row-major [k, n].
PackedWeights pack_weights(const int8_t* w, int64_t k, int64_t n);
// w[k, c] read back from the packed form (the layout's definition, for tests).
int8_t packed_weight(const PackedWeights& p, int64_t k, int64_t c);

// What the kernels see: plain pointers (an ISA file must not instantiate std:: inline functions:
// the linker could keep its AVX-512 copy for scalar callers).
struct WeightsView {
  int64_t k = 0, n = 0, quads = 0;
  const int8_t* data = nullptr;
  const int32_t* col_sum = nullptr;
  // The thread's last panel + 1 when it calls the kernel a few panels at a time (to work on
  // their output while it is in cache): the VNNI kernel then still prefetches the panel after
  // p1 while on the last one, as it does between the panels of one call. 0: up to p1 only.
  int64_t prefetch_end = 0;
};

struct Epilogue {
  int32_t a_zero_point = 0;
  const float* scale = nullptr;     // one value, or n (per_column)
  bool per_column = false;
  const float* bias = nullptr;      // n values, or nullptr
  const float* residual = nullptr;  // [m, ldy], or nullptr
};

// Rows [r0, r1) of y = the product, for the column panels [p0, p1). a is row-major with row
// stride lda (>= 4 * quads: the kernels read whole quads; qgemm_u8s8_with pads a when k % 4 != 0);
// y and residual have row stride ldy (>= n).
using GemmFn = void (*)(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y,
                        int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

void qgemm_u8s8_ref(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y, int64_t ldy,
                    int64_t r0, int64_t r1, int64_t p0, int64_t p1);
void qgemm_u8s8_avx2(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y, int64_t ldy,
                     int64_t r0, int64_t r1, int64_t p0, int64_t p1);
void qgemm_u8s8_avx512vnni(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y,
                           int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1);

struct Variant {
  const char* name;  // "scalar", "avx2", "avx512vnni"
  GemmFn fn;
};
// Every variant this CPU (as capped by HONE_ISA) runs, the reference first; tests walk the list.
std::vector<Variant> available_variants();
// The last of available_variants(), chosen once.
const Variant& best_variant();
// Whether best_variant() is a vectorized one (else callers may prefer another library's kernel).
bool has_fast_variant();

// Work on the output each thread has just computed, done by that thread while its part of y is
// still in its core's cache (hone.DynQuantMatMul fused with the GELU and the
// DynamicQuantizeLinear after it: the activation and the range first, the quantization once
// every range is known). A part is the rectangle rows [r0, r1) x columns [c0, c1) of y; a thread
// may own several; `thread` < the `threads` given to qgemm_u8s8. after_product's parts are at
// most four column panels wide (256 columns), each handed over as soon as its products are done,
// before the thread's next panels, so the part is still in L2.
struct OwnedPartWork {
  using Part = std::function<void(int thread, int64_t r0, int64_t r1, int64_t c0, int64_t c1)>;
  Part after_product;       // on each part, right after its products
  std::function<void()> between;  // once, when every thread has finished after_product
  Part after_between;       // on each part again, after `between`
};

// The whole product y[m, n] with variant v, split over up to `threads` OpenMP threads; then
// `work`, when given, on the parts each thread owns.
void qgemm_u8s8_with(const Variant& v, const PackedWeights& w, const uint8_t* a, int64_t lda, int64_t m,
                     const Epilogue& e, float* y, int64_t ldy, int threads, const OwnedPartWork* work = nullptr);
void qgemm_u8s8(const PackedWeights& w, const uint8_t* a, int64_t lda, int64_t m, const Epilogue& e, float* y,
                int64_t ldy, int threads, const OwnedPartWork* work = nullptr);

}  // namespace hone::kernels::qgemm
