// AveragePool, MaxPool (with the optional Indices output), GlobalAveragePool, GlobalMaxPool over
// any number of spatial dims. float16/bfloat16 run through float copies.
#include <algorithm>
#include <limits>

#include "kernels/ref/conv_ref.h"
#include "runtime/op_registry.h"
#include "runtime/ops/conv_util.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

// Output elements below which threading costs more than it saves.
constexpr int64_t kParallelElements = int64_t{1} << 14;

int64_t product(const std::vector<int64_t>& v) {
  int64_t r = 1;
  for (int64_t x : v) r *= x;
  return r;
}

// The window geometry of a pooling node over X's spatial dims; kernel_shape is required.
Result<WindowGeometry> pool_geometry(const KernelContext& ctx, const Tensor& x) {
  if (x.rank() < 3) return ctx.error("X must have rank >= 3 (N, C, spatial...), got " + shape_to_string(x.shape()));
  const ir::Node& node = ctx.node();
  const size_t nd = static_cast<size_t>(x.rank() - 2);
  if (!node.attr("kernel_shape")) return ctx.error("kernel_shape is required");
  const std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
  const int64_t ceil_mode = node.attr_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) return ctx.error("ceil_mode must be 0 or 1");
  const Shape in_spatial(x.shape().begin() + 2, x.shape().end());
  if (kernel.size() != nd)
    return ctx.error("kernel_shape has " + std::to_string(kernel.size()) + " values for " + std::to_string(nd) +
                     " spatial dims");
  auto g = make_window_geometry(node, in_spatial, kernel, ceil_mode == 1);
  if (!g.ok()) return ctx.error(g.status().message());
  return g;
}

// N * C, which may overflow when a spatial dim is 0 and the tensor empty.
Result<int64_t> plane_count(const KernelContext& ctx, const Tensor& x) {
  auto planes = checked_mul(x.dim(0), x.dim(1));
  if (!planes) return ctx.error("X " + shape_to_string(x.shape()) + " has too many (N, C) planes");
  return *planes;
}

Shape pooled_shape(const Tensor& x, const std::vector<int64_t>& out_spatial) {
  Shape s{x.dim(0), x.dim(1)};
  s.insert(s.end(), out_spatial.begin(), out_spatial.end());
  return s;
}

// Visits, for every output element e of the pooled tensor, the in-plane offsets of the taps of
// its window that fall inside the input: visit(e, plane, tap_offset) once per tap, then
// finish(e, plane, taps_in_padded_region) once. Elements are independent, so the loop is parallel.
template <class Visit, class Finish>
void for_each_window(const WindowGeometry& g, int64_t planes, int threads, Visit visit, Finish finish) {
  namespace ref = hone::kernels::ref;
  const size_t nd = g.rank();
  const int64_t out_size = product(g.out), kernel_size = product(g.kernel);
  const std::vector<int64_t> origin = ref::window_coordinate_table(g.out, g.strides, &g.pads_begin);
  const std::vector<int64_t> tap = ref::window_coordinate_table(g.kernel, g.dilations, nullptr);
  std::vector<int64_t> in_strides(nd, 1);
  for (size_t d = nd; d-- > 1;) in_strides[d - 1] = in_strides[d] * g.in[d];
  const int64_t total = planes * out_size;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) if (total > kParallelElements) schedule(static)
  for (int64_t e = 0; e < total; ++e) {
    const int64_t plane = e / out_size;
    const size_t pos = static_cast<size_t>(e % out_size);
    int64_t in_padded_region = 0;
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
      if (inside) visit(e, plane, offset);
    }
    finish(e, plane, in_padded_region);
  }
}

// Runs `compute(x, y)` on float data, staging half types through float copies.
template <class Compute>
Status run_float_or_half(KernelContext& ctx, const Tensor& x, const Shape& y_shape, Compute compute) {
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), y_shape));
  if (!is_half(x.dtype())) return compute(x, *y);
  HONE_ASSIGN_OR_RETURN(Tensor xf, half_to_float_tensor(x));
  HONE_ASSIGN_OR_RETURN(Tensor yf, Tensor::create(DType::kFloat32, y_shape));
  HONE_RETURN_IF_ERROR(compute(xf, yf));
  float_to_half_tensor(yf, y);
  return Status::Ok();
}

