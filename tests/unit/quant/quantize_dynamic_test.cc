#include <gtest/gtest.h>

#include "onnx/export.h"
#include "quant/quantize.h"
#include "quant_test_util.h"

namespace hone::quant {
namespace {

using namespace hone::quant_test;

QuantizeOptions dyn(bool per_channel = false) {
  QuantizeOptions o;
  o.mode = Mode::kDynamic;
  o.per_channel = per_channel;
  return o;
}

TEST(QuantizeDynamic, MatMulAndGemmStructure) {
  ir::Model f = mlp_model();
  QuantizeReport report;
  QuantizeOptions o = dyn();
  o.report = &report;
  auto q = quantize_dynamic(f, o, nullptr, nullptr);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto c = op_counts(*q);
  EXPECT_EQ(c["MatMul"], 0);
  EXPECT_EQ(c["Gemm"], 0);
  EXPECT_EQ(c["DynamicQuantizeLinear"], 2);
  EXPECT_EQ(c["MatMulInteger"], 2);
  EXPECT_EQ(c["Cast"], 2);
  EXPECT_EQ(c["Mul"], 4);
  EXPECT_EQ(c["Add"], 1);  // the Gemm bias
  EXPECT_EQ(c["Relu"], 1);
  EXPECT_EQ(report.quantized["MatMul"], 1);
  EXPECT_EQ(report.quantized["Gemm"], 1);
  EXPECT_TRUE(report.skipped.empty());
  // The float weights are gone; int8 weights, transposed for the transB Gemm, took their place.
  EXPECT_EQ(q->graph.find_initializer("W1"), nullptr);
  EXPECT_EQ(q->graph.find_initializer("W2"), nullptr);
  const ir::Initializer* w2q = q->graph.find_initializer("W2_quantized");
  ASSERT_NE(w2q, nullptr);
  EXPECT_EQ(w2q->tensor.dtype(), DType::kInt8);
  EXPECT_EQ(w2q->tensor.shape(), (Shape{48, 24}));
  const ir::Initializer* s1 = q->graph.find_initializer("W1_scale");
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(s1->tensor.rank(), 0);
  // Value names of the float model survive: h feeds Relu, Y is still the output.
  bool h_made = false, y_made = false;
  for (const auto& n : q->graph.nodes) {
    for (const auto& out : n.outputs) {
      h_made |= out == "h";
      y_made |= out == "Y";
    }
  }
  EXPECT_TRUE(h_made);
  EXPECT_TRUE(y_made);
  EXPECT_EQ(q->opset(""), 13);
}

TEST(QuantizeDynamic, NumericsPerTensorAndPerChannel) {
  ir::Model f = mlp_model();
  Tensor x = random_f32({5, 40}, 11);
  Tensor ref = run1(f, x);
  for (bool pc : {false, true}) {
    auto q = quantize_dynamic(f, dyn(pc), nullptr, nullptr);
    ASSERT_TRUE(q.ok()) << q.status().message();
    if (pc) {
      const ir::Initializer* s = q->graph.find_initializer("W2_scale");
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s->tensor.shape(), (Shape{24}));
      EXPECT_EQ(q->graph.find_initializer("W2_zero_point")->tensor.shape(), (Shape{24}));
    }
    Tensor got = run1(*q, x);
    ASSERT_TRUE(got.defined());
    const double cs = cosine(ref, got);
    EXPECT_GE(cs, 0.999) << "per_channel=" << pc;
    EXPECT_LT(cs, 1.0 - 1e-9) << "quantization should change the numbers a little";
  }
}

TEST(QuantizeDynamic, ConvWhenAsked) {
  ir::Model f = conv_model();
  Tensor x = random_f32({1, 3, 9, 9}, 12);
  Tensor ref = run1(f, x);
  // Conv is not in the default set.
  auto untouched = quantize_dynamic(f, dyn(), nullptr, nullptr);
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(op_counts(*untouched)["Conv"], 1);
  for (bool pc : {false, true}) {
    QuantizeOptions o = dyn(pc);
    o.ops = {"Conv"};
    auto q = quantize_dynamic(f, o, nullptr, nullptr);
    ASSERT_TRUE(q.ok()) << q.status().message();
    auto c = op_counts(*q);
    EXPECT_EQ(c["Conv"], 0);
    EXPECT_EQ(c["ConvInteger"], 1);
    EXPECT_EQ(c["Add"], 1);
    if (pc) {
      EXPECT_EQ(q->graph.find_initializer("W_scale")->tensor.shape(), (Shape{1, 6, 1, 1}));
      // One zero point (0) for all channels: what ONNX Runtime's ConvInteger accepts.
      EXPECT_EQ(q->graph.find_initializer("W_zero_point")->tensor.rank(), 0);
    }
    Tensor got = run1(*q, x);
    ASSERT_TRUE(got.defined());
    EXPECT_GE(cosine(ref, got), 0.999) << "per_channel=" << pc;
  }
}

TEST(QuantizeDynamic, ExcludeAndUnsupportedFormsStayFloat) {
  ir::Model f = mlp_model();
  QuantizeReport report;
  QuantizeOptions o = dyn();
  o.exclude = {"fc1"};
  o.report = &report;
  auto q = quantize_dynamic(f, o, nullptr, nullptr);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(op_counts(*q)["MatMul"], 1);
  EXPECT_EQ(op_counts(*q)["MatMulInteger"], 1);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].node, "fc1");
  EXPECT_EQ(report.skipped[0].reason, "excluded");

  // Gemm with alpha != 1 is left in float, with a reason.
  ir::Model a = mlp_model();
  a.graph.nodes[2].attrs.push_back(fattr("alpha", 0.5f));
  QuantizeReport r2;
  o = dyn();
  o.report = &r2;
  auto qa = quantize_dynamic(a, o, nullptr, nullptr);
  ASSERT_TRUE(qa.ok());
  EXPECT_EQ(op_counts(*qa)["Gemm"], 1);
  ASSERT_EQ(r2.skipped.size(), 1u);
  EXPECT_EQ(r2.skipped[0].reason, "Gemm with alpha != 1");

  // A MatMul of two activations (attention's Q x K^T) stays float, and the reason says so rather
  // than blaming the model; an initializer that is also a graph input is named as such.
  ir::Model act = mlp_model();
  act.graph.nodes[0].inputs[1] = "X2";
  act.graph.inputs.push_back({"X2", ftype({ir::Dim::of(40), ir::Dim::of(48)}), {}});
  QuantizeReport r3;
  o = dyn();
  o.report = &r3;
  ASSERT_TRUE(quantize_dynamic(act, o, nullptr, nullptr).ok());
  ASSERT_EQ(r3.skipped.size(), 1u);
  EXPECT_EQ(r3.skipped[0].node, "fc1");
  EXPECT_NE(r3.skipped[0].reason.find("computed at run time"), std::string::npos) << r3.skipped[0].reason;
  ir::Model overridable = mlp_model();
  overridable.graph.inputs.push_back({"W1", ftype({ir::Dim::of(40), ir::Dim::of(48)}), {}});
  QuantizeReport r4;
  o.report = &r4;
  ASSERT_TRUE(quantize_dynamic(overridable, o, nullptr, nullptr).ok());
  ASSERT_EQ(r4.skipped.size(), 1u);
  EXPECT_NE(r4.skipped[0].reason.find("also a graph input"), std::string::npos) << r4.skipped[0].reason;

  // Unknown --ops are an error, not a silent no-op.
  o = dyn();
  o.ops = {"Softmax"};
  EXPECT_FALSE(quantize_dynamic(f, o, nullptr, nullptr).ok());
}

