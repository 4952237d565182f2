// Scalar references of the fused inverted-residual block (kernels/x86/inverted_residual.h):
// the two micro-kernels on the packed layout (what HONE_ISA=scalar runs through the driver), and
// the naive three-convolution oracle the tests compare every variant with. Sums in k order, in
// float; the oracle shares no code with the driver or the packing.
#include <algorithm>
#include <vector>

#include "kernels/x86/inverted_residual.h"

namespace hone::kernels::x86 {

namespace {

float clamp(float v, float lo, float hi) { return std::min(std::max(v, lo), hi); }

}  // namespace

void f32_gemm_bias_clip_sum_c48_ref(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels,
                                    int64_t n_pad, const float* bias, const float* sum, int64_t lds, float lo, float hi,
                                    IrOut out, int64_t n) {
  for (int64_t p0 = 0; p0 < n_pad && p0 < n; p0 += kIrPanelCols) {
    const int64_t pw = std::min(kIrPanelCols, n_pad - p0);
    const float* panel = panels + p0 * k;
    for (int64_t i = 0; i < m; ++i) {
      float acc[kIrPanelCols] = {};
      for (int64_t kk = 0; kk < k; ++kk) {
        const float ak = a[i * lda + kk];
        for (int64_t j = 0; j < pw; ++j) acc[j] += ak * panel[kk * pw + j];
      }
      for (int64_t j = 0; j < pw && p0 + j < n; ++j) {
        float v = acc[j] + bias[p0 + j];
        if (sum) v += sum[i * lds + p0 + j];
        out.row(i)[p0 + j] = clamp(v, lo, hi);
      }
    }
  }
}

void f32_dwconv3x3_bias_clip_ref(const float* const rows[3], int64_t wo, int64_t stride, int64_t cpad, const float* w9,
                                 const float* bias, float lo, float hi, float* out) {
  for (int64_t x = 0; x < wo; ++x)
    for (int64_t ch = 0; ch < cpad; ++ch) {
      float acc = 0.0f;
      for (int64_t dy = 0; dy < 3; ++dy)
        for (int64_t dx = 0; dx < 3; ++dx)
          acc += rows[dy][(x * stride + dx) * cpad + ch] * w9[(dy * 3 + dx) * cpad + ch];
      out[x * cpad + ch] = clamp(acc + bias[ch], lo, hi);
    }
}

void f32_inverted_residual_naive_ref(const float* x, int64_t batch, int64_t height, int64_t width, int64_t c_in,
                                     int64_t c_mid, int64_t c_out, int64_t stride, const float* w_expand,
                                     const float* b_expand, IrClamp ce, const float* w_dw, const float* b_dw,
                                     IrClamp cd, const float* w_project, const float* b_project, IrClamp cp,
                                     const float* sum, float* y) {
  const int64_t ho = ir_out_size(height, stride), wo = ir_out_size(width, stride);
  std::vector<float> e(static_cast<size_t>(height * width * c_mid)), d(static_cast<size_t>(ho * wo * c_mid));
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * height * width * c_in;
    for (int64_t p = 0; p < height * width; ++p)
      for (int64_t o = 0; o < c_mid; ++o) {
        if (!w_expand) {
          e[p * c_mid + o] = xb[p * c_in + o];
          continue;
        }
        double acc = b_expand ? b_expand[o] : 0.0;
        for (int64_t i = 0; i < c_in; ++i) acc += static_cast<double>(xb[p * c_in + i]) * w_expand[o * c_in + i];
        e[p * c_mid + o] = clamp(static_cast<float>(acc), ce.lo, ce.hi);
      }
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox)
        for (int64_t ch = 0; ch < c_mid; ++ch) {
          double acc = b_dw ? b_dw[ch] : 0.0;
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t iy = oy * stride - 1 + ky, ix = ox * stride - 1 + kx;
              if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
              acc += static_cast<double>(e[(iy * width + ix) * c_mid + ch]) * w_dw[ch * 9 + ky * 3 + kx];
            }
          d[(oy * wo + ox) * c_mid + ch] = clamp(static_cast<float>(acc), cd.lo, cd.hi);
        }
    float* yb = y + b * ho * wo * c_out;
    const float* sb = sum ? sum + b * ho * wo * c_out : nullptr;
    for (int64_t p = 0; p < ho * wo; ++p)
      for (int64_t o = 0; o < c_out; ++o) {
        double acc = b_project ? b_project[o] : 0.0;
        for (int64_t i = 0; i < c_mid; ++i) acc += static_cast<double>(d[p * c_mid + i]) * w_project[o * c_mid + i];
        if (sb) acc += sb[p * c_out + o];
        yb[p * c_out + o] = clamp(static_cast<float>(acc), cp.lo, cp.hi);
      }
  }
}

}  // namespace hone::kernels::x86
