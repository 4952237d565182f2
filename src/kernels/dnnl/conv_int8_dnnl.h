// u8s8_conv_dnnl: quantized 2-D convolution through oneDNN's int8 convolution, for a constant
// int8 weight tensor that is reordered once per primitive layout and kept.
//
//   acc[n, m, oh, ow] = sum (x - x_zero_point) * w      (exact int32; oneDNN subtracts x's zero
//                                                          point in integers, given at run time)
//   kS32:      y = acc                                                         (ConvInteger)
//   kU8 / kS8: y = saturate(round((acc + bias_s32[m]) * out_scale[m]) + y_zero_point)  (QLinearConv)
//   then post-ops (ReLU ...) inside the primitive.
//
// Activations are plain NCHW at the op boundary (hone's convention) unless the descriptor says
// `nhwc` (hone.NhwcQLinearConv, made by the layout pass). oneDNN 2.6 has only its reference int8
// convolution for NCHW (measured: "ref_int8:any"), so NCHW x and y pass through NHWC buffers with
// reorder primitives on each side — the JIT convolution (brgconv / jit_int8 with VNNI or AMX)
// more than pays for the two byte transposes; NHWC x and y go to the primitive as they are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "kernels/dnnl/conv_dnnl.h"
#include "kernels/dnnl/matmul_int8_dnnl.h"

namespace hone::kernels::onednn {

struct ConvInt8Desc {
  ConvDesc geometry;              // 2-D, not transposed; geometry.has_bias: int32 bias[M]
  Int8Dst dst = Int8Dst::kS32;    // kS32, kU8 or kS8
  bool x_zero_point = false;      // x's per-tensor zero point, given at each run
  std::vector<float> out_scales;  // kU8/kS8: 1 or M values, fixed for the primitive
  int32_t y_zero_point = 0;       // kU8/kS8
  bool nhwc = false;              // x and y NHWC at the boundary: no reorders
};

class ConvU8S8Dnnl {
 public:
  ConvU8S8Dnnl();
  ~ConvU8S8Dnnl();
  ConvU8S8Dnnl(const ConvU8S8Dnnl&) = delete;
  ConvU8S8Dnnl& operator=(const ConvU8S8Dnnl&) = delete;

  // w: [M, C/groups, kh, kw] int8, alive as long as this object (a constant initializer).
  void set_weights(const int8_t* w) { w_ = w; }

  static bool supports(const ConvInt8Desc& d);

  // Creates (or finds) the primitive for d and packs w; kUnsupported when oneDNN has none, so
  // the caller can take its reference path before allocating y. run() prepares too.
  Status prepare(const ConvInt8Desc& d);

  // x: uint8 NCHW (NHWC when d.nhwc); y: likewise, of d.dst's type; bias: int32[M] or null. kUnsupported (nothing
  // written) when oneDNN has no implementation: the caller takes its reference path.
  Status run(const ConvInt8Desc& d, const uint8_t* x, int32_t x_zero_point, const int32_t* bias, void* y);

  // run() with the descriptor of the last successful prepare(), not compared again: for a caller
  // that knows its operands' shapes have not changed since. Comparing the descriptor (its
  // geometry and per-channel scales) each run was a measurable part of a small conv's time.
  // A runtime error when nothing was prepared.
  Status run_prepared(const uint8_t* x, int32_t x_zero_point, const int32_t* bias, void* y);

  const std::string& impl_name() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  const int8_t* w_ = nullptr;
};

}  // namespace hone::kernels::onednn