// A float MatMul whose output's shape goes through int64 MatMul and Gemm nodes (shape arithmetic,
// as an exporter's width computations), with no value_info for anything in between:
//   X[b, 16] -> MatMul(W [16, 12]) -> h;  shape = Shape(h) = [b, 12]
//   swapped = MatMul(shape, [[0, 1], [1, 0]]) = [12, b];  width = Gather(swapped, [0])
//   swapped_row = Gemm(Reshape(shape, [1, 2]), the same swap, transB) = [[12, b]];  width2 from it
//   Y = Slice(Slice(h, 0, width, -1), 0, width2, -1)
ir::Model int_shape_math_model() {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.name = "int_shape_math";
  g.inputs.push_back({"X", ftype({ir::Dim::symbol("b"), ir::Dim::of(16)}), {}});
  g.outputs.push_back({"Y", ftype({ir::Dim::symbol("b"), ir::Dim::of(12)}), {}});
  g.initializers.push_back({"W", random_f32({16, 12}, 61, 0.3f), {}, std::nullopt});
  g.initializers.push_back({"swap", i64({0, 1, 1, 0}, Shape{2, 2}), {}, std::nullopt});
  g.initializers.push_back({"row_shape", i64({1, 2}), {}, std::nullopt});
  g.initializers.push_back({"flat_shape", i64({2}), {}, std::nullopt});
  g.initializers.push_back({"zero", i64({0}), {}, std::nullopt});
  g.initializers.push_back({"last", i64({-1}), {}, std::nullopt});
  g.nodes.push_back(mk("MatMul", {"X", "W"}, {"h"}, "mm"));
  g.nodes.push_back(mk("Shape", {"h"}, {"shape"}, "shape"));
  g.nodes.push_back(mk("MatMul", {"shape", "swap"}, {"swapped"}, "int_matmul"));
  g.nodes.push_back(mk("Gather", {"swapped", "zero"}, {"width"}, "gather"));
  g.nodes.push_back(mk("Reshape", {"shape", "row_shape"}, {"row"}, "reshape_row"));
  ir::Node gemm = mk("Gemm", {"row", "swap"}, {"swapped_row"}, "int_gemm");
  gemm.attrs.push_back(iattr("transB", 1));
  g.nodes.push_back(gemm);
  g.nodes.push_back(mk("Reshape", {"swapped_row", "flat_shape"}, {"swapped2"}, "reshape_flat"));
  g.nodes.push_back(mk("Gather", {"swapped2", "zero"}, {"width2"}, "gather2"));
  g.nodes.push_back(mk("Slice", {"h", "zero", "width", "last"}, {"s"}, "slice"));
  g.nodes.push_back(mk("Slice", {"s", "zero", "width2", "last"}, {"Y"}, "slice2"));
  return m;
}

