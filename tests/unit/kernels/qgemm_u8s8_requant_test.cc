// kernels/x86/qgemm_u8s8_requant.h: every variant (the scalar reference on the packed weights
// included) against QLinearConv's requantization and QLinearAdd's reference written out here on
// the unpacked weights, byte for byte, over shapes that hit every row remainder (m % 6), column
// tail (n % 16, n % 64) and k tail (k % 4), zero points, per-column multipliers, bias, the skip
// add or none, multipliers that make exact rounding ties, sums past 2^24, and 1 or 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/x86/qgemm_u8s8_requant.h"

namespace hone::kernels::qgemm {
namespace {

struct Case {
  int64_t m, k, n;
  int32_t a_zp, y_zp;
  bool bias, skip;
  float multiplier;  // base: column c gets multiplier * (1 + (c % 7) / 8), or exactly `multiplier` when tie
  bool tie = false;
  bool spread = true;  // most of y3 inside (0, 255): false where saturation is the point
};

std::string describe(const Case& c) {
  return "m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) + " n=" + std::to_string(c.n) +
         " a_zp=" + std::to_string(c.a_zp) + " y_zp=" + std::to_string(c.y_zp) + (c.bias ? " bias" : "") +
         (c.skip ? " skip" : "") + " mult=" + std::to_string(c.multiplier) + (c.tie ? " (ties)" : "");
}

void expect_exact(const Case& c, uint32_t seed, int activation_lo = 0, int activation_hi = 255, int weight_lo = -128,
                  int weight_hi = 127) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> act(activation_lo, activation_hi), byte(0, 255), weight(weight_lo, weight_hi);
  const int64_t lda = c.k + 3, ldy = c.n + 5;  // strides wider than the rows: the kernels must use them
  std::vector<uint8_t> a(static_cast<size_t>(c.m * lda)), skip(static_cast<size_t>(c.m * ldy));
  std::vector<int8_t> w(static_cast<size_t>(c.k * c.n));
  for (auto& v : a) v = static_cast<uint8_t>(act(rng));
  for (auto& v : skip) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : w) v = static_cast<int8_t>(weight(rng));
  std::vector<int32_t> bias(static_cast<size_t>(c.n));
  std::uniform_int_distribution<int32_t> bias_dist(-20000, 20000);
  for (auto& v : bias) v = bias_dist(rng);
  std::vector<float> multiplier(static_cast<size_t>(c.n));
  for (int64_t j = 0; j < c.n; ++j)
    multiplier[static_cast<size_t>(j)] =
        c.tie ? c.multiplier : c.multiplier * (1.0f + static_cast<float>(j % 7) / 8.0f);
  qadd::Params add;
  add.a_scale = 0.047f;
  add.b_scale = 0.031f;
  add.y_scale = 0.059f;
  add.a_zero_point = c.y_zp == 0 ? 3 : c.y_zp;  // also an add reading y3 with another zero point
  add.b_zero_point = 17;
  add.y_zero_point = 0;

  // The oracle: int64 sums on the unpacked w, QLinearConv's double requantization, QLinearAdd's reference.
  std::vector<uint8_t> want(static_cast<size_t>(c.m * ldy), 0xa5);
  for (int64_t r = 0; r < c.m; ++r)
    for (int64_t j = 0; j < c.n; ++j) {
      int64_t sum = c.bias ? bias[static_cast<size_t>(j)] : 0;
      for (int64_t kk = 0; kk < c.k; ++kk)
        sum += (int64_t{a[static_cast<size_t>(r * lda + kk)]} - c.a_zp) * w[static_cast<size_t>(kk * c.n + j)];
      const double v = std::nearbyint(static_cast<double>(sum) * static_cast<double>(multiplier[static_cast<size_t>(j)])) +
                       c.y_zp;
      const uint8_t y3 = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      const size_t at = static_cast<size_t>(r * ldy + j);
      if (c.skip) {
        qadd::qlinear_add_ref(add, &y3, &skip[at], false, 1, &want[at]);
      } else {
        want[at] = y3;
      }
    }

  // A test that only saw saturated bytes would prove little: most of y3 must be inside the range.
  int64_t inside = 0;
  for (int64_t r = 0; r < c.m; ++r)
    for (int64_t j = 0; j < c.n; ++j) {
      const uint8_t v = want[static_cast<size_t>(r * ldy + j)];
      inside += v != 0 && v != 255;
    }
  if (c.spread && c.m * c.n >= 16) {
    EXPECT_GE(2 * inside, c.m * c.n) << "mostly saturated: " << describe(c);
  }

