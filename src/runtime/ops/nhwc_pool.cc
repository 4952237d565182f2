// hone.NhwcMaxPool, hone.NhwcAveragePool, hone.NhwcGlobalAveragePool: the pooling ops the
// layout_nhwc pass puts in place of MaxPool / AveragePool / GlobalAveragePool between NHWC
// convolutions. X[N, in..., C] -> Y[N, out..., C] (global: Y[N, 1..., C]); attributes as the ONNX
// ops (MaxPool without its Indices output). fp32; NhwcMaxPool also uint8 and int8 (the byte
// MaxPool that fuse_qdq leaves between int8 convolutions; a max of bytes needs no requantizing).
// Internal to a Session.
//
// Channels last makes pooling a vector op: every window tap is a contiguous run of C floats, so
// the inner loop over channels vectorizes (the NCHW kernels in pool.cc walk one scalar tap at a
// time). The NCHW ops of pool.cc are the reference these are tested against.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "kernels/ref/conv_ref.h"
#include "runtime/op_registry.h"
#include "runtime/ops/conv_util.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

int64_t product(const std::vector<int64_t>& v) {
  int64_t r = 1;
  for (int64_t x : v) r *= x;
  return r;
}

Status check_input(const KernelContext& ctx, bool bytes_too = false) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input X is required");
  const DType t = x->dtype();
  if (t != DType::kFloat32 && !(bytes_too && (t == DType::kUInt8 || t == DType::kInt8)))
    return ctx.error(bytes_too ? "X must be float32, uint8 or int8" : "X must be float32");
  if (x->rank() < 3) return ctx.error("X must have rank >= 3 (N, spatial..., C), got " + shape_to_string(x->shape()));
  return Status::Ok();
}

// Windowed max or mean over channels-last X of element type T (mean: float only).
template <bool kMax, class T>
Status window_pool(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  if (kMax && ctx.wants_output(1)) return ctx.error("the Indices output is not supported in channels-last pooling");
  const Tensor& x = *ctx.input(0);
  const size_t nd = static_cast<size_t>(x.rank() - 2);
  if (!node.attr("kernel_shape")) return ctx.error("kernel_shape is required");
  const std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
  if (kernel.size() != nd)
    return ctx.error("kernel_shape has " + std::to_string(kernel.size()) + " values for " + std::to_string(nd) +
                     " spatial dims");
  const int64_t ceil_mode = node.attr_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) return ctx.error("ceil_mode must be 0 or 1");
  const int64_t count_include_pad = node.attr_int("count_include_pad", 0);
  if (count_include_pad != 0 && count_include_pad != 1) return ctx.error("count_include_pad must be 0 or 1");
  const Shape in_spatial(x.shape().begin() + 1, x.shape().end() - 1);
  auto gr = make_window_geometry(node, in_spatial, kernel, ceil_mode == 1);
  if (!gr.ok()) return ctx.error(gr.status().message());
  const WindowGeometry& g = *gr;
  const int64_t batch = x.dim(0), channels = x.dim(x.rank() - 1);
  Shape y_shape{batch};
  y_shape.insert(y_shape.end(), g.out.begin(), g.out.end());
  y_shape.push_back(channels);
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, x.dtype(), y_shape));

  namespace ref = hone::kernels::ref;
  const int64_t out_size = product(g.out), kernel_size = product(g.kernel), in_size = product(g.in);
  const std::vector<int64_t> origin = ref::window_coordinate_table(g.out, g.strides, &g.pads_begin);
  const std::vector<int64_t> tap = ref::window_coordinate_table(g.kernel, g.dilations, nullptr);
  std::vector<int64_t> in_strides(nd, 1);
  for (size_t d = nd; d-- > 1;) in_strides[d - 1] = in_strides[d] * g.in[d];
  const T* xd = x.data<T>();
  T* yd = y->data<T>();
  const int64_t total = batch * out_size;
  const int threads = ctx.threads() > 0 ? ctx.threads() : 1;