// Integer MatMul / Gemm nodes are not float nodes left in float: neither quantized nor reported
// (they were listed as "weight is not a constant float initializer" when only declared types were
// looked at), while the float MatMul is quantized as usual and the int64 arithmetic still runs.
TEST(QuantizeDynamic, IntegerMatMulAndGemmAreNotCandidates) {
  ir::Model f = int_shape_math_model();
  ASSERT_TRUE(f.graph.value_info.empty());
  for (bool with_rules : {false, true}) {
    SCOPED_TRACE(with_rules ? "from rules" : "computed");
    QuantizeReport report;
    QuantizeOptions o = dyn();
    o.report = &report;
    Rules rules;
    auto q = quantize_dynamic(f, o, nullptr, &rules);
    ASSERT_TRUE(q.ok()) << q.status().message();
    if (with_rules) {
      report = {};
      q = quantize_dynamic(f, o, &rules, nullptr);
      ASSERT_TRUE(q.ok()) << q.status().message();
    }
    for (const auto& s : report.skipped) ADD_FAILURE() << s.node << ": " << s.reason;
    EXPECT_EQ(report.quantized["MatMul"], 1);
    EXPECT_EQ(report.quantized.count("Gemm"), 0u);
    auto c = op_counts(*q);
    EXPECT_EQ(c["MatMulInteger"], 1);
    EXPECT_EQ(c["MatMul"], 1);  // int_matmul
    EXPECT_EQ(c["Gemm"], 1);    // int_gemm
    EXPECT_EQ(rules.tensors.size(), 1u);
    EXPECT_TRUE(q->graph.value_info.empty());  // inferred types are not written into the model
    const Tensor x = random_f32({3, 16}, 62);
    const Tensor ref = run1(f, x), got = run1(*q, x);
    ASSERT_TRUE(ref.defined() && got.defined());
    EXPECT_EQ(got.shape(), (Shape{3, 12}));
    EXPECT_GE(cosine(ref, got), 0.999);
  }
}

TEST(QuantizeDynamic, OldOpsetRefused) {
  auto q = quantize_dynamic(mlp_model(40, 48, 24, 9), dyn(), nullptr, nullptr);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("opset 9"), std::string::npos) << q.status().message();
}

TEST(QuantizeDynamic, RulesReapplyByteIdentical) {
  ir::Model f = mlp_model();
  for (bool pc : {false, true}) {
    Rules rules;
    auto q1 = quantize_dynamic(f, dyn(pc), nullptr, &rules);
    ASSERT_TRUE(q1.ok());
    ASSERT_EQ(rules.tensors.size(), 2u);
    EXPECT_EQ(rules.mode, "dynamic");
    // Through the JSON text, as `--rules-out` / `--rules` do.
    auto parsed = parse_rules(rules_to_json(rules), "mem");
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    // The options in the call are ignored when rules are given: per-channel comes from the rule.
    auto q2 = quantize_dynamic(f, dyn(!pc), &*parsed, nullptr);
    ASSERT_TRUE(q2.ok()) << q2.status().message();
    auto b1 = onnxio::serialize_model(*q1);
    auto b2 = onnxio::serialize_model(*q2);
    ASSERT_TRUE(b1.ok() && b2.ok());
    EXPECT_TRUE(*b1 == *b2) << "per_channel=" << pc;
    // Same command twice: same bytes.
    auto q3 = quantize_dynamic(f, dyn(pc), nullptr, nullptr);
    EXPECT_TRUE(*onnxio::serialize_model(*q3) == *b1);
  }
}

TEST(QuantizeDynamic, RulesAreUsedNotRecomputed) {
  ir::Model f = mlp_model();
  Rules rules;
  ASSERT_TRUE(quantize_dynamic(f, dyn(), nullptr, &rules).ok());
  // Doubling a scale must show in the output: the rule drives the result.
  rules.tensors[0].scales[0] *= 2;
  auto q = quantize_dynamic(f, dyn(), &rules, nullptr);
  ASSERT_TRUE(q.ok());
  const ir::Initializer* s = q->graph.find_initializer(rules.tensors[0].tensor + "_scale");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->tensor.data<float>()[0], rules.tensors[0].scales[0]);
  // A rule with the wrong number of scales is an error naming the tensor.
  rules.tensors[0].axis = 1;
  auto bad = quantize_dynamic(f, dyn(), &rules, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(rules.tensors[0].tensor), std::string::npos);
  // A weight without a rule stays float.
  Rules one;
  one.mode = "dynamic";
  one.tensors.push_back(rules.tensors[1]);
  auto partial = quantize_dynamic(f, dyn(), &one, nullptr);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(op_counts(*partial)["MatMulInteger"], 1);
}

}  // namespace
}  // namespace hone::quant
