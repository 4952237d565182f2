// fuse_inverted_residual: op counts after level 2 and outputs equal to level 0 (1e-4 relative)
// on a small MobileNet-v2-like model built here (a block without expand, a stride-2 block, a
// residual block, a block whose expanded tensor is also a graph output: the expand conv stays, its
// depthwise + project fuse as a block without expand) and on the zoo's
// mobilenet_v2 when it is there; --disable-pass keeps the convolutions; the op refuses bad
// inputs with an error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "eval/compare.h"
#include "eval/random_inputs.h"
#include "kernels/dnnl/dnnl_common.h"
#include "kernels/x86/f32_kernels.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"
#include "../test_models.h"

namespace hone::passes {
namespace {

using testing_models::int_attr;
using testing_models::op_counts;
using testing_models::ints_attr;

class Builder {
 public:
  Builder() {
    m_.ir_version = 8;
    m_.opsets.push_back({"", 13});
  }
  void input(const std::string& name, int64_t c, int64_t hw) {
    ir::ValueInfo v;
    v.name = name;
    v.type.kind = ir::TypeInfo::Kind::kTensor;
    v.type.elem = DType::kFloat32;
    v.type.has_shape = true;
    v.type.dims = {ir::Dim::of(1), ir::Dim::of(c), ir::Dim::of(hw), ir::Dim::of(hw)};
    m_.graph.inputs.push_back(v);
  }
  void output(const std::string& name) { m_.graph.outputs.push_back({name, {}, {}}); }
  std::string constant(Shape shape, float scale) {
    Tensor t = Tensor::create(DType::kFloat32, shape).value();
    std::uniform_real_distribution<float> u(-scale, scale);
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
  std::string conv(const std::string& x, int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t group = 1) {
    const int64_t p = k / 2;
    const float scale = 1.0f / std::sqrt(static_cast<float>(in / group * k * k));
    return node("Conv", {x, constant({out, in / group, k, k}, scale), constant({out}, 0.3f)},
                {ints_attr("kernel_shape", {k, k}), ints_attr("strides", {stride, stride}), ints_attr("pads", {p, p, p, p}),
                 int_attr("group", group)});
  }
  std::string clip6(const std::string& x) {
    if (lo_.empty()) {
      lo_ = "lo";
      hi_ = "hi";
      Tensor l = Tensor::create(DType::kFloat32, {}).value(), h = Tensor::create(DType::kFloat32, {}).value();
      l.data<float>()[0] = 0.0f;
      h.data<float>()[0] = 6.0f;
      m_.graph.initializers.push_back({lo_, l, {}, std::nullopt});
      m_.graph.initializers.push_back({hi_, h, {}, std::nullopt});
    }
    return node("Clip", {x, lo_, hi_});
  }
  // expand (t > 0) -> depthwise -> project, + the input when `residual`.
  std::string block(const std::string& x, int64_t c_in, int64_t t, int64_t c_out, int64_t stride, bool residual,
                    std::string* expanded = nullptr) {
    const int64_t mid = t > 0 ? c_in * t : c_in;
    std::string e = x;
    if (t > 0) e = clip6(conv(x, c_in, mid, 1));
    if (expanded) *expanded = e;
    std::string d = clip6(conv(e, mid, mid, 3, stride, mid));
    std::string p = conv(d, mid, c_out, 1);
    return residual ? node("Add", {p, x}) : p;
  }
  ir::Model& model() { return m_; }

 private:
  ir::Model m_;
  std::mt19937 rng_{11};
  std::string lo_, hi_;
};

// Stem, a block without expand, a stride-2 block (odd size), a residual block, and a block whose
// expanded tensor is also a graph output (its expand conv must stay).
ir::Model mobilenet_like() {
  Builder b;
  b.input("x", 3, 19);
  std::string s = b.clip6(b.conv("x", 3, 16, 3));
  s = b.block(s, 16, 0, 8, 1, false);
  s = b.block(s, 8, 6, 24, 2, false);
  s = b.block(s, 24, 6, 24, 1, true);
  std::string expanded;
  s = b.block(s, 24, 4, 20, 1, false, &expanded);
  b.output(s);
  b.output(expanded);
  return b.model();
}

std::vector<Tensor> run(const ir::Model& m) {
  SessionOptions o;
  o.threads = 2;
  auto s = create_session(m, o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  auto inputs = eval::random_inputs(s->inputs(), {}, 42);
  EXPECT_TRUE(inputs.ok()) << inputs.status().message();
  if (!inputs.ok()) return {};
  auto out = s->run(*inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

ir::Model optimized(ir::Model m, int level, std::set<std::string> disabled = {}) {
  PassOptions o;
  o.level = level;
  o.verify_each = true;
  o.disabled = std::move(disabled);
  Status st = optimize(m, o);
  EXPECT_TRUE(st.ok()) << st.message();
  return m;
}

void expect_same_outputs(const ir::Model& reference, const ir::Model& optimized) {
  auto want = run(reference), got = run(optimized);
  ASSERT_EQ(want.size(), got.size());
  ASSERT_FALSE(want.empty());
  for (size_t i = 0; i < want.size(); ++i) {
    eval::Comparison c = eval::compare_tensors(got[i], want[i]);
    EXPECT_TRUE(c.within(1e-4, 1e-6)) << "output " << i << ": max|a-b| = " << c.max_abs_error << " (max|b| "
                                      << c.max_abs_ref << ") " << c.why;
  }
}

class FuseInvertedResidual : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::onednn::enabled()) GTEST_SKIP() << "the NhwcConv nodes it fuses exist only with oneDNN";
    if (!kernels::x86::isa_available(kernels::x86::Isa::kAvx512)) GTEST_SKIP() << "the pass needs AVX-512";
  }
};

TEST_F(FuseInvertedResidual, BuiltModel) {
  const ir::Model before = mobilenet_like();
  const ir::Model after = optimized(before, 2);
  const auto counts = op_counts(after);
  EXPECT_EQ(counts.at("hone.NhwcInvertedResidual"), 4);
  EXPECT_EQ(counts.at("hone.NhwcConv"), 2);  // the stem and the last block's expand
  int with_sum = 0;
  for (const auto& n : after.graph.nodes) with_sum += n.op_type == "NhwcInvertedResidual" && n.inputs.size() == 8;
  EXPECT_EQ(with_sum, 1);
  expect_same_outputs(before, after);
}

TEST_F(FuseInvertedResidual, DisabledKeepsTheConvolutions) {
  const ir::Model after = optimized(mobilenet_like(), 2, {"fuse_inverted_residual"});
  const auto counts = op_counts(after);
  EXPECT_EQ(counts.count("hone.NhwcInvertedResidual"), 0u);
  EXPECT_GE(counts.at("hone.NhwcConv") + (counts.count("hone.NhwcConvDepthwise") ? counts.at("hone.NhwcConvDepthwise") : 0),
            11);
}

// 1x1 weights past the measured range (inverted_residual_fusion_pays) stay three convolutions.
TEST_F(FuseInvertedResidual, LargeWeightsStayConvolutions) {
  Builder b;
  b.input("x", 256, 3);
  b.output(b.block("x", 256, 6, 256, 1, true));
  const auto counts = op_counts(optimized(b.model(), 2));
  EXPECT_EQ(counts.count("hone.NhwcInvertedResidual"), 0u);
  EXPECT_EQ(counts.at("hone.NhwcConv"), 3);
}

TEST_F(FuseInvertedResidual, ZooMobilenetV2) {
  const char* zoo = std::getenv("HONE_ZOO");
  const std::filesystem::path path =
      std::filesystem::path(zoo ? zoo : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/hone/zoo") /
      "mobilenet_v2.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found (make zoo)";
  auto loaded = onnxio::load_model(path.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const ir::Model before = optimized(*loaded, 0);
  const ir::Model after = optimized(*loaded, 2);
  const auto counts = op_counts(after);
  // 17 blocks; the stem and the 320 -> 1280 1x1 conv stay convolutions.
  EXPECT_EQ(counts.at("hone.NhwcInvertedResidual"), 17);
  EXPECT_EQ(counts.at("hone.NhwcConv"), 2);
  expect_same_outputs(before, after);
}

// The op refuses what it cannot run, with an error naming the problem.
TEST_F(FuseInvertedResidual, OpRefusesBadInputs) {
  ir::Model m = optimized(mobilenet_like(), 2);
  for (auto& n : m.graph.nodes)
    if (n.op_type == "NhwcInvertedResidual") {
      for (auto& a : n.attrs)
        if (a.name == "strides") a.ints = {3, 3};
      break;
    }
  auto s = create_session(m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("strides"), std::string::npos) << s.status().message();
}

// A graph of channels-last values running one block on x[1, h, w, 12] (12 -> 40 -> 12, ReLU after
// expand and depthwise): as one hone.NhwcInvertedResidual, or as three hone.NhwcConv nodes. The
// same seed gives both the same weights.
ir::Model block_model(int64_t h, int64_t w, int64_t stride, bool fused) {
  Builder b;
  ir::Model& m = b.model();
  m.opsets.push_back({"hone", 1});
  ir::ValueInfo x;
  x.name = "x";
  x.type.kind = ir::TypeInfo::Kind::kTensor;
  x.type.elem = DType::kFloat32;
  x.type.has_shape = true;
  x.type.dims = {ir::Dim::of(1), ir::Dim::of(h), ir::Dim::of(w), ir::Dim::of(12)};
  m.graph.inputs.push_back(x);
  const std::string we = b.constant({40, 12, 1, 1}, 0.3f), be = b.constant({40}, 0.3f);
  const std::string wd = b.constant({40, 1, 3, 3}, 0.3f), bd = b.constant({40}, 0.3f);
  const std::string wp = b.constant({12, 40, 1, 1}, 0.2f), bp = b.constant({12}, 0.3f);
  auto node = [&](const char* op, std::vector<std::string> in, std::vector<ir::Attribute> attrs, const std::string& out) {
    ir::Node n;
    n.op_type = op;
    n.domain = "hone";
    n.name = out;
    n.inputs = std::move(in);
    n.attrs = std::move(attrs);
    n.outputs = {out};
    m.graph.nodes.push_back(n);
  };
  const ir::Attribute relu = testing_models::string_attr("activation", "Relu");
  if (fused) {
    node("NhwcInvertedResidual", {"x", we, be, wd, bd, wp, bp},
         {testing_models::string_attr("expand_activation", "Relu"), testing_models::string_attr("dw_activation", "Relu"),
          ints_attr("strides", {stride, stride})},
         "y");
  } else {
    node("NhwcConv", {"x", we, be}, {relu}, "e");
    node("NhwcConv", {"e", wd, bd},
         {int_attr("group", 40), ints_attr("pads", {1, 1, 1, 1}), ints_attr("strides", {stride, stride}), relu}, "d");
    node("NhwcConv", {"d", wp, bp}, {}, "y");
  }
  m.graph.outputs.push_back({"y", {}, {}});
  return m;
}

// The op alone: hone.NhwcInvertedResidual against the same block as three hone.NhwcConv nodes,
// with the widest ISA this run allows (tests/kernels_isa_fp32 reruns it under HONE_ISA=avx2 and
// scalar, where the pass would not fuse).
TEST(NhwcInvertedResidualOp, MatchesThreeNhwcConvs) {
  for (const int64_t stride : {1, 2}) expect_same_outputs(block_model(9, 11, stride, false), block_model(9, 11, stride, true));
}

// An empty image gives an empty output of the right shape.
TEST(NhwcInvertedResidualOp, EmptyImage) {
  for (const int64_t stride : {1, 2}) {
    auto out = run(block_model(0, 5, stride, true));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].shape(), (Shape{1, 0, stride == 1 ? 5 : 3, 12}));
  }
}

}  // namespace
}  // namespace hone::passes
