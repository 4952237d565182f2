// f32_gemv_c64_avx2: one row of A against one 64-column panel (kernels/x86/gemv.h): 8 ymm
// accumulators, one k per iteration (8 independent FMA chains); no software prefetch, as in the
// AVX-512 variant.
#include <immintrin.h>

#include "kernels/x86/gemv.h"

namespace hone::kernels::x86 {

void f32_gemv_c64_avx2(const float* a, const float* panel, int64_t k, float* out) {
  __m256 c[8];
  for (int j = 0; j < 8; ++j) c[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < k; ++i) {
    const float* p = panel + i * kGemvPanelCols;
    const __m256 ai = _mm256_broadcast_ss(a + i);
    for (int j = 0; j < 8; ++j) c[j] = _mm256_fmadd_ps(ai, _mm256_load_ps(p + 8 * j), c[j]);
  }
  for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + 8 * j, c[j]);
}

}  // namespace hone::kernels::x86
