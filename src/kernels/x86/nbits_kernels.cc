// Dispatch for the blockwise n-bit kernels: the table from nbits_kernels.inc, A preparation and
// the OpenMP split over columns. Built without ISA flags: only the per-ISA files use them.
#include "kernels/x86/nbits_kernels.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/cpu_features.h"

namespace hone::kernels::nbits {

const char* isa_name(NBitsIsa isa) {
  switch (isa) {
    case NBitsIsa::kScalar: return "scalar";
    case NBitsIsa::kAvx2: return "avx2";
    case NBitsIsa::kAvx512: return "avx512";
  }
  return "?";
}

bool isa_available(NBitsIsa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case NBitsIsa::kScalar: return true;
    case NBitsIsa::kAvx2: return f.avx2 && f.fma;
    case NBitsIsa::kAvx512: return f.avx512f && f.avx512bw && f.avx512vl && f.fma;
  }
  return false;
}

const std::vector<GemmVariant>& gemm_variants() {
  static const std::vector<GemmVariant> v = {
#define HONE_NBITS_GEMM(name, isa, bits, prep) {#name, NBitsIsa::isa, bits, APrep::prep, &name},
#include "kernels/x86/nbits_kernels.inc"
#undef HONE_NBITS_GEMM
  };
  return v;
}

bool serves(const GemmVariant& v, const NBitsWeights& w) {
  if (v.bits != 0 && v.bits != w.bits) return false;
  if (v.prep == APrep::kNibbleSplit32 && w.block_size % 32 != 0) return false;
  if (v.prep == APrep::kPadded && w.block_size % 16 != 0) return false;
  return true;
}

const GemmVariant& best_gemm(const NBitsWeights& w) {
  const auto& all = gemm_variants();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (isa_available(it->isa) && serves(*it, w)) return *it;
  return all.front();
}

int64_t prepared_lda(const GemmVariant& v, const NBitsWeights& w) {
  return v.prep == APrep::kNone ? w.k : w.k_blocks * w.block_size;
}

void prepare_a(const GemmVariant& v, const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* out) {
  const int64_t kp = prepared_lda(v, w);
  for (int64_t r = 0; r < m; ++r) {
    const float* src = a + r * lda;
    float* dst = out + r * kp;
    if (v.prep == APrep::kNibbleSplit32) {
      for (int64_t c = 0; c < kp; c += 32) {
        for (int64_t j = 0; j < 16; ++j) {
          const int64_t even = c + 2 * j, odd = even + 1;
          dst[c + j] = even < w.k ? src[even] : 0.0f;
          dst[c + 16 + j] = odd < w.k ? src[odd] : 0.0f;
        }
      }
    } else {
      const int64_t k = std::min(w.k, kp);
      std::copy(src, src + k, dst);
      std::fill(dst + k, dst + kp, 0.0f);
    }
  }
}

void gemm(const GemmVariant& v, const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
          int threads) {
  if (m <= 0 || w.n <= 0) return;
  std::vector<float> prepared;
  if (v.prep != APrep::kNone) {
    const int64_t kp = prepared_lda(v, w);
    prepared.resize(static_cast<size_t>(m * kp));
    prepare_a(v, w, a, lda, m, prepared.data());
    a = prepared.data();
    lda = kp;
  }
  // Columns are split in contiguous ranges (multiples of 8, so no two threads write one cache
  // line of a row of y): each thread then streams one contiguous run of B.
  const int64_t groups = (w.n + 7) / 8;
  const int t = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, groups)));
  if (t == 1) {
    v.fn(w, a, lda, m, y, ldy, 0, w.n);
    return;
  }
#pragma omp parallel num_threads(t)
  {
    const int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t g0 = groups * id / nt, g1 = groups * (id + 1) / nt;
    const int64_t n0 = g0 * 8, n1 = std::min(w.n, g1 * 8);
    if (n0 < n1) v.fn(w, a, lda, m, y, ldy, n0, n1);
  }
}

}  // namespace hone::kernels::nbits
