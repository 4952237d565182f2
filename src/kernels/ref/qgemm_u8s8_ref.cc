// Scalar reference of kernels/x86/qgemm_u8s8.h: the formula written out plainly, one output at a
// time, reading the packed weights through the same layout the vector kernels read.
#include "kernels/x86/qgemm_u8s8.h"

namespace hone::kernels::qgemm {

void qgemm_u8s8_ref(const WeightsView& w, const uint8_t* a, int64_t lda, const Epilogue& e, float* y, int64_t ldy,
                    int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {
    const int8_t* panel = w.data + p * w.quads * kPanelCols * 4;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* ar = a + r * lda;
      for (int64_t j = 0; j < kPanelCols; ++j) {
        const int64_t c = p * kPanelCols + j;
        if (c >= w.n) break;
        int32_t acc = 0;
        for (int64_t k = 0; k < w.k; ++k)
          acc += static_cast<int32_t>(ar[k]) * panel[(k / 4 * kPanelCols + j) * 4 + k % 4];
        acc -= e.a_zero_point * w.col_sum[c];
        float v = static_cast<float>(acc) * e.scale[e.per_column ? c : 0];
        if (e.bias) v = v + e.bias[c];
        if (e.residual) v = v + e.residual[r * ldy + c];
        y[r * ldy + c] = v;
      }
    }
  }
}

}  // namespace hone::kernels::qgemm
