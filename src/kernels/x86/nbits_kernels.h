// Fast kernels for blockwise n-bit weights x fp32 activations (com.microsoft.MatMulNBits), one
// translation unit per ISA (nbits_gemm_avx2.cc, nbits_gemm_avx512.cc). Weights stay in ORT's
// packed layout (kernels/ref/nbits_ref.h) and are streamed once per call: each column's codes
// are unpacked with shifts and masks, turned into floats as code * scale - zp * scale (one
// fmsub) and multiplied into fp32 accumulators, so every variant is exact fp32 arithmetic, not
// an int8 approximation of A. Rows of A are taken four at a time per column, so a column's bytes
// are read from memory once and from L1 for the other rows.
//
// The variants are listed once in nbits_kernels.inc; the dispatcher and the kernel tests
// (tests/unit/kernels/nbits_kernels_test.cc) both read that list. Names: docs/naming.md.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/ref/nbits_ref.h"

namespace hone::kernels::nbits {

enum class NBitsIsa { kScalar, kAvx2, kAvx512 };
const char* isa_name(NBitsIsa isa);
// Whether this CPU (as capped by HONE_ISA) runs code of `isa`.
bool isa_available(NBitsIsa isa);

// How a variant wants A. The fast kernels read whole blocks, so A is zero-padded to
// k_blocks * block_size columns; the 4-bit kernels also want each run of 32 elements reordered as
// [the 16 even ones, the 16 odd ones], so that the low nibbles of 16 bytes (elements 0, 2, 4 ...)
// and the high nibbles (1, 3, 5 ...) each meet contiguous activations without a shuffle. The
// reordering is done once per row of A and shared by all N columns.
enum class APrep {
  kNone,           // A as given (row stride lda, K columns)
  kPadded,         // [m][k_blocks * block_size], zeros past K
  kNibbleSplit32,  // kPadded, then each run of 32 as [even 16, odd 16]; needs block_size % 32 == 0
};

// y[r * ldy + n] = sum_k A[r][k] * W[k][n] for r < m, n0 <= n < n1, with A prepared as the
// variant's APrep says (a, lda). Single-threaded over the range given.
using GemmFn = void (*)(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
                        int64_t n0, int64_t n1);

struct GemmVariant {
  const char* name;  // "q4_f32_gemm_r4_avx512"
  NBitsIsa isa;
  int bits;  // 0: any of 2, 4, 8 (the reference)
  APrep prep;
  GemmFn fn;
};

// Every variant, the scalar reference first (nbits_kernels.inc order).
const std::vector<GemmVariant>& gemm_variants();
// Whether variant v computes w (bits and block size it was written for).
bool serves(const GemmVariant& v, const NBitsWeights& w);
// The widest variant this CPU runs that serves w (the reference when none does); chosen from
// the table at each call, which is a few comparisons.
const GemmVariant& best_gemm(const NBitsWeights& w);

// Row stride of A once prepared for v; K for kNone.
int64_t prepared_lda(const GemmVariant& v, const NBitsWeights& w);
// out[r * prepared_lda + j] for r < m: A (stride lda) prepared as v wants.
void prepare_a(const GemmVariant& v, const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* out);

// The whole product y[m][N] (row stride ldy) with variant v: prepares A, splits the columns over
// `threads` OpenMP threads (1: the calling thread only).
void gemm(const GemmVariant& v, const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
          int threads);

// The variants' functions (declared here for the table; defined in their ISA's file).
#define HONE_NBITS_GEMM(name, isa, bits, prep)                                                              \
  void name(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy, int64_t n0, \
            int64_t n1);
#include "kernels/x86/nbits_kernels.inc"
#undef HONE_NBITS_GEMM

}  // namespace hone::kernels::nbits
