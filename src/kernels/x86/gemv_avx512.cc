// f32_gemv_c64_avx512: one row of A against one 64-column panel (kernels/x86/gemv.h). Two k per
// iteration into two sets of 4 accumulators, so 8 FMA chains hide the FMA latency when the panel
// comes from cache. No software prefetch: the panel is one forward stream, which the hardware
// prefetcher follows; a prefetch 2 KiB ahead made it slower on Zen (x86_kernels_bench, 1 thread,
// CPU time: 80 -> 59 us warm, 417 -> 364 us from memory without it).
#include <immintrin.h>

#include "kernels/x86/gemv.h"

namespace hone::kernels::x86 {

void f32_gemv_c64_avx512(const float* a, const float* panel, int64_t k, float* out) {
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
  __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps(), d2 = _mm512_setzero_ps(), d3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= k; i += 2) {
    const float* p = panel + i * kGemvPanelCols;
    const __m512 a0 = _mm512_set1_ps(a[i]), a1 = _mm512_set1_ps(a[i + 1]);
    c0 = _mm512_fmadd_ps(a0, _mm512_load_ps(p), c0);
    c1 = _mm512_fmadd_ps(a0, _mm512_load_ps(p + 16), c1);
    c2 = _mm512_fmadd_ps(a0, _mm512_load_ps(p + 32), c2);
    c3 = _mm512_fmadd_ps(a0, _mm512_load_ps(p + 48), c3);
    d0 = _mm512_fmadd_ps(a1, _mm512_load_ps(p + 64), d0);
    d1 = _mm512_fmadd_ps(a1, _mm512_load_ps(p + 80), d1);
    d2 = _mm512_fmadd_ps(a1, _mm512_load_ps(p + 96), d2);
    d3 = _mm512_fmadd_ps(a1, _mm512_load_ps(p + 112), d3);
  }
  if (i < k) {
    const float* p = panel + i * kGemvPanelCols;
    const __m512 a0 = _mm512_set1_ps(a[i]);
    c0 = _mm512_fmadd_ps(a0, _mm512_load_ps(p), c0);
    c1 = _mm512_fmadd_ps(a0, _mm512_load_ps(p + 16), c1);
    c2 = _mm512_fmadd_ps(a0, _mm512_load_ps(p + 32), c2);
    c3 = _mm512_fmadd_ps(a0, _mm512_load_ps(p + 48), c3);
  }
  _mm512_storeu_ps(out, _mm512_add_ps(c0, d0));
  _mm512_storeu_ps(out + 16, _mm512_add_ps(c1, d1));
  _mm512_storeu_ps(out + 32, _mm512_add_ps(c2, d2));
  _mm512_storeu_ps(out + 48, _mm512_add_ps(c3, d3));
}

}  // namespace hone::kernels::x86
