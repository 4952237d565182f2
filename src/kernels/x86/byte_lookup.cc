// kernels/x86/byte_lookup.h: the scalar reference, the AVX-512 VBMI variant (compiled for that
// ISA through a target attribute: the CMake suffix rules have no VBMI file class) and dispatch.
#include "kernels/x86/byte_lookup.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "core/cpu_features.h"

namespace hone::kernels::lookup {

void byte_lookup_ref(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void byte_lookup_avx512vbmi(const uint8_t* table,
                                                                                   const uint8_t* x, int64_t n,
                                                                                   uint8_t* y) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 m = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    const __m512i idx = _mm512_maskz_loadu_epi8(m, x + i);
    // vpermi2b reads the low 7 bits: bit 6 picks the first or second table of each pair.
    const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, idx, t3);
    const __m512i r = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high);  // bit 7: 128..255
    _mm512_mask_storeu_epi8(y + i, m, r);
  }
}

std::vector<Variant> available_variants() {
  const CpuFeatures& f = cpu_features();
  std::vector<Variant> v = {{"scalar", &byte_lookup_ref}};
  // cpu_features() honours HONE_ISA; VBMI itself is not among its bits, so ask the CPU.
  if (f.avx512f && f.avx512bw && __builtin_cpu_supports("avx512vbmi")) v.push_back({"avx512vbmi", &byte_lookup_avx512vbmi});
  return v;
}

const Variant& best_variant() {
  static const Variant best = available_variants().back();
  return best;
}

void byte_lookup(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y, int threads) {
  constexpr int64_t kPerThread = 1 << 17;  // a lookup pass is fast: only large tensors pay for a team
  const LookupFn fn = best_variant().lookup;
  const int team = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n / kPerThread)));
  if (team <= 1) return fn(table, x, n, y);
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    fn(table, x + begin, end - begin, y + begin);
  }
}

}  // namespace hone::kernels::lookup
