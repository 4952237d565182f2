// Golden-model tests of the int8 fusion passes (golden/ is written by make_golden_int8.py): op
// counts after the pass, a graph that verifies, and outputs equal to the unfused model's on seeded
// random inputs. Tolerance: the fused ops compute the chain's own operations (exact quantized
// bytes, exact int32 sums, the same float epilogue), so the reference path (HONE_DNNL=0, which
// CTest also runs) must match to the last bit; on oneDNN the epilogue runs as its post-ops and the
// test allows 1e-5 relative (+1e-6 absolute) there, though it measures 0 on this machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <string>
#include <tuple>

#include "int8_golden_util.h"
#include "ir/verifier.h"
#include "kernels/dnnl/dnnl_common.h"
#include "kernels/dnnl/matmul_int8_dnnl.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"
#include "../unit/test_models.h"

namespace hone::passes {
namespace {

using testing_models::op_counts;

ir::Model load(const std::string& name) { return int8_golden::load_golden(name); }

std::vector<Tensor> run(const ir::Model& m, uint64_t seed) {
  auto s = create_session(m);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? int8_golden::run_once(*s, seed) : std::vector<Tensor>{};
}

void expect_same_outputs(const ir::Model& reference, const ir::Model& fused) {
  for (uint64_t seed : {1u, 42u, 977u})
    int8_golden::expect_outputs_close(run(reference, seed), run(fused, seed), int8_golden::fused_epilogue_tolerance(),
                                      "seed " + std::to_string(seed));
}

struct Golden {
  const char* model;
  const char* pass;
  std::map<std::string, int> ops_after;
};

// gtest prints parameters; without this it dumps the struct's bytes, padding included.
void PrintTo(const Golden& g, std::ostream* os) { *os << g.model; }

class Int8FusionTest : public ::testing::TestWithParam<Golden> {};

TEST_P(Int8FusionTest, OpCountsAndOutputs) {
  const Golden& g = GetParam();
  ir::Model before = load(g.model);
  ir::Model after = before;
  Status st = run_pass(after, g.pass, /*verify=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(op_counts(after), g.ops_after);
  expect_same_outputs(before, after);
}

TEST_P(Int8FusionTest, LevelTwoKeepsOutputs) {
  ir::Model before = load(GetParam().model);
  ir::Model after = before;
  PassOptions o;
  o.level = 2;
  o.verify_each = true;
  Status st = optimize(after, o);
  ASSERT_TRUE(st.ok()) << st.message();
  expect_same_outputs(before, after);
}

INSTANTIATE_TEST_SUITE_P(
    Int8, Int8FusionTest,
    ::testing::Values(
        Golden{"dynq_matmul", "fuse_dynamic_quant_matmul", {{"hone.DynQuantMatMul", 1}}},
        Golden{"dynq_matmul_per_column", "fuse_dynamic_quant_matmul", {{"hone.DynQuantMatMul", 1}, {"Relu", 1}}},
        Golden{"dynq_matmul_two", "fuse_dynamic_quant_matmul", {{"hone.DynQuantMatMul", 2}, {"Add", 1}}},
        Golden{"dynq_matmul_wzp", "fuse_dynamic_quant_matmul", {{"hone.DynQuantMatMul", 1}}},
        Golden{"dynq_matmul_k0", "fuse_dynamic_quant_matmul", {{"hone.DynQuantMatMul", 1}}},
        // DQ -> Relu / Clip / LeakyRelu -> Q (u8 and s8): table lookups, the chain's bytes exactly
        // (the DequantizeLinear nodes stay until dead_code).
        Golden{"qdq_lookup", "fuse_qdq", {{"QuantizeLinear", 1}, {"hone.QLookup", 3}, {"DequantizeLinear", 4}, {"Identity", 1}}},
        // The Cast's output is a graph output: nothing fuses.
        Golden{"dynq_matmul_kept", "fuse_dynamic_quant_matmul",
               {{"DynamicQuantizeLinear", 1}, {"MatMulInteger", 1}, {"Cast", 1}, {"Mul", 2}, {"Add", 1}}}),
    [](const ::testing::TestParamInfo<Golden>& info) { return std::string(info.param.model); });

// Static QDQ: the integer ops compute exact sums and requantize once, the QDQ graph computes in
// float on dequantized values; a rounding tie can land one quantization step away, and a step in
// one layer moves the next layer's sums a little. Tolerance per model: at most `max_steps` of the
// output's quantization step anywhere, and at most 5% of the elements off at all.
struct QdqGolden {
  const char* model;
  std::map<std::string, int> ops_after;  // after fuse_qdq + dead_code
  float step;                            // the output's quantization step (or its scale)
  float max_steps;
};

void PrintTo(const QdqGolden& g, std::ostream* os) { *os << g.model; }

class QdqFusionTest : public ::testing::TestWithParam<QdqGolden> {};

TEST_P(QdqFusionTest, OpCountsAndOutputsWithinOneStep) {
  const QdqGolden& q = GetParam();
  ir::Model before = load(q.model);
  ir::Model after = before;
  ASSERT_TRUE(run_pass(after, "fuse_qdq", true).ok());
  ASSERT_TRUE(run_pass(after, "dead_code", true).ok());
  EXPECT_EQ(op_counts(after), q.ops_after);
  for (uint64_t seed : {1u, 42u, 977u}) {
    auto want = run(before, seed), got = run(after, seed);
    ASSERT_EQ(want.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(want[0].shape(), got[0].shape());
    int64_t off = 0;
    float worst = 0;
    for (int64_t j = 0; j < want[0].numel(); ++j) {
      const float d = std::fabs(want[0].data<float>()[j] - got[0].data<float>()[j]);
      worst = std::max(worst, d);
      off += d > 1e-6f;
    }
    EXPECT_LE(worst, q.max_steps * q.step) << "seed " << seed;
    EXPECT_LE(off, want[0].numel() / 20) << "seed " << seed << ": " << off << " of " << want[0].numel() << " differ";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Int8, QdqFusionTest,
    ::testing::Values(
        // Both convs fuse, and DQ -> Relu -> Q between them becomes a table lookup on the bytes.
        QdqGolden{"qdq_conv",
                  {{"QuantizeLinear", 1}, {"QLinearConv", 2}, {"hone.QLookup", 1}, {"DequantizeLinear", 1}, {"Identity", 1}},
                  0.1f, 1.0f},
        // Relu absorbed where the zero point is 0; kept (with its Conv unfused) where it is 5.
        QdqGolden{"qdq_conv_relu",
                  {{"QuantizeLinear", 2}, {"QLinearConv", 1}, {"Conv", 1}, {"Relu", 1}, {"DequantizeLinear", 3},
                   {"Identity", 1}},
                  0.02f, 1.0f}),
    [](const ::testing::TestParamInfo<QdqGolden>& info) { return std::string(info.param.model); });

// fuse_qdq's second stage (fuse_qdq_ops.cc): residual adds (QLinearAdd gives the chain's bytes), pools (the
// MaxPool forms give the chain's bytes; the average pool sums exactly where the chain sums floats,
// so a tie may move one step) and float-output MatMul / Gemm (exact integer sums, then the scale:
// float rounding only). An element counts as different above `float_tol` relative.
struct QdqOpsGolden {
  const char* model;
  std::map<std::string, int> ops_after;  // after fuse_qdq + dead_code
  float max_abs;                         // the largest difference allowed anywhere
  float float_tol;                       // relative difference that still counts as equal
};

void PrintTo(const QdqOpsGolden& g, std::ostream* os) { *os << g.model; }

class QdqOpsFusionTest : public ::testing::TestWithParam<QdqOpsGolden> {};

void expect_close(const ir::Model& before, const ir::Model& after, float max_abs, float float_tol) {
  for (uint64_t seed : {1u, 42u, 977u}) {
    auto want = run(before, seed), got = run(after, seed);
    ASSERT_EQ(want.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(want[0].shape(), got[0].shape());
    int64_t off = 0;
    float worst = 0;
    for (int64_t j = 0; j < want[0].numel(); ++j) {
      const float w = want[0].data<float>()[j], d = std::fabs(w - got[0].data<float>()[j]);
      worst = std::max(worst, d);
      off += d > float_tol * (1.0f + std::fabs(w));
    }
    EXPECT_LE(worst, max_abs) << "seed " << seed;
    EXPECT_LE(off, want[0].numel() / 20) << "seed " << seed << ": " << off << " of " << want[0].numel() << " differ";
  }
}

TEST_P(QdqOpsFusionTest, OpCountsAndOutputs) {
  const QdqOpsGolden& q = GetParam();
  ir::Model before = load(q.model);
  ir::Model after = before;
  for (const char* pass : {"fuse_qdq", "dead_code"}) ASSERT_TRUE(run_pass(after, pass, true).ok()) << pass;
  EXPECT_EQ(op_counts(after), q.ops_after);
  expect_close(before, after, q.max_abs, q.float_tol);
}

TEST_P(QdqOpsFusionTest, LevelTwoKeepsOutputs) {
  const QdqOpsGolden& q = GetParam();
  ir::Model before = load(q.model);
  ir::Model after = before;
  PassOptions o;
  o.level = 2;
  o.verify_each = true;
  ASSERT_TRUE(optimize(after, o).ok());
  expect_close(before, after, q.max_abs, q.float_tol);
}

INSTANTIATE_TEST_SUITE_P(
    Int8, QdqOpsFusionTest,
    ::testing::Values(
        // Two adds fuse (the second with its Relu absorbed: zero point 0); the third keeps its
        // Relu (zero point 5) and stays float. QLinearAdd computes the chain's floats: bytes equal.
        QdqOpsGolden{"qdq_add",
                     {{"QuantizeLinear", 3}, {"com.microsoft.QLinearAdd", 2}, {"DequantizeLinear", 3}, {"Add", 1},
                      {"Relu", 1}, {"Identity", 1}},
                     0.0f, 0.0f},
        // MaxPool on bytes twice (the second with a requantizing lookup), the average pool and the
        // classifier: one step of the pool's output (0.004) moves the Gemm by at most sum |w| * 0.004.
        QdqOpsGolden{"qdq_head",
                     {{"QuantizeLinear", 1}, {"MaxPool", 2}, {"hone.QLookup", 1},
                      {"com.microsoft.QLinearGlobalAveragePool", 1}, {"Flatten", 1},
                      {"com.microsoft.MatMulIntegerToFloat", 1}},
                     0.05f, 1e-5f},
        // The first MatMul -> Q becomes QLinearMatMul (a tie there moves its output one step, 0.08,
        // and the next MatMul's by up to 4 steps); the MatMul whose float output is the graph
        // output becomes MatMulIntegerToFloat.
        QdqOpsGolden{"qdq_matmul",
                     {{"QuantizeLinear", 1}, {"QLinearMatMul", 1}, {"com.microsoft.MatMulIntegerToFloat", 1}},
                     0.08f * 4.0f, 1e-5f},
        QdqOpsGolden{"qdq_matmul_float",
                     {{"QuantizeLinear", 1}, {"com.microsoft.MatMulIntegerToFloat", 1}, {"Add", 1}}, 1e-4f, 1e-5f}),
    [](const ::testing::TestParamInfo<QdqOpsGolden>& info) { return std::string(info.param.model); });

TEST(Int8Fusion, LevelTwoFusesQdqBeforeConstantFolding) {
  // fold_constants would turn DequantizeLinear(int8 weights) into float weights first.
  for (auto [model, op, count] : {std::tuple<const char*, const char*, int>{"qdq_conv", "QLinearConv", 2},
                                  {"qdq_matmul", "QLinearMatMul", 1}}) {
    ir::Model m = load(model);
    PassOptions o;
    o.level = 2;
    o.verify_each = true;
    ASSERT_TRUE(optimize(m, o).ok());
    // layout_nhwc turns QLinearConv channels-last where oneDNN's int8 convolution serves it.
    auto counts = op_counts(m);
    EXPECT_EQ(counts[op] + counts[std::string("hone.Nhwc") + op], count) << model;
  }
}

TEST(Int8Fusion, LayoutTurnsInt8ConvsChannelsLast) {
  // Where oneDNN's int8 convolution is exact (VNNI) and enabled, level 2 runs both convolutions
  // of qdq_conv as hone.NhwcQLinearConv, and the transposes between them (through the lookup and
  // the Q/DQ nodes) cancel: one transpose at each end remains.
  ir::Model m = load("qdq_conv");
  PassOptions o;
  o.level = 2;
  o.verify_each = true;
  ASSERT_TRUE(optimize(m, o).ok());
  auto counts = op_counts(m);
  if (!kernels::onednn::enabled() || !kernels::onednn::int8_exact_isa()) {
    EXPECT_EQ(counts["QLinearConv"], 2);
    GTEST_SKIP() << "oneDNN int8 off or not exact here: convolutions stay NCHW";
  }
  EXPECT_EQ(counts["hone.NhwcQLinearConv"], 2);
  EXPECT_EQ(counts["Transpose"], 2);
}

TEST(Int8Fusion, LayoutKeepsTheInt8ResnetRegionChannelsLast) {
  // qdq_resnet_region: ResNet-50's int8 ops in miniature. The byte MaxPool (hone.NhwcMaxPool) and
  // QLinearGlobalAveragePool (hone.NhwcQLinearGlobalAveragePool) run channels last with the
  // convolutions, so the only transposes are the region's two edges: after the input's
  // QuantizeLinear and after the average pool. Outputs: as the unfused QDQ model (level 0) within
  // qdq_head's tolerance (the exact average pool may move a tie one step), and, byte for byte,
  // as level 2 without the layout pass.
  const ir::Model level0 = load("qdq_resnet_region");
  ir::Model m = level0;
  PassOptions o;
  o.level = 2;
  o.verify_each = true;
  ASSERT_TRUE(optimize(m, o).ok());
  auto counts = op_counts(m);
  if (!kernels::onednn::enabled() || !kernels::onednn::int8_exact_isa()) {
    EXPECT_EQ(counts["QLinearConv"], 2);
    EXPECT_EQ(counts["Transpose"], 0);  // nor do the byte pools go channels last on their own
    GTEST_SKIP() << "oneDNN int8 off or not exact here: convolutions stay NCHW";
  }
  const std::map<std::string, int> want = {{"QuantizeLinear", 1},
                                           {"Transpose", 2},
                                           {"hone.NhwcQLinearConv", 2},
                                           {"hone.NhwcMaxPool", 1},
                                           {"com.microsoft.QLinearAdd", 1},
                                           {"hone.NhwcQLinearGlobalAveragePool", 1},
                                           {"Flatten", 1},
                                           {"com.microsoft.MatMulIntegerToFloat", 1}};
  EXPECT_EQ(counts, want);
  expect_close(level0, m, 0.05f, 1e-5f);
  ir::Model nchw = level0;
  o.disabled = {"layout_nhwc"};
  ASSERT_TRUE(optimize(nchw, o).ok());
  EXPECT_EQ(op_counts(nchw)["Transpose"], 0);
  expect_same_outputs(nchw, m);
}

TEST(Int8Fusion, AddsTheInternalOpsetOnlyWhenItFuses) {
  ir::Model kept = load("dynq_matmul_kept");
  ASSERT_TRUE(run_pass(kept, "fuse_dynamic_quant_matmul", true).ok());
  EXPECT_EQ(kept.opset("hone"), 0);
  ir::Model fused = load("dynq_matmul");
  ASSERT_TRUE(run_pass(fused, "fuse_dynamic_quant_matmul", true).ok());
  EXPECT_EQ(fused.opset("hone"), 1);
}

TEST(Int8Fusion, LevelOneDoesNotFuse) {
  // Level 1 is what an exporting path may run: no node of the internal domain may appear there.
  ir::Model m = load("dynq_matmul");
  PassOptions o;
  o.level = 1;
  ASSERT_TRUE(optimize(m, o).ok());
  for (const auto& n : m.graph.nodes) EXPECT_NE(n.domain, "hone") << n.op_type;
}

TEST(Int8Fusion, FusedNodeRejectsNonConstantWeights) {
  // A hand-written hone.DynQuantMatMul whose weights are a graph input (no initializer) is
  // refused at creation.
  ir::Model m = load("dynq_matmul");
  ASSERT_TRUE(run_pass(m, "fuse_dynamic_quant_matmul", true).ok());
  ir::Node& f = m.graph.nodes.back();
  ASSERT_EQ(f.op_type, "DynQuantMatMul");
  ir::ValueInfo w;
  w.name = "w_fed";
  f.inputs[1] = w.name;
  w.type.kind = ir::TypeInfo::Kind::kTensor;
  w.type.elem = DType::kInt8;
  w.type.has_shape = true;
  w.type.dims = {ir::Dim::of(37), ir::Dim::of(29)};
  m.graph.inputs.push_back(w);
  auto s = create_session(m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("constant"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace hone::passes
