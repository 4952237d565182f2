#include "quant/calibrate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../test_models.h"
#include "eval/npy.h"
#include "quant_test_util.h"

namespace hone::quant {
namespace {

std::vector<float> normal(size_t n, uint32_t seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(StreamingHistogram, GrowingRangeFoldsToTheDirectHistogram) {
  // Batches of increasing spread force the range to double several times (0.1 -> ~40).
  std::vector<std::vector<float>> batches;
  for (int b = 0; b < 6; ++b)
    batches.push_back(normal(5000, 10 + static_cast<uint32_t>(b), 0.02f * std::pow(3.f, static_cast<float>(b))));
  StreamingHistogram streamed(256);
  for (const auto& v : batches) ASSERT_TRUE(streamed.add(v.data(), static_cast<int64_t>(v.size())).ok());
  // Direct: everything at once, so the range is set once from the global max.
  std::vector<float> all;
  for (const auto& v : batches) all.insert(all.end(), v.begin(), v.end());
  StreamingHistogram direct(256);
  ASSERT_TRUE(direct.add(all.data(), static_cast<int64_t>(all.size())).ok());
  RangeStats a = streamed.stats(), b = direct.stats();
  EXPECT_EQ(a.hist_max, b.hist_max);
  EXPECT_EQ(a.hist_min, -a.hist_max);
  EXPECT_EQ(a.histogram, b.histogram);
  EXPECT_EQ(a.count, 30000);
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.max, b.max);
  // The range is the smallest power of two above max|x|.
  const double amax = std::max(-a.min, a.max);
  EXPECT_GE(a.hist_max, amax);
  EXPECT_LT(a.hist_max / 2, amax);
  EXPECT_EQ(std::exp2(std::round(std::log2(a.hist_max))), a.hist_max);
  // And the counts equal an independent binning over [-R, R].
  std::vector<uint64_t> ref(256, 0);
  const double w = 2 * a.hist_max / 256;
  for (float x : all) ++ref[static_cast<size_t>(std::min(255.0, std::floor((x + a.hist_max) / w)))];
  EXPECT_EQ(a.histogram, ref);
  EXPECT_EQ(streamed.bins(), 256);
}

TEST(StreamingHistogram, ZerosFirstAndNonFinite) {
  StreamingHistogram h(64);
  std::vector<float> zeros(10, 0.f);
  ASSERT_TRUE(h.add(zeros.data(), 10).ok());
  RangeStats s0 = h.stats();
  EXPECT_EQ(s0.hist_max, 0);
  EXPECT_EQ(s0.histogram[32], 10u);
  std::vector<float> v = {0.75f, -3.f};
  ASSERT_TRUE(h.add(v.data(), 2).ok());
  RangeStats s = h.stats();
  EXPECT_EQ(s.hist_max, 4.0);
  EXPECT_EQ(s.histogram[32], 10u);      // the zeros
  EXPECT_EQ(s.histogram[32 + 6], 1u);   // 0.75 / (8 / 64)
  EXPECT_EQ(s.histogram[32 - 24], 1u);  // -3
  EXPECT_EQ(s.count, 12);
  std::vector<float> bad = {1.f, NAN};
  EXPECT_FALSE(h.add(bad.data(), 2).ok());
  std::vector<float> inf = {INFINITY};
  EXPECT_FALSE(h.add(inf.data(), 1).ok());
}

RangeStats stats_of(const std::vector<float>& v, int bins = 2048) {
  StreamingHistogram h(bins);
  EXPECT_TRUE(h.add(v.data(), static_cast<int64_t>(v.size())).ok());
  return h.stats();
}

TEST(ComputeRange, MinMaxIsExact) {
  std::vector<float> v = {-0.3f, 2.5f, 1.f, 0.f, -0.1f};
  RangeStats s = stats_of(v);
  auto r = compute_range(s, CalibMethod::kMinMax, 0, false).value();
  EXPECT_EQ(r.lo, -0.3f);
  EXPECT_EQ(r.hi, 2.5f);
  auto sym = compute_range(s, CalibMethod::kMinMax, 0, true).value();
  EXPECT_EQ(sym.lo, -2.5f);
  EXPECT_EQ(sym.hi, 2.5f);
}

TEST(ComputeRange, PercentileOnUniformData) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> v(200000);
  for (float& x : v) x = u(rng);
  RangeStats s = stats_of(v);
  auto r = compute_range(s, CalibMethod::kPercentile, 99.0, false).value();
  EXPECT_NEAR(r.hi, 0.99, 0.003);
  EXPECT_NEAR(r.lo, 0.01, 0.003);
  auto full = compute_range(s, CalibMethod::kPercentile, 100.0, false).value();
  EXPECT_EQ(full.hi, static_cast<float>(s.max));
  // Symmetric: the 90th percentile of |x| for x uniform in [-1, 1) is 0.9.
  for (float& x : v) x = 2 * x - 1;
  auto sr = compute_range(stats_of(v), CalibMethod::kPercentile, 90.0, true).value();
  EXPECT_NEAR(sr.hi, 0.9, 0.005);
  EXPECT_EQ(sr.lo, -sr.hi);
  EXPECT_FALSE(compute_range(s, CalibMethod::kPercentile, 0.0, false).ok());
  EXPECT_FALSE(compute_range(s, CalibMethod::kPercentile, 100.5, false).ok());
}

// Gaussian bulk plus a few far outliers: entropy and mse both clip well below the max, but keep
// the bulk (several standard deviations).
std::vector<float> long_tailed() {
  std::vector<float> v = normal(100000, 3, 1.f);
  for (int i = 0; i < 20; ++i) v.push_back(40.f + static_cast<float>(i));
  return v;
}

TEST(ComputeRange, EntropyClipsALongTail) {
  RangeStats s = stats_of(long_tailed());
  ASSERT_EQ(s.max, 59.0);
  auto sym = compute_range(s, CalibMethod::kEntropy, 0, true).value();
  EXPECT_LT(sym.hi, 20.f);
  EXPECT_GT(sym.hi, 2.5f);
  EXPECT_EQ(sym.lo, -sym.hi);
  auto asym = compute_range(s, CalibMethod::kEntropy, 0, false).value();
  EXPECT_LT(asym.hi, 20.f);
  EXPECT_GE(asym.lo, static_cast<float>(s.min));
  // A uniform distribution has no tail to cut: the threshold stays near the max.
  std::vector<float> u(100000);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (float& x : u) x = d(rng);
  auto ur = compute_range(stats_of(u), CalibMethod::kEntropy, 0, true).value();
  EXPECT_GT(ur.hi, 0.9f);
  // ReLU output: half exact zeros. The spike at 0 is exact after quantization and must not drag
  // the threshold down (without the unmerged zero bin it lands near 0.4 of the max).
  std::vector<float> relu = normal(100000, 4, 1.f);
  for (float& x : relu) x = std::max(x, 0.f);
  RangeStats rs = stats_of(relu);
  auto rr = compute_range(rs, CalibMethod::kEntropy, 0, false).value();
  EXPECT_EQ(rr.lo, 0.f);
  EXPECT_GT(rr.hi, 0.75f * static_cast<float>(rs.max));
}

TEST(ComputeRange, MseClipsALongTail) {
  // Squared error weighs a few far outliers heavily, so MSE keeps sparse outliers (unlike
  // entropy); a heavy tail (Student's t, 2 degrees of freedom) is where it clips. A direct
  // NumPy search on such data puts the optimum near 0.57 of max|x|.
  std::mt19937 trng(21);
  std::student_t_distribution<float> t2(2.f);
  std::vector<float> heavy(200000);
  for (float& x : heavy) x = t2(trng);
  RangeStats s = stats_of(heavy);
  auto r = compute_range(s, CalibMethod::kMse, 0, false).value();
  EXPECT_LT(r.hi, 0.8f * static_cast<float>(s.max));
  EXPECT_GT(r.hi, 10.f);
  EXPECT_GE(r.lo, static_cast<float>(s.min));
  auto sym = compute_range(s, CalibMethod::kMse, 0, true).value();
  EXPECT_LT(sym.hi, 0.8f * static_cast<float>(std::max(-s.min, s.max)));
  EXPECT_EQ(sym.lo, -sym.hi);
  // Without outliers, a bounded uniform distribution is best kept (almost) whole.
  std::vector<float> u(50000);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> d(0.f, 1.f);
  for (float& x : u) x = d(rng);
  auto ur = compute_range(stats_of(u), CalibMethod::kMse, 0, false).value();
  EXPECT_GT(ur.hi, 0.95f);
}

TEST(ComputeRange, DegenerateAndBadStats) {
  RangeStats empty;
  auto r = compute_range(empty, CalibMethod::kEntropy, 0, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->hi, 0.f);
  std::vector<float> zeros(8, 0.f);
  EXPECT_EQ(compute_range(stats_of(zeros), CalibMethod::kMse, 0, false)->hi, 0.f);
  RangeStats odd = stats_of({1.f, 2.f});
  odd.histogram.pop_back();
  EXPECT_FALSE(compute_range(odd, CalibMethod::kEntropy, 0, false).ok());
  RangeStats inverted = stats_of({1.f, 2.f});
  inverted.min = 3;
  EXPECT_FALSE(compute_range(inverted, CalibMethod::kMinMax, 0, false).ok());
  RangeStats asym_hist = stats_of({1.f, 2.f});
  asym_hist.hist_min = 0;
  EXPECT_FALSE(compute_range(asym_hist, CalibMethod::kPercentile, 99, false).ok());
}

TEST(Calibrate, RunsTheModelAndCollectsIntermediates) {
  testing_models::ScratchDir dir;
  ir::Model m = quant_test::mlp_model(8, 6, 4);
  // Four samples of X [1, 8]; the npz holds them as [4, 8] (samples = the batch axis).
  Tensor x = quant_test::random_f32({4, 8}, 11);
  ASSERT_TRUE(eval::write_npz(dir / "calib.npz", {{"X", x}}).ok());
  IoInfo in;
  in.name = "X";
  in.dtype = DType::kFloat32;
  in.has_shape = true;
  in.dims = {-1, 8};
  in.dim_names = {"batch", ""};
  auto ds = eval::Dataset::open(dir / "calib.npz", {in});
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  int64_t progress_calls = 0, last_done = 0;
  CalibrateOptions o;
  o.threads = 1;
  o.progress = [&](const std::string& what, int64_t done, int64_t total) {
    EXPECT_EQ(what, "calibrate");
    EXPECT_EQ(total, 3);
    ++progress_calls;
    last_done = done;
  };
  o.limit = 3;
  auto r = calibrate(m, {"X", "h", "r", "Y", "nope"}, *ds, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 3);
  EXPECT_EQ(progress_calls, 3);
  EXPECT_EQ(last_done, 3);
  ASSERT_EQ(r->stats.count("X"), 1u);
  ASSERT_EQ(r->stats.count("h"), 1u);
  ASSERT_EQ(r->stats.count("r"), 1u);
  ASSERT_EQ(r->stats.count("Y"), 1u);
  EXPECT_EQ(r->skipped.count("nope"), 1u);
  // X stats are exactly the first three rows.
  float lo = x.data<float>()[0], hi = lo;
  for (int i = 0; i < 24; ++i) {
    lo = std::min(lo, x.data<float>()[i]);
    hi = std::max(hi, x.data<float>()[i]);
  }
  EXPECT_EQ(r->stats["X"].min, lo);
  EXPECT_EQ(r->stats["X"].max, hi);
  EXPECT_EQ(r->stats["X"].count, 24);
  EXPECT_EQ(r->stats["h"].count, 18);
  // r = Relu(h): never negative, same max as h when h has positives.
  EXPECT_EQ(r->stats["r"].min, 0.0);
  EXPECT_EQ(r->stats["r"].max, std::max(0.0, r->stats["h"].max));
  // A dataset without the model's input.
  IoInfo other = in;
  other.name = "Z";
  ASSERT_TRUE(eval::write_npz(dir / "z.npz", {{"Z", x}}).ok());
  auto dz = eval::Dataset::open(dir / "z.npz", {other});
  ASSERT_TRUE(dz.ok());
  EXPECT_FALSE(calibrate(m, {"h"}, *dz, o).ok());
}

}  // namespace
}  // namespace hone::quant
