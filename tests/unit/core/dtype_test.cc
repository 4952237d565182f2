#include "hone/dtype.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace hone {

TEST(DType, TraitTableMatchesOnnxNumbers) {
  EXPECT_EQ(dtype_size(DType::kFloat32), 4u);
  EXPECT_EQ(dtype_size(DType::kBFloat16), 2u);
  EXPECT_EQ(dtype_size(DType::kComplex128), 16u);
  EXPECT_EQ(dtype_name(DType::kInt64), "int64");
  EXPECT_TRUE(dtype_info(DType::kFloat16).is_float);
  EXPECT_FALSE(dtype_info(DType::kUInt8).is_signed);
  EXPECT_EQ(dtype_from_onnx(7), DType::kInt64);
  EXPECT_EQ(dtype_from_onnx(0), std::nullopt);
  EXPECT_EQ(dtype_from_onnx(17), std::nullopt);
  EXPECT_EQ(dtype_from_onnx(-3), std::nullopt);
  EXPECT_EQ(dtype_from_name("float32"), DType::kFloat32);
}

TEST(DType, HalfRoundTripsEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_half(f), h) << "half bits " << h;
  }
}

TEST(DType, HalfRoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);            // overflow -> inf
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3c00);  // halfway, rounds to even (down)
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), 0x3c02);  // halfway, rounds to even (up)
  EXPECT_EQ(float_to_half(5.96e-8f), 0x0001);          // smallest subnormal
}

TEST(DType, BFloat16) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(float_to_bfloat16(1.00390625f), 0x3f80);  // halfway -> even
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::nanf("")))));
}

}  // namespace hone
