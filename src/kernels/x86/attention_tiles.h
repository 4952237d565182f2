// Layout constants shared by the fused-attention dispatcher (scratch size) and its SIMD variants.
#pragma once

#include <cstdint>

namespace hone::kernels::x86 {

// Keys (columns of the transposed K and of the scores) and V columns are padded to a multiple of
// this many floats: a whole number of register tiles for both AVX2 (16) and AVX-512 (64), so the
// inner loops never take a tail.
inline constexpr int64_t kAttentionPad = 64;

// The most query rows a variant's register tile holds (AVX-512 6, AVX2 4): the scores buffer
// holds this many rows.
inline constexpr int kAttentionTileRows = 6;

// The op splits query rows into blocks of a multiple of this: whole tiles for both variants.
inline constexpr int64_t kAttentionRowBlock = 12;

inline int64_t attention_padded(int64_t n) { return (n + kAttentionPad - 1) / kAttentionPad * kAttentionPad; }

}  // namespace hone::kernels::x86