  const PackedWeights p = pack_weights(w.data(), c.k, c.n);
  const RequantTables tables = make_requant_tables(p, c.a_zp, c.bias ? bias.data() : nullptr, multiplier.data());
  RequantEpilogue e;
  e.a_zero_point = c.a_zp;
  e.bias = c.bias ? bias.data() : nullptr;
  e.multiplier = multiplier.data();
  e.y_zero_point = c.y_zp;
  e.skip = c.skip ? skip.data() : nullptr;
  e.add = add;
  tables.set_tables(e);
  for (const RequantVariant& v : requant_variants()) {
    for (int threads : {1, 3}) {
      std::vector<uint8_t> got(static_cast<size_t>(c.m * ldy), 0xa5);  // the gaps between rows stay 0xa5
      qgemm_u8s8_requant_with(v, p, a.data(), lda, c.m, e, got.data(), ldy, threads);
      int bad = 0;
      for (size_t i = 0; i < got.size() && bad < 3; ++i)
        if (got[i] != want[i]) {
          ++bad;
          ADD_FAILURE() << v.name << " threads " << threads << " " << describe(c) << " at row " << i / ldy
                        << " column " << i % ldy << ": " << int{got[i]} << " vs " << int{want[i]};
        }
    }
  }
}

TEST(QGemmU8S8Requant, EveryVariantMatchesTheReferenceByteForByte) {
  uint32_t seed = 1;
  for (int64_t m : {1, 5, 6, 7, 13})
    for (int64_t k : {1, 3, 4, 17, 64})
      for (int64_t n : {1, 15, 16, 17, 64, 65, 130}) {
        // Sums spread like 74 * 74 * sqrt(k) (more with zero point 0): a multiplier that spreads
        // y3 over the byte range.
        const float mult = 0.005f / std::sqrt(static_cast<float>(k));
        expect_exact({m, k, n, 131, 100, true, true, mult}, seed++);
        expect_exact({m, k, n, 0, 128, false, false, mult / 2}, seed++);
      }
}

TEST(QGemmU8S8Requant, ZeroPointsBiasAndSkip) {
  uint32_t seed = 100;
  for (int32_t a_zp : {0, 1, 128, 255})
    for (int32_t y_zp : {0, 77, 255})
      for (bool bias : {false, true})
        for (bool skip : {false, true}) {
          const bool centred = a_zp == 128 && y_zp == 77;  // elsewhere many bytes saturate, on purpose
          expect_exact({11, 37, 70, a_zp, y_zp, bias, skip, 0.0005f, false, centred}, seed++);
        }
}

TEST(QGemmU8S8Requant, RoundingTiesGoToEven) {
  // A multiplier of 1/2 or 1/4 puts many products exactly on .5: each must round to even.
  uint32_t seed = 200;
  for (float mult : {0.5f, 0.25f})
    for (bool skip : {false, true}) expect_exact({13, 1, 67, 128, 128, false, skip, mult, true}, seed++, 118, 138, -20, 20);
}

TEST(QGemmU8S8Requant, SumsPast2To24StayExact) {
  // Activations 200..255 against zero point 0, weights 100..127, k = 3000: sums near 2^26, where
  // a float conversion would round the sum first. The multipliers put y3 mid-range.
  const float mult = 128.0f / (228.0f * 113.0f * 3000.0f * 1.4f);
  expect_exact({7, 3000, 40, 0, 0, true, false, mult}, 300, 200, 255, 100, 127);
  expect_exact({7, 3000, 40, 0, 0, true, true, mult}, 301, 200, 255, 100, 127);
}

TEST(QGemmU8S8Requant, TiesPast2To24AreNotRoundedTwice) {
  // Sums around 2^25 + 2^19 (the bias) times 2^-20: exactly 32.5 at the centre, a tie that must
  // go to 32, while one more makes 33. A float conversion of the sum (ulp 4 there) would move
  // 2^25 + 2^19 +- 1 onto the tie. All weights 1, k = 4: each row's sum is its bytes' sum.
  const int64_t m = 60, k = 4, n = 16;
  std::vector<uint8_t> a(static_cast<size_t>(m * k), 0);
  for (int64_t r = 0; r < m; ++r) a[static_cast<size_t>(r * k)] = static_cast<uint8_t>(r);  // row sum r
  const std::vector<int8_t> w(static_cast<size_t>(k * n), 1);
  std::vector<int32_t> bias(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) bias[static_cast<size_t>(j)] = (1 << 25) + (1 << 19) - 30 + static_cast<int32_t>(j % 3);
  const std::vector<float> multiplier(static_cast<size_t>(n), std::ldexp(1.0f, -20));
  const PackedWeights p = pack_weights(w.data(), k, n);
  const RequantTables tables = make_requant_tables(p, 0, bias.data(), multiplier.data());
  RequantEpilogue e;
  e.bias = bias.data();
  e.multiplier = multiplier.data();
  tables.set_tables(e);
  for (const RequantVariant& v : requant_variants()) {
    std::vector<uint8_t> y(static_cast<size_t>(m * n));
    qgemm_u8s8_requant_with(v, p, a.data(), k, m, e, y.data(), n, 1);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t above_tie = r - 30 + j % 3;  // sum - (2^25 + 2^19)
        const int want = above_tie > 0 ? 33 : 32;
        ASSERT_EQ(int{y[static_cast<size_t>(r * n + j)]}, want) << v.name << " sum 2^25 + 2^19 + " << above_tie;
      }
  }
}

