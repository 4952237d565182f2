// kernels/x86/dynamic_quant.h: every variant against ONNX's formula written out here, byte for
// byte, on odd sizes (every tail length), degenerate ranges, NaN/Inf, and sizes large enough to
// take the threaded path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/x86/dynamic_quant.h"

namespace hone::kernels::dynq {
namespace {

// DynamicQuantizeLinear as the ONNX specification states it.
QuantParams onnx_formula(const std::vector<float>& x, std::vector<uint8_t>& y) {
  float lo = 0, hi = 0;
  for (float v : x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  QuantParams p;
  p.scale = (hi - lo) / 255.0f;
  if (p.scale > 0) p.zero_point = static_cast<uint8_t>(std::nearbyint(std::clamp(0.0f - lo / p.scale, 0.0f, 255.0f)));
  y.assign(x.size(), 0);
  if (!(p.scale > 0)) return p;
  for (size_t i = 0; i < x.size(); ++i) {
    const float q = std::nearbyint(x[i] / p.scale) + p.zero_point;
    y[i] = std::isnan(q) ? p.zero_point : static_cast<uint8_t>(std::clamp(q, 0.0f, 255.0f));
  }
  return p;
}

void expect_all_variants_exact(const std::vector<float>& x, const char* what) {
  std::vector<uint8_t> want;
  const QuantParams pw = onnx_formula(x, want);
  for (const Variant& v : available_variants()) {
    for (int threads : {1, 3}) {
      std::vector<uint8_t> got(x.size(), 0xAB);
      const QuantParams pg = u8_dynamic_quantize_with(v, x.data(), static_cast<int64_t>(x.size()), got.data(), threads);
      EXPECT_EQ(std::memcmp(&pg.scale, &pw.scale, sizeof(float)), 0) << what << " " << v.name << ": scale " << pg.scale << " vs " << pw.scale;
      EXPECT_EQ(pg.zero_point, pw.zero_point) << what << " " << v.name;
      size_t mismatches = 0;
      for (size_t i = 0; i < x.size(); ++i)
        if (got[i] != want[i] && mismatches++ < 3)
          ADD_FAILURE() << what << " " << v.name << " threads " << threads << " n=" << x.size() << " [" << i
                        << "] x=" << x[i] << ": " << int(got[i]) << " vs " << int(want[i]);
      EXPECT_EQ(mismatches, 0u) << what << " " << v.name << " n=" << x.size();
    }
  }
}

TEST(DynamicQuant, OddSizesMatchTheFormula) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-3.0f, 5.0f);
  for (size_t n : {1, 2, 7, 15, 16, 17, 31, 33, 63, 65, 100, 257}) {
    std::vector<float> x(n);
    for (float& v : x) v = d(rng);
    expect_all_variants_exact(x, "uniform");
  }
}

TEST(DynamicQuant, TiesRoundToEven) {
  // Values that land on k + 0.5 after the division: range [0, 255] gives scale 1, zero point 0.
  std::vector<float> x = {255.0f, 0.5f, 1.5f, 2.5f, 3.5f, 254.5f, 100.5f, 0.0f, 7.5f, 8.5f, 9.5f, 10.5f,
                          11.5f, 12.5f, 13.5f, 14.5f, 15.5f, 16.5f, 17.5f};
  expect_all_variants_exact(x, "ties");
}

TEST(DynamicQuant, DegenerateRanges) {
  for (size_t n : {1, 16, 19, 40}) {
    expect_all_variants_exact(std::vector<float>(n, 0.0f), "all zero");
    expect_all_variants_exact(std::vector<float>(n, -0.0f), "all -0");
    expect_all_variants_exact(std::vector<float>(n, 2.5f), "all equal positive");
    expect_all_variants_exact(std::vector<float>(n, -1.25f), "all equal negative");
  }
  expect_all_variants_exact({}, "empty");
}

TEST(DynamicQuant, NaNsAreIgnoredAndInfinitiesSaturate) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(37);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.25f - 3.0f;
  x[0] = nan;
  x[17] = nan;
  x[36] = nan;
  expect_all_variants_exact(x, "nan");
  x[5] = inf;
  expect_all_variants_exact(x, "inf");
  x[6] = -inf;
  expect_all_variants_exact(x, "+-inf");
  expect_all_variants_exact(std::vector<float>(21, nan), "all nan");
}

TEST(DynamicQuant, LargeInputsTakeTheThreadedPath) {
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.3f, 2.0f);
  for (size_t n : {size_t{1} << 17, (size_t{1} << 17) + 77}) {
    std::vector<float> x(n);
    for (float& v : x) v = d(rng);
    expect_all_variants_exact(x, "large");
  }
}

