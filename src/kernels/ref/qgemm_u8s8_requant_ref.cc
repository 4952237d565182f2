// Scalar reference of kernels/x86/qgemm_u8s8_requant.h, on the packed weights: the 64-bit sum,
// requantized in double as QLinearConv's reference (runtime/ops/conv_integer.cc, requantize),
// then the byte through QLinearAdd's own reference (qlinear_add_ref) with the skip byte.
#include <algorithm>
#include <cmath>

#include "kernels/x86/qgemm_u8s8_requant.h"

namespace hone::kernels::qgemm {

void qgemm_u8s8_requant_ref(const WeightsView& w, const uint8_t* a, int64_t lda, const RequantEpilogue& e,
                            uint8_t* y, int64_t ldy, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {
    const int8_t* panel = w.data + p * w.quads * kPanelCols * 4;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* ar = a + r * lda;
      for (int64_t j = 0; j < kPanelCols; ++j) {
        const int64_t c = p * kPanelCols + j;
        if (c >= w.n) break;
        int64_t sum = e.bias ? e.bias[c] : 0;
        for (int64_t k = 0; k < w.k; ++k)
          sum += (int64_t{ar[k]} - e.a_zero_point) * panel[(k / 4 * kPanelCols + j) * 4 + k % 4];
        const double v = std::nearbyint(static_cast<double>(sum) * static_cast<double>(e.multiplier[c])) +
                         static_cast<double>(e.y_zero_point);
        const uint8_t y3 = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
        if (e.skip)
          qadd::qlinear_add_ref(e.add, &y3, e.skip + r * ldy + c, false, 1, y + r * ldy + c);
        else
          y[r * ldy + c] = y3;
      }
    }
  }
}

}  // namespace hone::kernels::qgemm
