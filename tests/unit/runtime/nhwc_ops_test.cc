// The channels-last ops of the layout_nhwc pass against their references: hone.NhwcConv against
// the reference NCHW convolution (kernels/ref/conv_ref) with bias, Sum and activation applied by
// hand (on oneDNN with constant weights, on NhwcConv's reference path with weights fed as
// inputs), and the NHWC pooling ops against the NCHW ones of pool.cc. The 3x3 stride-1 cases with
// 16 channels or more take oneDNN's Winograd path (CTest reruns them with HONE_WINOGRAD=0 for
// the direct one), as do the plain Conv / hone.FusedConv cases of ConvOnWinogradShapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <random>

#include "kernels/ref/conv_ref.h"
#include "runtime/session_impl.h"
#include "../test_models.h"

namespace hone {
namespace {

using testing_models::float_attr;
using testing_models::int_attr;
using testing_models::ints_attr;
using testing_models::string_attr;

Tensor random_tensor(Shape shape, uint32_t seed) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// [N, C, S...] <-> [N, S..., C].
Tensor move_channels(const Tensor& x, bool to_last) {
  const int64_t n = x.dim(0), c = to_last ? x.dim(1) : x.dim(x.rank() - 1);
  const int64_t s = x.numel() / std::max<int64_t>(1, n * c);
  Shape shape = x.shape();
  if (to_last) {
    shape.erase(shape.begin() + 1);
    shape.push_back(c);
  } else {
    shape.pop_back();
    shape.insert(shape.begin() + 1, c);
  }
  Tensor y = Tensor::create(DType::kFloat32, shape).value();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < c; ++j) {
        const int64_t first = (b * c + j) * s + i, last = (b * s + i) * c + j;
        if (to_last) y.data<float>()[last] = x.data<float>()[first];
        else y.data<float>()[first] = x.data<float>()[last];
      }
  return y;
}

// One node (op in `domain`) whose inputs are graph inputs, except those given as constants.
Result<std::vector<Tensor>> run_node(const std::string& domain, const std::string& op, std::vector<Tensor> inputs,
                                     const std::vector<std::pair<size_t, Tensor>>& constants,
                                     std::vector<ir::Attribute> attrs, std::vector<std::string> input_names = {}) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  m.opsets.push_back({"hone", 1});
  ir::Node n;
  n.op_type = op;
  n.domain = domain;
  n.name = op;
  n.attrs = std::move(attrs);
  const size_t count = inputs.size() + constants.size();
  std::vector<Tensor> feeds;
  for (size_t i = 0, next = 0; i < count; ++i) {
    const std::string name = i < input_names.size() && !input_names[i].empty() ? input_names[i] : "i" + std::to_string(i);
    auto c = std::find_if(constants.begin(), constants.end(), [&](const auto& p) { return p.first == i; });
    if (c != constants.end()) {
      n.inputs.push_back(c->second.defined() ? name : "");
      if (c->second.defined()) m.graph.initializers.push_back({name, c->second, {}, std::nullopt});
      continue;
    }
    n.inputs.push_back(name);
    m.graph.inputs.push_back({name, {}, {}});
    feeds.push_back(inputs[next++]);
  }
  n.outputs = {"y"};
  m.graph.outputs.push_back({"y", {}, {}});
  m.graph.nodes.push_back(std::move(n));
  SessionOptions o;
  o.threads = 2;
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), o));
  return s.run(feeds);
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  float max_ref = 0, max_err = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    max_ref = std::max(max_ref, std::fabs(want.data<float>()[i]));
    max_err = std::max(max_err, std::fabs(got.data<float>()[i] - want.data<float>()[i]));
  }
  EXPECT_LE(max_err, 1e-4f * max_ref + 1e-5f) << what << ": max|ref| " << max_ref;
}

struct ConvCase {
  const char* name;
  Shape x;  // NCHW
  int64_t out_channels, group;
  std::vector<int64_t> kernel, strides, dilations, pads;
  bool bias, sum;
  const char* activation;  // "" or "Relu" / "Clip"
};
void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

class NhwcConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(NhwcConvTest, MatchesReferenceConv) {
  const ConvCase& c = GetParam();
  const size_t nd = c.kernel.size();
  const int64_t channels = c.x[1];
  Shape w_shape{c.out_channels, channels / c.group};
  w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
  const Tensor x = random_tensor(c.x, 1), w = random_tensor(w_shape, 2), b = random_tensor({c.out_channels}, 3);

