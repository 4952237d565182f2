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

// Max over 2-D windows of channels-last X (y already shaped): each output pixel clips its window
// to the image once (a range of rows and one of columns) instead of testing every tap, so the
// taps are plain runs of C elements. ResNet-50's int8 3x3 stride-2 max pool over 112x112x64 bytes
// took 0.14 ms through the general loop below, which computes each tap's coordinates dimension by
// dimension from tables.
template <class T>
void max_pool_2d(const WindowGeometry& g, const T* xd, int64_t batch, int64_t channels, T* yd, int threads) {
  const int64_t in_h = g.in[0], in_w = g.in[1], out_h = g.out[0], out_w = g.out[1];
  const int64_t k_h = g.kernel[0], k_w = g.kernel[1], s_h = g.strides[0], s_w = g.strides[1];
  const int64_t d_h = g.dilations[0], d_w = g.dilations[1], p_h = g.pads_begin[0], p_w = g.pads_begin[1];
  // The taps t with 0 <= origin + t * dilation < size: [*first, *last).
  auto clip = [](int64_t origin, int64_t dilation, int64_t taps, int64_t size, int64_t* first, int64_t* last) {
    *first = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
    *last = origin >= size ? 0 : std::min(taps, (size - origin + dilation - 1) / dilation);
  };
  const int64_t rows = batch * out_h;
#pragma omp parallel for num_threads(threads) if (rows * out_w * channels > (int64_t{1} << 14)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / out_h, oh = r % out_h;
    const int64_t C = channels;  // a private copy: see window_pool
    const int64_t ih0 = oh * s_h - p_h;
    int64_t kh0, kh1;
    clip(ih0, d_h, k_h, in_h, &kh0, &kh1);
    const T* image = xd + n * in_h * in_w * C;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      T* out = yd + (r * out_w + ow) * C;
      std::fill(out, out + C, std::numeric_limits<T>::lowest());  // an all-padding window, as MaxPool
      const int64_t iw0 = ow * s_w - p_w;
      int64_t kw0, kw1;
      clip(iw0, d_w, k_w, in_w, &kw0, &kw1);
      for (int64_t kh = kh0; kh < kh1; ++kh) {
        const T* line = image + (ih0 + kh * d_h) * in_w * C;
        for (int64_t kw = kw0; kw < kw1; ++kw) {
          const T* tap = line + (iw0 + kw * d_w) * C;
          for (int64_t c = 0; c < C; ++c) out[c] = std::max(out[c], tap[c]);
        }
      }
    }
  }
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

  const int threads = ctx.threads() > 0 ? ctx.threads() : 1;
  if constexpr (kMax) {
    if (nd == 2) {
      max_pool_2d<T>(g, x.data<T>(), batch, channels, y->data<T>(), threads);
      return Status::Ok();
    }
  }
  namespace ref = hone::kernels::ref;
  const int64_t out_size = product(g.out), kernel_size = product(g.kernel), in_size = product(g.in);
  const std::vector<int64_t> origin = ref::window_coordinate_table(g.out, g.strides, &g.pads_begin);
  const std::vector<int64_t> tap = ref::window_coordinate_table(g.kernel, g.dilations, nullptr);
  std::vector<int64_t> in_strides(nd, 1);
  for (size_t d = nd; d-- > 1;) in_strides[d - 1] = in_strides[d] * g.in[d];
  const T* xd = x.data<T>();
  T* yd = y->data<T>();
  const int64_t total = batch * out_size;
