// Static (QDQ) quantization: structure (Q/DQ counts and placement), numerics through hone's own
// Session against the float model, rules re-applied byte for byte, and refusals.
#include <gtest/gtest.h>

#include <random>

#include "../test_models.h"
#include "eval/npy.h"
#include "onnx/export.h"
#include "quant/calibrate.h"
#include "quant/quantize.h"
#include "quant_test_util.h"

namespace hone::quant {
namespace {

using quant_test::cosine;
using quant_test::ftype;
using quant_test::i64;
using quant_test::iattr;
using quant_test::iattrs;
using quant_test::mk;
using quant_test::op_counts;
using quant_test::random_f32;

// X[1, 3, 8, 8] -> Conv(8x3x3x3, pads 1) -> c -> Relu -> r -> MaxPool 2x2 -> p -> Flatten -> f
//   -> Gemm(W2 [10, 128], b2, transB) -> Y
ir::Model cnn_model() {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.name = "cnn";
  g.inputs.push_back({"X", ftype({ir::Dim::of(1), ir::Dim::of(3), ir::Dim::of(8), ir::Dim::of(8)}), {}});
  g.outputs.push_back({"Y", ftype({ir::Dim::of(1), ir::Dim::of(10)}), {}});
  g.initializers.push_back({"W", random_f32({8, 3, 3, 3}, 31, 0.3f), {}, std::nullopt});
  g.initializers.push_back({"B", random_f32({8}, 32, 0.1f), {}, std::nullopt});
  g.initializers.push_back({"W2", random_f32({10, 128}, 33, 0.1f), {}, std::nullopt});
  g.initializers.push_back({"b2", random_f32({10}, 34, 0.1f), {}, std::nullopt});
  ir::Node c = mk("Conv", {"X", "W", "B"}, {"c"}, "conv");
  c.attrs.push_back(iattrs("kernel_shape", {3, 3}));
  c.attrs.push_back(iattrs("pads", {1, 1, 1, 1}));
  g.nodes.push_back(c);
  g.nodes.push_back(mk("Relu", {"c"}, {"r"}, "relu"));
  ir::Node mp = mk("MaxPool", {"r"}, {"p"}, "pool");
  mp.attrs.push_back(iattrs("kernel_shape", {2, 2}));
  mp.attrs.push_back(iattrs("strides", {2, 2}));
  g.nodes.push_back(mp);
  g.nodes.push_back(mk("Flatten", {"p"}, {"f"}, "flatten"));
  ir::Node gemm = mk("Gemm", {"f", "W2", "b2"}, {"Y"}, "fc");
  gemm.attrs.push_back(iattr("transB", 1));
  g.nodes.push_back(gemm);
  return m;
}

// X[b, 16] -> MatMul(W [16, 12]) -> h ; Y = Add(h, Z[b, 12])
ir::Model matmul_add_model(int opset = 13) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", opset});
  ir::Graph& g = m.graph;
  g.name = "mm_add";
  g.inputs.push_back({"X", ftype({ir::Dim::symbol("b"), ir::Dim::of(16)}), {}});
  g.inputs.push_back({"Z", ftype({ir::Dim::symbol("b"), ir::Dim::of(12)}), {}});
  g.outputs.push_back({"Y", ftype({ir::Dim::symbol("b"), ir::Dim::of(12)}), {}});
  g.initializers.push_back({"W", random_f32({16, 12}, 41, 0.3f), {}, std::nullopt});
  g.nodes.push_back(mk("MatMul", {"X", "W"}, {"h"}, "mm"));
  g.nodes.push_back(mk("Add", {"h", "Z"}, {"Y"}, "add"));
  return m;
}

// The head split of an exported attention block (torch.onnx, nn.MultiheadAttention), with no
// value_info for anything in between, as exporters write it:
//   X[b, 16] -> MatMul(W [16, 12]) -> h
//   third = (Gather(Shape(h), [-1]) + 2) / 3          (int64 shape arithmetic: Add, Div)
//   e1 = third * 1, e2 = third * 2                     (int64 Mul)
//   Y = Add(Slice(h, 0, e1, -1), Slice(h, e1, e2, -1))  (float)
ir::Model head_split_model() {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.name = "head_split";
  g.inputs.push_back({"X", ftype({ir::Dim::symbol("b"), ir::Dim::of(16)}), {}});
  g.outputs.push_back({"Y", ftype({ir::Dim::symbol("b"), ir::Dim::of(4)}), {}});
  g.initializers.push_back({"W", random_f32({16, 12}, 61, 0.3f), {}, std::nullopt});
  g.initializers.push_back({"last", i64({-1}), {}, std::nullopt});
  g.initializers.push_back({"zero", i64({0}), {}, std::nullopt});
  g.initializers.push_back({"one", i64({1}), {}, std::nullopt});
  g.initializers.push_back({"two", i64({2}), {}, std::nullopt});
  g.initializers.push_back({"three", i64({3}), {}, std::nullopt});
  g.nodes.push_back(mk("MatMul", {"X", "W"}, {"h"}, "mm"));
  g.nodes.push_back(mk("Shape", {"h"}, {"shape"}, "shape"));
  g.nodes.push_back(mk("Gather", {"shape", "last"}, {"width"}, "gather"));
  g.nodes.push_back(mk("Add", {"width", "two"}, {"width2"}, "int_add"));
  g.nodes.push_back(mk("Div", {"width2", "three"}, {"third"}, "int_div"));
  g.nodes.push_back(mk("Mul", {"third", "one"}, {"e1"}, "int_mul1"));
  g.nodes.push_back(mk("Mul", {"third", "two"}, {"e2"}, "int_mul2"));
  g.nodes.push_back(mk("Slice", {"h", "zero", "e1", "last"}, {"s0"}, "slice0"));
  g.nodes.push_back(mk("Slice", {"h", "e1", "e2", "last"}, {"s1"}, "slice1"));
  g.nodes.push_back(mk("Add", {"s0", "s1"}, {"Y"}, "add"));
  return m;
}

IoInfo io(const ir::ValueInfo& v) {
  IoInfo r;
  r.name = v.name;
  r.dtype = v.type.elem;
  r.has_shape = v.type.has_shape;
  for (const auto& d : v.type.dims) {
    r.dims.push_back(d.known() ? d.value : -1);
    r.dim_names.push_back(d.param);
  }
  return r;
}

// A dataset of n samples for every input of m (normal data, batch dim 1 per sample).
eval::Dataset make_dataset(const ir::Model& m, const std::string& path, int64_t n, uint32_t seed) {
  eval::NamedTensors arrays;
  std::vector<IoInfo> ios;
  for (const auto& v : m.graph.inputs) {
    Shape s{n};
    for (size_t d = 1; d < v.type.dims.size(); ++d) s.push_back(v.type.dims[d].known() ? v.type.dims[d].value : 1);
    arrays.emplace_back(v.name, random_f32(s, seed++));
    ios.push_back(io(v));
  }
  EXPECT_TRUE(eval::write_npz(path, arrays).ok());
  auto ds = eval::Dataset::open(path, ios);
  EXPECT_TRUE(ds.ok()) << ds.status().message();
  return std::move(ds).value();
}

std::vector<Tensor> run(const ir::Model& m, const std::vector<Tensor>& in) {
  auto s = create_session(m, {1});
  EXPECT_TRUE(s.ok()) << s.status().message();
  auto out = s->run(in);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? *out : std::vector<Tensor>{};
}

// Lowest cosine over the dataset's samples between the float and the quantized model's first output.
double worst_cosine(const ir::Model& f, const ir::Model& q, const eval::Dataset& ds) {
  double worst = 1;
  for (int64_t i = 0; i < ds.size(); ++i) {
    auto in = ds.sample(i).value();
    auto a = run(f, in), b = run(q, in);
    if (a.empty() || b.empty()) return 0;
    worst = std::min(worst, cosine(b[0], a[0]));
  }
  return worst;
}

const ir::Node* find_node(const ir::Model& m, const std::string& name) {
  for (const auto& n : m.graph.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

TEST(QuantizeStatic, CnnStructureAndNumerics) {
  testing_models::ScratchDir dir;
  ir::Model f = cnn_model();
  eval::Dataset calib = make_dataset(f, dir / "calib.npz", 16, 100);
  eval::Dataset test = make_dataset(f, dir / "test.npz", 4, 200);
  for (CalibMethod method :
       {CalibMethod::kMinMax, CalibMethod::kPercentile, CalibMethod::kEntropy, CalibMethod::kMse}) {
    for (bool per_channel : {false, true}) {
      SCOPED_TRACE(std::string(method_name(method)) + (per_channel ? " per-channel" : " per-tensor"));
      QuantizeOptions o;
      o.mode = Mode::kStatic;
      o.calib = &calib;
      o.method = method;
      o.per_channel = per_channel;
      o.threads = 1;
      QuantizeReport report;
      o.report = &report;
      auto q = quantize(f, o, nullptr, nullptr);
      ASSERT_TRUE(q.ok()) << q.status().message();
      auto c = op_counts(*q);
      // Q/DQ on X (conv input), r (pool input), f (gemm input); none on c, the conv output the Relu
      // alone reads: the Q on r (zero point 0) saturates as the Relu does.
      EXPECT_EQ(c["QuantizeLinear"], 3);
      // ... plus the two weights and the two int32 biases.
      EXPECT_EQ(c["DequantizeLinear"], 7);
      EXPECT_EQ(c["Conv"], 1);
      EXPECT_EQ(c["Flatten"], 1);
      EXPECT_EQ(report.quantized["Conv"], 1);
      EXPECT_EQ(report.quantized["Relu"], 0);
      EXPECT_EQ(report.quantized["MaxPool"], 1);
      for (const auto& n : q->graph.nodes) {
        if (n.op_type == "Relu") {
          EXPECT_EQ(n.inputs[0], "c");
        }
      }
      EXPECT_EQ(report.quantized["Gemm"], 1);
      // Every float node keeps its output names; the conv reads the dequantized input and weight.
      const ir::Node* conv = find_node(*q, "conv");
      ASSERT_NE(conv, nullptr);
      EXPECT_EQ(conv->outputs[0], "c");
      EXPECT_EQ(conv->inputs[0], "X_DequantizeLinear_Output");
      EXPECT_EQ(conv->inputs[1], "W_DequantizeLinear_Output");
      EXPECT_EQ(conv->inputs[2], "B_DequantizeLinear_Output");
      EXPECT_EQ(find_node(*q, "flatten")->inputs[0], "p");  // Flatten stays float and reads p itself
      // Weights are int8, biases int32; the float originals are gone.
      EXPECT_EQ(q->graph.find_initializer("W"), nullptr);
      ASSERT_NE(q->graph.find_initializer("W_quantized"), nullptr);
      EXPECT_EQ(q->graph.find_initializer("W_quantized")->tensor.dtype(), DType::kInt8);
      EXPECT_EQ(q->graph.find_initializer("B_quantized")->tensor.dtype(), DType::kInt32);
      EXPECT_EQ(q->graph.find_initializer("W_scale")->tensor.numel(), per_channel ? 8 : 1);
      EXPECT_EQ(q->graph.find_initializer("X_zero_point")->tensor.dtype(), DType::kUInt8);
      EXPECT_EQ(q->opset(""), 13);
      const double cos = worst_cosine(f, *q, test);
      EXPECT_GE(cos, 0.99);
      EXPECT_LT(cos, 1.0 - 1e-9);  // the int8 rounding is really there
    }
  }
  // Symmetric int8 activations: zero point 0 is mid-range, the Q on r no longer saturates like the
  // Relu, so the Relu keeps its own quantized input.
  QuantizeOptions o;
  o.mode = Mode::kStatic;
  o.calib = &calib;
  o.symmetric_activations = true;
  o.threads = 1;
  QuantizeReport report;
  o.report = &report;
  auto q = quantize(f, o, nullptr, nullptr);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(op_counts(*q)["QuantizeLinear"], 4);  // X, c, r, f
  EXPECT_EQ(report.quantized["Relu"], 1);
  EXPECT_GE(worst_cosine(f, *q, test), 0.99);
  // Asymmetric again, the MaxPool kept float: nothing quantized reads r, so there is no Q there to
  // saturate for the Relu, and the Relu keeps its quantized input (the conv still ends in a Q).
  o.symmetric_activations = false;
  o.exclude = {"MaxPool"};
  QuantizeReport report2;
  o.report = &report2;
  auto q2 = quantize(f, o, nullptr, nullptr);
  ASSERT_TRUE(q2.ok()) << q2.status().message();
  EXPECT_EQ(op_counts(*q2)["QuantizeLinear"], 3);  // X, c, f
  EXPECT_EQ(report2.quantized["Relu"], 1);
  EXPECT_EQ(report2.quantized["MaxPool"], 0);
}

TEST(QuantizeStatic, MatMulAddExcludeAndSymmetric) {
  testing_models::ScratchDir dir;
  ir::Model f = matmul_add_model();
  eval::Dataset calib = make_dataset(f, dir / "calib.npz", 8, 300);
  QuantizeOptions o;
  o.mode = Mode::kStatic;
  o.calib = &calib;
  o.threads = 1;
  auto q = quantize(f, o, nullptr, nullptr);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto c = op_counts(*q);
  EXPECT_EQ(c["QuantizeLinear"], 3);  // X, h, Z
  EXPECT_EQ(c["DequantizeLinear"], 4);
  EXPECT_GE(worst_cosine(f, *q, calib), 0.99);
  // The quantized model's graph inputs and outputs are the float model's.
  EXPECT_EQ(q->graph.inputs.size(), 2u);
  EXPECT_EQ(q->graph.outputs[0].name, "Y");

  QuantizeReport report;
  o.report = &report;
  o.exclude = {"Add"};
  o.symmetric_activations = true;
  auto q2 = quantize(f, o, nullptr, nullptr);
  ASSERT_TRUE(q2.ok()) << q2.status().message();
  auto c2 = op_counts(*q2);
  EXPECT_EQ(c2["QuantizeLinear"], 1);  // X only
  EXPECT_EQ(find_node(*q2, "add")->inputs[0], "h");
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].node, "add");
  EXPECT_EQ(report.skipped[0].reason, "excluded");
  EXPECT_EQ(q2->graph.find_initializer("X_zero_point")->tensor.dtype(), DType::kInt8);
  EXPECT_EQ(q2->graph.find_initializer("X_zero_point")->tensor.data<int8_t>()[0], 0);

  // --ops: only MatMul.
  o.exclude.clear();
  o.ops = {"MatMul"};
  auto q3 = quantize(f, o, nullptr, nullptr);
  ASSERT_TRUE(q3.ok());
  EXPECT_EQ(op_counts(*q3)["QuantizeLinear"], 1);
  o.ops = {"Softmax"};
  EXPECT_FALSE(quantize(f, o, nullptr, nullptr).ok());
}

TEST(QuantizeStatic, RulesReapplyByteIdentical) {
  testing_models::ScratchDir dir;
  ir::Model f = cnn_model();
  eval::Dataset calib = make_dataset(f, dir / "calib.npz", 8, 400);
  for (CalibMethod method : {CalibMethod::kEntropy, CalibMethod::kPercentile}) {
    QuantizeOptions o;
    o.mode = Mode::kStatic;
    o.calib = &calib;
    o.method = method;
    o.per_channel = true;
    o.threads = 1;
    Rules rules;
    auto q = quantize(f, o, nullptr, &rules);
    ASSERT_TRUE(q.ok()) << q.status().message();
    EXPECT_EQ(rules.mode, "static");
    const TensorRule* rx = rules.find("X");
    ASSERT_NE(rx, nullptr);
    EXPECT_EQ(rx->role, "activation");
    EXPECT_EQ(rx->dtype, "uint8");
    EXPECT_EQ(rx->method, method_name(method));
    EXPECT_EQ(rx->stats.count, 8 * 3 * 8 * 8);
    EXPECT_EQ(rx->stats.histogram.size(), static_cast<size_t>(kDefaultHistogramBins));
    ASSERT_NE(rules.find("W"), nullptr);
    EXPECT_EQ(rules.find("W")->axis, 0);
    // Through the JSON text, as `--rules-out` then `--rules` would.
    auto parsed = parse_rules(rules_to_json(rules), "rules.json");
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    QuantizeOptions o2 = o;
    o2.calib = nullptr;     // no calibration at all
    o2.exclude = {"Conv"};  // ignored: the rules' own selection decides
    o2.per_channel = false;
    Rules again;
    auto q2 = quantize(f, o2, &*parsed, &again);
    ASSERT_TRUE(q2.ok()) << q2.status().message();
    auto a = onnxio::serialize_model(*q), b = onnxio::serialize_model(*q2);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(*a == *b) << "re-applied rules gave a different model";
    // A changed scale changes the model (the rules are really used).
    Rules edited = *parsed;
    for (auto& t : edited.tensors)
      if (t.tensor == "X") t.scales[0] *= 2;
    auto q3 = quantize(f, o2, &edited, nullptr);
    ASSERT_TRUE(q3.ok());
    EXPECT_FALSE(*onnxio::serialize_model(*q3) == *a);
  }
}

// Undeclared integer shape arithmetic is not a float node left in float: it is neither quantized
// nor reported (it was listed as "'third' has no calibration range (not float32)" when only
// declared types were looked at), and the float nodes around it are quantized as usual.
TEST(QuantizeStatic, IntegerShapeArithmeticIsNotACandidate) {
  testing_models::ScratchDir dir;
  ir::Model f = head_split_model();
  ASSERT_TRUE(f.graph.value_info.empty());
  eval::Dataset calib = make_dataset(f, dir / "calib.npz", 8, 600);
  for (bool with_rules : {false, true}) {
    SCOPED_TRACE(with_rules ? "from rules" : "calibrated");
    QuantizeOptions o;
    o.mode = Mode::kStatic;
    o.calib = &calib;
    o.threads = 1;
    QuantizeReport report;
    o.report = &report;
    Rules rules;
    auto q = quantize(f, o, nullptr, &rules);
    ASSERT_TRUE(q.ok()) << q.status().message();
    if (with_rules) {
      report = {};
      o.calib = nullptr;
      q = quantize(f, o, &rules, nullptr);
      ASSERT_TRUE(q.ok()) << q.status().message();
    }
    for (const auto& s : report.skipped) ADD_FAILURE() << s.node << ": " << s.reason;
    EXPECT_EQ(report.quantized["MatMul"], 1);
    EXPECT_EQ(report.quantized["Add"], 1);  // the float Add only
    EXPECT_EQ(report.quantized.count("Mul"), 0u);
    EXPECT_EQ(op_counts(*q)["QuantizeLinear"], 3);  // X, s0, s1
    for (const char* name : {"int_add", "int_mul1", "int_mul2"})
      for (const std::string& in : find_node(*q, name)->inputs)
        EXPECT_EQ(in.find("DequantizeLinear"), std::string::npos) << name << " reads " << in;
    EXPECT_TRUE(q->graph.value_info.empty());  // inferred types are not written into the model
    EXPECT_GE(worst_cosine(f, *q, calib), 0.99);
  }
}

TEST(QuantizeStatic, Refusals) {
  ir::Model f = matmul_add_model();
  QuantizeOptions o;
  o.mode = Mode::kStatic;
  // Neither calibration data nor rules.
  auto r = quantize(f, o, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  // Rules with a bad activation entry.
  Rules bad;
  bad.mode = "static";
  TensorRule t;
  t.tensor = "X";
  t.role = "activation";
  t.dtype = "uint8";
  t.scales = {0.1f};
  t.zero_points = {300};
  bad.tensors.push_back(t);
  auto rb = quantize(f, o, &bad, nullptr);
  ASSERT_FALSE(rb.ok());
  EXPECT_NE(rb.status().message().find("zero point"), std::string::npos);
  // Rules that cover only X: the MatMul is quantized without a weight rule? No: it stays float,
  // and the report says why.
  bad.tensors[0].zero_points = {128};
  QuantizeReport report;
  o.report = &report;
  auto partial = quantize(f, o, &bad, nullptr);
  ASSERT_TRUE(partial.ok()) << partial.status().message();
  EXPECT_EQ(op_counts(*partial)["QuantizeLinear"], 0);
  EXPECT_EQ(report.skipped.size(), 2u);
}

TEST(QuantizeStatic, OldOpsetRaisedOnlyWhenSafe) {
  testing_models::ScratchDir dir;
  // MatMul/Add at opset 11 only gained types by 13: raised for per-channel weights.
  ir::Model f = matmul_add_model(11);
  eval::Dataset calib = make_dataset(f, dir / "calib.npz", 4, 500);
  QuantizeOptions o;
  o.mode = Mode::kStatic;
  o.calib = &calib;
  o.per_channel = true;
  o.threads = 1;
  auto q = quantize(f, o, nullptr, nullptr);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->opset(""), 13);
  // Softmax changed meaning at 13: refused.
  ir::Model s = matmul_add_model(11);
  s.graph.nodes.push_back(mk("Softmax", {"Y"}, {"S"}, "sm"));
  s.graph.outputs[0].name = "S";
  auto qs = quantize(s, o, nullptr, nullptr);
  ASSERT_FALSE(qs.ok());
  EXPECT_NE(qs.status().message().find("Softmax"), std::string::npos) << qs.status().message();
  // Per tensor needs only opset 10: nothing raised.
  o.per_channel = false;
  auto qt = quantize(s, o, nullptr, nullptr);
  ASSERT_TRUE(qt.ok()) << qt.status().message();
  EXPECT_EQ(qt->opset(""), 11);
}

}  // namespace
}  // namespace hone::quant