TEST(QGemmU8S8Requant, FloatProductsOnATieAreRedoneExactly) {
  // Sums s and multipliers m whose float product lands exactly on .5 while the exact product
  // does not: rounding the float product (to even) would be wrong about half the time. Found by
  // search; each becomes a column whose sum is its bias (a row of zeros, zero point 0).
  std::vector<int32_t> sums;
  std::vector<float> mults;
  int differs = 0;  // cases where rounding the float product would give another byte
  for (int32_t s = 1; sums.size() < 48 && s < (1 << 24); ++s) {
    const float m = std::ldexp(1.0f + static_cast<float>(s % 1000) * 1e-3f, -16);
    const float p = static_cast<float>(s) * m;
    const double exact = static_cast<double>(s) * static_cast<double>(m);
    if (p > 250.0f || p - std::floor(p) != 0.5f || exact == static_cast<double>(p)) continue;
    sums.push_back(s);
    mults.push_back(m);
    differs += std::nearbyint(p) != std::nearbyint(exact);
  }
  ASSERT_GE(sums.size(), 16u);
  ASSERT_GT(differs, 4);
  const int64_t n = static_cast<int64_t>(sums.size()), k = 4, m = 3;
  const std::vector<uint8_t> a(static_cast<size_t>(m * k), 0);
  const std::vector<int8_t> w(static_cast<size_t>(k * n), 5);
  const PackedWeights p = pack_weights(w.data(), k, n);
  const RequantTables tables = make_requant_tables(p, 0, sums.data(), mults.data());
  ASSERT_FALSE(tables.offset32.empty());  // the float path is the one under test
  RequantEpilogue e;
  e.bias = sums.data();
  e.multiplier = mults.data();
  tables.set_tables(e);
  for (const RequantVariant& v : requant_variants()) {
    std::vector<uint8_t> y(static_cast<size_t>(m * n));
    qgemm_u8s8_requant_with(v, p, a.data(), k, m, e, y.data(), n, 1);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const double want = std::nearbyint(static_cast<double>(sums[static_cast<size_t>(j)]) *
                                           static_cast<double>(mults[static_cast<size_t>(j)]));
        ASSERT_EQ(int{y[static_cast<size_t>(r * n + j)]}, static_cast<int>(want)) << v.name << " column " << j;
      }
  }
}

TEST(QGemmU8S8Requant, SumsPast2To24AreNotRoundedToFloat) {
  // Sums past 2^24 (not exact in float) whose float conversion moves the float product to the
  // other side of a .5, off the tie itself (so only the range check can catch them). Found by
  // search; each becomes a column whose sum is its bias (a row of zeros, zero point 0).
  std::vector<int32_t> sums;
  std::vector<float> mults;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> sum_dist((1 << 24) + 1, (1 << 27) - 1);
  std::uniform_real_distribution<float> scale_dist(0.5f, 1.0f);
  for (int tries = 0; sums.size() < 32 && tries < 20000000; ++tries) {
    const int32_t sum = sum_dist(rng);
    const float m = scale_dist(rng) * 200.0f / static_cast<float>(sum);  // products in (100, 200)
    const float p = static_cast<float>(sum) * m;
    const float r = std::nearbyint(p);
    if (std::fabs(p - r) == 0.5f) continue;  // a tie: the tie check catches those
    if (r == std::nearbyint(static_cast<double>(sum) * static_cast<double>(m))) continue;
    sums.push_back(sum);
    mults.push_back(m);
  }
  ASSERT_GE(sums.size(), 3u);
  const int64_t n = static_cast<int64_t>(sums.size()), k = 4, m = 2;
  const std::vector<uint8_t> a(static_cast<size_t>(m * k), 0);
  const std::vector<int8_t> w(static_cast<size_t>(k * n), 3);
  const PackedWeights p = pack_weights(w.data(), k, n);
  const RequantTables tables = make_requant_tables(p, 0, sums.data(), mults.data());
  ASSERT_FALSE(tables.offset32.empty());  // the float path, with its range check, is under test
  RequantEpilogue e;
  e.bias = sums.data();
  e.multiplier = mults.data();
  tables.set_tables(e);
  for (const RequantVariant& v : requant_variants()) {
    std::vector<uint8_t> y(static_cast<size_t>(m * n));
    qgemm_u8s8_requant_with(v, p, a.data(), k, m, e, y.data(), n, 1);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const double want = std::nearbyint(static_cast<double>(sums[static_cast<size_t>(j)]) *
                                           static_cast<double>(mults[static_cast<size_t>(j)]));
        ASSERT_EQ(int{y[static_cast<size_t>(r * n + j)]}, static_cast<int>(want)) << v.name << " column " << j;
      }
  }
}

TEST(QGemmU8S8Requant, ResNetSizedProductsAcrossThreads) {
  // ResNet-50's residual 1x1 convs at reduced rows: panels split over threads (n = 256) and rows
  // split (n = 64: one panel).
  expect_exact({196, 64, 256, 128, 0, true, true, 0.0007f}, 400);
  expect_exact({150, 512, 64, 5, 9, true, true, 0.0002f}, 401);
}

}  // namespace
}  // namespace hone::kernels::qgemm
