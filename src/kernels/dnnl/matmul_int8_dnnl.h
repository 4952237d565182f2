// u8s8_matmul_dnnl: y[M, N] = epilogue((a[M, K] - a_zero_point) x w[K, N]) through oneDNN's int8
// matmul (brgemm with VNNI where the CPU has it), for a constant int8 weight matrix that is packed
// once per primitive layout and kept.
//
// The int32 accumulators are exact: a's zero point is given to oneDNN at run time, which subtracts
// zero_point * column sums of w in integers. Epilogues:
//   kF32:      y = float(acc) * scale[n] + bias[n] (+ residual[m, n])
//              (scale per run: a's scale times w's) — the same operations, in the same order, as
//              ONNX's MatMulInteger -> Cast -> Mul -> Add (-> Add) chain, so the result is that
//              chain's to the last bit (the tests check).
//   kS32:      y = acc                                 (MatMulInteger itself)
//   kU8 / kS8: y = saturate(round(float(acc + bias_s32[n]) * out_scale[n]) + y_zero_point)
//              with out_scale fixed at creation (QLinearMatMul, QDQ chains)
// and then the post-ops (ReLU ...), in oneDNN, with no pass over y of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "kernels/dnnl/dnnl_common.h"

namespace hone::kernels::onednn {

enum class Int8Dst { kF32, kS32, kU8, kS8 };

// Whether oneDNN's int8 kernels compute exact int32 sums on this CPU: only with VNNI (AVX-512
// VNNI, or AMX). Without it oneDNN multiplies u8 x s8 pairs with vpmaddubsw, whose int16 pair sums
// saturate (255 * 127 * 2 > 32767): results measured wrong with DNNL_MAX_CPU_ISA=AVX2 or
// AVX512_CORE, so on such CPUs every int8 op keeps its exact reference path. Reads oneDNN's
// effective ISA once (it honours DNNL_MAX_CPU_ISA).
bool int8_exact_isa();

struct MatMulInt8Desc {
  int64_t m = 0, n = 0, k = 0;
  Int8Dst dst = Int8Dst::kF32;
  bool a_zero_point = false;   // a's (per-tensor) zero point, given at each run
  bool per_column = false;     // kF32: scale has n values (else 1); kU8/kS8: out_scales has n values
  bool has_bias = false;       // kF32: float bias[n]; kU8/kS8: int32 bias[n]
  bool has_residual = false;   // kF32 only: float residual[m, n] added last (a transformer's skip connection)
  std::vector<float> out_scales;  // kU8/kS8 only: 1 or n values, fixed for the primitive
  int32_t y_zero_point = 0;       // kU8/kS8 only
  PostOps post_ops;
};

class MatMulU8S8Dnnl {
 public:
  MatMulU8S8Dnnl();
  ~MatMulU8S8Dnnl();
  MatMulU8S8Dnnl(const MatMulU8S8Dnnl&) = delete;
  MatMulU8S8Dnnl& operator=(const MatMulU8S8Dnnl&) = delete;

  // w: row-major [k, n], int8, alive as long as this object (a constant initializer).
  void set_weights(const int8_t* w) { w_ = w; }

  static bool supports(const MatMulInt8Desc& d);

  // a: row-major [m, k] uint8. scale: kF32 only, 1 or n values for this run. bias: float (kF32) or
  // int32 (kU8/kS8), n values, or null. Returns kUnsupported (nothing written) when oneDNN has no
  // implementation for d; the caller then takes its reference path.
  // residual: kF32 with has_residual only, row-major [m, n].
  Status run(const MatMulInt8Desc& d, const uint8_t* a, int32_t a_zero_point, const float* scale, const void* bias,
             void* y, const float* residual = nullptr);

  const std::string& impl_name() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  const int8_t* w_ = nullptr;
};

}  // namespace hone::kernels::onednn
