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

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/ref/nbits_ref.h"
#include "kernels/x86/huge_page_buffer.h"

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

// ---- dequantization (the many-rows path: fp32 tiles for oneDNN) ----

// out[(n - n0) * ldo + k] = W[k][n] for k < K, n0 <= n < n1 (ldo >= K), as dequantize_ref, with
// code * scale - zp * scale rounded once (the fp32 kernels' form).
using DequantFn = void (*)(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo);
struct DequantVariant {
  const char* name;  // "q4_dequant_avx512"
  NBitsIsa isa;
  int bits;
  DequantFn fn;
};
const std::vector<DequantVariant>& dequant_variants();
// The widest available variant for w's bits (block_size a multiple of 32), else nullptr: then
// dequantize_ref.
const DequantVariant* best_dequant(const NBitsWeights& w);

// ---- int8 activations (ORT's accuracy_level 4) ----
//
// The fp32 kernels above spend about ten vector instructions per 16 bytes of codes, which caps
// one core well below its memory bandwidth. With A quantized per block to int8 on the fly
// (symmetric, scale max|a| / 127), one vpdpbusd multiplies 64 codes at once: ORT (MLAS CompInt8)
// and llama.cpp do the same, and ORT does it only when the model asks with accuracy_level 4,
// which is when hone does it too (docs/nbits.md). Error: each a_k moves by at most half its
// block's step, so |y - y_exact| <= sum_blocks step_b / 2 * sum_{k in b} |w_k| (plus fp32 rounding).
//
// Weights are repacked once into column groups of 16 ("c16"), as one stream per group that the
// kernel reads front to back: for group g and block b a record of block_size / 8 runs of 64 code
// bytes (dword c of a run holds column 16g + c's codes k..k+3 in the low nibbles and k+4..k+7 in
// the high nibbles, so one load + and/shift gives two vpdpbusd operands with one column per lane)
// followed by the block's 16 fp32 scales (padding columns: scale 0). Scales sit in the code
// stream rather than in an array of their own so that each thread streams one contiguous run of
// memory that one software prefetch covers, and the hardware prefetchers see one stream. Zero
// points, when any differs from 8, are a second, small stream [g][b][16].
// What the kernels see: plain pointers (an ISA file must not instantiate std:: inline functions:
// the linker could keep its AVX-512 copy for scalar callers).
struct C16View {
  int64_t k = 0, n = 0, block_size = 0, k_blocks = 0, groups = 0;
  int64_t record_bytes = 0;          // block_size / 8 * 64 code bytes + 64 scale bytes
  const uint8_t* stream = nullptr;   // [groups][k_blocks][record_bytes], 64-byte aligned
  const uint8_t* zp = nullptr;       // [groups][k_blocks][16]; nullptr: every zero point is 8
};

struct PackedC16 {
  int64_t k = 0, n = 0, block_size = 0, k_blocks = 0, groups = 0, record_bytes = 0;
  HugePageBuffer stream;
  std::vector<uint8_t> zp;  // empty when every zero point is 8
  // Bytes one product reads: the stream and the zero points.
  int64_t bytes() const { return static_cast<int64_t>(stream.size() + zp.size()); }
  C16View view() const {
    return {k, n, block_size, k_blocks, groups, record_bytes, stream.data(), zp.empty() ? nullptr : zp.data()};
  }
};
// Whether w can be repacked for the int8 kernels: 4 bits, whole-number zero points, a block
// whose int32 dot product stays exact in float (block_size <= 4096).
bool c16_packable(const NBitsWeights& w);
PackedC16 pack_c16(const NBitsWeights& w);
// Column n's code k, scale of block b and zero point of block b, read back from the packed form
// (for tests: the layout's definition in one place).
int c16_code(const PackedC16& p, int64_t n, int64_t k);
float c16_scale(const PackedC16& p, int64_t n, int64_t b);
int c16_zero_point(const PackedC16& p, int64_t n, int64_t b);

