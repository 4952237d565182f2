// Conv, pooling, normalization and quantized-conv behaviour the conformance cases do not reach:
// MaxPool's column-major Indices, ceil_mode dropping a window that would start in the padding,
// count_include_pad, float16 staging, BatchNormalization's spatial=0 form, QLinearConv's
// per-channel requantization (half to even, saturation), and malformed nodes failing cleanly.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/session_impl.h"

namespace hone {
namespace {

ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

ir::Attribute float_attr(const std::string& name, float v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kFloat;
  a.f = v;
  return a;
}

ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}

// Runs one node of `op` at `opset` with inputs i0, i1, ... and outputs o0, o1, ...
Result<std::vector<Tensor>> run_node(const std::string& op, int64_t opset, std::vector<Tensor> inputs,
                                     std::vector<ir::Attribute> attrs, size_t outputs = 1) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", opset});
  ir::Node n;
  n.op_type = op;
  n.name = op;
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    n.inputs.push_back("i" + std::to_string(i));
    m.graph.inputs.push_back({n.inputs.back(), {}, {}});
  }
  for (size_t i = 0; i < outputs; ++i) {
    n.outputs.push_back("o" + std::to_string(i));
    m.graph.outputs.push_back({n.outputs.back(), {}, {}});
  }
  m.graph.nodes.push_back(std::move(n));
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), {}));
  return s.run(inputs);
}

template <class T>
Tensor tensor(DType dtype, Shape shape, std::vector<T> v) {
  Tensor t = Tensor::create(dtype, std::move(shape)).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<T>()[i] = v[i];
  return t;
}

Tensor floats(Shape shape, std::vector<float> v) { return tensor<float>(DType::kFloat32, std::move(shape), std::move(v)); }

template <class T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

TEST(MaxPool, IndicesFollowStorageOrder) {
  Tensor x = floats({1, 1, 3, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8});
  for (int64_t order : {0, 1}) {
    auto out = run_node("MaxPool", 12, {x}, {ints_attr("kernel_shape", {2, 2}), int_attr("storage_order", order)}, 2);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{4, 5, 7, 8}));
    // Column-major numbers (h, w) as h + w * H.
    const std::vector<int64_t> want = order == 0 ? std::vector<int64_t>{4, 5, 7, 8} : std::vector<int64_t>{4, 7, 5, 8};
    EXPECT_EQ(values<int64_t>((*out)[1]), want);
  }
}

TEST(MaxPool, IndicesCountBatchAndChannel) {
  Tensor x = floats({2, 1, 2}, {1, 0, 0, 1});
  auto out = run_node("MaxPool", 12, {x}, {ints_attr("kernel_shape", {2})}, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int64_t>((*out)[1]), (std::vector<int64_t>{0, 3}));
}

