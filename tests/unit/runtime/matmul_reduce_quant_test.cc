// MatMul, Gemm, Softmax, Reduce*, Einsum and quantization behaviour that the conformance cases do
// not reach: 1-D promotion and batch broadcasting, float16 staging, opset-dependent Softmax axes,
// empty-set and integer reductions, implicit and broadcast Einsum, rounding and saturation of
// quantization, per-row zero points, and malformed nodes failing cleanly.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/session_impl.h"

namespace hone {
namespace {

ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}

// Runs one node of `op` at `opset`; an empty (undefined) input tensor is passed as omitted.
Result<std::vector<Tensor>> run_node(const std::string& op, int64_t opset, std::vector<Tensor> inputs,
                                     std::vector<ir::Attribute> attrs = {}, size_t outputs = 1) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", opset});
  ir::Node n;
  n.op_type = op;
  n.name = op;
  n.attrs = std::move(attrs);
  std::vector<Tensor> fed;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      n.inputs.push_back("");
      continue;
    }
    n.inputs.push_back("i" + std::to_string(i));
    m.graph.inputs.push_back({n.inputs.back(), {}, {}});
    fed.push_back(inputs[i]);
  }
  for (size_t i = 0; i < outputs; ++i) {
    n.outputs.push_back("o" + std::to_string(i));
    m.graph.outputs.push_back({n.outputs.back(), {}, {}});
  }
  m.graph.nodes.push_back(std::move(n));
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), {}));
  return s.run(fed);
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

TEST(MatMul, VectorTimesBatchedMatrixDropsThePromotedDim) {
  // [2] @ [3, 2, 2]: A is promoted to [1, 2], broadcast over the batch, and the 1 dropped.
  auto out = run_node("MatMul", 13, {floats({2}, {1, 2}), floats({3, 2, 2}, {1, 0, 0, 1, 2, 0, 0, 2, 1, 1, 1, 1})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{1, 2, 2, 4, 3, 3}));
}

TEST(MatMul, BatchDimsBroadcast) {
  // [2, 1, 1, 2] @ [3, 2, 1] -> [2, 3, 1, 1]
  auto out = run_node("MatMul", 13, {floats({2, 1, 1, 2}, {1, 1, 2, 2}), floats({3, 2, 1}, {1, 1, 2, 2, 3, 3})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{2, 4, 6, 4, 8, 12}));
}

TEST(MatMul, Float16AndInt64) {
  Tensor a = tensor<uint16_t>(DType::kFloat16, {1, 2}, {float_to_half(1.5f), float_to_half(2)});
  Tensor b = tensor<uint16_t>(DType::kFloat16, {2, 1}, {float_to_half(2), float_to_half(-1)});
  auto out = run_node("MatMul", 13, {a, b});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(half_to_float((*out)[0].data<uint16_t>()[0]), 1.0f);
  auto ints = run_node("MatMul", 13, {tensor<int64_t>(DType::kInt64, {2}, {3, 4}), tensor<int64_t>(DType::kInt64, {2}, {5, 6})});
  ASSERT_TRUE(ints.ok()) << ints.status().message();
  EXPECT_EQ((*ints)[0].shape(), Shape{});
  EXPECT_EQ(values<int64_t>((*ints)[0]), (std::vector<int64_t>{39}));
}

TEST(MatMul, MismatchedInnerDimsFailCleanly) {
  auto out = run_node("MatMul", 13, {floats({2, 3}, {}), floats({2, 3}, {})});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("inner dims"), std::string::npos) << out.status().message();
}

TEST(Gemm, ColumnBiasBroadcastsAndBadBiasFails) {
  // C of shape [2, 1] adds per row.
  auto out = run_node("Gemm", 13, {floats({2, 2}, {1, 0, 0, 1}), floats({2, 2}, {1, 2, 3, 4}), floats({2, 1}, {10, 20})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{11, 12, 23, 24}));
  auto bad = run_node("Gemm", 13, {floats({2, 2}, {}), floats({2, 2}, {}), floats({3}, {})});
  EXPECT_FALSE(bad.ok());
}

TEST(Softmax, Opset11CoercesTo2DWhileOpset13UsesOneAxis) {
  Tensor x = floats({1, 2, 2}, {0, 0, 0, 0});
  auto old = run_node("Softmax", 11, {x}, {int_attr("axis", 1)});
  auto now = run_node("Softmax", 13, {x}, {int_attr("axis", 1)});
  ASSERT_TRUE(old.ok() && now.ok());
  EXPECT_EQ(values<float>((*old)[0]), (std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f}));
  EXPECT_EQ(values<float>((*now)[0]), (std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}));
}

TEST(Softmax, HugeValuesDoNotOverflow) {
  auto out = run_node("LogSoftmax", 13, {floats({2}, {1e30f, 1e30f})});
  ASSERT_TRUE(out.ok());
  EXPECT_NEAR((*out)[0].data<float>()[0], -std::log(2.0f), 1e-6);
}

