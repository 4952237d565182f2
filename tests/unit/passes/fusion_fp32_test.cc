// The fp32 fusion passes on their golden models (tests/passes/make_golden_fp32.py): op counts
// after the pass (what fused and what must not), a valid graph, and outputs equal to the
// unoptimized model's within 1e-4 relative — on the fast kernels and, with HONE_DNNL=0 or
// HONE_ISA=scalar (tests/kernels_isa_fp32), on the reference paths of the fused nodes.
#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>

#include "eval/compare.h"
#include "eval/random_inputs.h"
#include "ir/verifier.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"
#include "../test_models.h"

namespace hone::passes {
namespace {

using testing_models::op_counts;

ir::Model load(const std::string& name) {
  auto m = onnxio::load_model(std::string(HONE_SOURCE_DIR) + "/tests/passes/golden/" + name + ".onnx");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : ir::Model{};
}

std::vector<Tensor> run(const ir::Model& m) {
  auto s = create_session(m);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  auto inputs = eval::random_inputs(s->inputs(), {}, 42);
  EXPECT_TRUE(inputs.ok()) << inputs.status().message();
  if (!inputs.ok()) return {};
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
    EXPECT_TRUE(c.within(1e-4, 1e-6)) << "output " << i << ": max|a-b| = " << c.max_abs_error << " (max|b| "
                                      << c.max_abs_ref << ") " << c.why;
  }
}

struct Case {
  const char* model;
  const char* pass;  // one pass, or "" for the whole of level 2
  std::map<std::string, int> ops_after;
};

// gtest prints the parameter in test listings: the model's name, not the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.model; }

class FusedFp32Ops : public ::testing::TestWithParam<Case> {};

TEST_P(FusedFp32Ops, OpCountsAndOutputs) {
  const Case& c = GetParam();
  ir::Model before = load(c.model);
  ir::Model after = before;
  if (std::string(c.pass).empty()) {
    PassOptions o;
    o.level = 2;
    o.verify_each = true;
    Status st = optimize(after, o);
    ASSERT_TRUE(st.ok()) << st.message();
  } else {
    Status st = run_pass(after, c.pass, /*verify=*/true);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  EXPECT_EQ(op_counts(after), c.ops_after);
  expect_same_outputs(before, after);
}

INSTANTIATE_TEST_SUITE_P(
    Golden, FusedFp32Ops,
    ::testing::Values(
        Case{"fuse_layernorm", "fuse_layernorm",
             {{"hone.LayerNormalization", 2}, {"ReduceMean", 2}, {"Sub", 1}, {"Pow", 1}, {"Add", 2}, {"Sqrt", 1},
              {"Div", 1}, {"Mul", 1}}},
        Case{"fuse_gelu", "fuse_gelu", {{"hone.Gelu", 2}, {"Div", 1}, {"Erf", 1}, {"Add", 1}, {"Mul", 2}}},
        Case{"fuse_matmul_bias", "fuse_matmul_bias", {{"hone.FusedMatMul", 5}, {"MatMul", 2}, {"Add", 2}, {"Gemm", 1}, {"Relu", 1}}},
        Case{"fuse_conv_activation", "fuse_conv_activation",
             {{"hone.FusedConv", 3}, {"Conv", 1}, {"Relu", 1}, {"Neg", 1}}},
        Case{"transformer_ffn", "", {{"hone.LayerNormalization", 1}, {"hone.FusedMatMul", 2}, {"Add", 1}}},
        Case{"fuse_add_activation", "fuse_add_activation",
             {{"Conv", 1}, {"hone.FusedAdd", 2}, {"Add", 1}, {"Relu", 1}, {"Neg", 1}}},
        // Attention "a" fuses (scale and padding mask taken in); "b", whose probabilities are a
        // graph output, keeps its Transposes, MatMuls, Div, Add and Softmax.
        Case{"fuse_attention_bshd", "fuse_attention",
             {{"hone.Attention", 1}, {"MatMul", 5}, {"Reshape", 5}, {"Transpose", 4}, {"Div", 1}, {"Add", 1},
              {"Softmax", 1}}},
        // Rank 3 (nn.MultiheadAttention): packed QKV sliced, the scale on Q, a causal -inf mask;
        // the node reads Q, K and V from the packed projection: the Slices and their Reshapes go.
        Case{"fuse_attention_mha", "fuse_attention", {{"hone.Attention", 1}, {"MatMul", 1}, {"Add", 1}, {"Reshape", 1}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.model); });

// The passes leave models without their patterns alone, and each can be switched off by name.
TEST(FusedFp32Passes, DisabledPassLeavesPattern) {
  ir::Model m = load("transformer_ffn");
  PassOptions o;
  o.level = 2;
  o.disabled = {"fuse_gelu", "fuse_layernorm"};
  ASSERT_TRUE(optimize(m, o).ok());
  auto counts = op_counts(m);
  EXPECT_EQ(counts["Erf"], 1);
  EXPECT_EQ(counts["ReduceMean"], 2);
  EXPECT_EQ(counts["hone.FusedMatMul"], 2);  // the bias Adds still fuse
}

TEST(FusedFp32Passes, InternalDomainDeclared) {
  ir::Model m = load("fuse_gelu");
  ASSERT_TRUE(run_pass(m, "fuse_gelu", true).ok());
  bool declared = false;
  for (const auto& o : m.opsets) declared |= o.domain == "hone";
  EXPECT_TRUE(declared);
}

}  // namespace
}  // namespace hone::passes
