// f32_matmul_dnnl: fp32 (batched) matrix products through oneDNN's matmul primitive, serving
// ONNX MatMul (numpy broadcasting of batch dims) and Gemm (transA/transB, alpha, bias).
//
//   y[batch..., M, N] = alpha * op(a)[batch..., M, K] x op(b)[batch..., K, N] (+ bias[N]), then post-ops
//
// a, b and y are dense row-major; op() transposes the last two dims of a stored-transposed
// operand (Gemm's transA/transB). Batch dims of a and b have the same count and broadcast (a dim
// of 1 against any size). When b is constant it is reordered once per primitive layout into the
// layout oneDNN prefers and kept; otherwise it is read in place on every run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "kernels/dnnl/dnnl_common.h"

namespace hone::kernels::onednn {

struct MatMulDesc {
  std::vector<int64_t> batch_a, batch_b;  // same length (pad with leading 1s); may be empty
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;  // a stored as [batch..., K, M]
  bool trans_b = false;  // b stored as [batch..., N, K]
  float alpha = 1.0f;
  bool has_bias = false;    // bias[N], added to every row after alpha
  bool b_constant = false;  // b holds the same values on every run: pack it once
  PostOps post_ops;         // a kSum post-op adds what y holds on entry

  // Every field is part of the primitive's identity: equal descriptors may share a primitive.
  bool operator==(const MatMulDesc&) const = default;
};

class MatMulF32Dnnl {
 public:
  MatMulF32Dnnl();
  ~MatMulF32Dnnl();
  MatMulF32Dnnl(const MatMulF32Dnnl&) = delete;
  MatMulF32Dnnl& operator=(const MatMulF32Dnnl&) = delete;

  static bool supports(const MatMulDesc& d);

  // Creates (or finds) the primitive for d and, when b is constant, packs it; kUnsupported when
  // oneDNN has no implementation for d. run() prepares too: calling this first is optional.
  Status prepare(const MatMulDesc& d, const float* b);

  // Returns kUnsupported (nothing written) when oneDNN has no implementation for d.
  Status run(const MatMulDesc& d, const float* a, const float* b, const float* bias, float* y);

  const std::string& impl_name() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace hone::kernels::onednn
