// Scalar reference of kernels/x86/qlinear_add.h: the QDQ chain's float arithmetic written out.
#include <cmath>

#include "kernels/x86/qlinear_add.h"

namespace hone::kernels::qadd {

void qlinear_add_ref(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y) {
  auto value = [&](uint8_t byte) {
    return p.is_signed ? int32_t{static_cast<int8_t>(byte)} : int32_t{byte};
  };
  const float lo = p.is_signed ? -128.0f : 0.0f, hi = p.is_signed ? 127.0f : 255.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float fa = static_cast<float>(value(a[i]) - p.a_zero_point) * p.a_scale;  // DequantizeLinear
    const float fb = static_cast<float>(value(b[b_broadcast ? 0 : i]) - p.b_zero_point) * p.b_scale;
    const float q = std::nearbyint((fa + fb) / p.y_scale) + static_cast<float>(p.y_zero_point);  // Add, Quantize
    const float s = std::isnan(q) ? static_cast<float>(p.y_zero_point) : q < lo ? lo : q > hi ? hi : q;
    y[i] = p.is_signed ? static_cast<uint8_t>(static_cast<int8_t>(s)) : static_cast<uint8_t>(s);
  }
}

}  // namespace hone::kernels::qadd