  kernels::ref::ConvParams p;
  p.batch = c.x[0];
  p.in_channels = channels;
  p.out_channels = c.out_channels;
  p.groups = c.group;
  p.in_spatial.assign(c.x.begin() + 2, c.x.end());
  p.kernel = c.kernel;
  p.strides = c.strides;
  p.dilations = c.dilations;
  p.pads_begin.assign(c.pads.begin(), c.pads.begin() + static_cast<std::ptrdiff_t>(nd));
  Shape y_shape{p.batch, c.out_channels};
  for (size_t d = 0; d < nd; ++d) {
    const int64_t span = (c.kernel[d] - 1) * c.dilations[d] + 1;
    p.out_spatial.push_back((p.in_spatial[d] + c.pads[d] + c.pads[d + nd] - span) / c.strides[d] + 1);
    y_shape.push_back(p.out_spatial.back());
  }
  Tensor want = Tensor::create(DType::kFloat32, y_shape).value();
  kernels::ref::conv_nd_ref<float>(p, x.data<float>(), w.data<float>(), c.bias ? b.data<float>() : nullptr,
                                   want.data<float>());
  Tensor want_last = move_channels(want, true);
  const Tensor sum = random_tensor(want_last.shape(), 4);
  for (int64_t i = 0; i < want_last.numel(); ++i) {
    float& v = want_last.data<float>()[i];
    if (c.sum) v += sum.data<float>()[i];
    if (std::string(c.activation) == "Relu") v = std::max(v, 0.0f);
    if (std::string(c.activation) == "Clip") v = std::min(std::max(v, 0.0f), 6.0f);
  }

  std::vector<ir::Attribute> attrs = {ints_attr("strides", c.strides), ints_attr("dilations", c.dilations),
                                      ints_attr("pads", c.pads), int_attr("group", c.group)};
  if (std::string(c.activation) == "Relu") attrs.push_back(string_attr("activation", "Relu"));
  if (std::string(c.activation) == "Clip") {
    attrs.push_back(string_attr("activation", "Clip"));
    attrs.push_back(float_attr("activation_alpha", 0.0f));
    attrs.push_back(float_attr("activation_beta", 6.0f));
  }
  // Constant weights take oneDNN (unless HONE_DNNL=0); weights fed as graph inputs take the
  // reference path.
  for (bool constant_weights : {true, false}) {
    SCOPED_TRACE(constant_weights ? "constant W (oneDNN)" : "W as an input (reference path)");
    std::vector<Tensor> inputs{move_channels(x, true)};
    std::vector<std::pair<size_t, Tensor>> constants;
    if (constant_weights) {
      constants = {{1, w}, {2, c.bias ? b : Tensor()}};
    } else {
      inputs.push_back(w);
      if (c.bias) inputs.push_back(b);
      else constants = {{2, Tensor()}};
    }
    if (c.sum) inputs.push_back(sum);
    auto out = run_node("hone", "NhwcConv", inputs, constants, attrs);
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close((*out)[0], want_last, c.name);
  }
}

INSTANTIATE_TEST_SUITE_P(
    NhwcOps, NhwcConvTest,
    ::testing::Values(
        ConvCase{"k3_pad1", {1, 16, 10, 12}, 32, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, false, ""},
        ConvCase{"k3_stride2", {2, 8, 11, 9}, 16, 1, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, false, ""},
        ConvCase{"k7_stride2_pad3", {1, 3, 20, 20}, 16, 1, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}, true, false, "Relu"},
        ConvCase{"k1_no_bias", {1, 24, 7, 7}, 40, 1, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, false, false, ""},
        ConvCase{"groups", {1, 16, 9, 9}, 24, 4, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, false, ""},
        ConvCase{"depthwise_clip", {1, 32, 14, 14}, 32, 32, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, false, "Clip"},
        ConvCase{"dilation_asym_pads", {1, 8, 15, 13}, 8, 1, {3, 3}, {1, 2}, {2, 2}, {2, 1, 0, 3}, true, false, ""},
        ConvCase{"sum", {1, 16, 8, 8}, 16, 1, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, true, ""},
        ConvCase{"sum_relu", {1, 16, 8, 8}, 32, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, true, "Relu"},
        ConvCase{"conv1d_sum", {2, 8, 17}, 12, 1, {3}, {2}, {1}, {1, 1}, true, true, "Relu"},
        ConvCase{"conv3d", {1, 4, 5, 6, 7}, 8, 2, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, true, false, ""},
        // Winograd: residual + ReLU without bias, batch 2; valid pads; and pads 2, which oneDNN
        // has no Winograd kernel for (the direct algorithm runs).
        ConvCase{"winograd_sum_relu", {2, 64, 14, 14}, 64, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, true, "Relu"},
        ConvCase{"winograd_valid", {1, 32, 9, 11}, 16, 1, {3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, false, ""},
        ConvCase{"k3_pad2_no_winograd_kernel", {1, 16, 8, 8}, 16, 1, {3, 3}, {1, 1}, {1, 1}, {2, 2, 2, 2}, true, true,
                 "Relu"}),
    [](const ::testing::TestParamInfo<ConvCase>& info) { return std::string(info.param.name); });

