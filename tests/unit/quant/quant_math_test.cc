#include "quant/quant_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace hone::quant {
namespace {

TEST(QuantMath, RoundHalfToEvenLikeQuantizeLinear) {
  const QRange r = qtype_range(QType::kInt8);
  // 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2 (ONNX QuantizeLinear rounds half to even).
  EXPECT_EQ(quantize_value(0.5f, 1.0f, 0, r), 0);
  EXPECT_EQ(quantize_value(1.5f, 1.0f, 0, r), 2);
  EXPECT_EQ(quantize_value(2.5f, 1.0f, 0, r), 2);
  EXPECT_EQ(quantize_value(-0.5f, 1.0f, 0, r), 0);
  EXPECT_EQ(quantize_value(-1.5f, 1.0f, 0, r), -2);
  EXPECT_EQ(quantize_value(-2.5f, 1.0f, 0, r), -2);
  // Saturation at both ends, zero point added after rounding.
  EXPECT_EQ(quantize_value(1000.f, 1.0f, 0, r), 127);
  EXPECT_EQ(quantize_value(-1000.f, 1.0f, 0, r), -128);
  EXPECT_EQ(quantize_value(2.5f, 1.0f, 10, qtype_range(QType::kUInt8)), 12);
  EXPECT_EQ(quantize_value(-20.f, 1.0f, 10, qtype_range(QType::kUInt8)), 0);
  EXPECT_EQ(quantize_value(300.f, 1.0f, 10, qtype_range(QType::kUInt8)), 255);
  EXPECT_EQ(quantize_value(std::nanf(""), 0.5f, 7, qtype_range(QType::kUInt8)), 7);
  EXPECT_FLOAT_EQ(dequantize_value(12, 0.5f, 10), 1.0f);
}

TEST(QuantMath, SymmetricInt8) {
  auto s = scale_symmetric(2.54f, QType::kInt8);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ(s->scale, 2.54f / 127.f);
  EXPECT_EQ(s->zero_point, 0);
  // max|w| maps to +-127 exactly; -128 is never produced.
  const QRange r = qtype_range(QType::kInt8);
  EXPECT_EQ(quantize_value(2.54f, s->scale, 0, r), 127);
  EXPECT_EQ(quantize_value(-2.54f, s->scale, 0, r), -127);
  auto s4 = scale_symmetric(1.4f, QType::kInt4);
  ASSERT_TRUE(s4.ok());
  EXPECT_FLOAT_EQ(s4->scale, 0.2f);
  EXPECT_FALSE(scale_symmetric(1.0f, QType::kUInt8).ok());
}

TEST(QuantMath, AsymmetricUint8MatchesDynamicQuantizeLinear) {
  // The ONNX DynamicQuantizeLinear example: x = [0, 2, -3, -2.5, 1.34, 0.5]
  // -> y_scale = 5/255 = 0.019607844, zero point 153.
  auto s = scale_asymmetric(-3.0f, 2.0f, QType::kUInt8);
  ASSERT_TRUE(s.ok());
  EXPECT_FLOAT_EQ(s->scale, 5.0f / 255.0f);
  EXPECT_EQ(s->zero_point, 153);
  // The range is widened to include 0: [1, 3] behaves as [0, 3].
  auto p = scale_asymmetric(1.0f, 3.0f, QType::kUInt8);
  ASSERT_TRUE(p.ok());
  EXPECT_FLOAT_EQ(p->scale, 3.0f / 255.0f);
  EXPECT_EQ(p->zero_point, 0);
  auto n = scale_asymmetric(-4.0f, -1.0f, QType::kUInt8);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->zero_point, 255);
  auto u4 = scale_asymmetric(-1.0f, 2.0f, QType::kUInt4);
  ASSERT_TRUE(u4.ok());
  EXPECT_FLOAT_EQ(u4->scale, 0.2f);
  EXPECT_EQ(u4->zero_point, 5);
}

