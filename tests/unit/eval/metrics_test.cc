// Metrics against values computed by hand (each expected number is worked out in a comment).
#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace hone::eval {
namespace {

Tensor floats(const Shape& s, const std::vector<float>& v) {
  Tensor t = Tensor::create(DType::kFloat32, s).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

Tensor ints(const Shape& s, const std::vector<int64_t>& v) {
  Tensor t = Tensor::create(DType::kInt64, s).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
  return t;
}

TEST(Metrics, IdenticalTensors) {
  Tensor a = floats({2, 3}, {1, -2, 3, 0.5f, 4, -1});
  ErrorAccumulator acc;
  ASSERT_TRUE(acc.add(a, a).ok());
  ErrorMetrics m = acc.result();
  EXPECT_EQ(m.max_abs_error, 0);
  EXPECT_EQ(m.mean_abs_error, 0);
  EXPECT_DOUBLE_EQ(m.cosine, 1.0);
  EXPECT_TRUE(std::isinf(m.sqnr_db) && m.sqnr_db > 0);
  EXPECT_EQ(m.rel_rms_error, 0);
  EXPECT_EQ(m.range_error, 0);
  EXPECT_EQ(m.top1_rows, 2);
  EXPECT_EQ(m.top1_agree, 2);
  EXPECT_DOUBLE_EQ(m.top1_agreement, 1.0);
  EXPECT_EQ(m.max_abs_ref, 4);
}

TEST(Metrics, KnownNoise) {
  // ref = [3, 4] (sum ref^2 = 25), cand = [3.5, 3.5]: err = [0.5, -0.5], sum err^2 = 0.5.
  // SQNR = 10 log10(25 / 0.5) = 10 log10(50) = 16.9897 dB; rel RMS = sqrt(0.5 / 25) = 0.141421.
  // cosine = (10.5 + 14) / (5 * sqrt(24.5)) = 24.5 / (5 * 4.949747) = 0.989949.
  // range: ref [3, 4], cand [3.5, 3.5] -> max(|3.5-3|, |3.5-4|) / 1 = 0.5.
  ErrorAccumulator acc;
  ASSERT_TRUE(acc.add(floats({2}, {3, 4}), floats({2}, {3.5f, 3.5f})).ok());
  ErrorMetrics m = acc.result();
  EXPECT_NEAR(m.sqnr_db, 16.98970004, 1e-6);
  EXPECT_NEAR(m.rel_rms_error, 0.14142136, 1e-7);
  EXPECT_NEAR(m.cosine, 0.98994949, 1e-7);
  EXPECT_DOUBLE_EQ(m.max_abs_error, 0.5);
  EXPECT_DOUBLE_EQ(m.mean_abs_error, 0.5);
  EXPECT_DOUBLE_EQ(m.range_error, 0.5);
  EXPECT_EQ(m.elements, 2);
  EXPECT_EQ(m.top1_rows, 1);  // one row of 2 classes: ref argmax 1, cand argmax 0 (tie -> first)
  EXPECT_EQ(m.top1_agree, 0);
}

TEST(Metrics, AccumulatesOverSamples) {
  // Two samples: sums add, so SQNR = 10 log10((1 + 4) / (0 + 1)) = 6.9897 dB; max |err| = 1.
  ErrorAccumulator acc;
  ASSERT_TRUE(acc.add(floats({1}, {1}), floats({1}, {1})).ok());
  ASSERT_TRUE(acc.add(floats({1}, {2}), floats({1}, {1})).ok());
  ErrorMetrics m = acc.result();
  EXPECT_EQ(m.samples, 2);
  EXPECT_NEAR(m.sqnr_db, 6.98970004, 1e-6);
  EXPECT_DOUBLE_EQ(m.max_abs_error, 1);
  EXPECT_DOUBLE_EQ(m.mean_abs_error, 0.5);
  EXPECT_TRUE(std::isnan(m.top1_agreement));  // last axis of 1: not classifier-like
}

TEST(Metrics, OppositeSignsAndZeros) {
  ErrorAccumulator opposite;
  ASSERT_TRUE(opposite.add(floats({3}, {1, 2, 3}), floats({3}, {-1, -2, -3})).ok());
  EXPECT_NEAR(opposite.result().cosine, -1.0, 1e-12);
  ErrorAccumulator zero_ref;
  ASSERT_TRUE(zero_ref.add(floats({2}, {0, 0}), floats({2}, {1, 0})).ok());
  EXPECT_EQ(zero_ref.result().cosine, 0);
  EXPECT_TRUE(std::isinf(zero_ref.result().sqnr_db) && zero_ref.result().sqnr_db < 0);
  EXPECT_TRUE(std::isinf(zero_ref.result().range_error));
}

TEST(Metrics, Top1AgreementCountsRows) {
  // Rows: [0.1 0.9 0] vs [0.2 0.7 0.1] agree (1); [5 1 2] vs [1 5 2] differ; [0 0 1] vs [0 0 3] agree.
  ErrorAccumulator acc;
  ASSERT_TRUE(acc.add(floats({3, 3}, {0.1f, 0.9f, 0, 5, 1, 2, 0, 0, 1}), floats({3, 3}, {0.2f, 0.7f, 0.1f, 1, 5, 2, 0, 0, 3})).ok());
  ErrorMetrics m = acc.result();
  EXPECT_EQ(m.top1_rows, 3);
  EXPECT_EQ(m.top1_agree, 2);
  EXPECT_NEAR(m.top1_agreement, 2.0 / 3.0, 1e-12);
}

TEST(Metrics, NanMismatchesAreCountedNotSummed) {
  ErrorAccumulator acc;
  ASSERT_TRUE(acc.add(floats({3}, {1, NAN, NAN}), floats({3}, {1, NAN, 2})).ok());
  ErrorMetrics m = acc.result();
  EXPECT_EQ(m.nan_mismatches, 1);
  EXPECT_EQ(m.elements, 1);
  EXPECT_EQ(m.max_abs_error, 0);
}

TEST(Metrics, RefusesShapeMismatchAndStrings) {
  ErrorAccumulator acc;
  EXPECT_FALSE(acc.add(floats({2}, {1, 2}), floats({1, 2}, {1, 2})).ok());
  Tensor s = Tensor::create(DType::kString, {1}).value();
  EXPECT_FALSE(acc.add(s, s).ok());
  EXPECT_EQ(acc.samples(), 0);
}

TEST(Metrics, MixedDtypesCompareAsDouble) {
  Tensor h = Tensor::create(DType::kFloat16, {2}).value();
  h.data<uint16_t>()[0] = float_to_half(1.5f);
  h.data<uint16_t>()[1] = float_to_half(-2.0f);
  ErrorAccumulator acc;
  ASSERT_TRUE(acc.add(floats({2}, {1.5f, -2.0f}), h).ok());
  EXPECT_EQ(acc.result().max_abs_error, 0);
}

TEST(Metrics, ArgmaxFirstOnTiesAndSkipsNan) {
  auto am = argmax_last_axis(floats({3, 3}, {1, 3, 3, NAN, 0, -1, -5, -5, -5}));
  ASSERT_TRUE(am.ok());
  EXPECT_EQ(*am, (std::vector<int64_t>{1, 1, 0}));
  EXPECT_FALSE(argmax_last_axis(floats({}, {1})).ok());
}

TEST(Metrics, AccuracyAndTop5) {
  // 7 classes. Row 0: label 2 is the max -> top-1 and top-5. Row 1: label 0 has the lowest logit
  // (6 classes above it) -> neither. Row 2: label 6 ranks 5th (4 above) -> top-5 only.
  // Row 3: all equal, label 0 wins the tie (as numpy.argmax); label 5 would rank 6th.
  Tensor logits = floats({4, 7}, {0, 1, 9, 2, 3, 4, 5,   //
                                  -9, 1, 2, 3, 4, 5, 6,  //
                                  7, 8, 9, 6, 0, 1, 5,   //
                                  1, 1, 1, 1, 1, 1, 1});
  ClassificationAccumulator acc;
  ASSERT_TRUE(acc.add(logits, ints({4}, {2, 0, 6, 0})).ok());
  EXPECT_EQ(acc.count(), 4);
  EXPECT_EQ(acc.top1_correct(), 2);
  EXPECT_EQ(acc.top5_correct(), 3);
  EXPECT_DOUBLE_EQ(acc.top1(), 0.5);
  EXPECT_DOUBLE_EQ(acc.top5(), 0.75);
  ClassificationAccumulator tie;
  ASSERT_TRUE(tie.add(floats({1, 7}, {1, 1, 1, 1, 1, 1, 1}), ints({1}, {5})).ok());
  EXPECT_EQ(tie.top5_correct(), 0);
}

TEST(Metrics, AccuracyRefusesBadLabels) {
  ClassificationAccumulator acc;
  EXPECT_FALSE(acc.add(floats({1, 3}, {0, 1, 2}), ints({1}, {3})).ok());   // out of range
  EXPECT_FALSE(acc.add(floats({1, 3}, {0, 1, 2}), ints({1}, {-1})).ok());
  EXPECT_FALSE(acc.add(floats({2, 3}, {0, 1, 2, 0, 1, 2}), ints({1}, {0})).ok());  // count
  EXPECT_FALSE(acc.add(floats({1, 3}, {0, 1, 2}), floats({1}, {0.5f})).ok());  // not whole
  EXPECT_EQ(acc.count(), 0);
}

TEST(Metrics, PerplexityOfUniformPredictorIsVocabSize) {
  // Equal logits: p = 1/V for every token, NLL = log V, perplexity = V whatever the tokens.
  const int64_t V = 11, T = 5;
  Tensor logits = Tensor::create(DType::kFloat32, {2, T, V}).value();
  for (int64_t i = 0; i < logits.numel(); ++i) logits.data<float>()[i] = 3.25f;
  PerplexityAccumulator acc;
  ASSERT_TRUE(acc.add(logits, ints({2, T}, {0, 1, 2, 3, 4, 10, 9, 8, 7, 6})).ok());
  EXPECT_EQ(acc.predictions(), 2 * (T - 1));
  EXPECT_NEAR(acc.perplexity(), static_cast<double>(V), 1e-9);
}

TEST(Metrics, PerplexityKnownValueAndStability) {
  // V = 2, one sequence [0, 1, 0]: position 0 predicts 1, position 1 predicts 0.
  // Logits (0, ln 3): p(1) = 3/4 -> NLL = ln(4/3). Logits (1000, 1000 + ln 3) (overflow without
  // the max shift): p(0) = 1/4 -> NLL = ln 4. Mean = (ln(4/3) + ln 4) / 2; ppl = sqrt(16/3).
  const float ln3 = std::log(3.0f);
  Tensor logits = floats({1, 3, 2}, {0, ln3, 1000, 1000 + ln3, 0, 0});
  PerplexityAccumulator acc;
  ASSERT_TRUE(acc.add(logits, ints({1, 3}, {0, 1, 0})).ok());
  EXPECT_EQ(acc.predictions(), 2);
  EXPECT_NEAR(acc.perplexity(), std::sqrt(16.0 / 3.0), 1e-3);  // float logits near 1000: ~1e-4 abs
  EXPECT_TRUE(std::isfinite(acc.mean_nll()));
}

TEST(Metrics, PerplexityRefusesBadShapesAndTokens) {
  PerplexityAccumulator acc;
  Tensor logits = floats({1, 2, 3}, {0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(acc.add(logits, ints({1, 3}, {0, 1, 2})).ok());  // T differs
  EXPECT_FALSE(acc.add(logits, ints({1, 2}, {0, 3})).ok());     // token 3 >= V
  EXPECT_FALSE(acc.add(floats({2, 3}, {0, 0, 0, 0, 0, 0}), ints({1, 2}, {0, 1})).ok());
  EXPECT_EQ(acc.predictions(), 0);
}

TEST(Metrics, FormatMetric) {
  EXPECT_EQ(format_metric(INFINITY), "inf");
  EXPECT_EQ(format_metric(-INFINITY), "-inf");
  EXPECT_EQ(format_metric(NAN), "nan");
  EXPECT_EQ(format_metric(0.5), "0.5");
}

}  // namespace
}  // namespace hone::eval