TEST(MaxPool, Int8) {
  Tensor x = tensor<int8_t>(DType::kInt8, {1, 1, 4}, {-128, -5, 7, -100});
  auto out = run_node("MaxPool", 12, {x}, {ints_attr("kernel_shape", {2}), ints_attr("pads", {1, 1}), ints_attr("strides", {2})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int8_t>((*out)[0]), (std::vector<int8_t>{-128, 7, -100}));
}

TEST(AveragePool, CeilModeDropsAWindowStartingInThePadding) {
  // in 4, kernel 2, stride 2, end pad 1: a third window would start at 4, inside the padding only.
  Tensor x = floats({1, 1, 4}, {1, 2, 3, 4});
  auto out = run_node("AveragePool", 11, {x},
                      {ints_attr("kernel_shape", {2}), ints_attr("strides", {2}), ints_attr("pads", {0, 1}),
                       int_attr("ceil_mode", 1)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{1.5f, 3.5f}));
}

TEST(AveragePool, CountIncludePad) {
  Tensor x = floats({1, 1, 3}, {1, 2, 3});
  for (int64_t include : {0, 1}) {
    auto out = run_node("AveragePool", 11, {x},
                        {ints_attr("kernel_shape", {2}), ints_attr("pads", {1, 1}), int_attr("count_include_pad", include)});
    ASSERT_TRUE(out.ok()) << out.status().message();
    const std::vector<float> want = include ? std::vector<float>{0.5f, 1.5f, 2.5f, 1.5f} : std::vector<float>{1, 1.5f, 2.5f, 3};
    EXPECT_EQ(values<float>((*out)[0]), want);
  }
}

TEST(Conv, Float16MatchesFloat) {
  std::vector<float> xv(2 * 5 * 5), wv(4 * 2 * 3 * 3), bv{0.5f, -0.25f, 1, 0};
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.25f;
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<float>(static_cast<int>(i % 5) - 2) * 0.5f;
  auto to_half = [](Shape s, const std::vector<float>& v) {
    Tensor t = Tensor::create(DType::kFloat16, std::move(s)).value();
    for (size_t i = 0; i < v.size(); ++i) t.data<uint16_t>()[i] = float_to_half(v[i]);
    return t;
  };
  const std::vector<ir::Attribute> attrs{ints_attr("pads", {1, 1, 1, 1})};
  auto f = run_node("Conv", 11, {floats({1, 2, 5, 5}, xv), floats({4, 2, 3, 3}, wv), floats({4}, bv)}, attrs);
  auto h = run_node("Conv", 11, {to_half({1, 2, 5, 5}, xv), to_half({4, 2, 3, 3}, wv), to_half({4}, bv)}, attrs);
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_TRUE(h.ok()) << h.status().message();
  ASSERT_EQ((*h)[0].dtype(), DType::kFloat16);
  ASSERT_EQ((*h)[0].shape(), (*f)[0].shape());
  for (int64_t i = 0; i < (*f)[0].numel(); ++i)  // exact inputs: only the final rounding to half differs
    EXPECT_NEAR(half_to_float((*h)[0].data<uint16_t>()[i]), (*f)[0].data<float>()[i], 1e-2) << i;
}

TEST(BatchNormalization, SpatialZeroGivesEachElementItsParameters) {
  Tensor x = floats({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor scale = floats({2, 2}, {1, 2, 3, 4});
  Tensor bias = floats({2, 2}, {0, 1, 0, 1});
  Tensor mean = floats({2, 2}, {1, 1, 1, 1});
  Tensor var = floats({2, 2}, {1, 1, 1, 1});
  auto out = run_node("BatchNormalization", 7, {x, scale, bias, mean, var},
                      {int_attr("spatial", 0), float_attr("epsilon", 0)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{0, 3, 6, 13, 4, 11, 18, 29}));
}

TEST(QLinearConv, PerChannelRoundsHalfToEvenAndSaturates) {
  Tensor x = tensor<uint8_t>(DType::kUInt8, {1, 1, 1, 4}, {1, 3, 5, 7});
  Tensor x_scale = floats({}, {1});
  Tensor x_zp = tensor<uint8_t>(DType::kUInt8, {}, {0});
  Tensor w = tensor<int8_t>(DType::kInt8, {2, 1, 1, 1}, {1, -1});
  Tensor w_scale = floats({2}, {0.5f, 100});
  Tensor w_zp = tensor<int8_t>(DType::kInt8, {2}, {0, 0});
  Tensor y_scale = floats({}, {1});
  Tensor y_zp = tensor<uint8_t>(DType::kUInt8, {}, {10});
  Tensor bias = tensor<int32_t>(DType::kInt32, {2}, {2, 0});
  auto out = run_node("QLinearConv", 10, {x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias}, {});
  ASSERT_TRUE(out.ok()) << out.status().message();
  // Channel 0: (3, 5, 7, 9) * 0.5 = 1.5, 2.5, 3.5, 4.5 -> 2, 2, 4, 4, + 10. Channel 1: far below 0.
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{12, 12, 14, 14, 0, 0, 0, 0}));
}

TEST(ConvInteger, PerChannelWeightZeroPoint) {
  Tensor x = tensor<uint8_t>(DType::kUInt8, {1, 1, 1, 2}, {10, 20});
  Tensor w = tensor<uint8_t>(DType::kUInt8, {2, 1, 1, 1}, {3, 3});
  Tensor x_zp = tensor<uint8_t>(DType::kUInt8, {}, {10});
  Tensor w_zp = tensor<uint8_t>(DType::kUInt8, {2}, {1, 5});
  auto out = run_node("ConvInteger", 10, {x, w, x_zp, w_zp}, {});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{0, 20, 0, -20}));
}

TEST(ConvOps, MalformedNodesFailCleanly) {
  Tensor x = floats({1, 4, 5, 5}, std::vector<float>(100, 1));
  Tensor w = floats({2, 2, 3, 3}, std::vector<float>(36, 1));
  EXPECT_FALSE(run_node("Conv", 11, {x, w}, {int_attr("group", 3)}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, w}, {int_attr("group", 0)}).ok());
  EXPECT_TRUE(run_node("Conv", 11, {x, w}, {int_attr("group", 2)}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, floats({2, 4, 3}, std::vector<float>(24, 1))}, {}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, floats({2, 4, 9, 9}, std::vector<float>(648, 1))}, {}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, w}, {int_attr("group", 2), ints_attr("pads", {1, 1})}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, w}, {int_attr("group", 2), ints_attr("strides", {0, 1})}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, w}, {int_attr("group", 2), ints_attr("dilations", {1, int64_t{1} << 40})}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, w}, {int_attr("group", 2), string_attr("auto_pad", "SAME")}).ok());
  EXPECT_FALSE(run_node("Conv", 11, {x, w, floats({3}, {1, 2, 3})}, {int_attr("group", 2)}).ok());
  EXPECT_FALSE(run_node("ConvTranspose", 11, {x, floats({4, 1, 3, 3}, std::vector<float>(36, 1))},
                        {ints_attr("pads", {9, 9, 9, 9})}).ok());
  EXPECT_FALSE(run_node("ConvTranspose", 11, {x, floats({3, 1, 3, 3}, std::vector<float>(27, 1))}, {}).ok());
  EXPECT_FALSE(run_node("MaxPool", 12, {x}, {}).ok());
  EXPECT_FALSE(run_node("MaxPool", 12, {x}, {ints_attr("kernel_shape", {6, 6})}).ok());
  EXPECT_FALSE(run_node("AveragePool", 11, {x}, {ints_attr("kernel_shape", {2})}).ok());
  EXPECT_FALSE(run_node("LayerNormalization", 17, {x, floats({3}, {1, 2, 3})}, {}).ok());
  EXPECT_FALSE(run_node("LayerNormalization", 17, {x, floats({5}, std::vector<float>(5, 1))}, {int_attr("axis", 4)}).ok());
  EXPECT_FALSE(run_node("InstanceNormalization", 6, {x, floats({3}, {1, 2, 3}), floats({4}, {1, 2, 3, 4})}, {}).ok());
  EXPECT_FALSE(run_node("BatchNormalization", 15, {x, floats({4}, {1, 1, 1, 1})}, {}).ok());
}

}  // namespace
}  // namespace hone
