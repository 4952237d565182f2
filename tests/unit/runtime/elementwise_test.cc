// Elementwise properties the conformance cases do not cover: broadcasting of every shape pattern
// (against a naive index computation, on one and two threads, above the parallel threshold),
// 3-way Where, opset < 7 broadcast/axis, integer edge cases (division by zero, INT_MIN / -1,
// Python-style Mod, integer Pow), Clip bounds, Gelu in both domains and Cast's saturation.
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

ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}

struct NodeSpec {
  std::string op;
  std::vector<std::string> inputs;  // "" for an omitted input
  std::vector<ir::Attribute> attrs = {};
  std::string domain = "";
  int64_t opset = 17;
  int threads = 1;
};

// Runs a single-node model; the given tensors feed the non-empty inputs in order.
Result<Tensor> run_node(const NodeSpec& spec, const std::vector<Tensor>& tensors) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", spec.domain.empty() ? spec.opset : 17});
  if (!spec.domain.empty()) m.opsets.push_back({spec.domain, spec.opset});
  ir::Node n;
  n.op_type = spec.op;
  n.domain = spec.domain;
  n.name = spec.op;
  n.inputs = spec.inputs;
  n.outputs = {"y"};
  n.attrs = spec.attrs;
  for (const auto& name : spec.inputs)
    if (!name.empty()) m.graph.inputs.push_back({name, {}, {}});
  m.graph.outputs.push_back({"y", {}, {}});
  m.graph.nodes.push_back(std::move(n));
  SessionOptions options;
  options.threads = spec.threads;
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), options));
  HONE_ASSIGN_OR_RETURN(auto out, s.run(tensors));
  return out.at(0);
}

template <class T>
Tensor make(DType dtype, Shape shape, std::vector<T> values) {
  Tensor t = Tensor::create(dtype, std::move(shape)).value();
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

Tensor floats(Shape shape, std::vector<float> v) { return make<float>(DType::kFloat32, std::move(shape), std::move(v)); }
Tensor int32s(Shape shape, std::vector<int32_t> v) { return make<int32_t>(DType::kInt32, std::move(shape), std::move(v)); }
Tensor int64s(Shape shape, std::vector<int64_t> v) { return make<int64_t>(DType::kInt64, std::move(shape), std::move(v)); }

// Distinct float values: element i of a tensor is i * scale + offset.
Tensor iota(Shape shape, float scale, float offset) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i) * scale + offset;
  return t;
}

// Element of `t` read at output index `idx` under numpy broadcasting.
float broadcast_at(const Tensor& t, const Shape& out, int64_t flat) {
  std::vector<int64_t> idx(out.size());
  for (size_t d = out.size(); d-- > 0;) idx[d] = flat % out[d], flat /= out[d];
  int64_t offset = 0;
  const size_t pad = out.size() - t.shape().size();
  for (size_t d = 0; d < t.shape().size(); ++d) {
    const int64_t dim = t.shape()[d];
    offset = offset * dim + (dim == 1 ? 0 : idx[d + pad]);
  }
  return t.data<float>()[offset];
}

struct ShapePair {
  Shape a, b, out;
};

class BroadcastTest : public testing::TestWithParam<ShapePair> {};

TEST_P(BroadcastTest, SubMatchesNaiveIndexing) {
  const auto& p = GetParam();
  Tensor a = iota(p.a, 1.0f, 0.0f), b = iota(p.b, 0.001f, 0.5f);
  for (int threads : {1, 2}) {
    auto y = run_node({"Sub", {"a", "b"}, {}, "", 17, threads}, {a, b});
    ASSERT_TRUE(y.ok()) << y.status().message();
    ASSERT_EQ(y->shape(), p.out);
    for (int64_t i = 0; i < y->numel(); ++i)
      ASSERT_EQ(y->data<float>()[i], broadcast_at(a, p.out, i) - broadcast_at(b, p.out, i)) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BroadcastTest,
    testing::Values(ShapePair{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}, ShapePair{{2, 3, 4}, {}, {2, 3, 4}},
                    ShapePair{{}, {2, 3, 4}, {2, 3, 4}}, ShapePair{{2, 3, 4}, {4}, {2, 3, 4}},
                    ShapePair{{2, 3, 4}, {3, 1}, {2, 3, 4}}, ShapePair{{2, 1, 4}, {3, 1}, {2, 3, 4}},
                    ShapePair{{1, 3, 1, 5}, {2, 1, 4, 1}, {2, 3, 4, 5}}, ShapePair{{5, 1, 1}, {1, 1, 7}, {5, 1, 7}},
                    ShapePair{{2, 0, 3}, {1, 3}, {2, 0, 3}}, ShapePair{{1}, {1, 1}, {1, 1}},
                    // Above the parallel threshold: channel bias, row broadcast, one flat run.
                    ShapePair{{4, 64, 32, 32}, {1, 64, 1, 1}, {4, 64, 32, 32}},
                    ShapePair{{300, 1}, {1, 400}, {300, 400}}, ShapePair{{70000}, {1}, {70000}}));

TEST(ElementwiseTest, IncompatibleShapesAreAnError) {
  auto y = run_node({"Add", {"a", "b"}}, {iota({2, 3}, 1, 0), iota({4}, 1, 0)});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("cannot be broadcast"), std::string::npos) << y.status().message();
}

