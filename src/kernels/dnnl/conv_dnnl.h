// f32_conv_dnnl: fp32 convolution and transposed convolution (ONNX Conv / ConvTranspose) through
// oneDNN, with 1, 2 or 3 spatial dims, groups, strides, dilations, asymmetric pads, bias and
// fused post-ops. Activations are plain NC<spatial> (ONNX's layout) at the op boundary, or plain
// N<spatial>C (channels_last, hone.NhwcConv), where oneDNN 2.6 picks its brgemm convolutions
// (1.4-1.8x faster than the gemm-based ones it runs on NCHW); weights are reordered once into the
// layout the primitive prefers and kept.
//
// 3x3 stride-1 convolutions may run as Winograd instead (see winograd_shape): oneDNN 2.6 has it
// only on its blocked layout (nChw16c), so the kernel reorders x into a blocked scratch buffer,
// runs the Winograd primitive there and reorders the result back.
//
// Lifecycle: one ConvF32Dnnl per node. The first run of each shape creates (or takes from the
// process-wide cache) the primitive and packs the weights for it; later runs only execute.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "kernels/dnnl/dnnl_common.h"

namespace hone::kernels::onednn {

struct ConvDesc {
  // Conv: x[N, C, in...], w[M, C/groups, k...], y[N, M, out...].
  // transposed (ConvTranspose): x[N, C, in...], w[C, M/groups, k...], y[N, M, out...].
  bool transposed = false;
  int64_t batch = 1;
  int64_t in_channels = 0;   // C, all groups
  int64_t out_channels = 0;  // M, all groups
  int64_t groups = 1;
  // One value per spatial dim; dilations count as in ONNX (1 = dense). For transposed, pads are
  // what is cropped from the full result's begin and end (either may be negative: output_padding
  // or an output_shape larger than the full result adds bias-only positions at the end).
  std::vector<int64_t> in_spatial, kernel, out_spatial, strides, dilations, pads_begin, pads_end;
  bool has_bias = false;  // b[M]
  // x[N, in..., C] and y[N, out..., M] (NHWC and its 1-D/3-D kin) instead of NC<spatial>.
  bool channels_last = false;
  // A tensor r of y's shape and layout added after the bias, before post_ops (a fused residual
  // Add): kBinaryAdd reads r through a oneDNN binary post-op; kSumIntoY expects the caller to
  // have copied r into y and adds it with a sum post-op.
  enum class Residual { kNone, kBinaryAdd, kSumIntoY };
  Residual residual = Residual::kNone;
  PostOps post_ops;       // applied after the bias; a kSum post-op adds what y holds on entry
  // Whether a shape that winograd_shape() accepts may run as Winograd (when HONE_WINOGRAD is not
  // "0"); false forces oneDNN's direct algorithm (tests and benchmarks compare the two).
  bool allow_winograd = true;

  // Every field is part of the primitive's identity: equal descriptors may share a primitive.
  bool operator==(const ConvDesc&) const = default;
};

// False when the environment variable HONE_WINOGRAD is "0" (read once, at the first call): every
// convolution then takes oneDNN's direct algorithm, as before Winograd was added.
bool winograd_enabled();

// The shapes hone runs as Winograd when oneDNN creates a Winograd primitive for them: forward
// 2-D, 3x3, stride 1, dilation 1, one group, at least 16 input and output channels, no kSum
// post-op. Why (measured with the reorders in and out, 1 thread, fastest of 40 runs on a loaded
// 2-core AMD EPYC, oneDNN 2.6 on AVX-512): on every ResNet 3x3 shape (C = M = 64..512 at
// 56x56..7x7, also C != M and 112x112) Winograd took 0.3-0.9x the time of the direct brgconv on
// NHWC, 0.65-0.93x on 512 channels at 7x7, the weakest; so all of them use it, although its
// weights are 1.8x (F(2x2,3x3)) to 4x (F(4x4,3x3)) the plain size. With few channels the blocked
// layout's padding to 16 makes it slower (3 -> 64 at 224x224: 3.3x, 8 -> 8 at 56x56: 1.5x the
// time; 24 -> 24: 0.94x, 40 -> 40: 0.67x).
bool winograd_shape(const ConvDesc& d);

class ConvF32Dnnl {
 public:
  ConvF32Dnnl();
  ~ConvF32Dnnl();
  ConvF32Dnnl(const ConvF32Dnnl&) = delete;
  ConvF32Dnnl& operator=(const ConvF32Dnnl&) = delete;

  // Whether oneDNN can take `d` at all (rank, sizes); a shape it accepts can still be refused
  // by run() when no implementation exists.
  static bool supports(const ConvDesc& d);

  // Creates (or finds) the primitive for d and packs w for it; kUnsupported when oneDNN has no
  // implementation for d, so the caller can take its reference path before allocating y.
  // run() prepares too: calling this first is optional.
  Status prepare(const ConvDesc& d, const float* w);

  // y = conv(x, w) + b, then post-ops. `w` is packed on the first run of each primitive layout
  // and reused afterwards: it must hold the same values on every call. b may be null unless
  // d.has_bias. Returns kUnsupported (nothing written) when oneDNN has no implementation for d,
  // so the caller can take its reference path.
  Status run(const ConvDesc& d, const float* x, const float* w, const float* b, float* y);
  // As above, with the residual r that d.residual == kBinaryAdd reads (ignored otherwise).
  Status run(const ConvDesc& d, const float* x, const float* w, const float* b, float* y, const float* r);

  // oneDNN's implementation for the last shape run ("brgconv:avx512_core", ...); "" before.
  const std::string& impl_name() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace hone::kernels::onednn
