// Dispatch, tables and threading of the byte-output GEMM (RequantEpilogue in
// kernels/x86/qgemm_u8s8_requant.h; built without ISA flags). The work split is qgemm_u8s8_with's:
// column panels over the threads, rows too only when there are fewer panels than threads.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/cpu_features.h"
#include "kernels/x86/qgemm_u8s8_requant.h"

namespace hone::kernels::qgemm {

RequantTables make_requant_tables(const PackedWeights& w, int32_t a_zero_point, const int32_t* bias,
                                  const float* multiplier) {
  RequantTables t;
  t.offset.resize(static_cast<size_t>(w.n));
  t.multiplier.resize(static_cast<size_t>(w.n));
  // The kernels' int32 sums are sum_k a * w (a unsigned): at most 255 * 128 * k in magnitude.
  const double sum_bound = 255.0 * 128.0 * static_cast<double>(w.k);
  bool fits = true;
  for (int64_t c = 0; c < w.n; ++c) {
    const size_t i = static_cast<size_t>(c);
    // Exact in double: |bias| < 2^31, |a_zero_point * col_sum| < 2^8 * 2^7 * k.
    t.offset[i] = (bias ? static_cast<double>(bias[c]) : 0.0) -
                  static_cast<double>(a_zero_point) * static_cast<double>(w.col_sum[i]);
    t.multiplier[i] = static_cast<double>(multiplier[c]);
    fits = fits && std::fabs(t.offset[i]) + sum_bound < 2147483647.0;
  }
  if (fits)
    for (double v : t.offset) t.offset32.push_back(static_cast<int32_t>(v));
  return t;
}

std::vector<RequantVariant> requant_variants() {
  const CpuFeatures& f = cpu_features();
  std::vector<RequantVariant> v = {{"scalar", &qgemm_u8s8_requant_ref}};
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni)
    v.push_back({"avx512vnni", &qgemm_u8s8_requant_avx512vnni});
  return v;
}

const RequantVariant& best_requant_variant() {
  static const RequantVariant best = requant_variants().back();
  return best;
}

bool has_fast_requant_variant() { return best_requant_variant().fn != &qgemm_u8s8_requant_ref; }

void qgemm_u8s8_requant_with(const RequantVariant& v, const PackedWeights& w, const uint8_t* a, int64_t lda,
                             int64_t m, const RequantEpilogue& e, uint8_t* y, int64_t ldy, int threads) {
  if (m <= 0 || w.n <= 0) return;
  WeightsView wv;
  wv.k = w.k;
  wv.n = w.n;
  wv.quads = w.quads();
  wv.data = reinterpret_cast<const int8_t*>(w.data.data());
  wv.col_sum = w.col_sum.data();
  // The vector kernels read whole quads of k: rows of a k % 4 != 0 are copied zero-padded.
  std::vector<uint8_t> padded;
  if (w.k % 4 != 0) {
    const int64_t kq = wv.quads * 4;
    padded.assign(static_cast<size_t>(m * kq), 0);
    for (int64_t r = 0; r < m; ++r) std::copy(a + r * lda, a + r * lda + w.k, padded.data() + r * kq);
    a = padded.data();
    lda = kq;
  }
  constexpr int64_t kTileRows = 6;
  const int64_t panels = w.panels(), tiles = (m + kTileRows - 1) / kTileRows;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(tiles, (threads + panels - 1) / panels));
  const int64_t units = panels * chunks;
  const int64_t macs = m * w.n * std::max<int64_t>(w.k, 1);
  const int team = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({threads, units, macs >> 18})));
  auto run_units = [&](int64_t u0, int64_t u1) {
    if (chunks == 1) {
      if (u0 < u1) v.fn(wv, a, lda, e, y, ldy, 0, m, u0, u1);
      return;
    }
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t c = u % chunks;
      const int64_t r0 = std::min(m, tiles * c / chunks * kTileRows), r1 = std::min(m, tiles * (c + 1) / chunks * kTileRows);
      if (r0 < r1) v.fn(wv, a, lda, e, y, ldy, r0, r1, u / chunks, u / chunks + 1);
    }
  };
  if (team <= 1) return run_units(0, units);
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    run_units(units * t / nt, units * (t + 1) / nt);
  }
}

void qgemm_u8s8_requant(const PackedWeights& w, const uint8_t* a, int64_t lda, int64_t m, const RequantEpilogue& e,
                        uint8_t* y, int64_t ldy, int threads) {
  qgemm_u8s8_requant_with(best_requant_variant(), w, a, lda, m, e, y, ldy, threads);
}

}  // namespace hone::kernels::qgemm
