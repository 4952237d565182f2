// Shared by the conv, pool, norm and quantized-conv op files: the sliding-window geometry that
// Conv, ConvInteger, QLinearConv and the pooling ops read from the same attributes
// (auto_pad, strides, dilations, pads, kernel_shape, ceil_mode), and half-precision staging so
// that float16/bfloat16 tensors can run through the float implementations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/dnnl/conv_dnnl.h"
#include "kernels/ref/conv_ref.h"
#include "runtime/kernel.h"

namespace hone::rt {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

Result<AutoPad> read_auto_pad(const ir::Node& node);

// Window geometry along the spatial dims of a forward (non-transposed) window op.
struct WindowGeometry {
  std::vector<int64_t> in, kernel, strides, dilations, pads_begin, pads_end, out;
  size_t rank() const { return in.size(); }
};

// Reads strides, dilations and pads (or auto_pad) for spatial input dims `in` and the window
// `kernel`, validates them, and computes the output size. ceil_mode rounds the output size up as
// pooling allows (a last window that would start in the end padding is dropped, as PyTorch does).
Result<WindowGeometry> make_window_geometry(const ir::Node& node, const Shape& in, const std::vector<int64_t>& kernel,
                                            bool ceil_mode);

// The reference conv's parameters for a forward convolution over `geometry` (from
// make_window_geometry; in channel-first terms, which the channels-last ops share).
kernels::ref::ConvParams forward_conv_params(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t groups,
                                             const WindowGeometry& geometry, int threads);

// oneDNN's descriptor of the convolution `p` describes (pads_end: what ConvParams leaves to the
// reference kernel to derive). Layout, bias, residual and post-ops are the caller's to set.
kernels::onednn::ConvDesc dnnl_conv_desc(const kernels::ref::ConvParams& p, const std::vector<int64_t>& pads_end);

// A geometry attribute (kernel_shape, strides, ...) of `count` values: `fallback` when the
// attribute is absent, an error when it has another length or a value outside [min_value, 2^31).
Result<std::vector<int64_t>> read_window_ints(const ir::Node& node, const char* name, size_t count, int64_t fallback,
                                              int64_t min_value);

// Float copies of float16/bfloat16 tensors and back, so the float code serves the half types.
bool is_half(DType t);
Result<Tensor> half_to_float_tensor(const Tensor& t);
void float_to_half_tensor(const Tensor& f, Tensor* half);

}  // namespace hone::rt
