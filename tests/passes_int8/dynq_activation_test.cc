// fuse_dynamic_quant_activation on golden/dynq_activation.onnx (make_golden_dynq_producer.py): a
// GEMM -> Erf GELU -> GEMM feed-forward block (the GELU and its quantization fold into the first
// GEMM), a GEMM -> GELU read by no GEMM (the GELU folds alone), and a GEMM whose output is also a
// graph output (stays apart).
//   - op counts and the fused nodes' outputs and attributes after level 2;
//   - outputs bit for bit those of level 2 without the pass on every path (oneDNN or qgemm,
//     HONE_DNNL=0, HONE_ISA=scalar: CTest's reruns of this binary), over runs A, B, A of one
//     session (the fused outputs come from the arena);
//   - outputs near level 0's (the ONNX chain op by op) within 1 % of each output's range.
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

using int8_golden::run_once;

ir::Model load_golden() { return int8_golden::load_golden("dynq_activation"); }

ir::Model optimized(ir::Model m, bool with_pass) {
  PassOptions o;
  o.level = 2;
  o.verify_each = true;
  if (!with_pass) o.disabled.insert("fuse_dynamic_quant_activation");
  Status st = optimize(m, o);
  EXPECT_TRUE(st.ok()) << st.message();
  return m;
}

TEST(DynQuantActivation, OpCountsAndFusedNodes) {
  const ir::Model m = optimized(load_golden(), true);
  std::map<std::string, int> counts;
  int with_gelu = 0;
  for (const auto& n : m.graph.nodes) {
    ++counts[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
    if (n.op_type != "DynQuantMatMul" || n.attr_string("activation", "") != "Gelu") continue;
    ++with_gelu;
    EXPECT_EQ(n.attr_string("approximate", ""), "none");
    if (n.outputs[0] == "g1") {
      ASSERT_EQ(n.outputs.size(), 4u);  // the GELU output, its bytes, scale and zero point
    } else {
      EXPECT_EQ(n.outputs, std::vector<std::string>{"g2"});
    }
  }
  EXPECT_EQ(with_gelu, 2);
  EXPECT_EQ(counts["hone.DynQuantMatMul"], 4);
  EXPECT_EQ(counts["hone.GeluDynQuant"], 0);
  EXPECT_EQ(counts["hone.Gelu"], 1);  // after the GEMM whose output is also a graph output
  EXPECT_EQ(counts["DynamicQuantizeLinear"], 0);

  // Without the pass the same graph has the GELUs as ops of their own.
  const ir::Model kept = optimized(load_golden(), false);
  std::map<std::string, int> before;
  for (const auto& n : kept.graph.nodes) ++before[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
  EXPECT_EQ(before["hone.GeluDynQuant"], 1);
  EXPECT_EQ(before["hone.Gelu"], 2);
}

TEST(DynQuantActivation, OutputsBitExactWithoutThePass) {
  int8_golden::expect_models_agree(optimized(load_golden(), false), optimized(load_golden(), true), {1u, 42u, 1u}, {});
}

TEST(DynQuantActivation, OutputsNearLevelZero) {
  auto fused = create_session(optimized(load_golden(), true));
  auto level0 = create_session(load_golden());
  ASSERT_TRUE(fused.ok()) << fused.status().message();
  ASSERT_TRUE(level0.ok()) << level0.status().message();
  for (uint64_t seed : {3u, 977u}) {
    // GELU's kernel against the Erf decomposition can move a quantized byte by one step; a
    // wrong fusion (GELU missing or applied twice, wrong bytes or scale) moves far more.
    int8_golden::expect_within_range_fraction(run_once(*level0, seed), run_once(*fused, seed), 0.01f,
                                              "seed " + std::to_string(seed));
  }
}

}  // namespace
}  // namespace hone::passes