TEST(ElementwiseTest, MixedElementTypesAreAnError) {
  auto y = run_node({"Add", {"a", "b"}}, {iota({2}, 1, 0), int32s({2}, {1, 2})});
  EXPECT_FALSE(y.ok());
}

TEST(ElementwiseTest, WhereBroadcastsThreeWays) {
  Tensor cond = make<bool>(DType::kBool, {2, 1, 1}, {true, false});
  Tensor x = iota({1, 3, 1}, 1, 0);    // 0 1 2
  Tensor y = iota({1, 1, 2}, 1, 10);   // 10 11
  auto out = run_node({"Where", {"c", "x", "y"}}, {cond, x, y});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->shape(), (Shape{2, 3, 2}));
  const std::vector<float> want = {0, 0, 1, 1, 2, 2, 10, 11, 10, 11, 10, 11};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(out->data<float>()[i], want[i]) << i;
}

TEST(ElementwiseTest, LegacyBroadcastAlignsAtAxis) {
  // Opset 6: B of shape [3] lines up with A's dim 1 when axis=1 (numpy would use the last dim).
  auto y = run_node({"Add", {"a", "b"}, {int_attr("broadcast", 1), int_attr("axis", 1)}, "", 6},
                    {iota({2, 3, 2}, 0, 0), floats({3}, {1, 2, 3})});
  ASSERT_TRUE(y.ok()) << y.status().message();
  const std::vector<float> want = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y->data<float>()[i], want[i]) << i;
  // Without broadcast=1, opset 6 requires equal shapes.
  EXPECT_FALSE(run_node({"Add", {"a", "b"}, {}, "", 6}, {iota({2, 3}, 1, 0), floats({3}, {1, 2, 3})}).ok());
}

TEST(ElementwiseTest, IntegerDivisionByZeroIsAnError) {
  for (const char* op : {"Div", "Mod"}) {
    auto y = run_node({op, {"a", "b"}}, {int32s({2}, {4, 5}), int32s({2}, {2, 0})});
    ASSERT_FALSE(y.ok()) << op;
    EXPECT_NE(y.status().message().find("division by zero"), std::string::npos) << y.status().message();
  }
}

TEST(ElementwiseTest, IntegerOverflowWraps) {
  const int32_t lo = std::numeric_limits<int32_t>::min();
  auto q = run_node({"Div", {"a", "b"}}, {int32s({1}, {lo}), int32s({1}, {-1})});
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->data<int32_t>()[0], lo);
  auto r = run_node({"Mod", {"a", "b"}}, {int32s({1}, {lo}), int32s({1}, {-1})});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->data<int32_t>()[0], 0);
  auto s = run_node({"Add", {"a", "b"}}, {int32s({1}, {std::numeric_limits<int32_t>::max()}), int32s({1}, {1})});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->data<int32_t>()[0], lo);
}

TEST(ElementwiseTest, ModFollowsDivisorSignUnlessFmod) {
  Tensor a = int32s({4}, {-7, 7, -7, 7}), b = int32s({4}, {3, -3, -3, 3});
  auto py = run_node({"Mod", {"a", "b"}}, {a, b});
  ASSERT_TRUE(py.ok()) << py.status().message();
  const std::vector<int32_t> want_py = {2, -2, -1, 1};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(py->data<int32_t>()[i], want_py[i]) << i;
  auto c = run_node({"Mod", {"a", "b"}, {int_attr("fmod", 1)}}, {a, b});
  ASSERT_TRUE(c.ok()) << c.status().message();
  const std::vector<int32_t> want_c = {-1, 1, -1, 1};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(c->data<int32_t>()[i], want_c[i]) << i;
}

