// The fused inverted-residual block (kernels/x86/inverted_residual.h): the variant table from
// inverted_residual.inc, weight packing, and the driver that walks each thread's band of output
// rows through the ring of expanded rows.
#include "kernels/x86/inverted_residual.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace hone::kernels::x86 {

const std::vector<InvertedResidualVariant>& inverted_residual_variants() {
  static const std::vector<InvertedResidualVariant> v = {
#define HONE_INVERTED_RESIDUAL_KERNEL(isa, name, gemm, dw) {#name, Isa::isa, &gemm, &dw},
#include "kernels/x86/inverted_residual.inc"
#undef HONE_INVERTED_RESIDUAL_KERNEL
  };
  return v;
}

const InvertedResidualVariant& inverted_residual_best() {
  static const InvertedResidualVariant* best = [] {
    const InvertedResidualVariant* b = &inverted_residual_variants().front();
    for (const auto& v : inverted_residual_variants())
      if (isa_available(v.isa)) b = &v;
    return b;
  }();
  return *best;
}

IrBuffer::IrBuffer(int64_t floats) : size_(floats) {
  const size_t bytes = (static_cast<size_t>(std::max<int64_t>(floats, 1)) * sizeof(float) + 63) / 64 * 64;
  data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!data_) throw std::bad_alloc();
  std::memset(data_.get(), 0, bytes);
}

IrPackedMatrix IrPackedMatrix::pack(const float* w, const float* bias, int64_t n, int64_t n_align, int64_t k,
                                    int64_t k_pad) {
  IrPackedMatrix m;
  m.k = k;
  m.k_pad = k_pad;
  m.n = n;
  m.n_pad = (n + n_align - 1) / n_align * n_align;
  m.panels = IrBuffer(k_pad * m.n_pad);  // zeroed: padded rows and columns contribute nothing
  m.bias = IrBuffer(m.n_pad);
  for (int64_t p0 = 0; p0 < m.n_pad; p0 += kIrPanelCols) {
    const int64_t pw = std::min(kIrPanelCols, m.n_pad - p0);
    float* panel = m.panels.data() + p0 * k_pad;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < pw && p0 + j < n; ++j) panel[i * pw + j] = w[(p0 + j) * k + i];
  }
  if (bias) std::memcpy(m.bias.data(), bias, static_cast<size_t>(n) * sizeof(float));
  return m;
}

InvertedResidualWeights InvertedResidualWeights::pack(int64_t c_in, int64_t c_mid, int64_t c_out, int64_t stride,
                                                      const float* w_expand, const float* b_expand,
                                                      const float* w_dw, const float* b_dw, const float* w_project,
                                                      const float* b_project) {
  InvertedResidualWeights w;
  w.c_in = c_in;
  w.c_mid = c_mid;
  w.c_out = c_out;
  w.c_mid_pad = ir_pad_channels(c_mid);
  w.stride = stride;
  w.has_expand = w_expand != nullptr;
  // The expand writes whole 16-float vectors of the padded rows the depthwise reads; the
  // projection only its c_out outputs, padded to 8 (24 outputs: a 16 + 8 tile, not 32).
  if (w.has_expand) w.expand = IrPackedMatrix::pack(w_expand, b_expand, c_mid, kIrChannelAlign, c_in, c_in);
  w.project = IrPackedMatrix::pack(w_project, b_project, c_out, 8, c_mid, w.c_mid_pad);
  w.dw_weights = IrBuffer(9 * w.c_mid_pad);
  w.dw_bias = IrBuffer(w.c_mid_pad);
  for (int64_t ch = 0; ch < c_mid; ++ch)
    for (int64_t t = 0; t < 9; ++t) w.dw_weights.data()[t * w.c_mid_pad + ch] = w_dw[ch * 9 + t];
  if (b_dw) std::memcpy(w.dw_bias.data(), b_dw, static_cast<size_t>(c_mid) * sizeof(float));
  return w;
}

