// f32_gemv_c64_ref: the scalar reference of the packed-panel GEMV (kernels/x86/gemv.h), what the
// SIMD variants are tested against and what runs under HONE_ISA=scalar. Sums in k order, in float.
#include "kernels/x86/gemv.h"

namespace hone::kernels::x86 {

void f32_gemv_c64_ref(const float* a, const float* panel, int64_t k, float* out) {
  for (int64_t j = 0; j < kGemvPanelCols; ++j) out[j] = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    const float ai = a[i];
    const float* row = panel + i * kGemvPanelCols;
    for (int64_t j = 0; j < kGemvPanelCols; ++j) out[j] += ai * row[j];
  }
}

}  // namespace hone::kernels::x86