#pragma omp parallel for num_threads(threads) if (total * channels > (int64_t{1} << 14)) schedule(static)
  for (int64_t e = 0; e < total; ++e) {
    const int64_t n = e / out_size;
    const size_t pos = static_cast<size_t>(e % out_size);
    T* out = yd + e * channels;
    const T* in = xd + n * in_size * channels;
    // An all-padding window gives the type's lowest value, as pool.cc's MaxPool does.
    std::fill(out, out + channels, kMax ? std::numeric_limits<T>::lowest() : T{0});
    int64_t valid = 0, in_padded_region = 0;
    for (int64_t k = 0; k < kernel_size; ++k) {
      int64_t offset = 0;
      bool inside = true, inside_padded = true;
      for (size_t d = 0; d < nd; ++d) {
        const int64_t coord = origin[d * static_cast<size_t>(out_size) + pos] +
                              tap[d * static_cast<size_t>(kernel_size) + static_cast<size_t>(k)];
        inside = inside && coord >= 0 && coord < g.in[d];
        inside_padded = inside_padded && coord >= -g.pads_begin[d] && coord < g.in[d] + g.pads_end[d];
        offset += coord * in_strides[d];
      }
      in_padded_region += inside_padded;
      if (!inside) continue;
      ++valid;
      const T* row = in + offset * channels;
      if constexpr (kMax) {
        for (int64_t c = 0; c < channels; ++c) out[c] = std::max(out[c], row[c]);
      } else {
        for (int64_t c = 0; c < channels; ++c) out[c] += row[c];
      }
    }
    if constexpr (!kMax) {
      static_assert(std::is_same_v<T, float>, "average pooling is float only");
      const int64_t count = count_include_pad ? in_padded_region : valid;
      const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
      for (int64_t c = 0; c < channels; ++c) out[c] = count > 0 ? out[c] * scale : 0.0f;
    }
  }
  return Status::Ok();
}

Status max_pool(KernelContext& ctx) {
  HONE_RETURN_IF_ERROR(check_input(ctx, /*bytes_too=*/true));
  switch (ctx.input(0)->dtype()) {
    case DType::kUInt8:
      return window_pool<true, uint8_t>(ctx);
    case DType::kInt8:
      return window_pool<true, int8_t>(ctx);
    default:
      return window_pool<true, float>(ctx);
  }
}

Status average_pool(KernelContext& ctx) {
  HONE_RETURN_IF_ERROR(check_input(ctx));
  return window_pool<false, float>(ctx);
}

// Mean over all spatial positions of each (n, c): Y[N, 1..., C].
Status global_average_pool(KernelContext& ctx) {
  HONE_RETURN_IF_ERROR(check_input(ctx));
  const Tensor& x = *ctx.input(0);
  const int64_t batch = x.dim(0), channels = x.dim(x.rank() - 1);
  Shape y_shape(x.shape().size(), 1);
  y_shape.front() = batch;
  y_shape.back() = channels;
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, y_shape));
  const int64_t plane = batch * channels == 0 ? 0 : x.numel() / (batch * channels);
  const float* xd = x.data<float>();
  float* yd = y->data<float>();
  for (int64_t n = 0; n < batch; ++n) {
    // double sums, as pool.cc, so that large planes stay accurate; vectorized across channels.
    std::vector<double> sum(static_cast<size_t>(channels), 0.0);
    const float* in = xd + n * plane * channels;
    for (int64_t i = 0; i < plane; ++i)
      for (int64_t c = 0; c < channels; ++c) sum[static_cast<size_t>(c)] += static_cast<double>(in[i * channels + c]);
    for (int64_t c = 0; c < channels; ++c)
      yd[n * channels + c] = plane > 0 ? static_cast<float>(sum[static_cast<size_t>(c)] / static_cast<double>(plane)) : 0.0f;
  }
  return Status::Ok();
}

}  // namespace

HONE_REGISTER_FN("hone", NhwcMaxPool, 1, kMaxOpset, max_pool);
HONE_REGISTER_FN("hone", NhwcAveragePool, 1, kMaxOpset, average_pool);
HONE_REGISTER_FN("hone", NhwcGlobalAveragePool, 1, kMaxOpset, global_average_pool);

}  // namespace hone::rt