// The NCHW Conv and hone.FusedConv (constant W) on 3x3 stride-1 shapes that run as Winograd.
TEST(NhwcOps, ConvOnWinogradShapes) {
  struct Case {
    Shape x;
    int64_t out_channels;
    bool fused_relu;
  };
  for (const Case& c : {Case{{1, 16, 12, 10}, 32, false}, Case{{2, 40, 7, 7}, 24, true}}) {
    SCOPED_TRACE(shape_to_string(c.x) + (c.fused_relu ? " FusedConv Relu" : " Conv"));
    const Tensor x = random_tensor(c.x, 5), w = random_tensor({c.out_channels, c.x[1], 3, 3}, 6),
                 b = random_tensor({c.out_channels}, 7);
    kernels::ref::ConvParams p;
    p.batch = c.x[0];
    p.in_channels = c.x[1];
    p.out_channels = c.out_channels;
    p.in_spatial = {c.x[2], c.x[3]};
    p.kernel = {3, 3};
    p.out_spatial = p.in_spatial;
    p.strides = p.dilations = {1, 1};
    p.pads_begin = {1, 1};
    Tensor want = Tensor::create(DType::kFloat32, {c.x[0], c.out_channels, c.x[2], c.x[3]}).value();
    kernels::ref::conv_nd_ref<float>(p, x.data<float>(), w.data<float>(), b.data<float>(), want.data<float>());
    std::vector<ir::Attribute> attrs = {ints_attr("pads", {1, 1, 1, 1})};
    if (c.fused_relu) {
      attrs.push_back(string_attr("activation", "Relu"));
      for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = std::max(want.data<float>()[i], 0.0f);
    }
    auto out = run_node(c.fused_relu ? "hone" : "", c.fused_relu ? "FusedConv" : "Conv", {x}, {{1, w}, {2, b}}, attrs);
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close((*out)[0], want, "Conv");
  }
}

TEST(NhwcOps, ConvSumOfAnotherShapeIsAnError) {
  const Tensor x = random_tensor({1, 4, 4, 8}, 1), w = random_tensor({8, 8, 1, 1}, 2);
  auto out = run_node("hone", "NhwcConv", {x, random_tensor({1, 4, 4, 1}, 3)}, {{1, w}, {2, Tensor()}}, {});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("Sum"), std::string::npos) << out.status().message();
}

// One session run again and again (the kernel reuses its plan while X and Sum keep their shapes)
// with new values and with X changing shape: every run equals a fresh session's single run.
TEST(NhwcOps, ConvRerunsWithNewValuesAndShapes) {
  const Tensor w = random_tensor({16, 8, 3, 3}, 2), b = random_tensor({16}, 3);
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  m.opsets.push_back({"hone", 1});
  ir::Node n;
  n.op_type = "NhwcConv";
  n.domain = "hone";
  n.name = "conv";
  n.attrs = {ints_attr("pads", {1, 1, 1, 1}), string_attr("activation", "Relu")};
  n.inputs = {"x", "w", "b", "sum"};
  n.outputs = {"y"};
  m.graph.inputs.push_back({"x", {}, {}});
  m.graph.inputs.push_back({"sum", {}, {}});
  m.graph.initializers.push_back({"w", w, {}, std::nullopt});
  m.graph.initializers.push_back({"b", b, {}, std::nullopt});
  m.graph.outputs.push_back({"y", {}, {}});
  m.graph.nodes.push_back(std::move(n));
  SessionOptions o;
  o.threads = 2;
  auto session = create_session(std::move(m), o);
  ASSERT_TRUE(session.ok()) << session.status().message();
  const Shape shapes[] = {{1, 6, 7, 8}, {1, 6, 7, 8}, {2, 5, 9, 8}, {1, 6, 7, 8}};
  uint32_t seed = 10;
  for (const Shape& xs : shapes) {
    const Tensor x = random_tensor(xs, seed++), sum = random_tensor({xs[0], xs[1], xs[2], 16}, seed++);
    auto got = session->run(std::vector<Tensor>{x, sum});
    ASSERT_TRUE(got.ok()) << got.status().message();
    auto want = run_node("hone", "NhwcConv", {x, sum}, {{1, w}, {2, b}},
                         {ints_attr("pads", {1, 1, 1, 1}), string_attr("activation", "Relu")});
    ASSERT_TRUE(want.ok()) << want.status().message();
    expect_close((*got)[0], (*want)[0], shape_to_string(xs));
  }
  // A Sum whose shape no longer fits Y is still refused on a rerun.
  auto bad = session->run(std::vector<Tensor>{random_tensor({1, 6, 7, 8}, 1), random_tensor({1, 6, 7, 15}, 2)});
  EXPECT_FALSE(bad.ok());
}

