// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", 2022) for one weight-only MatMul, in ONNX Runtime's MatMulNBits block layout.
//
// Round to nearest quantizes every weight on its own. GPTQ quantizes the input channels (rows k of
// the [K, N] weight as MatMul reads it) one after the other and pushes each row's rounding error
// onto the rows not yet quantized, weighted by how the calibration inputs correlate: it minimises
// ||X W - X Q||^2 over the calibration activations X, whose second moment H = 2 X^T X is all it
// needs. The classic algorithm:
//   H += 1 % of mean(diag H) on the diagonal (damping: H is often near-singular);
//   U = upper Cholesky factor of H^-1;
//   for k in 0..K-1:  at the first row of each block, the block's scale / zero point per column n
//                     from the (already error-corrected) rows of that block, as rtn would;
//                     q = Q(W[k, :]);  e = (W[k, :] - deq(q)) / U[k, k];
//                     W[j, :] -= U[k, j] * e  for every j > k.
// Input channels that were always zero (H[k, k] == 0) are set to zero in W, as in the paper.
//
// Everything is single-threaded in double precision with a fixed order, so the codes depend only
// on the weight and H (never on the thread count).
#pragma once

#include <cstdint>
#include <vector>

#include "hone/status.hpp"
#include "quant/quant_math.h"

namespace hone::quant {

// Streams calibration rows into X^T X (double, K x K): the memory bound is K^2 * 8 bytes per
// MatMul input, whatever the number of samples.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t k = 0);
  int64_t k() const { return k_; }
  int64_t rows() const { return rows_; }
  // rows x K row-major activations.
  void add(const float* x, int64_t rows);
  // H = 2 X^T X / rows (the scale does not change GPTQ's result; it keeps numbers moderate).
  std::vector<double> hessian() const;

 private:
  int64_t k_ = 0;
  int64_t rows_ = 0;
  std::vector<double> xtx_;  // upper triangle filled, mirrored by hessian()
};

// Quantizes kn [K, N] (row-major, as MatMul reads the weight) blockwise along K with GPTQ.
// `hessian` is K x K (HessianAccumulator::hessian); `damp` the fraction of mean(diag) added.
// p receives [n][block] parameters and q the codes [k * N + n] (signed for signed qt, else
// unsigned with the block's zero point), exactly what quantize_blockwise_kn would return for rtn.
Status gptq_blockwise_kn(const std::vector<float>& kn, int64_t K, int64_t N, int64_t block, QType qt,
                         const std::vector<double>& hessian, double damp, QuantParams* p, std::vector<int32_t>* q);

}  // namespace hone::quant
