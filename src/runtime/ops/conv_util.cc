#include "runtime/ops/conv_util.h"

#include "core/checked_math.h"

namespace hone::rt {

namespace {

// Geometry values beyond this are rejected so that products of two of them cannot overflow.
constexpr int64_t kMaxWindowValue = int64_t{1} << 31;

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return "[" + s + "]";
}

}  // namespace

Result<AutoPad> read_auto_pad(const ir::Node& node) {
  const std::string s = node.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  return runtime_error("auto_pad '" + s + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
}

Result<std::vector<int64_t>> read_window_ints(const ir::Node& node, const char* name, size_t count, int64_t fallback,
                                              int64_t min_value) {
  if (!node.attr(name)) return std::vector<int64_t>(count, fallback);
  std::vector<int64_t> v = node.attr_ints(name);
  if (v.size() != count)
    return runtime_error(std::string(name) + " " + join(v) + " has " + std::to_string(v.size()) + " values, expected " +
                         std::to_string(count));
  for (int64_t x : v)
    if (x < min_value || x >= kMaxWindowValue)
      return runtime_error(std::string(name) + " " + join(v) + " has a value outside [" + std::to_string(min_value) +
                           ", 2^31)");
  return v;
}

Result<WindowGeometry> make_window_geometry(const ir::Node& node, const Shape& in, const std::vector<int64_t>& kernel,
                                            bool ceil_mode) {
  const size_t rank = in.size();
  WindowGeometry g;
  g.in = in;
  g.kernel = kernel;
  if (kernel.size() != rank)
    return runtime_error("kernel " + join(kernel) + " has " + std::to_string(kernel.size()) + " dims for " +
                         std::to_string(rank) + " spatial dims");
  std::optional<int64_t> taps = 1;  // the loops over a window's taps must not overflow
  for (int64_t k : kernel) {
    if (k < 1 || k >= kMaxWindowValue) return runtime_error("kernel " + join(kernel) + " has a value outside [1, 2^31)");
    if (taps) taps = checked_mul(*taps, k);
  }
  if (!taps) return runtime_error("kernel " + join(kernel) + " has too many taps");
  HONE_ASSIGN_OR_RETURN(g.strides, read_window_ints(node, "strides", rank, 1, 1));
  HONE_ASSIGN_OR_RETURN(g.dilations, read_window_ints(node, "dilations", rank, 1, 1));
  HONE_ASSIGN_OR_RETURN(AutoPad auto_pad, read_auto_pad(node));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> pads, read_window_ints(node, "pads", 2 * rank, 0, 0));
  g.pads_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank));
  g.pads_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(rank), pads.end());
  g.out.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t extent = (kernel[i] - 1) * g.dilations[i] + 1;  // span of one dilated window
    const int64_t s = g.strides[i];
    if (auto_pad == AutoPad::kSameUpper || auto_pad == AutoPad::kSameLower) {
      g.out[i] = (in[i] + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * s + extent - in[i]);
      g.pads_begin[i] = auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      g.pads_end[i] = total - g.pads_begin[i];
      continue;
    }
    if (auto_pad == AutoPad::kValid) g.pads_begin[i] = g.pads_end[i] = 0;
    const int64_t span = in[i] + g.pads_begin[i] + g.pads_end[i] - extent;
    if (span < 0)
      return runtime_error("the window " + join(kernel) + " (dilations " + join(g.dilations) +
                           ") is larger than the padded input " + join(in));
    g.out[i] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // With ceil_mode the last window must still start inside the input or the begin padding.
    if (ceil_mode && (g.out[i] - 1) * s >= in[i] + g.pads_begin[i]) --g.out[i];
  }
  return g;
}

bool is_half(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

Result<Tensor> half_to_float_tensor(const Tensor& t) {
  HONE_ASSIGN_OR_RETURN(Tensor f, Tensor::create(DType::kFloat32, t.shape()));
  const uint16_t* src = t.data<uint16_t>();
  float* dst = f.data<float>();
  const bool bf16 = t.dtype() == DType::kBFloat16;
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = bf16 ? bfloat16_to_float(src[i]) : half_to_float(src[i]);
  return f;
}

void float_to_half_tensor(const Tensor& f, Tensor* half) {
  const float* src = f.data<float>();
  uint16_t* dst = half->data<uint16_t>();
  const bool bf16 = half->dtype() == DType::kBFloat16;
  for (int64_t i = 0; i < f.numel(); ++i) dst[i] = bf16 ? float_to_bfloat16(src[i]) : float_to_half(src[i]);
}

kernels::ref::ConvParams forward_conv_params(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t groups,
                                             const WindowGeometry& geometry, int threads) {
  kernels::ref::ConvParams p;
  p.batch = batch;
  p.in_channels = in_channels;
  p.out_channels = out_channels;
  p.groups = groups;
  p.in_spatial = geometry.in;
  p.kernel = geometry.kernel;
  p.out_spatial = geometry.out;
  p.strides = geometry.strides;
  p.dilations = geometry.dilations;
  p.pads_begin = geometry.pads_begin;
  p.threads = threads;
  return p;
}

kernels::onednn::ConvDesc dnnl_conv_desc(const kernels::ref::ConvParams& p, const std::vector<int64_t>& pads_end) {
  kernels::onednn::ConvDesc d;
  d.batch = p.batch;
  d.in_channels = p.in_channels;
  d.out_channels = p.out_channels;
  d.groups = p.groups;
  d.in_spatial = p.in_spatial;
  d.kernel = p.kernel;
  d.out_spatial = p.out_spatial;
  d.strides = p.strides;
  d.dilations = p.dilations;
  d.pads_begin = p.pads_begin;
  d.pads_end = pads_end;
  return d;
}

}  // namespace hone::rt
