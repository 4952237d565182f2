// Tensor permutations (Transpose) on oneDNN's reorder primitive. The layout pass puts a
// Transpose NCHW -> NHWC before the first convolution of a CNN and one back after the last; with
// a large channel count or a 3-channel image our tiled loop (src/runtime/ops/transpose.cc) moved
// those bytes 1.5-2x slower than oneDNN's JIT reorder (bench/kernels/x86_kernels_bench.cc,
// BM_Transpose_*), which is what a user calling oneDNN directly gets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hone/status.hpp"

namespace hone::kernels::onednn {

// dst = src (of shape `in_shape`, row-major, elements of `elem_bytes` bytes) with its dims
// permuted: output dim i is input dim perm[i] (perm must be a permutation; the caller checks). For float32 (elem_bytes 4) and 8-bit integer
// (elem_bytes 1) tensors only: a reorder may compute on values (an f32 -> f32 reorder can flush
// denormals), so other 4-byte types read as floats would not survive it.
// Returns kUnsupported (nothing written) when oneDNN is switched off, the element size or rank is
// not covered, or oneDNN has no implementation; the caller then uses its own loop.
Status permute_dnnl(const void* src, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& perm,
                        size_t elem_bytes, void* dst);

}  // namespace hone::kernels::onednn
