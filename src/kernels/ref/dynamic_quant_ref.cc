// Scalar reference of kernels/x86/dynamic_quant.h: the operator's formula written out plainly.
#include <cmath>

#include "kernels/x86/dynamic_quant.h"

namespace hone::kernels::dynq {

void f32_minmax_ref(const float* x, int64_t n, float* lo, float* hi) {
  float l = *lo, h = *hi;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] < l) l = x[i];
    if (x[i] > h) h = x[i];
  }
  *lo = l;
  *hi = h;
}

void u8_quantize_ref(const float* x, int64_t n, float scale, uint8_t zero_point, uint8_t* y) {
  const float zp = zero_point;
  for (int64_t i = 0; i < n; ++i) {
    const float q = std::nearbyint(x[i] / scale) + zp;
    if (std::isnan(q)) {
      y[i] = zero_point;
      continue;
    }
    y[i] = static_cast<uint8_t>(q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q);
  }
}

}  // namespace hone::kernels::dynq
