// f32_conv_dnnl against the reference conv (the oracle) on random data with odd sizes: 1D/2D/3D,
// grouped, depthwise, strided, dilated, asymmetrically padded, with and without bias, transposed
// (including output_padding-like negative end pads), fused post-ops, and repeated runs that
// reuse the packed weights.
#include "kernels/dnnl/conv_dnnl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/ref/conv_ref.h"
#include "dnnl_test_util.h"

namespace hone::kernels::onednn {
namespace {

using test_util::expect_close;
using test_util::random_values;

struct Case {
  int64_t batch, in_channels, out_channels, groups;
  std::vector<int64_t> in, kernel, strides, dilations, pads_begin, pads_end;
};

int64_t product(const std::vector<int64_t>& v) {
  int64_t r = 1;
  for (int64_t x : v) r *= x;
  return r;
}

ConvDesc desc_of(const Case& c, bool transposed, bool bias) {
  ConvDesc d;
  d.transposed = transposed;
  d.batch = c.batch;
  d.in_channels = c.in_channels;
  d.out_channels = c.out_channels;
  d.groups = c.groups;
  d.in_spatial = c.in;
  d.kernel = c.kernel;
  d.strides = c.strides;
  d.dilations = c.dilations;
  d.pads_begin = c.pads_begin;
  d.pads_end = c.pads_end;
  d.has_bias = bias;
  for (size_t i = 0; i < c.in.size(); ++i) {
    const int64_t window = (c.kernel[i] - 1) * c.dilations[i] + 1;
    d.out_spatial.push_back(transposed ? (c.in[i] - 1) * c.strides[i] + window - c.pads_begin[i] - c.pads_end[i]
                                       : (c.in[i] + c.pads_begin[i] + c.pads_end[i] - window) / c.strides[i] + 1);
  }
  return d;
}

ref::ConvParams ref_params(const ConvDesc& d) {
  ref::ConvParams p;
  p.batch = d.batch;
  p.in_channels = d.in_channels;
  p.out_channels = d.out_channels;
  p.groups = d.groups;
  p.in_spatial = d.in_spatial;
  p.kernel = d.kernel;
  p.out_spatial = d.out_spatial;
  p.strides = d.strides;
  p.dilations = d.dilations;
  p.pads_begin = d.pads_begin;
  return p;
}

void check(const Case& c, bool transposed, bool bias, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "case seed " << seed << (transposed ? " transposed" : "") << (bias ? " bias" : ""));
  const ConvDesc d = desc_of(c, transposed, bias);
  const int64_t w_count = transposed ? c.in_channels * (c.out_channels / c.groups) * product(c.kernel)
                                     : c.out_channels * (c.in_channels / c.groups) * product(c.kernel);
  const auto x = random_values(c.batch * c.in_channels * product(c.in), seed);
  const auto w = random_values(w_count, seed + 1);
  const auto b = random_values(c.out_channels, seed + 2);
  const int64_t y_count = c.batch * c.out_channels * product(d.out_spatial);
  std::vector<float> want(static_cast<size_t>(y_count)), got(want.size(), 0.0f);
  const ref::ConvParams p = ref_params(d);
  if (transposed)
    ref::conv_transpose_nd_ref(p, x.data(), w.data(), bias ? b.data() : nullptr, want.data());
  else
    ref::conv_nd_ref(p, x.data(), w.data(), bias ? b.data() : nullptr, want.data());
  ConvF32Dnnl conv;
  ASSERT_TRUE(conv.run(d, x.data(), w.data(), bias ? b.data() : nullptr, got.data()).ok());
  EXPECT_FALSE(conv.impl_name().empty());
  expect_close(got, want);
  // A second run reuses the primitive and the packed weights.
  std::fill(got.begin(), got.end(), 0.0f);
  ASSERT_TRUE(conv.run(d, x.data(), w.data(), bias ? b.data() : nullptr, got.data()).ok());
  expect_close(got, want);
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // batch, C, M, groups, in, kernel, strides, dilations, pads_begin, pads_end
      {1, 3, 5, 1, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {2, 6, 9, 3, {11, 13}, {3, 5}, {2, 1}, {1, 2}, {0, 2}, {1, 3}},        // grouped, strided, dilated, asymmetric
      {1, 16, 16, 16, {15, 17}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 0}},     // depthwise
      {3, 17, 33, 1, {9, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},        // pointwise, odd channels
      {1, 3, 64, 1, {31, 29}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}},       // ResNet stem-like
      {2, 5, 7, 1, {23}, {4}, {3}, {2}, {2}, {1}},                            // 1-D
      {1, 4, 6, 2, {5, 6, 7}, {3, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 2}, {0, 1, 1}},  // 3-D grouped
      {1, 32, 48, 4, {13, 11}, {3, 3}, {1, 1}, {3, 3}, {3, 3}, {3, 3}},      // grouped, large dilation
  };
  return all;
}

TEST(DnnlConvTest, MatchesReference) {
  uint32_t seed = 1;
  for (const Case& c : cases())
    for (bool bias : {false, true}) check(c, false, bias, seed++);
}

TEST(DnnlConvTest, TransposedMatchesReference) {
  const std::vector<Case> deconv = {
      {1, 4, 6, 1, {5, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
      {2, 6, 9, 3, {6, 5}, {3, 4}, {2, 3}, {1, 2}, {0, 1}, {2, 0}},
      {1, 8, 8, 8, {9, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},            // depthwise
      {1, 3, 5, 1, {7}, {5}, {3}, {1}, {1}, {-2}},                             // output_padding 2
      {1, 2, 4, 2, {3, 4, 5}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 0}, {0, 1, -1}},  // 3-D
  };
  uint32_t seed = 100;
  for (const Case& c : deconv)
    for (bool bias : {false, true}) check(c, true, bias, seed++);
}

TEST(DnnlConvTest, FusedPostOps) {
  const Case c{1, 8, 12, 2, {9, 10}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
  ConvDesc d = desc_of(c, false, true);
  d.post_ops = {PostOp::sum(0.5f), PostOp::relu()};
  const auto x = random_values(c.in_channels * product(c.in), 7);
  const auto w = random_values(c.out_channels * (c.in_channels / c.groups) * product(c.kernel), 8);
  const auto b = random_values(c.out_channels, 9);
  const auto residual = random_values(c.out_channels * product(d.out_spatial), 10);
  std::vector<float> want(residual.size());
  ref::conv_nd_ref(ref_params(d), x.data(), w.data(), b.data(), want.data());
  for (size_t i = 0; i < want.size(); ++i) want[i] = std::max(0.0f, want[i] + 0.5f * residual[i]);
  std::vector<float> got = residual;
  ConvF32Dnnl conv;
  ASSERT_TRUE(conv.run(d, x.data(), w.data(), b.data(), got.data()).ok());
  expect_close(got, want);
}

TEST(DnnlConvTest, RefusesWhatItCannotRun) {
  ConvDesc d = desc_of({1, 2, 2, 1, {3, 3, 3, 3}, {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, 0, 0}},
                       false, false);
  EXPECT_FALSE(ConvF32Dnnl::supports(d));  // 4 spatial dims: the reference path's job
  ConvF32Dnnl conv;
  std::vector<float> buf(2 * 81, 0.0f);
  EXPECT_EQ(conv.run(d, buf.data(), buf.data(), nullptr, buf.data()).code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace hone::kernels::onednn