// The quantizing pass alone, as QuantizeLinear calls it with a scale from the model: every
// variant against the reference, byte for byte, over scales from the smallest subnormal to the
// largest float (the AVX-512 variant multiplies by 1 / scale inside [2^-100, 2^100] and divides
// outside, so both sides of each edge are here), on quotients at and one ulp around k + 0.5,
// far beyond the byte range, and NaN / +-Inf / +-0 / subnormal inputs, at every tail length.
TEST(DynamicQuant, QuantizeWithAnyScaleMatchesTheReference) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> scales = {std::numeric_limits<float>::denorm_min(), 0x1p-140f, 0x1p-126f, 0x1.8p-101f,
                               std::nextafter(0x1p-100f, 0.0f), 0x1p-100f, 0x1.000002p-100f, 3e-10f, 1.0f / 255,
                               0.02f, 1.0f, 7.3f, 0x1.fffffep99f, 0x1p100f, std::nextafter(0x1p100f, inf), 1e35f,
                               std::numeric_limits<float>::max()};
  std::mt19937 rng(13);
  for (int i = 0; i < 40; ++i)
    scales.push_back(std::ldexp(std::uniform_real_distribution<float>(1.0f, 2.0f)(rng), static_cast<int>(rng() % 220) - 110));
  for (float scale : scales) {
    for (int zp : {0, 3, 128, 255}) {
      std::vector<float> x;
      for (int k = -300; k <= 300; k += 7) {
        const float tie = (static_cast<float>(k) + 0.5f) * scale;  // a tie when the product is exact
        x.insert(x.end(), {tie, std::nextafter(tie, inf), std::nextafter(tie, -inf), static_cast<float>(k) * scale});
      }
      x.insert(x.end(), {nan, inf, -inf, 0.0f, -0.0f, std::numeric_limits<float>::denorm_min(), -1e-40f,
                         std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(), 3e30f, -2e20f});
      std::normal_distribution<float> d(0.0f, 100.0f);
      for (int i = 0; i < 77; ++i) x.push_back(d(rng) * scale);
      std::vector<uint8_t> want(x.size());
      u8_quantize_ref(x.data(), static_cast<int64_t>(x.size()), scale, static_cast<uint8_t>(zp), want.data());
      for (const Variant& v : available_variants()) {
        for (size_t n : {x.size(), x.size() - 1, x.size() - 33, size_t{63}, size_t{17}, size_t{1}}) {
          std::vector<uint8_t> got(n + 1, 0xAB);
          v.quantize(x.data(), static_cast<int64_t>(n), scale, static_cast<uint8_t>(zp), got.data());
          EXPECT_EQ(got[n], 0xAB) << v.name << " wrote past n=" << n;
          size_t mismatches = 0;
          for (size_t i = 0; i < n; ++i)
            if (got[i] != want[i] && mismatches++ < 3)
              ADD_FAILURE() << v.name << " scale " << scale << " zp " << zp << " n=" << n << " x=" << x[i] << ": "
                            << int(got[i]) << " vs " << int(want[i]);
          EXPECT_EQ(mismatches, 0u) << v.name << " scale " << scale << " zp " << zp << " n=" << n;
        }
      }
    }
  }
}

// The producer-fused form: rows written by a callback, scanned and quantized in one parallel
// region. Same bytes and parameters as the formula on the produced values, every row produced
// exactly once, for row counts that split unevenly over threads and rows wider than the scan step.
void expect_produced_exact(const std::vector<float>& values, int64_t rows, int64_t cols, const char* what) {
  std::vector<uint8_t> want;
  const QuantParams pw = onnx_formula(values, want);
  for (const Variant& v : available_variants()) {
    for (int threads : {1, 2, 3}) {
      std::vector<float> y(values.size(), -7.0f);
      std::vector<int> produced(static_cast<size_t>(rows), 0);
      std::vector<uint8_t> got(values.size(), 0xAB);
      const QuantParams pg = u8_dynamic_quantize_produced_with(
          v,
          [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
              ++produced[static_cast<size_t>(r)];  // each row by one thread only
              std::copy_n(values.data() + r * cols, cols, y.data() + r * cols);
            }
          },
          rows, cols, y.data(), got.data(), threads);
      EXPECT_EQ(std::count(produced.begin(), produced.end(), 1), rows) << what << " " << v.name;
      EXPECT_EQ(std::memcmp(&pg.scale, &pw.scale, sizeof(float)), 0) << what << " " << v.name << ": " << pg.scale << " vs " << pw.scale;
      EXPECT_EQ(pg.zero_point, pw.zero_point) << what << " " << v.name;
      size_t mismatches = 0;
      for (size_t i = 0; i < values.size(); ++i)
        if (got[i] != want[i] && mismatches++ < 3)
          ADD_FAILURE() << what << " " << v.name << " threads " << threads << " " << rows << "x" << cols << " [" << i
                        << "]: " << int(got[i]) << " vs " << int(want[i]);
      EXPECT_EQ(mismatches, 0u) << what << " " << v.name << " threads " << threads;
    }
  }
}

TEST(DynamicQuant, ProducedRowsMatchTheFormula) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.2f, 1.5f);
  const std::pair<int64_t, int64_t> shapes[] = {{0, 5}, {1, 1}, {3, 37}, {2, 5000}, {128, 768}, {129, 773}, {97, 3072}};
  for (const auto& [rows, cols] : shapes) {
    std::vector<float> x(static_cast<size_t>(rows * cols));
    for (float& v : x) v = d(rng);
    expect_produced_exact(x, rows, cols, "normal");
    if (x.empty()) continue;
    x[x.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    expect_produced_exact(x, rows, cols, "nan");
    expect_produced_exact(std::vector<float>(x.size(), 0.0f), rows, cols, "all zero");
    expect_produced_exact(std::vector<float>(x.size(), -2.0f), rows, cols, "all negative");
  }
}

TEST(DynamicQuant, BestVariantIsAvailable) {
  const auto all = available_variants();
  ASSERT_FALSE(all.empty());
  EXPECT_STREQ(all.front().name, "scalar");
  EXPECT_STREQ(best_variant().name, all.back().name);
}

}  // namespace
}  // namespace hone::kernels::dynq
