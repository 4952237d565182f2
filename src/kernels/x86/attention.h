// The fused attention kernels (hone.Attention, runtime/ops/attention.cc): for one (batch, head)
// and a block of query rows,
//   out[i, :] = softmax_j(scale * (q[i, :] . k[j, :]) + mask[i, j]) . v[j, :]
// reading Q, K and V where the projections left them ([B, S, H, D]: head h of row s is D
// contiguous floats at row stride H*D), so no head split/merge transposes are ever materialized.
// Names per docs/naming.md (f32_attention_ref / _avx2 / _avx512); the variants are listed once in
// attention.inc, which the dispatcher and the tests both read.
//
// Kernels are single-threaded over the rows they are given; the op splits (batch, head, row
// block) over OpenMP threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/x86/f32_kernels.h"  // Isa, isa_available

namespace hone::kernels::x86 {

// Where the operands are. Strides are in elements; the innermost stride (over d, or over the key
// j for the mask) is 1. A stride of 0 broadcasts (a mask shared by all heads or all rows).
struct AttentionArgs {
  const float* q = nullptr;  // [batch][head][q_len rows][head_dim]
  const float* k = nullptr;  // [batch][head][kv_len rows][head_dim]
  const float* v = nullptr;  // [batch][head][kv_len rows][v_head_dim]
  float* out = nullptr;      // [batch][head][q_len rows][v_head_dim]
  int64_t q_batch = 0, q_head = 0, q_row = 0;
  int64_t k_batch = 0, k_head = 0, k_row = 0;
  int64_t v_batch = 0, v_head = 0, v_row = 0;
  int64_t out_batch = 0, out_head = 0, out_row = 0;
  // Added to the scaled scores before the softmax (0 / -inf or -10000 for masked keys); null: none.
  const float* mask = nullptr;
  int64_t mask_batch = 0, mask_head = 0, mask_row = 0;
  int64_t q_len = 0, kv_len = 0, head_dim = 0, v_head_dim = 0;
  float scale = 1.0f;
};

// Computes out rows [row_begin, row_end) of head `head` of batch `batch`. `scratch` holds at
// least attention_scratch_floats(args) floats. A row whose
// every key is masked to -inf comes out NaN, as the unfused Softmax gives it.
using AttentionFn = void (*)(const AttentionArgs& args, int64_t batch, int64_t head, int64_t row_begin,
                             int64_t row_end, float* scratch);

// Scratch floats any variant needs (K transposed and padded, V padded when its width is not a
// whole number of register tiles, and the scores of one tile of rows), whatever the row block.
size_t attention_scratch_floats(const AttentionArgs& args);

struct AttentionVariant {
  const char* name;  // "f32_attention_avx512"
  Isa isa;
  AttentionFn fn;
};

// Every variant of attention.inc, scalar reference first.
const std::vector<AttentionVariant>& attention_variants();
// The widest variant this CPU runs (as capped by HONE_ISA), chosen once.
AttentionFn attention_best();
const char* attention_best_name();

// The variants (attention.inc).
#define HONE_ATTENTION_KERNEL(isa, fn)                                                                     \
  void fn(const AttentionArgs& args, int64_t batch, int64_t head, int64_t row_begin, int64_t row_end, \
          float* scratch);
#include "kernels/x86/attention.inc"
#undef HONE_ATTENTION_KERNEL

}  // namespace hone::kernels::x86