TEST(QuantMath, DegenerateAndNonFinite) {
  auto z = scale_symmetric(0.0f, QType::kInt8);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->scale, 1.0f);
  auto za = scale_asymmetric(0.0f, 0.0f, QType::kUInt8);
  ASSERT_TRUE(za.ok());
  EXPECT_EQ(za->scale, 1.0f);
  EXPECT_EQ(za->zero_point, 0);
  EXPECT_FALSE(scale_symmetric(std::numeric_limits<float>::infinity(), QType::kInt8).ok());
  EXPECT_FALSE(scale_asymmetric(std::nanf(""), 1.0f, QType::kUInt8).ok());
  EXPECT_FALSE(scale_asymmetric(2.0f, 1.0f, QType::kUInt8).ok());
  const float bad[] = {1.0f, std::numeric_limits<float>::infinity()};
  EXPECT_FALSE(params_per_tensor(bad, 2, QType::kInt8, true, "w").ok());
  const float zeros[4] = {};
  auto pz = params_per_tensor(zeros, 4, QType::kInt8, true, "w");
  ASSERT_TRUE(pz.ok());
  std::vector<int32_t> q;
  ASSERT_TRUE(quantize_tensor(zeros, {4}, -1, *pz, QType::kInt8, &q).ok());
  EXPECT_EQ(q, (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(QuantMath, PerChannelAlongAxis) {
  // W [2, 3], channels along axis 1 (output channel of a [K, N] MatMul weight).
  const std::vector<float> w = {1.0f, -2.0f, 0.5f, -1.27f, 4.0f, 0.25f};
  auto p = params_per_channel(w.data(), {2, 3}, 1, QType::kInt8, true, "w");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->scales.size(), 3u);
  EXPECT_FLOAT_EQ(p->scales[0], 1.27f / 127.f);
  EXPECT_FLOAT_EQ(p->scales[1], 4.0f / 127.f);
  EXPECT_FLOAT_EQ(p->scales[2], 0.5f / 127.f);
  std::vector<int32_t> q;
  ASSERT_TRUE(quantize_tensor(w.data(), {2, 3}, 1, *p, QType::kInt8, &q).ok());
  EXPECT_EQ(q[3], -127);
  EXPECT_EQ(q[4], 127);
  EXPECT_EQ(q[2], 127);
  EXPECT_EQ(q[5], 64);  // 0.25 / (0.5/127) = 63.5 -> 64 (half to even)
  EXPECT_FALSE(params_per_channel(w.data(), {2, 3}, 2, QType::kInt8, true, "w").ok());
  // Axis 0 of the same tensor.
  auto p0 = params_per_channel(w.data(), {2, 3}, 0, QType::kInt8, true, "w");
  ASSERT_TRUE(p0.ok());
  EXPECT_FLOAT_EQ(p0->scales[0], 2.0f / 127.f);
  EXPECT_FLOAT_EQ(p0->scales[1], 4.0f / 127.f);
}

TEST(QuantMath, BlockwiseKnPadsTheLastBlock) {
  // K = 5, N = 2, block 4: two blocks per column, the second holds one real row.
  std::vector<float> w(10);
  for (int k = 0; k < 5; ++k)
    for (int n = 0; n < 2; ++n) w[static_cast<size_t>(k * 2 + n)] = static_cast<float>((k + 1) * (n == 0 ? 1 : -1));
  auto p = params_blockwise_kn(w.data(), 5, 2, 4, QType::kInt4, true, "w");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->scales.size(), 4u);  // [n][block]
  EXPECT_FLOAT_EQ(p->scales[0], 4.0f / 7.f);
  EXPECT_FLOAT_EQ(p->scales[1], 5.0f / 7.f);
  EXPECT_FLOAT_EQ(p->scales[2], 4.0f / 7.f);
  EXPECT_FLOAT_EQ(p->scales[3], 5.0f / 7.f);
  std::vector<int32_t> q;
  ASSERT_TRUE(quantize_blockwise_kn(w.data(), 5, 2, 4, *p, QType::kInt4, &q).ok());
  EXPECT_EQ(q[3 * 2 + 0], 7);   // 4 / (4/7)
  EXPECT_EQ(q[3 * 2 + 1], -7);
  EXPECT_EQ(q[4 * 2 + 0], 7);   // 5 / (5/7)
  EXPECT_EQ(q[0], 2);           // 1 / (4/7) = 1.75 -> 2
  // Asymmetric uint4 blocks include 0 in their range.
  auto pa = params_blockwise_kn(w.data(), 5, 2, 4, QType::kUInt4, false, "w");
  ASSERT_TRUE(pa.ok());
  EXPECT_EQ(pa->zero_points[0], 0);
  EXPECT_EQ(pa->zero_points[2], 15);
  EXPECT_FALSE(params_blockwise_kn(w.data(), 5, 2, 0, QType::kInt4, true, "w").ok());
}

}  // namespace
}  // namespace hone::quant
