// hone.DynQuantMatMul takes its output from the session's arena without a zero fill
// (allocate_output_overwritten): it must write every element on every path, or a run would show
// the previous run's values. One level-2 session runs inputs A, B, A, B; each output must equal
// a fresh level-0 session's (the unfused ONNX chain) for the same input — bit for bit on the
// reference path (HONE_DNNL=0, which CTest also runs), within the fused epilogue's float
// tolerance on oneDNN (see int8_fusion_test.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "eval/random_inputs.h"
#include "kernels/dnnl/dnnl_common.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace hone::passes {
namespace {

ir::Model load_golden(const std::string& name) {
  auto m = onnxio::load_model(std::string(HONE_SOURCE_DIR) + "/tests/passes_int8/golden/" + name + ".onnx");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : ir::Model{};
}

std::vector<Tensor> run_once(Session& s, uint64_t seed) {
  auto inputs = eval::random_inputs(s.inputs(), {}, seed);
  EXPECT_TRUE(inputs.ok()) << inputs.status().message();
  if (!inputs.ok()) return {};
  auto out = s.run(*inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

void expect_equal(const std::vector<Tensor>& want, const std::vector<Tensor>& got, const std::string& what) {
  const bool exact = !kernels::onednn::enabled();
  ASSERT_EQ(want.size(), got.size()) << what;
  ASSERT_FALSE(want.empty()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].shape(), got[i].shape()) << what;
    const float* w = want[i].data<float>();
    const float* g = got[i].data<float>();
    int64_t bad = 0;
    for (int64_t j = 0; j < want[i].numel(); ++j) {
      const float tol = exact ? 0.0f : 1e-5f * std::fabs(w[j]) + 1e-6f;
      if (!(std::fabs(g[j] - w[j]) <= tol) && bad++ < 5)
        ADD_FAILURE() << what << ": output " << i << " element " << j << ": " << g[j] << " vs " << w[j];
    }
    EXPECT_EQ(bad, 0) << what;
  }
}

class DynQuantMatMulReuseTest : public ::testing::TestWithParam<const char*> {};

TEST_P(DynQuantMatMulReuseTest, EveryRunWritesTheWholeOutput) {
  const ir::Model original = load_golden(GetParam());
  ir::Model fused = original;
  PassOptions o;
  o.level = 2;
  ASSERT_TRUE(optimize(fused, o).ok());
  int fused_nodes = 0;
  for (const auto& n : fused.graph.nodes) fused_nodes += n.op_type == "DynQuantMatMul";
  ASSERT_GT(fused_nodes, 0) << "nothing fused: the test would not exercise the op";
  auto session = create_session(std::move(fused));
  ASSERT_TRUE(session.ok()) << session.status().message();
  const uint64_t seeds[] = {3, 1234, 3, 1234};
  for (size_t r = 0; r < std::size(seeds); ++r) {
    auto reference = create_session(original);
    ASSERT_TRUE(reference.ok()) << reference.status().message();
    expect_equal(run_once(*reference, seeds[r]), run_once(*session, seeds[r]),
                 std::string(GetParam()) + " run " + std::to_string(r) + " seed " + std::to_string(seeds[r]));
  }
}

// Two fused layers whose outputs meet in an Add (both in the arena), a per-column one with a
// Relu after it, one with non-zero weight zero points (reference path) and K = 0 (y = bias).
INSTANTIATE_TEST_SUITE_P(Int8, DynQuantMatMulReuseTest,
                         ::testing::Values("dynq_matmul_two", "dynq_matmul_per_column", "dynq_matmul_wzp",
                                           "dynq_matmul_k0"));

}  // namespace
}  // namespace hone::passes