TEST(ElementwiseTest, IntegerPowIsExact) {
  auto y = run_node({"Pow", {"a", "b"}}, {int64s({5}, {3, 2, -1, 2, 7}), int64s({5}, {39, -1, -3, 0, 1})});
  ASSERT_TRUE(y.ok()) << y.status().message();
  const std::vector<int64_t> want = {4052555153018976267, 0, -1, 1, 7};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y->data<int64_t>()[i], want[i]) << i;
}

TEST(ElementwiseTest, ClipBoundsAreOptionalInputs) {
  Tensor x = floats({4}, {-2, -0.5f, 0.5f, 2});
  auto only_max = run_node({"Clip", {"x", "", "hi"}}, {x, floats({}, {1})});
  ASSERT_TRUE(only_max.ok()) << only_max.status().message();
  const std::vector<float> want = {-2, -0.5f, 0.5f, 1};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(only_max->data<float>()[i], want[i]) << i;
  // min > max gives max everywhere, as numpy.clip does.
  auto crossed = run_node({"Clip", {"x", "lo", "hi"}}, {x, floats({}, {1}), floats({}, {0})});
  ASSERT_TRUE(crossed.ok());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(crossed->data<float>()[i], 0) << i;
  EXPECT_FALSE(run_node({"Clip", {"x", "lo"}}, {x, floats({2}, {0, 1})}).ok());
}

TEST(ElementwiseTest, GeluInBothDomains) {
  Tensor x = floats({3}, {-1, 0.5f, 2});
  auto exact = [](float v) { return 0.5f * v * (1 + std::erf(v / std::sqrt(2.0f))); };
  auto ms = run_node({"Gelu", {"x"}, {}, "com.microsoft", 1}, {x});
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  auto onnx = run_node({"Gelu", {"x"}, {}, "", 20}, {x});
  ASSERT_TRUE(onnx.ok()) << onnx.status().message();
  auto tanh = run_node({"Gelu", {"x"}, {string_attr("approximate", "tanh")}, "", 20}, {x});
  ASSERT_TRUE(tanh.ok()) << tanh.status().message();
  for (int64_t i = 0; i < 3; ++i) {
    const float v = x.data<float>()[i];
    EXPECT_NEAR(ms->data<float>()[i], exact(v), 1e-6f);
    EXPECT_NEAR(onnx->data<float>()[i], exact(v), 1e-6f);
    EXPECT_NEAR(tanh->data<float>()[i], exact(v), 1e-3f);
  }
  EXPECT_FALSE(run_node({"Gelu", {"x"}, {string_attr("approximate", "erf")}, "", 20}, {x}).ok());
}

TEST(ElementwiseTest, CastFloatToIntSaturates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto y = run_node({"Cast", {"x"}, {int_attr("to", static_cast<int64_t>(DType::kInt8))}},
                    {floats({5}, {nan, 1e9f, -1e9f, -3.7f, 3.7f})});
  ASSERT_TRUE(y.ok()) << y.status().message();
  const std::vector<int8_t> want = {0, 127, -128, -3, 3};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y->data<int8_t>()[i], want[i]) << i;
}

TEST(ElementwiseTest, CastToIsANameBeforeOpset6) {
  auto y = run_node({"Cast", {"x"}, {string_attr("to", "INT32")}, "", 5}, {floats({2}, {1.5f, -2.5f})});
  ASSERT_TRUE(y.ok()) << y.status().message();
  ASSERT_EQ(y->dtype(), DType::kInt32);
  EXPECT_EQ(y->data<int32_t>()[0], 1);
  EXPECT_EQ(y->data<int32_t>()[1], -2);
}

TEST(ElementwiseTest, CastStringRoundTrip) {
  auto s = run_node({"Cast", {"x"}, {int_attr("to", static_cast<int64_t>(DType::kString))}},
                    {floats({3}, {0.1f, -2.5f, 1e-5f})});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->strings(), (std::vector<std::string>{"0.1", "-2.5", "1e-05"}));
  auto back = run_node({"Cast", {"x"}, {int_attr("to", static_cast<int64_t>(DType::kFloat32))}}, {*s});
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->data<float>()[0], 0.1f);
  Tensor bad = Tensor::create(DType::kString, {1}).value();
  bad.strings()[0] = "twelve";
  EXPECT_FALSE(run_node({"Cast", {"x"}, {int_attr("to", static_cast<int64_t>(DType::kFloat32))}}, {bad}).ok());
}

}  // namespace
}  // namespace hone
