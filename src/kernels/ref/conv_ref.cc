#include "kernels/ref/conv_ref.h"

#include <omp.h>

#include <algorithm>

namespace hone::kernels::ref {

namespace {

// Work (multiply-adds) below which threading costs more than it saves.
constexpr double kParallelWork = double(1 << 18);
// Output positions per im2col block: one block of y rows stays in L1 while the GEMM runs.
constexpr int64_t kPositionBlock = 256;
// Output channels per task, so that a single large image still splits across threads.
constexpr int64_t kChannelBlock = 64;

int64_t product(const std::vector<int64_t>& v) {
  int64_t r = 1;
  for (int64_t x : v) r *= x;
  return r;
}

int team_size(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// y[m, 0..n) = bias[m] + sum_r w[m, r] * cols[r, 0..n) for m < rows; four rows at a time so
// that each loaded column element feeds four accumulators.
template <class T>
void gemm_rows(int64_t rows, int64_t depth, int64_t n, const T* w, const T* cols, int64_t ld_cols, const T* bias,
               T* y, int64_t ld_y) {
  int64_t m = 0;
  for (; m + 4 <= rows; m += 4) {
    T* __restrict y0 = y + m * ld_y;
    T* __restrict y1 = y0 + ld_y;
    T* __restrict y2 = y1 + ld_y;
    T* __restrict y3 = y2 + ld_y;
    std::fill(y0, y0 + n, bias ? bias[m] : T(0));
    std::fill(y1, y1 + n, bias ? bias[m + 1] : T(0));
    std::fill(y2, y2 + n, bias ? bias[m + 2] : T(0));
    std::fill(y3, y3 + n, bias ? bias[m + 3] : T(0));
    const T* w0 = w + m * depth;
    for (int64_t r = 0; r < depth; ++r) {
      const T a0 = w0[r], a1 = w0[depth + r], a2 = w0[2 * depth + r], a3 = w0[3 * depth + r];
      const T* __restrict c = cols + r * ld_cols;
      for (int64_t j = 0; j < n; ++j) {
        const T v = c[j];
        y0[j] += a0 * v;
        y1[j] += a1 * v;
        y2[j] += a2 * v;
        y3[j] += a3 * v;
      }
    }
  }
  for (; m < rows; ++m) {
    T* __restrict y0 = y + m * ld_y;
    std::fill(y0, y0 + n, bias ? bias[m] : T(0));
    for (int64_t r = 0; r < depth; ++r) {
      const T a0 = w[m * depth + r];
      const T* __restrict c = cols + r * ld_cols;
      for (int64_t j = 0; j < n; ++j) y0[j] += a0 * c[j];
    }
  }
}

}  // namespace

std::vector<int64_t> window_coordinate_table(const std::vector<int64_t>& grid, const std::vector<int64_t>& scale,
                                      const std::vector<int64_t>* shift) {
  const size_t nd = grid.size();
  const int64_t count = product(grid);
  std::vector<int64_t> table(nd * static_cast<size_t>(count));
  std::vector<int64_t> coord(nd, 0);
  for (int64_t pos = 0; pos < count; ++pos) {
    for (size_t d = 0; d < nd; ++d)
      table[d * static_cast<size_t>(count) + static_cast<size_t>(pos)] = coord[d] * scale[d] - (shift ? (*shift)[d] : 0);
    for (size_t d = nd; d-- > 0;) {  // row-major increment
      if (++coord[d] < grid[d]) break;
      coord[d] = 0;
    }
  }
  return table;
}

template <class T>
void conv_nd_ref(const ConvParams& p, const T* x, const T* w, const T* b, T* y) {
  const size_t nd = p.kernel.size();
  const int64_t groups = p.groups, cg = p.in_channels / groups, mg = p.out_channels / groups;
  const int64_t kernel_size = product(p.kernel), depth = cg * kernel_size;
  const int64_t in_size = product(p.in_spatial), out_size = product(p.out_spatial);
  if (p.batch == 0 || p.out_channels == 0 || out_size == 0) return;

  // A 1x1 window with unit strides and no padding reads x itself as the im2col matrix.
  bool pointwise = p.in_spatial == p.out_spatial;
  for (size_t d = 0; d < nd; ++d)
    pointwise = pointwise && p.kernel[d] == 1 && p.strides[d] == 1 && p.pads_begin[d] == 0;

  const std::vector<int64_t> origin = window_coordinate_table(p.out_spatial, p.strides, &p.pads_begin);
  const std::vector<int64_t> tap = window_coordinate_table(p.kernel, p.dilations, nullptr);
  const std::vector<int64_t> in_strides = row_major_strides(p.in_spatial);

  const int64_t position_blocks = (out_size + kPositionBlock - 1) / kPositionBlock;
  const int64_t channel_blocks = (mg + kChannelBlock - 1) / kChannelBlock;
  const int64_t tasks = p.batch * groups * position_blocks * channel_blocks;
  const double work = double(p.batch) * double(p.out_channels) * double(out_size) * double(depth);
  const bool parallel = tasks > 1 && work > kParallelWork && team_size(p.threads) > 1;

#pragma omp parallel num_threads(team_size(p.threads)) if (parallel)
  {
    std::vector<T> col(pointwise ? 0 : static_cast<size_t>(depth * std::min(kPositionBlock, out_size)));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      int64_t rest = task;
      const int64_t cb = rest % channel_blocks;
      rest /= channel_blocks;
      const int64_t pb = rest % position_blocks;
      rest /= position_blocks;
      const int64_t g = rest % groups;
      const int64_t n = rest / groups;
      const int64_t p0 = pb * kPositionBlock, pn = std::min(kPositionBlock, out_size - p0);
      const int64_t m0 = cb * kChannelBlock, mn = std::min(kChannelBlock, mg - m0);
      const T* xg = x + (n * p.in_channels + g * cg) * in_size;

      const T* cols = xg + p0;
      int64_t ld_cols = in_size;
      if (!pointwise) {
        for (int64_t r = 0; r < depth; ++r) {
          const int64_t c = r / kernel_size, k = r % kernel_size;
          const T* xc = xg + c * in_size;
          T* dst = col.data() + r * pn;
          if (nd == 2) {  // the common case, unrolled: three times faster than the generic loop
            const int64_t tap_h = tap[static_cast<size_t>(k)], tap_w = tap[static_cast<size_t>(kernel_size + k)];
            const int64_t* origin_h = origin.data() + p0;
            const int64_t* origin_w = origin.data() + out_size + p0;
            const uint64_t height = static_cast<uint64_t>(p.in_spatial[0]), width = static_cast<uint64_t>(p.in_spatial[1]);
            for (int64_t j = 0; j < pn; ++j) {
              const int64_t ih = origin_h[j] + tap_h, iw = origin_w[j] + tap_w;
              // One unsigned compare per dim also rejects negative coordinates.
              const bool inside = static_cast<uint64_t>(ih) < height && static_cast<uint64_t>(iw) < width;
              dst[j] = inside ? xc[ih * p.in_spatial[1] + iw] : T(0);
            }
            continue;
          }
          for (int64_t j = 0; j < pn; ++j) {
            const size_t pos = static_cast<size_t>(p0 + j);
            int64_t offset = 0;
            bool inside = true;
            for (size_t d = 0; d < nd && inside; ++d) {
              const int64_t coord = origin[d * static_cast<size_t>(out_size) + pos] +
                                    tap[d * static_cast<size_t>(kernel_size) + static_cast<size_t>(k)];
              inside = coord >= 0 && coord < p.in_spatial[d];
              offset += coord * in_strides[d];
            }
            dst[j] = inside ? xc[offset] : T(0);
          }
        }
        cols = col.data();
        ld_cols = pn;
      }
      const int64_t m_first = g * mg + m0;
      gemm_rows<T>(mn, depth, pn, w + m_first * depth, cols, ld_cols, b ? b + m_first : nullptr,
                   y + (n * p.out_channels + m_first) * out_size + p0, out_size);
    }
  }
}

template <class T>
void conv_transpose_nd_ref(const ConvParams& p, const T* x, const T* w, const T* b, T* y) {
  const size_t nd = p.kernel.size();
  const int64_t groups = p.groups, cg = p.in_channels / groups, mg = p.out_channels / groups;
  const int64_t kernel_size = product(p.kernel);
  const int64_t in_size = product(p.in_spatial), out_size = product(p.out_spatial);
  const std::vector<int64_t> origin = window_coordinate_table(p.in_spatial, p.strides, &p.pads_begin);
  const std::vector<int64_t> tap = window_coordinate_table(p.kernel, p.dilations, nullptr);
  const std::vector<int64_t> out_strides = row_major_strides(p.out_spatial);

  // Each task owns one output channel of one image, so the scatter needs no synchronization.
  const int64_t tasks = p.batch * p.out_channels;
  const double work = double(tasks) * double(cg) * double(kernel_size) * double(in_size);
  const bool parallel = tasks > 1 && work > kParallelWork && team_size(p.threads) > 1;

#pragma omp parallel for num_threads(team_size(p.threads)) if (parallel) schedule(static)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t n = task / p.out_channels, m = task % p.out_channels;
    const int64_t g = m / mg, m_in_group = m % mg;
    T* yc = y + task * out_size;
    std::fill(yc, yc + out_size, b ? b[m] : T(0));
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
      const T* xc = x + (n * p.in_channels + c) * in_size;
      const T* wk = w + (c * mg + m_in_group) * kernel_size;
      for (int64_t k = 0; k < kernel_size; ++k) {
        const T a = wk[k];
        for (int64_t pos = 0; pos < in_size; ++pos) {
          int64_t offset = 0;
          bool inside = true;
          for (size_t d = 0; d < nd && inside; ++d) {
            const int64_t coord = origin[d * static_cast<size_t>(in_size) + static_cast<size_t>(pos)] +
                                  tap[d * static_cast<size_t>(kernel_size) + static_cast<size_t>(k)];
            inside = coord >= 0 && coord < p.out_spatial[d];
            offset += coord * out_strides[d];
          }
          if (inside) yc[offset] += a * xc[pos];
        }
      }
    }
  }
}

template void conv_nd_ref<float>(const ConvParams&, const float*, const float*, const float*, float*);
template void conv_nd_ref<double>(const ConvParams&, const double*, const double*, const double*, double*);
template void conv_nd_ref<int64_t>(const ConvParams&, const int64_t*, const int64_t*, const int64_t*, int64_t*);
template void conv_transpose_nd_ref<float>(const ConvParams&, const float*, const float*, const float*, float*);
template void conv_transpose_nd_ref<double>(const ConvParams&, const double*, const double*, const double*, double*);

}  // namespace hone::kernels::ref
