// The packed-panel fp32 GEMV (kernels/x86/gemv.h): every variant this CPU runs (gemv.inc, as
// capped by HONE_ISA) against the scalar reference f32_gemv_c64_ref, and the reference, through
// packing and the threaded driver, against a double-precision product of the unpacked matrix:
// K odd and even (the AVX-512 loop takes two k per step), N below, at and past a 64-column
// panel, B stored [K, N] and [N, K], 1..4 rows of A, one and two threads. tests/kernels_isa_fp32
// reruns these with HONE_ISA=scalar and HONE_ISA=avx2.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/x86/gemv.h"
#include "../random_data.h"

namespace hone::kernels::x86 {
namespace {

struct Shape {
  int64_t k, n;
};
constexpr Shape kShapes[] = {{1, 1}, {7, 63}, {64, 64}, {65, 65}, {130, 200}, {1280, 1000}};

TEST(X86Kernels, GemvReferenceMatchesDoubleProductThroughPackingAndThreads) {
  for (const Shape& s : kShapes)
    for (bool trans_b : {false, true})
      for (int64_t m = 1; m <= 4; ++m)
        for (int threads : {1, 2}) {
          const auto b = test_data::uniform_floats(s.k * s.n, 1);
          const auto a = test_data::uniform_floats(m * s.k, 2);
          const PackedGemvWeights w = PackedGemvWeights::pack(b.data(), s.k, s.n, trans_b);
          // Sentinels past each row of y catch writes beyond N.
          const int64_t ldy = s.n + 3;
          std::vector<float> y(static_cast<size_t>(m * ldy), 12345.0f);
          gemv(gemv_variants().front(), w, a.data(), s.k, m, y.data(), ldy, threads);
          for (int64_t r = 0; r < m; ++r) {
            for (int64_t j = 0; j < s.n; ++j) {
              double want = 0.0, magnitude = 0.0;
              for (int64_t i = 0; i < s.k; ++i) {
                const double bij = trans_b ? b[static_cast<size_t>(j * s.k + i)] : b[static_cast<size_t>(i * s.n + j)];
                want += a[static_cast<size_t>(r * s.k + i)] * bij;
                magnitude += std::fabs(a[static_cast<size_t>(r * s.k + i)] * bij);
              }
              ASSERT_NEAR(y[static_cast<size_t>(r * ldy + j)], want, 1e-6 * (magnitude + 1.0))
                  << "k=" << s.k << " n=" << s.n << " trans_b=" << trans_b << " m=" << m << " r=" << r << " j=" << j;
            }
            for (int64_t j = s.n; j < ldy; ++j) ASSERT_EQ(y[static_cast<size_t>(r * ldy + j)], 12345.0f);
          }
        }
}

TEST(X86Kernels, GemvEveryVariantMatchesTheReference) {
  const GemvVariant& ref = gemv_variants().front();
  for (const GemvVariant& v : gemv_variants()) {
    if (!isa_available(v.isa)) continue;
    for (const Shape& s : kShapes)
      for (int64_t m : {1, 3}) {
        const auto b = test_data::uniform_floats(s.k * s.n, 3);
        const auto a = test_data::uniform_floats(m * s.k, 4);
        const PackedGemvWeights w = PackedGemvWeights::pack(b.data(), s.k, s.n, true);
        std::vector<float> want(static_cast<size_t>(m * s.n)), got(static_cast<size_t>(m * s.n));
        gemv(ref, w, a.data(), s.k, m, want.data(), s.n, 1);
        gemv(v, w, a.data(), s.k, m, got.data(), s.n, 2);
        for (size_t i = 0; i < want.size(); ++i) {
          // Sums in a different order: a few ulps of the sum of |terms| (at most k of 1).
          ASSERT_NEAR(got[i], want[i], 1e-6 * static_cast<double>(s.k) + 1e-6)
              << v.name << " k=" << s.k << " n=" << s.n << " m=" << m << " i=" << i;
        }
      }
  }
}

TEST(X86Kernels, GemvBestIsTheWidestAvailable) {
  const GemvVariant& best = gemv_best();
  EXPECT_TRUE(isa_available(best.isa));
  for (const GemvVariant& v : gemv_variants()) {
    if (isa_available(v.isa)) {
      EXPECT_LE(static_cast<int>(v.isa), static_cast<int>(best.isa)) << v.name;
    }
  }
}

}  // namespace
}  // namespace hone::kernels::x86
