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

IrPackedMatrix IrPackedMatrix::pack(const float* w, const float* bias, int64_t n, int64_t k, int64_t k_pad) {
  IrPackedMatrix m;
  m.k = k;
  m.k_pad = k_pad;
  m.n = n;
  m.n_pad = ir_pad_channels(n);
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
  if (w.has_expand) w.expand = IrPackedMatrix::pack(w_expand, b_expand, c_mid, c_in, c_in);
  w.project = IrPackedMatrix::pack(w_project, b_project, c_out, c_mid, w.c_mid_pad);
  w.dw_weights = IrBuffer(9 * w.c_mid_pad);
  w.dw_bias = IrBuffer(w.c_mid_pad);
  for (int64_t ch = 0; ch < c_mid; ++ch)
    for (int64_t t = 0; t < 9; ++t) w.dw_weights.data()[t * w.c_mid_pad + ch] = w_dw[ch * 9 + t];
  if (b_dw) std::memcpy(w.dw_bias.data(), b_dw, static_cast<size_t>(c_mid) * sizeof(float));
  return w;
}

namespace {

// One thread's buffers: a zero row (the vertical padding), the ring of 3 expanded rows, each
// (width + 2) pixels of c_mid_pad floats with a zero pixel on either side, and the depthwise row.
struct ThreadScratch {
  float* zero_row;
  float* ring[3];
  float* dw_row;
};

int64_t padded_row_floats(const InvertedResidualWeights& w, int64_t width) { return (width + 2) * w.c_mid_pad; }

int64_t per_thread_floats(const InvertedResidualWeights& w, int64_t width) {
  // Rounded up to 16 floats so that every thread's buffers start 64-byte aligned.
  const int64_t f = 4 * padded_row_floats(w, width) + ir_out_size(width, w.stride) * w.c_mid_pad;
  return (f + 15) / 16 * 16;
}

// Expanded input row `iy` of image x into `row` (pixels 1 .. width; the pad pixels stay zero).
void expand_row(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x, int64_t width,
                int64_t iy, float* row) {
  const float* xr = x + iy * width * w.c_in;
  float* dst = row + w.c_mid_pad;
  if (w.has_expand) {
    v.gemm(xr, w.c_in, width, w.c_in, w.expand.panels.data(), w.c_mid_pad, w.expand.bias.data(), nullptr, 0,
           w.expand_clamp.lo, w.expand_clamp.hi, dst, w.c_mid_pad, w.c_mid_pad);
    return;
  }
  for (int64_t px = 0; px < width; ++px)
    std::memcpy(dst + px * w.c_mid_pad, xr + px * w.c_in, static_cast<size_t>(w.c_in) * sizeof(float));
}

// Output rows [oy0, oy1) of one image.
void run_band(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x, int64_t height,
              int64_t width, const float* sum, float* y, ThreadScratch& s, int64_t oy0, int64_t oy1) {
  const int64_t wo = ir_out_size(width, w.stride);
  int64_t held[3] = {-1, -1, -1};  // which input row each ring slot holds
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    const float* rows[3];
    for (int64_t dy = 0; dy < 3; ++dy) {
      const int64_t iy = oy * w.stride - 1 + dy;
      if (iy < 0 || iy >= height) {
        rows[dy] = s.zero_row;
        continue;
      }
      const int64_t slot = iy % 3;
      if (held[slot] != iy) {
        expand_row(v, w, x, width, iy, s.ring[slot]);
        held[slot] = iy;
      }
      rows[dy] = s.ring[slot];
    }
    v.depthwise(rows, wo, w.stride, w.c_mid_pad, w.dw_weights.data(), w.dw_bias.data(), w.depthwise_clamp.lo,
                w.depthwise_clamp.hi, s.dw_row);
    const int64_t off = oy * wo * w.c_out;
    v.gemm(s.dw_row, w.c_mid_pad, wo, w.c_mid_pad, w.project.panels.data(), w.project.n_pad, w.project.bias.data(),
           sum ? sum + off : nullptr, w.c_out, w.project_clamp.lo, w.project_clamp.hi, y + off, w.c_out, w.c_out);
  }
}

}  // namespace

bool inverted_residual_fusion_pays(int64_t c_in, int64_t c_mid, int64_t c_out, int64_t stride, bool has_expand) {
  (void)c_in, (void)c_out, (void)stride, (void)has_expand;
  return c_mid > 0;
}

int64_t inverted_residual_scratch_floats(const InvertedResidualWeights& w, int64_t width, int threads) {
  return per_thread_floats(w, width) * std::max(threads, 1);
}

void inverted_residual(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x,
                       int64_t batch, int64_t height, int64_t width, const float* sum, float* y, float* scratch,
                       int threads) {
  const int64_t ho = ir_out_size(height, w.stride), wo = ir_out_size(width, w.stride);
  const int nt = static_cast<int>(std::clamp<int64_t>(threads, 1, ho));
  const int64_t row_floats = padded_row_floats(w, width);
  const int64_t in_image = height * width * w.c_in, out_image = ho * wo * w.c_out;
  // Each thread keeps the same band of output rows for every image (its rows stay in its cache).
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    float* base = scratch + per_thread_floats(w, width) * t;
    ThreadScratch s{base, {base + row_floats, base + 2 * row_floats, base + 3 * row_floats}, base + 4 * row_floats};
    // The zero row and the ring's pad pixels are never written by the kernels; zero them once here.
    std::memset(base, 0, static_cast<size_t>(4 * row_floats) * sizeof(float));
    const int64_t oy0 = ho * t / nt, oy1 = ho * (t + 1) / nt;
    for (int64_t b = 0; b < batch; ++b)
      run_band(v, w, x + b * in_image, height, width, sum ? sum + b * out_image : nullptr, y + b * out_image, s, oy0,
               oy1);
  }
}

}  // namespace hone::kernels::x86
