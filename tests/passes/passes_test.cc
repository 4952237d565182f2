// Golden-model tests of src/passes: each model of golden/ (written by make_golden.py) runs through
// one pass; the op counts afterwards are fixed here, the graph must verify, and outputs on seeded
// random inputs must equal the unoptimized model's (docs/cli.md's tolerance).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "eval/compare.h"
#include "eval/random_inputs.h"
#include "ir/verifier.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace hone::passes {
namespace {

ir::Model load(const std::string& name) {
  auto m = onnxio::load_model(std::string(HONE_SOURCE_DIR) + "/tests/passes/golden/" + name + ".onnx");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : ir::Model{};
}

std::map<std::string, int> op_counts(const ir::Model& m) {
  std::map<std::string, int> counts;
  for (const auto& n : m.graph.nodes) ++counts[n.op_type];
  return counts;
}

std::vector<Tensor> run(const ir::Model& m) {
  auto s = create_session(m);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  auto inputs = eval::random_inputs(s->inputs(), {}, 42);
  EXPECT_TRUE(inputs.ok()) << inputs.status().message();
  auto out = s->run(*inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

void expect_same_outputs(const ir::Model& reference, const ir::Model& optimized) {
  auto want = run(reference), got = run(optimized);
  ASSERT_EQ(want.size(), got.size());
  ASSERT_FALSE(want.empty());
  for (size_t i = 0; i < want.size(); ++i) {
    eval::Comparison c = eval::compare_tensors(got[i], want[i]);
    EXPECT_TRUE(c.within()) << "output " << i << ": max|a-b| = " << c.max_abs_error << " " << c.why;
  }
}

struct Golden {
  const char* model;
  const char* pass;
  std::map<std::string, int> ops_after;
  size_t initializers_after;
};

class GoldenTest : public ::testing::TestWithParam<Golden> {};

TEST_P(GoldenTest, OpCountsAndOutputs) {
  const Golden& g = GetParam();
  ir::Model before = load(g.model);
  ir::Model after = before;
  Status st = run_pass(after, g.pass, /*verify=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(op_counts(after), g.ops_after);
  EXPECT_EQ(after.graph.initializers.size(), g.initializers_after);
  expect_same_outputs(before, after);
}

TEST_P(GoldenTest, HighestLevelKeepsOutputs) {
  ir::Model before = load(GetParam().model);
  ir::Model after = before;
  PassOptions o;
  o.level = kMaxLevel;
  o.verify_each = true;
  Status st = optimize(after, o);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_LE(after.graph.nodes.size(), before.graph.nodes.size());
  expect_same_outputs(before, after);
}

INSTANTIATE_TEST_SUITE_P(
    Passes, GoldenTest,
    ::testing::Values(
        Golden{"identity", "eliminate_identity", {{"Relu", 1}, {"Identity", 1}}, 0},
        Golden{"identity_subgraph", "eliminate_identity", {{"If", 1}}, 0},
        Golden{"dropout_kept", "eliminate_identity", {{"Dropout", 2}, {"Cast", 1}}, 2},
        Golden{"dead_code", "dead_code", {{"Relu", 1}}, 0},
        // The folded values stay as initializers (c1, w2, s, d0, d0u, target) beside the four
        // originals; dead_code removes those no one reads any more.
        Golden{"fold_constants", "fold_constants", {{"Mul", 1}, {"Reshape", 1}}, 10},
        // Shape of an intermediate that shape inference proves static folds (with its Gather and
        // Div: 3 new initializers beside the 4); the same chain on a symbolic-batch input stays.
        Golden{"fold_inferred_shape", "fold_constants", {{"MatMul", 1}, {"Slice", 2}, {"Shape", 1}, {"Gather", 1}, {"Div", 1}}, 7},
        // bn4 stays: its Conv's output also feeds a Relu. 6 weights + 16 BN parameters + 3 new
        // weight/bias pairs.
        Golden{"fold_batchnorm", "fold_batchnorm",
               {{"Conv", 3}, {"BatchNormalization", 1}, {"Relu", 2}, {"GlobalAveragePool", 1}, {"Flatten", 1}, {"Gemm", 1}},
               28},
        // The Gemm's Reshape + order-keeping Transpose go; its Add reads the Gemm (the residual
        // reshaped to [S, D] and the sum back to [1, S, D]: 2 Reshapes, 2 shape initializers).
        // The real transpose, the broadcasting Add and the view that is a graph output stay.
        Golden{"sink_views_below_add", "sink_views_below_add",
               {{"Gemm", 1}, {"MatMul", 2}, {"Mul", 1}, {"Reshape", 5}, {"Transpose", 1}, {"Add", 4}}, 7},
        // Y's Gather goes: two new ones cut X and R (at index 3 = -2 normalized: one new index
        // constant), the constant k is cut into a new initializer (its row 0); the Gathers of the
        // MatMul's columns and of the graph output stay.
        Golden{"hoist_gather", "hoist_gather",
               {{"MatMul", 2}, {"Add", 3}, {"Erf", 1}, {"Mul", 1}, {"LayerNormalization", 1}, {"Relu", 1}, {"Gather", 4}},
               10},
        // The written-out LayerNorm moves whole: a new Gather cuts X, the constant R is cut into
        // a new initializer, the ReduceSum's axes input [2] becomes a new initializer [1] (10 +
        // those two + one index constant); the Gather after the ReduceMean over its own axis stays.
        Golden{"hoist_gather_reduce", "hoist_gather",
               {{"MatMul", 1}, {"Add", 3}, {"ReduceMean", 2}, {"Sub", 1}, {"Pow", 1}, {"ReduceSum", 1}, {"Mul", 2},
                {"Sqrt", 1}, {"Div", 1}, {"Gather", 2}},
               13}),
    [](const ::testing::TestParamInfo<Golden>& info) { return std::string(info.param.model); });

TEST(PassManager, LevelZeroChangesNothing) {
  ir::Model m = load("identity");
  const size_t nodes = m.graph.nodes.size();
  PassOptions o;
  o.level = 0;
  ASSERT_TRUE(optimize(m, o).ok());
  EXPECT_EQ(m.graph.nodes.size(), nodes);
}

TEST(PassManager, DisabledPassDoesNotRun) {
  ir::Model m = load("fold_batchnorm");
  PassOptions o;
  o.level = 2;
  o.disabled = {"fold_batchnorm"};
  ASSERT_TRUE(optimize(m, o).ok());
  EXPECT_EQ(op_counts(m)["BatchNormalization"], 4);
}

TEST(PassManager, UnknownPassNameListsValidNames) {
  ir::Model m = load("identity");
  PassOptions o;
  o.disabled = {"fold_everything"};
  Status st = optimize(m, o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.message().find("fold_everything"), std::string::npos);
  for (const auto& p : all_passes()) EXPECT_NE(st.message().find(p.name), std::string::npos) << p.name;
}

TEST(PassManager, LevelOutOfRange) {
  ir::Model m = load("identity");
  PassOptions o;
  o.level = kMaxLevel + 1;
  EXPECT_FALSE(optimize(m, o).ok());
}

TEST(PassManager, LevelOneLeavesBatchNorm) {
  ir::Model m = load("fold_batchnorm");
  PassOptions o;
  o.level = 1;
  ASSERT_TRUE(optimize(m, o).ok());
  EXPECT_EQ(op_counts(m)["BatchNormalization"], 4);
}

}  // namespace
}  // namespace hone::passes
