// layout_nhwc and sink_transposes on small CNN graphs built here: op counts after level 2 (what
// went channels-last, how many transposes are left, which residual Adds fused into a conv and
// which must not), a valid graph, and outputs equal to level 0 within 1e-4 relative.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <random>

#include "eval/compare.h"
#include "eval/random_inputs.h"
#include "kernels/dnnl/dnnl_common.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"
#include "../test_models.h"

namespace hone::passes {
namespace {

using testing_models::int_attr;
using testing_models::op_counts;
using testing_models::ints_attr;

ir::Dim dim(int64_t v) { return ir::Dim::of(v); }

ir::ValueInfo float_value(const std::string& name, std::vector<ir::Dim> dims) {
  ir::ValueInfo v;
  v.name = name;
  v.type.kind = ir::TypeInfo::Kind::kTensor;
  v.type.elem = DType::kFloat32;
  v.type.has_shape = true;
  v.type.dims = std::move(dims);
  return v;
}

// Builds a graph node by node; weights are random constants.
class Builder {
 public:
  Builder() {
    m_.ir_version = 8;
    m_.opsets.push_back({"", 13});
  }
  void input(const std::string& name, std::vector<ir::Dim> dims) { m_.graph.inputs.push_back(float_value(name, dims)); }
  void output(const std::string& name) { m_.graph.outputs.push_back({name, {}, {}}); }
  std::string constant(Shape shape) {
    Tensor t = Tensor::create(DType::kFloat32, shape).value();
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng_);
    const std::string name = "c" + std::to_string(m_.graph.initializers.size());
    m_.graph.initializers.push_back({name, std::move(t), {}, std::nullopt});
    return name;
  }
  std::string node(const std::string& op, std::vector<std::string> inputs, std::vector<ir::Attribute> attrs = {}) {
    ir::Node n;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    n.name = op + std::to_string(m_.graph.nodes.size());
    n.outputs = {"v" + std::to_string(m_.graph.nodes.size())};
    m_.graph.nodes.push_back(n);
    return n.outputs[0];
  }
  // A k x k Conv with bias and "same" padding.
  std::string conv(const std::string& x, int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t group = 1) {
    const int64_t p = k / 2;
    return node("Conv", {x, constant({out, in / group, k, k}), constant({out})},
                {ints_attr("kernel_shape", {k, k}), ints_attr("strides", {stride, stride}), ints_attr("pads", {p, p, p, p}),
                 int_attr("group", group)});
  }
  std::string clip6(const std::string& x) {
    if (!lo_.size()) {
      lo_ = "lo";
      hi_ = "hi";
      Tensor l = Tensor::create(DType::kFloat32, {}).value(), h = Tensor::create(DType::kFloat32, {}).value();
      h.data<float>()[0] = 6.0f;
      m_.graph.initializers.push_back({lo_, l, {}, std::nullopt});
      m_.graph.initializers.push_back({hi_, h, {}, std::nullopt});
    }
    return node("Clip", {x, lo_, hi_});
  }
  ir::Model& model() { return m_; }

 private:
  ir::Model m_;
  std::mt19937 rng_{7};
  std::string lo_, hi_;
};

// Stem conv, MaxPool, a ResNet basic block (residual Add + Relu), GlobalAveragePool, Flatten, Gemm.
ir::Model resnet_like() {
  Builder b;
  b.input("x", {dim(1), dim(3), dim(16), dim(16)});
  std::string s = b.node("Relu", {b.conv("x", 3, 16, 3)});
  std::string a = b.node("MaxPool", {s}, {ints_attr("kernel_shape", {2, 2}), ints_attr("strides", {2, 2})});
  std::string t = b.node("Relu", {b.conv(a, 16, 16, 3)});
  t = b.conv(t, 16, 16, 3);
  std::string r = b.node("Relu", {b.node("Add", {t, a})});
  std::string p = b.node("GlobalAveragePool", {r});
  std::string f = b.node("Flatten", {p});
  std::string y = b.node("Gemm", {f, b.constant({10, 16}), b.constant({10})}, {int_attr("transB", 1)});
  b.output(y);
  return b.model();
}

// MobileNet-v2's inverted residual: expand 1x1 + ReLU6, depthwise 3x3 + ReLU6, project 1x1,
// Add to the block's input; the model's output is the NCHW sum.
ir::Model mobilenet_like() {
  Builder b;
  b.input("x", {dim(1), dim(3), dim(12), dim(12)});
  std::string s = b.clip6(b.conv("x", 3, 8, 3));
  std::string e = b.clip6(b.conv(s, 8, 32, 1));
  std::string d = b.clip6(b.conv(e, 32, 32, 3, 1, 32));
  std::string p = b.conv(d, 32, 8, 1);
  b.output(b.node("Add", {p, s}));
  return b.model();
}

// Dynamic N/H/W; a Conv whose output is a graph output and feeds another Conv; an Add of a
// broadcast constant between convs; an Add of a conv output and a GlobalAveragePool result
// (broadcast: must not fuse into the conv).
ir::Model wild() {
  Builder b;
  b.input("x", {ir::Dim::symbol("N"), dim(4), ir::Dim::symbol("H"), ir::Dim::symbol("W")});
  std::string c1 = b.conv("x", 4, 8, 3);
  b.output(c1);
  std::string c2 = b.conv(b.node("Add", {c1, b.constant({8, 1, 1})}), 8, 8, 3);
  std::string g = b.node("GlobalAveragePool", {c2});
  std::string c3 = b.conv(c2, 8, 8, 1);
  b.output(b.node("Add", {c3, g}));
  return b.model();
}

std::vector<Tensor> run(const ir::Model& m, const std::map<std::string, Shape>& shapes = {}) {
  auto s = create_session(m);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  auto inputs = eval::random_inputs(s->inputs(), shapes, 42);
  EXPECT_TRUE(inputs.ok()) << inputs.status().message();
  if (!inputs.ok()) return {};
  auto out = s->run(*inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

ir::Model level2(ir::Model m, std::set<std::string> disabled = {}) {
  PassOptions o;
  o.level = 2;
  o.verify_each = true;
  o.disabled = std::move(disabled);
  Status st = optimize(m, o);
  EXPECT_TRUE(st.ok()) << st.message();
  return m;
}

void expect_same_outputs(const ir::Model& reference, const ir::Model& optimized, const std::map<std::string, Shape>& shapes = {}) {
  auto want = run(reference, shapes), got = run(optimized, shapes);
  ASSERT_EQ(want.size(), got.size());
  ASSERT_FALSE(want.empty());
  for (size_t i = 0; i < want.size(); ++i) {
    eval::Comparison c = eval::compare_tensors(got[i], want[i]);
    EXPECT_TRUE(c.within(1e-4, 1e-6)) << "output " << i << ": max|a-b| = " << c.max_abs_error << " (max|b| "
                                      << c.max_abs_ref << ") " << c.why;
  }
}

class LayoutNhwc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::onednn::enabled()) GTEST_SKIP() << "layout_nhwc runs only with oneDNN (HONE_DNNL=0 here)";
  }
};

