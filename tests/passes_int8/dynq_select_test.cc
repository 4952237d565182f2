// hoist_gather and the selected rows of hone.DynQuantMatMul on golden/dynq_select.onnx
// (make_golden_dynq_producer.py): a BERT classifier's tail, Gather(LayerNorm(GEMM(h) + h), row 3)
// with h = LayerNorm(x), and a GEMM on two batches whose last row of each is gathered.
//   - after level 2 both GEMMs are hone.DynQuantMatMul nodes with select_axis / select_index
//     (the Gathers of their outputs gone; one new Gather cuts the residual's row), the
//     LayerNorm after the first runs on one row;
//   - outputs bit for bit those of level 2 without hoist_gather, on every path (oneDNN or qgemm,
//     HONE_DNNL=0, HONE_ISA=scalar: CTest's reruns of this binary), runs A, B, A of one session;
//   - outputs near level 0's (the ONNX ops one by one) within 1 % of each output's range;
//   - a select_axis that is no row axis, or a select_index out of range, is an error at run time.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "int8_golden_util.h"
#include "passes/pass_manager.h"

namespace hone::passes {
namespace {

using int8_golden::run_once;

ir::Model load_golden() { return int8_golden::load_golden("dynq_select"); }

ir::Model optimized(ir::Model m, bool with_hoist) {
  PassOptions o;
  o.level = 2;
  o.verify_each = true;
  if (!with_hoist) o.disabled.insert("hoist_gather");
  Status st = optimize(m, o);
  EXPECT_TRUE(st.ok()) << st.message();
  return m;
}

std::map<std::string, int> op_counts(const ir::Model& m) {
  std::map<std::string, int> counts;
  for (const auto& n : m.graph.nodes) ++counts[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
  return counts;
}

ir::Node* selecting_gemm(ir::Model& m, const std::string& output) {
  for (auto& n : m.graph.nodes)
    if (n.op_type == "DynQuantMatMul" && n.outputs[0] == output && n.attr("select_axis")) return &n;
  return nullptr;
}

TEST(DynQuantSelect, GemmsComputeTheGatheredRowsOnly) {
  ir::Model m = optimized(load_golden(), true);
  std::map<std::string, int> counts = op_counts(m);
  EXPECT_EQ(counts["hone.DynQuantMatMul"], 2);
  EXPECT_EQ(counts["Gather"], 1);  // the residual's row 3
  EXPECT_EQ(counts["MatMulInteger"], 0);
  EXPECT_EQ(counts["DynamicQuantizeLinear"], 0);
  int selecting = 0;
  for (const auto& n : m.graph.nodes) {
    if (n.op_type != "DynQuantMatMul") continue;
    ASSERT_TRUE(n.attr("select_axis")) << n.name;
    ++selecting;
    EXPECT_EQ(n.attr_int("select_axis", -9), 1) << n.name;
    // Row 3 of the classifier GEMM; the last row of each batch of the other (-1 normalized).
    EXPECT_EQ(n.attr_int("select_index", -9), n.input(0) == "x2" ? 4 : 3) << n.name;
  }
  EXPECT_EQ(selecting, 2);

  // Without hoist_gather: the GEMMs compute every row and the Gathers stay after them.
  counts = op_counts(optimized(load_golden(), false));
  EXPECT_EQ(counts["hone.DynQuantMatMul"], 2);
  EXPECT_EQ(counts["Gather"], 2);
}

TEST(DynQuantSelect, OutputsBitExactWithoutTheHoist) {
  int8_golden::expect_models_agree(optimized(load_golden(), false), optimized(load_golden(), true), {1u, 42u, 1u}, {});
}

TEST(DynQuantSelect, OutputsNearLevelZero) {
  auto hoisted = create_session(optimized(load_golden(), true));
  auto level0 = create_session(load_golden());
  ASSERT_TRUE(hoisted.ok()) << hoisted.status().message();
  ASSERT_TRUE(level0.ok()) << level0.status().message();
  int8_golden::expect_within_range_fraction(run_once(*level0, 5), run_once(*hoisted, 5), 0.01f, "level 0");
}

TEST(DynQuantSelect, BadSelectionIsAnError) {
  struct Case {
    int64_t axis, index;
    const char* message;
  };
  for (const Case& c : {Case{2, 0, "is not a row axis"}, Case{-1, 0, "is not a row axis"}, Case{1, 5, "out of range"},
                        Case{1, -6, "out of range"}}) {
    ir::Model m = optimized(load_golden(), true);
    ir::Node* gemm = selecting_gemm(m, "y2");
    ASSERT_NE(gemm, nullptr);
    for (auto& a : gemm->attrs) {
      if (a.name == "select_axis") a.i = c.axis;
      if (a.name == "select_index") a.i = c.index;
    }
    auto s = create_session(m);
    ASSERT_TRUE(s.ok()) << s.status().message();
    auto inputs = eval::random_inputs(s->inputs(), {}, 3);
    ASSERT_TRUE(inputs.ok());
    auto out = s->run(*inputs);
    ASSERT_FALSE(out.ok()) << "axis " << c.axis << " index " << c.index;
    EXPECT_NE(out.status().message().find(c.message), std::string::npos) << out.status().message();
  }
}

}  // namespace
}  // namespace hone::passes
