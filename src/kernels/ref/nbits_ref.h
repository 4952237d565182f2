// Blockwise n-bit weights (ONNX Runtime's com.microsoft.MatMulNBits layout) and their scalar
// reference kernels: the oracle that the fast x86 kernels (kernels/x86/nbits_kernels.h) are
// tested against, and the path for the cases those do not serve (2-bit, block size 16, float
// zero points that the fast kernels cannot take).
//
// Layout (exactly ORT's contrib-op spec; docs/nbits.md):
//   B       uint8 [N][k_blocks][blob_size], k_blocks = ceil(K / block_size),
//           blob_size = block_size * bits / 8. Codes are packed low bits first: for 4 bits,
//           element 2i of a block is the low nibble of byte i; for 2 bits element 4i+j sits at
//           bits 2j..2j+1 of byte i. Padding codes past K (last block) are ignored.
//   scales  float [N][k_blocks]
//   zero point of block (n, b): zp_u8[n * k_blocks + b] or zp_f32[n * k_blocks + b] when given
//           (the op unpacks ORT's packed uint8 zero points to one byte per block), else
//           2^(bits-1) (8 for 4 bits, 128 for 8 bits).
//   W[k][n] = (code(n, k) - zp(n, k / block_size)) * scale(n, k / block_size)
//   Y[m][n] = sum_k A[m][k] * W[k][n]
#pragma once

#include <cstdint>

namespace hone::kernels::nbits {

// A view of one weight matrix; nothing is owned. At most one of zp_u8 / zp_f32 is set.
struct NBitsWeights {
  int bits = 4;
  int64_t k = 0, n = 0;
  int64_t block_size = 32;
  int64_t k_blocks = 0;   // ceil(k / block_size)
  int64_t blob_size = 0;  // block_size * bits / 8
  const uint8_t* b = nullptr;
  const float* scales = nullptr;
  const uint8_t* zp_u8 = nullptr;
  const float* zp_f32 = nullptr;
};

inline int default_zero_point(int bits) { return 1 << (bits - 1); }

// Code of element i (0 <= i < block_size) of one block.
inline int code_at(const uint8_t* blob, int bits, int64_t i) {
  switch (bits) {
    case 8: return blob[i];
    case 4: return (blob[i >> 1] >> ((i & 1) * 4)) & 0x0F;
    case 2: return (blob[i >> 2] >> ((i & 3) * 2)) & 0x03;
    default: return 0;
  }
}

// Zero point of block (n, b) as a float.
inline float zero_point_at(const NBitsWeights& w, int64_t n, int64_t b) {
  const int64_t i = n * w.k_blocks + b;
  if (w.zp_f32) return w.zp_f32[i];
  if (w.zp_u8) return static_cast<float>(w.zp_u8[i]);
  return static_cast<float>(default_zero_point(w.bits));
}

// out[j * ldo + k] = W[k][n0 + j] for k < K, n0 <= n0 + j < n1 (column n of W as a row: [N, K]).
void dequantize_ref(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo);

// y[r * ldy + n] = sum_k a[r * lda + k] * W[k][n] for r < m and n0 <= n < n1. Single-threaded
// over the range given; sums in double, so that it is the more accurate side of every comparison.
void qn_f32_gemm_ref(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy, int64_t n0,
                     int64_t n1);

}  // namespace hone::kernels::nbits