namespace {

int64_t padded_row_floats(const InvertedResidualWeights& w, int64_t width) { return (width + 2) * w.c_mid_pad; }

// kRows, one thread's floats, rounded up to 16 so that every thread's buffers start 64-byte
// aligned: a zero row (the vertical padding), the ring of 3 expanded rows, each (width + 2)
// pixels of c_mid_pad floats with a zero pixel on either side, and one depthwise row.
int64_t per_thread_floats(const InvertedResidualWeights& w, int64_t width) {
  const int64_t f = 4 * padded_row_floats(w, width) + ir_out_size(width, w.stride) * w.c_mid_pad;
  return (f + 15) / 16 * 16;
}

int threads_for(int64_t height, const InvertedResidualWeights& w, int threads) {
  return static_cast<int>(std::clamp<int64_t>(threads, 1, ir_out_size(height, w.stride)));
}

// Zeroes what no kernel writes: the zero row and the `rows` padded rows' pad pixels that follow
// it (all of each row without the expand conv, whose channels past c_in are padding too).
void zero_padding(const InvertedResidualWeights& w, int64_t width, int64_t rows, float* buf) {
  const int64_t pitch = padded_row_floats(w, width);
  const size_t pixel_bytes = static_cast<size_t>(w.c_mid_pad) * sizeof(float);
  if (!w.has_expand) {
    std::memset(buf, 0, static_cast<size_t>((1 + rows) * pitch) * sizeof(float));
    return;
  }
  std::memset(buf, 0, static_cast<size_t>(pitch) * sizeof(float));
  for (int64_t r = 1; r <= rows; ++r) {
    std::memset(buf + r * pitch, 0, pixel_bytes);
    std::memset(buf + r * pitch + (width + 1) * w.c_mid_pad, 0, pixel_bytes);
  }
}

// Pixels [g0, g1) of image x (row-major, g = iy * width + ix), expanded, into the padded rows
// from `rows` on (row iy at rows + iy * pitch, pixels 1 .. width; the pad pixels stay zero). One
// GEMM for all of them, so that the expand weights are read once per call, not once per row.
void expand_pixels(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x, int64_t width,
                   int64_t g0, int64_t g1, float* rows) {
  const int64_t pitch = padded_row_floats(w, width);
  if (g0 >= g1) return;
  if (w.has_expand) {
    v.gemm(x + g0 * w.c_in, w.c_in, g1 - g0, w.c_in, w.expand.panels.data(), w.c_mid_pad, w.expand.bias.data(),
           nullptr, 0, w.expand_clamp.lo, w.expand_clamp.hi, IrOut{rows + w.c_mid_pad, w.c_mid_pad, width, pitch, g0},
           w.c_mid_pad);
    return;
  }
  for (int64_t g = g0; g < g1; ++g)
    std::memcpy(rows + (g / width) * pitch + (g % width + 1) * w.c_mid_pad, x + g * w.c_in,
                static_cast<size_t>(w.c_in) * sizeof(float));
}

// Input rows [iy0, iy1) of image x, expanded, into consecutive padded rows from `rows` on.
void expand_rows(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x, int64_t width,
                 int64_t iy0, int64_t iy1, float* rows) {
  expand_pixels(v, w, x + iy0 * width * w.c_in, width, 0, (iy1 - iy0) * width, rows);
}

// Project `m` depthwise pixels (rows of c_mid_pad) into y (+ sum), both at output pixel `first`.
void project(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* dw, int64_t m,
             const float* sum, float* y, int64_t first) {
  const int64_t off = first * w.c_out;
  v.gemm(dw, w.c_mid_pad, m, w.c_mid_pad, w.project.panels.data(), w.project.n_pad, w.project.bias.data(),
         sum ? sum + off : nullptr, w.c_out, w.project_clamp.lo, w.project_clamp.hi, IrOut{y + off, w.c_out, m, 0},
         w.c_out);
}

// kRows: output rows [oy0, oy1) of one image, one at a time; the 3 input rows the depthwise row
// needs come from a ring, each expanded once, on demand.
void run_rows(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x, int64_t height,
              int64_t width, const float* sum, float* y, float* buf, int64_t oy0, int64_t oy1) {
  const int64_t wo = ir_out_size(width, w.stride), pitch = padded_row_floats(w, width);
  const float* zero_row = buf;
  float* ring[3] = {buf + pitch, buf + 2 * pitch, buf + 3 * pitch};
  float* dw_row = buf + 4 * pitch;
  int64_t held[3] = {-1, -1, -1};  // which input row each ring slot holds
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    const float* rows[3];
    for (int64_t dy = 0; dy < 3; ++dy) {
      const int64_t iy = oy * w.stride - 1 + dy;
      if (iy < 0 || iy >= height) {
        rows[dy] = zero_row;
        continue;
      }
      const int64_t slot = iy % 3;
      if (held[slot] != iy) {
        expand_rows(v, w, x, width, iy, iy + 1, ring[slot]);
        held[slot] = iy;
      }
      rows[dy] = ring[slot];
    }
    v.depthwise(rows, wo, w.stride, w.c_mid_pad, w.dw_weights.data(), w.dw_bias.data(), w.depthwise_clamp.lo,
                w.depthwise_clamp.hi, dw_row);
    project(v, w, dw_row, wo, sum, y, oy * wo);
  }
}

