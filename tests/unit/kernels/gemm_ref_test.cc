// gemm_ref is the oracle other GEMM backends are checked against, so it is checked here against
// the definition (one dot product per element) over every transposition, leading dims wider than
// the matrices, sizes straddling the tile and panel boundaries, and the threaded path.
#include "kernels/ref/gemm_ref.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace hone::kernels::ref {
namespace {

struct Case {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha, beta;
};

// Deterministic values in [-1, 1) that differ from element to element.
std::vector<float> pattern(size_t count, unsigned seed) {
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = static_cast<float>((i * 2654435761u + seed * 40503u) % 2001) / 1000.0f - 1.0f;
  return v;
}

void check(const Case& c, int threads) {
  // Stored shapes of A and B, with 3 columns of padding to exercise the leading dims.
  const int64_t a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
  const int64_t b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 3, ldc = c.n + 3;
  const auto a = pattern(static_cast<size_t>(a_rows * lda), 1);
  const auto b = pattern(static_cast<size_t>(b_rows * ldb), 2);
  auto got = pattern(static_cast<size_t>(c.m * ldc), 3);
  const auto c_in = got;
  sgemm(c.trans_a, c.trans_b, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb, c.beta, got.data(), ldc, threads);
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double dot = 0;
      for (int64_t p = 0; p < c.k; ++p)
        dot += static_cast<double>(c.trans_a ? a[p * lda + i] : a[i * lda + p]) *
               static_cast<double>(c.trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      const double want = c.alpha * dot + (c.beta == 0 ? 0.0 : c.beta * c_in[i * ldc + j]);
      ASSERT_NEAR(got[i * ldc + j], want, 1e-4 * (1 + std::fabs(want)))
          << "m=" << c.m << " n=" << c.n << " k=" << c.k << " at " << i << "," << j;
    }
    // The padding between rows of C is never written.
    for (int64_t j = c.n; j < ldc; ++j) ASSERT_EQ(got[i * ldc + j], c_in[i * ldc + j]);
  }
}

TEST(GemmRef, MatchesTheDefinition) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const Case& c : {Case{ta, tb, 1, 1, 1, 1, 0}, Case{ta, tb, 3, 5, 7, 1, 1}, Case{ta, tb, 65, 257, 129, 0.5f, 2},
                            Case{ta, tb, 130, 40, 300, -1, 0.25f}, Case{ta, tb, 4, 3, 0, 1, 0.5f}})
        for (int threads : {1, 0}) check(c, threads);
}

TEST(GemmRef, BetaZeroIgnoresWhatCHeld) {
  const float a[] = {1, 2}, b[] = {3, 4};
  float c[] = {std::numeric_limits<float>::quiet_NaN()};
  sgemm(false, false, 1, 1, 2, 1, a, 2, b, 1, 0, c, 1);
  EXPECT_EQ(c[0], 11);
}

TEST(GemmRef, SignedIntegersWrapInsteadOfOverflowing) {
  const int32_t a[] = {std::numeric_limits<int32_t>::max(), 1}, b[] = {2, 3};
  int32_t c[] = {0};
  gemm<int32_t>(false, false, 1, 1, 2, 1, a, 2, b, 1, 0, c, 1);
  EXPECT_EQ(c[0], 1);  // 2 * INT32_MAX + 3 wraps to 1
}

}  // namespace
}  // namespace hone::kernels::ref