TEST(Reduce, EmptySetsGiveTheIdentity) {
  Tensor x = Tensor::create(DType::kFloat32, {2, 0}).value();
  auto sum = run_node("ReduceSum", 13, {x}, {int_attr("keepdims", 0)});
  auto max = run_node("ReduceMax", 13, {x}, {ints_attr("axes", {1})});
  auto prod = run_node("ReduceProd", 13, {x}, {ints_attr("axes", {1})});
  ASSERT_TRUE(sum.ok() && max.ok() && prod.ok());
  EXPECT_EQ((*sum)[0].shape(), Shape{});
  EXPECT_EQ(values<float>((*sum)[0]), (std::vector<float>{0}));
  EXPECT_EQ((*max)[0].shape(), (Shape{2, 1}));
  EXPECT_EQ((*max)[0].data<float>()[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(values<float>((*prod)[0]), (std::vector<float>{1, 1}));
}

TEST(Reduce, AxesInputAndNoop) {
  Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor axes = tensor<int64_t>(DType::kInt64, {1}, {-1});
  auto sum = run_node("ReduceSum", 13, {x, axes}, {int_attr("keepdims", 0)});
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  EXPECT_EQ(values<float>((*sum)[0]), (std::vector<float>{6, 15}));
  auto noop = run_node("ReduceSum", 13, {x, Tensor::create(DType::kInt64, {0}).value()}, {int_attr("noop_with_empty_axes", 1)});
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(values<float>((*noop)[0]), values<float>(x));
}

TEST(Reduce, IntegersAndMiddleAxes) {
  Tensor x = tensor<int64_t>(DType::kInt64, {2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto mean = run_node("ReduceMean", 13, {x}, {ints_attr("axes", {0, 2}), int_attr("keepdims", 0)});
  auto mn = run_node("ReduceMin", 13, {x}, {ints_attr("axes", {1})});
  ASSERT_TRUE(mean.ok() && mn.ok());
  EXPECT_EQ(values<int64_t>((*mean)[0]), (std::vector<int64_t>{3, 5}));  // (1+2+5+6)/4, (3+4+7+8)/4
  EXPECT_EQ(values<int64_t>((*mn)[0]), (std::vector<int64_t>{1, 2, 5, 6}));
}

TEST(Reduce, BadAxesFailCleanly) {
  Tensor x = floats({2, 3}, {});
  EXPECT_FALSE(run_node("ReduceMax", 13, {x}, {ints_attr("axes", {2})}).ok());
  EXPECT_FALSE(run_node("ReduceMax", 13, {x}, {ints_attr("axes", {1, -1})}).ok());
}

TEST(Einsum, ImplicitOutputIsAlphabetical) {
  // "ba,bc" has no "->": the output is "ac", the labels used once in alphabetical order.
  auto out = run_node("Einsum", 12, {floats({2, 1}, {1, 2}), floats({2, 2}, {1, 0, 0, 1})}, {string_attr("equation", "ba,bc")});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{1, 2}));
}

TEST(Einsum, EllipsisBroadcastsAndTraceSums) {
  // "...ij,...jk->...ik" with batch dims [2] and [1].
  auto out = run_node("Einsum", 12, {floats({2, 1, 1}, {2, 3}), floats({1, 1, 2}, {1, 10})},
                      {string_attr("equation", "...ij,...jk->...ik")});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{2, 20, 3, 30}));
  auto trace = run_node("Einsum", 12, {floats({2, 2}, {1, 2, 3, 4})}, {string_attr("equation", "ii->")});
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(values<float>((*trace)[0]), (std::vector<float>{5}));
  EXPECT_FALSE(run_node("Einsum", 12, {floats({2, 2}, {})}, {string_attr("equation", "ijk->i")}).ok());
  EXPECT_FALSE(run_node("Einsum", 12, {floats({2, 3}, {})}, {string_attr("equation", "ii->i")}).ok());
}

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturates) {
  Tensor x = floats({6}, {0.5f, 1.5f, 2.5f, -0.5f, 1000, -1000});
  auto out = run_node("QuantizeLinear", 13, {x, floats({}, {1}), tensor<int8_t>(DType::kInt8, {}, {0})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int8_t>((*out)[0]), (std::vector<int8_t>{0, 2, 2, 0, 127, -128}));
}

TEST(QuantizeLinear, PerAxisScalesAndMismatchFails) {
  Tensor x = floats({2, 2}, {1, 1, 1, 1});
  auto out = run_node("QuantizeLinear", 13, {x, floats({2}, {1, 0.5f})}, {int_attr("axis", 0)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{1, 1, 2, 2}));
  EXPECT_FALSE(run_node("QuantizeLinear", 13, {x, floats({3}, {1, 1, 1})}).ok());
}

TEST(DynamicQuantizeLinear, AllZerosHasZeroScale) {
  auto out = run_node("DynamicQuantizeLinear", 11, {floats({3}, {0, 0, 0})}, {}, 3);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ((*out)[1].data<float>()[0], 0.0f);
  EXPECT_EQ((*out)[2].data<uint8_t>()[0], 0);
}

TEST(MatMulInteger, PerRowAndPerColumnZeroPoints) {
  Tensor a = tensor<uint8_t>(DType::kUInt8, {2, 2}, {11, 12, 23, 24});
  Tensor b = tensor<int8_t>(DType::kInt8, {2, 2}, {1, 2, 3, 4});
  Tensor a_zp = tensor<uint8_t>(DType::kUInt8, {2}, {10, 20});
  Tensor b_zp = tensor<int8_t>(DType::kInt8, {2}, {1, 2});
  auto out = run_node("MatMulInteger", 10, {a, b, a_zp, b_zp});
  ASSERT_TRUE(out.ok()) << out.status().message();
  // [[1, 2], [3, 4]] @ [[0, 0], [2, 2]]
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{4, 4, 8, 8}));
  EXPECT_FALSE(run_node("MatMulInteger", 10, {a, b, tensor<uint8_t>(DType::kUInt8, {3}, {0, 0, 0})}).ok());
}

}  // namespace
}  // namespace hone