// kImage, thread t of nt on one image: its share of the expand pixels, the depthwise rows and
// the projection pixels, with barriers between (the next step reads what other threads wrote).
// buf: the zero row, `height` padded rows, then ho * wo depthwise pixels, shared by all threads.
void run_image_part(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x,
                    int64_t height, int64_t width, const float* sum, float* y, float* buf, int t, int nt) {
  const int64_t ho = ir_out_size(height, w.stride), wo = ir_out_size(width, w.stride);
  const int64_t pitch = padded_row_floats(w, width);
  const float* zero_row = buf;
  float* expanded = buf + pitch;
  float* dw_rows = expanded + height * pitch;
  const int64_t in_pixels = height * width, out_pixels = ho * wo;
  expand_pixels(v, w, x, width, in_pixels * t / nt, in_pixels * (t + 1) / nt, expanded);
#pragma omp barrier
  for (int64_t oy = ho * t / nt; oy < ho * (t + 1) / nt; ++oy) {
    const float* rows[3];
    for (int64_t dy = 0; dy < 3; ++dy) {
      const int64_t iy = oy * w.stride - 1 + dy;
      rows[dy] = iy < 0 || iy >= height ? zero_row : expanded + iy * pitch;
    }
    v.depthwise(rows, wo, w.stride, w.c_mid_pad, w.dw_weights.data(), w.dw_bias.data(), w.depthwise_clamp.lo,
                w.depthwise_clamp.hi, dw_rows + oy * wo * w.c_mid_pad);
  }
#pragma omp barrier
  const int64_t p0 = out_pixels * t / nt, p1 = out_pixels * (t + 1) / nt;
  if (p1 > p0) project(v, w, dw_rows + p0 * w.c_mid_pad, p1 - p0, sum, y, p0);
#pragma omp barrier
}

int64_t image_floats(const InvertedResidualWeights& w, int64_t height, int64_t width) {
  const int64_t f = (1 + height) * padded_row_floats(w, width) +
                    ir_out_size(height, w.stride) * ir_out_size(width, w.stride) * w.c_mid_pad;
  return (f + 15) / 16 * 16;
}

}  // namespace

bool inverted_residual_fusion_pays(int64_t c_in, int64_t c_mid, int64_t c_out) {
  // Measured faster than (or, 2 threads at 7x7, as fast as) oneDNN's three convolutions on all
  // 12 distinct MobileNet-v2 block shapes, whose 1x1 weights take 24 KiB .. 1.8 MiB. Beyond
  // that the ring's per-row GEMMs would stream the weights from past L2 once per row: not fused.
  constexpr int64_t kMaxWeightFloats = int64_t{480} << 10;  // 1.875 MiB
  return c_in * c_mid + c_mid * c_out <= kMaxWeightFloats;
}

IrSchedule inverted_residual_schedule(const InvertedResidualWeights& w, int64_t height, int64_t width, int threads) {
  // Where the whole image's buffers take at most half of a 1 MiB L2 (MobileNet-v2's 7x7 blocks;
  // at 14x14 row by row measured as fast or faster, docs/kernels_fp32.md).
  constexpr int64_t kImageFloats = int64_t{128} << 10;
  return threads_for(height, w, threads) > 1 && image_floats(w, height, width) <= kImageFloats ? IrSchedule::kImage
                                                                                                : IrSchedule::kRows;
}

int64_t inverted_residual_scratch_floats(const InvertedResidualWeights& w, int64_t height, int64_t width,
                                         int threads, IrSchedule schedule) {
  if (schedule == IrSchedule::kImage) return image_floats(w, height, width);
  return per_thread_floats(w, width) * threads_for(height, w, threads);
}

void inverted_residual(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x,
                       int64_t batch, int64_t height, int64_t width, const float* sum, float* y, float* scratch,
                       int threads, IrSchedule schedule) {
  const int64_t ho = ir_out_size(height, w.stride), wo = ir_out_size(width, w.stride);
  const int nt = threads_for(height, w, threads);
  const int64_t in_image = height * width * w.c_in, out_image = ho * wo * w.c_out;
  if (schedule == IrSchedule::kImage) {
    zero_padding(w, width, height, scratch);
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      for (int64_t b = 0; b < batch; ++b)
        run_image_part(v, w, x + b * in_image, height, width, sum ? sum + b * out_image : nullptr, y + b * out_image,
                       scratch, t, nt);
    }
    return;
  }
  const int64_t per_thread = per_thread_floats(w, width);
  // Each thread keeps the same band of output rows for every image (its rows stay in its cache).
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    float* buf = scratch + per_thread * t;
    zero_padding(w, width, 3, buf);
    const int64_t oy0 = ho * t / nt, oy1 = ho * (t + 1) / nt;
    for (int64_t b = 0; b < batch; ++b)
      run_rows(v, w, x + b * in_image, height, width, sum ? sum + b * out_image : nullptr, y + b * out_image, buf, oy0,
               oy1);
  }
}

}  // namespace hone::kernels::x86