Status average_pool(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input X is required");
  HONE_ASSIGN_OR_RETURN(WindowGeometry g, pool_geometry(ctx, *x));
  const int64_t count_include_pad = ctx.node().attr_int("count_include_pad", 0);
  if (count_include_pad != 0 && count_include_pad != 1) return ctx.error("count_include_pad must be 0 or 1");
  const int64_t in_size = product(g.in);
  HONE_ASSIGN_OR_RETURN(const int64_t planes, plane_count(ctx, *x));
  return run_float_or_half(ctx, *x, pooled_shape(*x, g.out), [&](const Tensor& xt, Tensor& yt) {
    return dispatch_float(xt.dtype(), [&](auto zero) -> Status {
      using T = decltype(zero);
      const T* xd = xt.data<T>();
      T* yd = yt.data<T>();
      // Each element's taps are visited by one thread, so per-element state can live in y.
      std::vector<int64_t> valid_taps(static_cast<size_t>(yt.numel()), 0);
      for_each_window(
          g, planes, ctx.threads(),
          [&](int64_t e, int64_t plane, int64_t offset) {
            yd[e] += xd[plane * in_size + offset];
            ++valid_taps[static_cast<size_t>(e)];
          },
          [&](int64_t e, int64_t, int64_t in_padded_region) {
            const int64_t count = count_include_pad ? in_padded_region : valid_taps[static_cast<size_t>(e)];
            yd[e] = count > 0 ? yd[e] / static_cast<T>(count) : T(0);
          });
      return Status::Ok();
    });
  });
}

// 2-D MaxPool of 8-bit planes (fuse_qdq's MaxPool on quantized bytes) without Indices: the
// window bounds clipped per output row and column, then a plain max over the rows of the window,
// where the generic walk above looks up every tap's coordinates. Same results (the tests compare
// it with the float path). Empty windows (all padding) give the type's lowest value, as there.
template <class T>
void max_pool_2d_8bit(const WindowGeometry& g, int64_t planes, const T* x, T* y, int threads) {
  const int64_t ih = g.in[0], iw = g.in[1], oh = g.out[0], ow = g.out[1];
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) if (planes * oh * ow > kParallelElements) schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const T* plane = x + p * ih * iw;
    for (int64_t r = 0; r < oh; ++r) {
      const int64_t r0 = r * g.strides[0] - g.pads_begin[0];
      const int64_t rb = std::max<int64_t>(r0, 0), re = std::min<int64_t>(r0 + g.kernel[0], ih);
      T* out = y + (p * oh + r) * ow;
      for (int64_t c = 0; c < ow; ++c) {
        const int64_t c0 = c * g.strides[1] - g.pads_begin[1];
        const int64_t cb = std::max<int64_t>(c0, 0), ce = std::min<int64_t>(c0 + g.kernel[1], iw);
        T m = std::numeric_limits<T>::lowest();
        for (int64_t i = rb; i < re; ++i)
          for (int64_t j = cb; j < ce; ++j) m = std::max(m, plane[i * iw + j]);
        out[c] = m;
      }
    }
  }
}