#pragma omp parallel for num_threads(threads) if (total * channels > (int64_t{1} << 14)) schedule(static)
  for (int64_t e = 0; e < total; ++e) {
    const int64_t n = e / out_size;
    const size_t pos = static_cast<size_t>(e % out_size);
    // A private copy of the channel count: inside OpenMP's outlined body `channels` is read
    // through a pointer, and a byte store (T = uint8/int8) may alias it, so the loops over it
    // would not vectorize (4x slower than the float loop, measured).
    const int64_t C = channels;
    T* out = yd + e * C;
    const T* in = xd + n * in_size * C;
    // An all-padding window gives the type's lowest value, as pool.cc's MaxPool does.
    std::fill(out, out + C, kMax ? std::numeric_limits<T>::lowest() : T{0});
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
      const T* row = in + offset * C;
      if constexpr (kMax) {
        for (int64_t c = 0; c < C; ++c) out[c] = std::max(out[c], row[c]);
      } else {
        for (int64_t c = 0; c < C; ++c) out[c] += row[c];
      }
    }
    if constexpr (!kMax) {
      static_assert(std::is_same_v<T, float>, "average pooling is float only");
      const int64_t count = count_include_pad ? in_padded_region : valid;
      const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
      for (int64_t c = 0; c < C; ++c) out[c] = count > 0 ? out[c] * scale : 0.0f;
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

// sums[c - c0] = sum over the `plane` rows of x[i * channels + c], for c0 <= c < c1 (at most
// kChannelBlock channels), in float: rows are added per block of 64, block sums per group of 64
// blocks, and group sums at the end, so no partial sum takes more than ~64 additions and the
// error stays near that of 3 x 64 float adds at any plane size (over 512x512 positions of
// 0.1 + noise: ~2e-7 relative, where a sequential float sum is off by ~4e-5; tested). The loops
// over channels are contiguous and vectorize; the old double sums converted every element.
constexpr int64_t kChannelBlock = 256;
void channel_sums(const float* x, int64_t plane, int64_t channels, int64_t c0, int64_t c1, float* sums) {
  constexpr int64_t kRowBlock = 64, kGroupRows = 64 * kRowBlock;
  const int64_t width = c1 - c0;
  float block[kChannelBlock], group[kChannelBlock];
  for (int64_t c = 0; c < width; ++c) sums[c] = 0.0f;
  for (int64_t g0 = 0; g0 < plane; g0 += kGroupRows) {
    const int64_t g1 = std::min(plane, g0 + kGroupRows);
    for (int64_t c = 0; c < width; ++c) group[c] = 0.0f;
    for (int64_t r0 = g0; r0 < g1; r0 += kRowBlock) {
      const int64_t r1 = std::min(g1, r0 + kRowBlock);
      for (int64_t c = 0; c < width; ++c) block[c] = 0.0f;
      for (int64_t r = r0; r < r1; ++r) {
        const float* row = x + r * channels + c0;
        for (int64_t c = 0; c < width; ++c) block[c] += row[c];
      }
      for (int64_t c = 0; c < width; ++c) group[c] += block[c];
    }
    for (int64_t c = 0; c < width; ++c) sums[c] += group[c];
  }
}

// Mean over all spatial positions of each (n, c): Y[N, 1..., C]. One pass over X; blocks of
// channels are split over threads when there is enough to read.
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
  const int64_t blocks_per_image = (channels + kChannelBlock - 1) / kChannelBlock;
  const int64_t tasks = batch * blocks_per_image;
  const float scale = plane > 0 ? 1.0f / static_cast<float>(plane) : 0.0f;
  // Below ~1 MiB of X a second thread costs more to wake than it saves.
  const int threads = x.numel() >= (int64_t{1} << 18) && ctx.threads() > 1 ? ctx.threads() : 1;
#pragma omp parallel for num_threads(threads) if (threads > 1 && tasks > 1) schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / blocks_per_image, c0 = t % blocks_per_image * kChannelBlock;
    const int64_t c1 = std::min(channels, c0 + kChannelBlock);
    float* out = yd + n * channels + c0;
    channel_sums(xd + n * plane * channels, plane, channels, c0, c1, out);
    for (int64_t c = 0; c < c1 - c0; ++c) out[c] *= scale;
  }
  return Status::Ok();
}

}  // namespace

HONE_REGISTER_FN("hone", NhwcMaxPool, 1, kMaxOpset, max_pool);
HONE_REGISTER_FN("hone", NhwcAveragePool, 1, kMaxOpset, average_pool);
HONE_REGISTER_FN("hone", NhwcGlobalAveragePool, 1, kMaxOpset, global_average_pool);

}  // namespace hone::rt
