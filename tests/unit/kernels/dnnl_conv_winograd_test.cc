// f32_conv_dnnl's Winograd path (3x3 stride-1 convolutions on oneDNN's blocked layout between two
// reorders) against the reference conv, and against the direct algorithm it replaces: NCHW and
// NHWC activations, odd spatial sizes, batch 2, valid and asymmetric pads, bias, the residual
// (binary add turned into a sum over the blocked y, or the caller's copy in y) with ReLU, a shape
// oneDNN has no Winograd kernel for (direct, same results), and the shape rule itself.
//
// Tolerance: max|got - ref| <= 1e-4 * max|ref| + 1e-5, the bound the other conv tests use. The
// Winograd transforms reassociate the sums (F(2x2,3x3) and F(4x4,3x3) tiles); measured on ResNet
// shapes the error is ~1e-6 relative RMS, so 1e-4 leaves room yet fails on a wrong tap or pad.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/dnnl/conv_dnnl.h"
#include "kernels/ref/conv_ref.h"
#include "dnnl_test_util.h"

namespace hone::kernels::onednn {
namespace {

using test_util::expect_close;
using test_util::random_values;

// Winograd kernels exist in oneDNN 2.6 for AVX-512 only; elsewhere every shape runs direct.
bool expect_winograd() { return winograd_enabled() && __builtin_cpu_supports("avx512f"); }

bool is_winograd(const std::string& impl) { return impl.find("wino") != std::string::npos; }

struct Case {
  int64_t batch, in_channels, out_channels;
  int64_t h, w;
  std::vector<int64_t> pads_begin, pads_end;
};

ConvDesc desc_of(const Case& c) {
  ConvDesc d;
  d.batch = c.batch;
  d.in_channels = c.in_channels;
  d.out_channels = c.out_channels;
  d.in_spatial = {c.h, c.w};
  d.kernel = {3, 3};
  d.strides = {1, 1};
  d.dilations = {1, 1};
  d.pads_begin = c.pads_begin;
  d.pads_end = c.pads_end;
  d.out_spatial = {c.h + c.pads_begin[0] + c.pads_end[0] - 2, c.w + c.pads_begin[1] + c.pads_end[1] - 2};
  return d;
}

// [N, C, S] <-> [N, S, C].
std::vector<float> swap_channels(const std::vector<float>& x, int64_t n, int64_t c, bool to_last) {
  const int64_t s = static_cast<int64_t>(x.size()) / (n * c);
  std::vector<float> y(x.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t i = 0; i < s; ++i) {
        const size_t first = static_cast<size_t>((b * c + j) * s + i), last = static_cast<size_t>((b * s + i) * c + j);
        if (to_last) y[last] = x[first];
        else y[first] = x[last];
      }
  return y;
}

// conv(x, w) + b (+ r) (then ReLU) by the reference kernel, in d's layout.
std::vector<float> reference(const ConvDesc& d, const std::vector<float>& x_first, const std::vector<float>& w,
                             const float* b, const std::vector<float>* r_first, bool relu) {
  ref::ConvParams p;
  p.batch = d.batch;
  p.in_channels = d.in_channels;
  p.out_channels = d.out_channels;
  p.in_spatial = d.in_spatial;
  p.kernel = d.kernel;
  p.out_spatial = d.out_spatial;
  p.strides = d.strides;
  p.dilations = d.dilations;
  p.pads_begin = d.pads_begin;
  std::vector<float> y(static_cast<size_t>(d.batch * d.out_channels * d.out_spatial[0] * d.out_spatial[1]));
  ref::conv_nd_ref(p, x_first.data(), w.data(), b, y.data());
  for (size_t i = 0; i < y.size(); ++i) {
    if (r_first) y[i] += (*r_first)[i];
    if (relu) y[i] = std::max(y[i], 0.0f);
  }
  return d.channels_last ? swap_channels(y, d.batch, d.out_channels, true) : y;
}

const std::vector<Case>& winograd_cases() {
  static const std::vector<Case> all = {
      // batch, C, M, h, w, pads_begin, pads_end
      {1, 16, 32, 10, 12, {1, 1}, {1, 1}},
      {2, 32, 16, 9, 11, {1, 1}, {1, 1}},   // batch 2, odd sizes
      {1, 64, 64, 14, 14, {1, 1}, {1, 1}},  // a ResNet stage-3 shape, smaller
      {1, 16, 16, 8, 7, {0, 0}, {0, 0}},    // valid
      {1, 32, 48, 6, 9, {0, 1}, {1, 0}},    // asymmetric pads
      {1, 16, 16, 1, 2, {1, 1}, {1, 1}},    // smaller than one tile
      {1, 24, 40, 7, 6, {1, 1}, {1, 1}},    // channels padded to 32 and 48 in the blocked layout
  };
  return all;
}

TEST(DnnlConvWinogradTest, ShapeRule) {
  const ConvDesc base = desc_of({1, 16, 32, 8, 8, {1, 1}, {1, 1}});
  EXPECT_TRUE(winograd_shape(base));
  ConvDesc d = base;
  d.in_channels = 8;  // padded to 16 in the blocked layout: slower than direct
  EXPECT_FALSE(winograd_shape(d));
  d.out_channels = 24;  // padded to 32, but enough channels to gain
  d.in_channels = 40;
  EXPECT_TRUE(winograd_shape(d));
  d = base;
  d.strides = {2, 2};
  EXPECT_FALSE(winograd_shape(d));
  d = base;
  d.dilations = {2, 2};
  EXPECT_FALSE(winograd_shape(d));
  d = base;
  d.groups = 2;
  EXPECT_FALSE(winograd_shape(d));
  d = base;
  d.kernel = {5, 5};
  EXPECT_FALSE(winograd_shape(d));
  d = base;
  d.transposed = true;
  EXPECT_FALSE(winograd_shape(d));
  d = base;
  d.post_ops = {PostOp::sum()};
  EXPECT_FALSE(winograd_shape(d));
  d = base;
  d.post_ops = {PostOp::relu()};
  EXPECT_TRUE(winograd_shape(d));
}

// Both layouts, with and without bias, Winograd allowed and forced direct: all match the reference.
TEST(DnnlConvWinogradTest, MatchesReferenceAndDirect) {
  uint32_t seed = 1;
  for (const Case& c : winograd_cases())
    for (bool channels_last : {false, true})
      for (bool bias : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << (channels_last ? " nhwc" : " nchw")
                                          << (bias ? " bias" : ""));
        ConvDesc d = desc_of(c);
        d.channels_last = channels_last;
        d.has_bias = bias;
        const auto x_first = random_values(c.batch * c.in_channels * c.h * c.w, seed);
        const auto w = random_values(c.out_channels * c.in_channels * 9, seed + 1);
        const auto b = random_values(c.out_channels, seed + 2);
        seed += 3;
        const auto x = channels_last ? swap_channels(x_first, c.batch, c.in_channels, true) : x_first;
        const auto want = reference(d, x_first, w, bias ? b.data() : nullptr, nullptr, false);
        for (bool allow : {true, false}) {
          SCOPED_TRACE(allow ? "winograd allowed" : "direct");
          d.allow_winograd = allow;
          ConvF32Dnnl conv;
          std::vector<float> got(want.size(), 0.0f);
          ASSERT_TRUE(conv.run(d, x.data(), w.data(), bias ? b.data() : nullptr, got.data()).ok());
          EXPECT_EQ(is_winograd(conv.impl_name()), allow && expect_winograd()) << conv.impl_name();
          expect_close(got, want);
          // The second run reuses the primitive, the packed weights and the reorders.
          std::fill(got.begin(), got.end(), 0.0f);
          ASSERT_TRUE(conv.run(d, x.data(), w.data(), bias ? b.data() : nullptr, got.data()).ok());
          expect_close(got, want);
        }
      }
}

// The fused residual of hone.NhwcConv: Winograd takes no binary post-op, so it is reordered into
// the blocked y and added by a sum post-op ahead of the ReLU.
TEST(DnnlConvWinogradTest, ResidualAndRelu) {
  const Case c{2, 32, 32, 7, 9, {1, 1}, {1, 1}};
  const auto x_first = random_values(c.batch * c.in_channels * c.h * c.w, 11);
  const auto w = random_values(c.out_channels * c.in_channels * 9, 12);
  const auto b = random_values(c.out_channels, 13);
  const auto r_first = random_values(c.batch * c.out_channels * c.h * c.w, 14);
  for (auto mode : {ConvDesc::Residual::kBinaryAdd, ConvDesc::Residual::kSumIntoY}) {
    SCOPED_TRACE(mode == ConvDesc::Residual::kBinaryAdd ? "binary add" : "sum into y");
    ConvDesc d = desc_of(c);
    d.channels_last = true;
    d.has_bias = true;
    d.residual = mode;
    d.post_ops = {PostOp::relu()};
    const auto x = swap_channels(x_first, c.batch, c.in_channels, true);
    const auto r = swap_channels(r_first, c.batch, c.out_channels, true);
    const auto want = reference(d, x_first, w, b.data(), &r_first, true);
    ConvF32Dnnl conv;
    std::vector<float> got = mode == ConvDesc::Residual::kSumIntoY ? r : std::vector<float>(want.size(), 0.0f);
    ASSERT_TRUE(conv.run(d, x.data(), w.data(), b.data(), got.data(), r.data()).ok());
    EXPECT_EQ(is_winograd(conv.impl_name()), expect_winograd()) << conv.impl_name();
    expect_close(got, want);
  }
}

// 3x3 stride 1 with pads 2 fits the rule but oneDNN 2.6 has no Winograd kernel for it: the
// direct algorithm runs instead, with the same results.
TEST(DnnlConvWinogradTest, ShapeWithoutWinogradKernelRunsDirect) {
  const Case c{1, 16, 16, 8, 8, {2, 2}, {2, 2}};
  ConvDesc d = desc_of(c);
  d.channels_last = true;
  ASSERT_TRUE(winograd_shape(d));
  const auto x_first = random_values(c.in_channels * c.h * c.w, 21);
  const auto w = random_values(c.out_channels * c.in_channels * 9, 22);
  const auto x = swap_channels(x_first, 1, c.in_channels, true);
  const auto want = reference(d, x_first, w, nullptr, nullptr, false);
  ConvF32Dnnl conv;
  std::vector<float> got(want.size(), 0.0f);
  ASSERT_TRUE(conv.run(d, x.data(), w.data(), nullptr, got.data()).ok());
  EXPECT_FALSE(conv.impl_name().empty());
  EXPECT_FALSE(is_winograd(conv.impl_name())) << conv.impl_name();
  expect_close(got, want);
}

}  // namespace
}  // namespace hone::kernels::onednn