Status max_pool(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input X is required");
  HONE_ASSIGN_OR_RETURN(WindowGeometry g, pool_geometry(ctx, *x));
  const int64_t storage_order = ctx.node().attr_int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1) return ctx.error("storage_order must be 0 or 1");
  const size_t nd = g.rank();
  const int64_t in_size = product(g.in);
  HONE_ASSIGN_OR_RETURN(const int64_t planes, plane_count(ctx, *x));
  const Shape y_shape = pooled_shape(*x, g.out);
  int64_t* indices = nullptr;
  if (ctx.wants_output(1)) {
    HONE_ASSIGN_OR_RETURN(Tensor * ind, ctx.allocate_output(1, DType::kInt64, y_shape));
    indices = ind->data<int64_t>();
  }
  // Indices count in the flattened input; storage_order 1 numbers the spatial dims column-major.
  std::vector<int64_t> row_major(nd, 1), column_major(nd, 1);
  for (size_t d = nd; d-- > 1;) row_major[d - 1] = row_major[d] * g.in[d];
  for (size_t d = 1; d < nd; ++d) column_major[d] = column_major[d - 1] * g.in[d - 1];
  auto to_index = [&](int64_t plane, int64_t offset) {
    if (storage_order == 0) return plane * in_size + offset;
    int64_t index = 0;
    for (size_t d = 0; d < nd; ++d) index += (offset / row_major[d] % g.in[d]) * column_major[d];
    return plane * in_size + index;
  };
  const bool unit_dilations = std::all_of(g.dilations.begin(), g.dilations.end(), [](int64_t d) { return d == 1; });
  if (nd == 2 && !indices && unit_dilations && (x->dtype() == DType::kUInt8 || x->dtype() == DType::kInt8)) {
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, x->dtype(), y_shape));
    if (x->dtype() == DType::kUInt8)
      max_pool_2d_8bit(g, planes, x->data<uint8_t>(), y->data<uint8_t>(), ctx.threads());
    else
      max_pool_2d_8bit(g, planes, x->data<int8_t>(), y->data<int8_t>(), ctx.threads());
    return Status::Ok();
  }
  return run_float_or_half(ctx, *x, y_shape, [&](const Tensor& xt, Tensor& yt) {
    return dispatch_numeric(xt.dtype(), [&](auto zero) -> Status {
      using T = decltype(zero);
      const T* xd = xt.data<T>();
      T* yd = yt.data<T>();
      // best[e] < 0 until element e has seen a tap; then the in-plane offset of its maximum.
      std::vector<int64_t> best(static_cast<size_t>(yt.numel()), -1);
      for_each_window(
          g, planes, ctx.threads(),
          [&](int64_t e, int64_t plane, int64_t offset) {
            const T v = xd[plane * in_size + offset];
            int64_t& b = best[static_cast<size_t>(e)];
            if (b < 0 || v > yd[e]) yd[e] = v, b = offset;
          },
          [&](int64_t e, int64_t plane, int64_t) {
            const int64_t b = best[static_cast<size_t>(e)];
            if (b < 0) yd[e] = std::numeric_limits<T>::lowest();
            if (indices) indices[e] = b < 0 ? -1 : to_index(plane, b);
          });
      return Status::Ok();
    });
  });
}

// Reduces every (n, c) plane of X to one value: mean or max over the spatial dims.
template <bool kMax>
Status global_pool(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input X is required");
  if (x->rank() < 2) return ctx.error("X must have rank >= 2 (N, C, spatial...), got " + shape_to_string(x->shape()));
  Shape y_shape(x->shape().size(), 1);
  y_shape[0] = x->dim(0);
  y_shape[1] = x->dim(1);
  HONE_ASSIGN_OR_RETURN(const int64_t planes, plane_count(ctx, *x));
  const int64_t plane_size = planes == 0 ? 0 : x->numel() / planes;
  if (kMax && plane_size == 0 && planes > 0) return ctx.error("GlobalMaxPool of an empty spatial extent");
  const int threads = ctx.threads() > 0 ? ctx.threads() : 1;
  return run_float_or_half(ctx, *x, y_shape, [&](const Tensor& xt, Tensor& yt) {
    auto body = [&](auto zero) -> Status {
      using T = decltype(zero);
      const T* xd = xt.data<T>();
      T* yd = yt.data<T>();
#pragma omp parallel for num_threads(threads) if (x->numel() > (int64_t{1} << 16)) schedule(static)
      for (int64_t plane = 0; plane < planes; ++plane) {
        const T* p = xd + plane * plane_size;
        if constexpr (kMax) {
          T m = p[0];
          for (int64_t i = 1; i < plane_size; ++i) m = p[i] > m ? p[i] : m;
          yd[plane] = m;
        } else {
          double sum = 0;  // double keeps large planes accurate in float
          for (int64_t i = 0; i < plane_size; ++i) sum += static_cast<double>(p[i]);
          yd[plane] = static_cast<T>(plane_size > 0 ? sum / static_cast<double>(plane_size) : 0.0);
        }
      }
      return Status::Ok();
    };
    return kMax ? dispatch_numeric(xt.dtype(), body) : dispatch_float(xt.dtype(), body);
  });
}

}  // namespace

HONE_REGISTER_FN("", AveragePool, 1, kMaxOpset, average_pool);
HONE_REGISTER_FN("", MaxPool, 1, kMaxOpset, max_pool);
HONE_REGISTER_FN("", GlobalAveragePool, 1, kMaxOpset, global_pool<false>);
HONE_REGISTER_FN("", GlobalMaxPool, 1, kMaxOpset, global_pool<true>);

}  // namespace hone::rt
