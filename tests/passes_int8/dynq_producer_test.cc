// fuse_dynamic_quant_producer on golden/dynq_producer.onnx (make_golden_dynq_producer.py): a
// LayerNorm read by three int8 GEMMs (one through an order-keeping Transpose), by a GEMM behind a
// real transpose (its output then Add-ed to a larger input), and by the residual Add; then the
// Erf GELU read by a GEMM with a residual Add.
//   - op counts after level 2: one hone.LayerNormDynQuant, one hone.GeluDynQuant, and the
//     hone.DynQuantMatMul nodes reading their quantized outputs (inputs 5-7, xq_perm where a
//     Transpose stands between, the residual as input 8 where an Add after the GEMM was absorbed,
//     one of them broadcasting the GEMM to a larger output);
//   - outputs bit for bit those of level 2 without the pass (same row kernels, same quantized
//     bytes, same GEMMs), on every path: oneDNN, HONE_DNNL=0 and HONE_ISA=scalar (CTest's reruns);
//     over runs A, B, A of one session (the fused outputs come from the arena);
//   - outputs as level 2 without the int8 fusions (the chain op by op), bit for bit on the
//     reference path;
//   - outputs as level 0's (the unfused ONNX chain) within the tolerance of GELU's kernel against
//     the Erf decomposition: a last-bit difference can move one quantized byte by one step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "int8_golden_util.h"
#include "passes/pass_manager.h"

namespace hone::passes {
namespace {

using int8_golden::expect_outputs_close;
using int8_golden::run_once;

ir::Model load_golden() { return int8_golden::load_golden("dynq_producer"); }

ir::Model optimized(ir::Model m, int level, bool with_pass, const char* disabled = "fuse_dynamic_quant_producer") {
  PassOptions o;
  o.level = level;
  o.verify_each = true;
  if (!with_pass) o.disabled.insert(disabled);
  Status st = optimize(m, o);
  EXPECT_TRUE(st.ok()) << st.message();
  return m;
}

const ir::Node* find(const ir::Model& m, const std::string& op, const std::string& output) {
  for (const auto& n : m.graph.nodes)
    if (n.op_type == op && !n.outputs.empty() && n.outputs[0] == output) return &n;
  return nullptr;
}

TEST(DynQuantProducer, OpCounts) {
  const ir::Model m = optimized(load_golden(), 2, true);
  std::map<std::string, int> counts;
  for (const auto& n : m.graph.nodes) ++counts[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
  EXPECT_EQ(counts["hone.LayerNormDynQuant"], 1);
  EXPECT_EQ(counts["hone.GeluDynQuant"], 1);
  EXPECT_EQ(counts["LayerNormalization"], 0);
  EXPECT_EQ(counts["hone.Gelu"], 0);
  EXPECT_EQ(counts["hone.DynQuantMatMul"], 5);
  EXPECT_EQ(counts["DynamicQuantizeLinear"], 0);
  // Add(q, k) of two GEMMs stays, and the one of the GEMM behind a real transpose (broadcast);
  // the residual Adds after a GEMM are absorbed (fuse_dynamic_quant_matmul): the FFN's, and
  // Add(q + k, v) once sink_views_below_add has moved v's order-keeping Transpose below it.
  EXPECT_EQ(counts["Add"], 2);
  EXPECT_EQ(counts["Transpose"], 2);  // the GEMMs' input transposes (xq_perm) only
  // Which GEMMs read quantized bytes, through which transpose, and with which residual.
  struct Want {
    std::vector<int64_t> perm;
    std::string residual;
  };
  const std::map<std::string, Want> want = {{"q_y", {{}, ""}},
                                            {"k_y", {{}, ""}},
                                            {"s2_unviewed", {{1, 0, 2}, "s1_as_v_y"}},
                                            {"y2", {{0, 2, 1}, "r"}},
                                            {"y", {{}, "s"}}};
  for (const auto& [out, w] : want) {
    const ir::Node* d = find(m, "DynQuantMatMul", out);
    ASSERT_NE(d, nullptr) << out;
    ASSERT_EQ(d->inputs.size(), w.residual.empty() ? 8u : 9u) << out;
    EXPECT_EQ(d->attr_ints("xq_perm"), w.perm) << out;
    if (!w.residual.empty()) {
      EXPECT_EQ(d->inputs[8], w.residual) << out;
    }
  }
  const ir::Node* ln = find(m, "LayerNormDynQuant", "h");
  ASSERT_NE(ln, nullptr);
  ASSERT_EQ(ln->outputs.size(), 4u);
  EXPECT_EQ(find(m, "DynQuantMatMul", "q_y")->inputs[5], ln->outputs[1]);
}

TEST(DynQuantProducer, OutputsBitExactWithoutThePass) {
  auto fused = create_session(optimized(load_golden(), 2, true));
  ASSERT_TRUE(fused.ok()) << fused.status().message();
  for (uint64_t seed : {1u, 42u, 1u}) {
    auto unfused = create_session(optimized(load_golden(), 2, false));
    ASSERT_TRUE(unfused.ok()) << unfused.status().message();
    expect_outputs_close(run_once(*unfused, seed), run_once(*fused, seed), {}, "seed " + std::to_string(seed));
  }
}

// Against level 2 without any int8 fusion (the ONNX chain op by op, with the same LayerNorm and
// GELU kernels): bit for bit on the reference path (HONE_DNNL=0), within the float tolerance of
// int8_fusion_test.cc on oneDNN, where the scale, bias and residual run as its post-ops.
TEST(DynQuantProducer, OutputsAsTheUnfusedInt8Chain) {
  auto fused = create_session(optimized(load_golden(), 2, true));
  auto chain = create_session(optimized(load_golden(), 2, false, "fuse_dynamic_quant_matmul"));
  ASSERT_TRUE(fused.ok()) << fused.status().message();
  ASSERT_TRUE(chain.ok()) << chain.status().message();
  for (uint64_t seed : {3u, 8u})
    expect_outputs_close(run_once(*chain, seed), run_once(*fused, seed), int8_golden::fused_epilogue_tolerance(),
                         "seed " + std::to_string(seed));
}

TEST(DynQuantProducer, OutputsNearLevelZero) {
  auto fused = create_session(optimized(load_golden(), 2, true));
  auto level0 = create_session(load_golden());
  ASSERT_TRUE(fused.ok()) << fused.status().message();
  ASSERT_TRUE(level0.ok()) << level0.status().message();
  for (uint64_t seed : {1u, 42u, 977u}) {
    // A byte one step off moves an output by about x_scale * w_scale * 127: far below 1% of
    // the range; a wrong fusion (wrong bytes, scale or order) moves it by far more.
    int8_golden::expect_within_range_fraction(run_once(*level0, seed), run_once(*fused, seed), 0.01f,
                                              "seed " + std::to_string(seed));
  }
}

}  // namespace
}  // namespace hone::passes
