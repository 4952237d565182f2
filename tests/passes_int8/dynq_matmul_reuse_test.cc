// hone.DynQuantMatMul takes its output from the session's arena without a zero fill
// (allocate_output_overwritten): it must write every element on every path, or a run would show
// the previous run's values. One level-2 session runs inputs A, B, A, B; each output must equal
// a fresh level-0 session's (the unfused ONNX chain) for the same input — bit for bit on the
// reference path (HONE_DNNL=0, which CTest also runs), within the fused epilogue's float
// tolerance on oneDNN (int8_golden::fused_epilogue_tolerance).
#include <gtest/gtest.h>

#include <iterator>
#include <string>

#include "int8_golden_util.h"
#include "passes/pass_manager.h"

namespace hone::passes {
namespace {

using int8_golden::load_golden;
using int8_golden::run_once;

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
    int8_golden::expect_outputs_close(
        run_once(*reference, seeds[r]), run_once(*session, seeds[r]), int8_golden::fused_epilogue_tolerance(),
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