// A quantized for the int8 kernels: per row r and block b, V = round(a / step) with step =
// max|a| / 127 (limbs = 1) or max|a| / (127 * 2^16) (limbs = 3), 0 for an all-zero block. With
// 3 limbs V is written in signed base-256 digits h * 65536 + m * 256 + l (each an int8), one
// vpdpbusd per digit: A keeps 23 bits per block, so the product is as accurate as fp32
// accumulation (|a - step * V| <= step / 2 = max|a| * 2^-24 / 1.98) at three times the int8
// kernel's multiplies, still far fewer instructions per weight than converting codes to floats.
// asum = per digit, the sum of the block's digits; vsum = the sum of the block's V (rounded to
// float once), which the kernels multiply by the zero point.
struct A8View {
  int64_t m = 0, kp = 0, k_blocks = 0;
  int limbs = 1;
  const int8_t* a8 = nullptr;
  const float* step = nullptr;
  const float* asum = nullptr;
  const float* vsum = nullptr;
};
struct QuantizedA {
  int64_t m = 0, kp = 0, k_blocks = 0;
  int limbs = 1;
  std::vector<int8_t> a8;    // [m][limbs][kp], kp = k_blocks * block_size, zeros past K; digit 0 most significant
  std::vector<float> step;   // [m][k_blocks]
  std::vector<float> asum;   // [m][k_blocks][limbs]
  std::vector<float> vsum;   // [m][k_blocks]
  A8View view() const { return {m, kp, k_blocks, limbs, a8.data(), step.data(), asum.data(), vsum.data()}; }
};
// The scalar reference (double arithmetic, one block at a time) ...
void quantize_a_ref(const float* a, int64_t lda, int64_t m, int64_t k, int64_t block_size, int limbs, QuantizedA* out);
// ... and what the kernels use: the AVX-512 version where the CPU (and HONE_ISA) allow and
// block_size % 16 == 0, else the reference. Both give the same bytes (the same double
// arithmetic, vectorized); a serial scalar pass cost about a tenth of a 2-thread GEMV's time.
void quantize_a(const float* a, int64_t lda, int64_t m, int64_t k, int64_t block_size, int limbs, QuantizedA* out);
// The AVX-512 body: rows of out's arrays, sized and zeroed by the caller (plain pointers: ISA file).
void quantize_a_avx512(const float* a, int64_t lda, int64_t m, int64_t k, int64_t block_size, int limbs,
                       int64_t kp, int8_t* a8, float* step, float* asum, float* vsum);

// y[r * ldy + n] for r < m and columns of groups [g0, g1) (clipped to N).
using S8GemmFn = void (*)(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0, int64_t g1);

struct S8GemmVariant {
  const char* name;  // "q4_s8_gemm_c16_avx512vnni"
  int limbs;         // int8 digits per activation: 1 (accuracy_level 4) or 3 (fp32-level)
  bool (*available)();
  S8GemmFn fn;
};
const std::vector<S8GemmVariant>& s8_gemm_variants();
// The variant with `limbs` digits this CPU runs; nullptr when none (no VNNI, or HONE_ISA).
const S8GemmVariant* best_s8_gemm(int limbs);
// The whole product with variant v: quantizes A, splits the column groups over `threads`.
void s8_gemm(const S8GemmVariant& v, const PackedC16& w, const float* a, int64_t lda, int64_t m, float* y,
             int64_t ldy, int threads);

// The variants' functions (declared here for the tables; defined in their ISA's file).
#define HONE_NBITS_GEMM(name, isa, bits, prep)                                                              \
  void name(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy, int64_t n0, \
            int64_t n1);
#define HONE_NBITS_S8_GEMM(name, limbs, available) \
  void name(const C16View& w, const A8View& a, float* y, int64_t ldy, int64_t g0, int64_t g1);
#define HONE_NBITS_DEQUANT(name, isa, bits) \
  void name(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo);
#include "kernels/x86/nbits_kernels.inc"
#undef HONE_NBITS_GEMM
#undef HONE_NBITS_S8_GEMM
#undef HONE_NBITS_DEQUANT

}  // namespace hone::kernels::nbits