TEST_F(LayoutNhwc, ResnetBlockKeepsTwoTransposes) {
  const ir::Model before = resnet_like();
  const ir::Model after = level2(before);
  EXPECT_EQ(op_counts(after), (std::map<std::string, int>{{"Transpose", 2},
                                                          {"hone.NhwcConv", 3},
                                                          {"hone.NhwcMaxPool", 1},
                                                          {"hone.NhwcGlobalAveragePool", 1},
                                                          {"Flatten", 1},
                                                          {"Gemm", 1}}));
  expect_same_outputs(before, after);
}

TEST_F(LayoutNhwc, InvertedResidualFusesIntoProjection) {
  const ir::Model before = mobilenet_like();
  // fuse_inverted_residual would take the whole block (tests/unit/passes/fuse_inverted_residual_test.cc).
  const ir::Model after = level2(before, {"fuse_inverted_residual"});
  EXPECT_EQ(op_counts(after), (std::map<std::string, int>{{"Transpose", 2}, {"hone.NhwcConv", 4}}));
  int with_sum = 0;
  for (const auto& n : after.graph.nodes) with_sum += n.op_type == "NhwcConv" && n.inputs.size() == 4;
  EXPECT_EQ(with_sum, 1);
  expect_same_outputs(before, after);
}

TEST_F(LayoutNhwc, SharedOutputsDynamicShapesAndBroadcasts) {
  const ir::Model before = wild();
  const ir::Model after = level2(before);
  // In: 1 transpose; out: c1 (a graph output) and the final Add's result; the broadcast Adds
  // stay Adds (moved below the transposes), none fuses into a conv.
  EXPECT_EQ(op_counts(after), (std::map<std::string, int>{{"Transpose", 3},
                                                          {"hone.NhwcConv", 3},
                                                          {"hone.NhwcGlobalAveragePool", 1},
                                                          {"Add", 2}}));
  for (const auto& n : after.graph.nodes) EXPECT_LE(n.inputs.size(), 3u) << n.op_type;
  expect_same_outputs(before, after, {{"x", {2, 4, 9, 7}}});
}

TEST_F(LayoutNhwc, DisabledKeepsNchw) {
  const ir::Model after = level2(resnet_like(), {"layout_nhwc"});
  EXPECT_EQ(op_counts(after).count("Transpose"), 0u);
  EXPECT_EQ(op_counts(after).count("hone.NhwcConv"), 0u);
}

// sink_transposes alone: Transpose -> Relu -> Mul(constant) -> inverse Transpose leaves the two
// elementwise ops, the constant permuted so that it broadcasts as before.
TEST(SinkTransposes, CancelsThroughElementwise) {
  Builder b;
  b.input("x", {dim(2), dim(3), dim(4), dim(5)});
  std::string t = b.node("Transpose", {"x"}, {ints_attr("perm", {0, 2, 3, 1})});
  std::string r = b.node("Relu", {t});
  std::string mul = b.node("Mul", {r, b.constant({5, 3})});  // [N, H, W, C]: broadcasts over W, C
  b.output(b.node("Transpose", {mul}, {ints_attr("perm", {0, 3, 1, 2})}));
  const ir::Model before = b.model();
  ir::Model after = before;
  ASSERT_TRUE(run_pass(after, "sink_transposes", true).ok());
  // The pair cancels; the graph output keeps its name through an Identity.
  EXPECT_EQ(op_counts(after), (std::map<std::string, int>{{"Relu", 1}, {"Mul", 1}, {"Identity", 1}}));
  expect_same_outputs(before, after);
}

}  // namespace
}  // namespace hone::passes