TEST(NhwcOps, ConvChannelsThatDoNotFitWAreAnError) {
  const Tensor x = random_tensor({1, 4, 4, 6}, 1), w = random_tensor({8, 8, 1, 1}, 2);
  auto out = run_node("hone", "NhwcConv", {x}, {{1, w}}, {});
  EXPECT_FALSE(out.ok());
}

struct PoolCase {
  const char* name;
  const char* op;  // MaxPool, AveragePool, GlobalAveragePool
  Shape x;         // NCHW
  std::vector<ir::Attribute> attrs;
};
void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

class NhwcPoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(NhwcPoolTest, MatchesNchwPool) {
  const PoolCase& c = GetParam();
  const Tensor x = random_tensor(c.x, 5);
  auto want = run_node("", c.op, {x}, {}, c.attrs);
  ASSERT_TRUE(want.ok()) << want.status().message();
  auto got = run_node("hone", std::string("Nhwc") + c.op, {move_channels(x, true)}, {}, c.attrs);
  ASSERT_TRUE(got.ok()) << got.status().message();
  expect_close(move_channels((*got)[0], false), (*want)[0], c.name);
}

INSTANTIATE_TEST_SUITE_P(
    NhwcOps, NhwcPoolTest,
    ::testing::Values(
        PoolCase{"max_k3_s2_p1", "MaxPool", {1, 64, 16, 16},
                 {ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {2, 2}), ints_attr("pads", {1, 1, 1, 1})}},
        PoolCase{"max_ceil_dilated", "MaxPool", {2, 5, 11, 10},
                 {ints_attr("kernel_shape", {2, 3}), ints_attr("strides", {2, 2}), ints_attr("dilations", {1, 2}),
                  int_attr("ceil_mode", 1)}},
        PoolCase{"max_1d", "MaxPool", {2, 7, 13}, {ints_attr("kernel_shape", {3}), ints_attr("strides", {2})}},
        PoolCase{"avg_exclude_pad", "AveragePool", {1, 9, 8, 8},
                 {ints_attr("kernel_shape", {3, 3}), ints_attr("pads", {1, 1, 1, 1})}},
        PoolCase{"avg_include_pad", "AveragePool", {1, 9, 8, 8},
                 {ints_attr("kernel_shape", {3, 3}), ints_attr("pads", {1, 0, 1, 2}), int_attr("count_include_pad", 1)}},
        PoolCase{"avg_3d", "AveragePool", {1, 3, 4, 5, 6},
                 {ints_attr("kernel_shape", {2, 2, 2}), ints_attr("strides", {2, 2, 2})}},
        PoolCase{"global_avg", "GlobalAveragePool", {2, 40, 7, 7}, {}},
        PoolCase{"global_avg_3d", "GlobalAveragePool", {1, 6, 3, 4, 5}, {}},
        // More channels than one pass of the kernel takes, a plane of several blocks of rows, and
        // enough work to split the channels over threads.
        PoolCase{"global_avg_wide", "GlobalAveragePool", {2, 300, 45, 45}, {}}),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return std::string(info.param.name); });

// Float accumulation stays accurate on a large plane: the mean of 512x512 positions of
// 0.1 + noise against the same mean taken in double (a sequential float sum is off by ~4e-5
// relative on this data, the kernel's blocked sums by ~2e-7).
TEST(NhwcOps, GlobalAveragePoolIsAccurateOnLargePlanes) {
  const int64_t h = 512, w = 512, c = 20;
  Tensor x = random_tensor({1, h, w, c}, 9);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 0.1f + 0.01f * x.data<float>()[i];
  auto out = run_node("hone", "NhwcGlobalAveragePool", {x}, {}, {});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].shape(), (Shape{1, 1, 1, c}));
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0.0;
    for (int64_t i = 0; i < h * w; ++i) sum += x.data<float>()[i * c + ch];
    const double mean = sum / static_cast<double>(h * w);
    EXPECT_NEAR((*out)[0].data<float>()[ch], mean, 1e-6 * mean) << "channel " << ch;
  }
}

TEST(NhwcOps, MaxPoolRefusesTypesItHasNoKernelFor) {
  auto out = run_node("hone", "NhwcMaxPool", {random_tensor({1, 4, 4, 2}, 1)}, {}, {ints_attr("kernel_shape", {2, 2})});
  ASSERT_TRUE(out.ok()) << out.status().message();  // one output: fine
  auto bad = run_node("hone", "NhwcMaxPool", {Tensor::create(DType::kInt64, {1, 4, 4, 2}).value()}, {},
                      {ints_attr("kernel_shape", {2, 2})});
  EXPECT_FALSE(bad.ok());  // float32, uint8 and int8 only
}

}  // namespace
}  // namespace hone
