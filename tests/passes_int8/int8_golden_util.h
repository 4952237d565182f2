// Helpers shared by the golden-model tests of the int8 fusion passes (int8_fusion_test,
// dynq_matmul_reuse_test, dynq_producer_test): loading golden/*.onnx, a run on seeded random
// inputs, and the element-by-element output comparison with the fusions' tolerance.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "eval/random_inputs.h"
#include "kernels/dnnl/dnnl_common.h"
#include "onnx/import.h"
#include "runtime/session_impl.h"

namespace hone::passes::int8_golden {

// tests/passes_int8/golden/<name>.onnx (make_golden_*.py write them).
inline ir::Model load_golden(const std::string& name) {
  auto m = onnxio::load_model(std::string(HONE_SOURCE_DIR) + "/tests/passes_int8/golden/" + name + ".onnx");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : ir::Model{};
}

// One run of s on random inputs made from `seed` (the same seed gives the same inputs).
inline std::vector<Tensor> run_once(Session& s, uint64_t seed) {
  auto inputs = eval::random_inputs(s.inputs(), {}, seed);
  EXPECT_TRUE(inputs.ok()) << inputs.status().message();
  if (!inputs.ok()) return {};
  auto out = s.run(*inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? std::move(out).value() : std::vector<Tensor>{};
}

// |got - want| <= rel * |want| + abs per element; {0, 0} is bit for bit.
struct Tolerance {
  float rel = 0.0f, abs = 0.0f;
};

// How close a fused int8 op's float outputs are to the unfused chain's. The fused ops compute the
// chain's own operations (exact quantized bytes, exact int32 sums, the same float epilogue), so
// the reference path (HONE_DNNL=0) matches to the last bit; on oneDNN the epilogue runs as its
// post-ops: 1e-5 relative + 1e-6 absolute.
inline Tolerance fused_epilogue_tolerance() {
  return kernels::onednn::enabled() ? Tolerance{1e-5f, 1e-6f} : Tolerance{};
}

// Same number of float outputs, same shapes, every element within `tol` (NaN never passes); names
// the first five elements that are not, prefixed by `what`.
inline void expect_outputs_close(const std::vector<Tensor>& want, const std::vector<Tensor>& got, Tolerance tol,
                                 const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  ASSERT_FALSE(want.empty()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].shape(), got[i].shape()) << what << ": output " << i;
    ASSERT_EQ(want[i].dtype(), DType::kFloat32) << what << ": output " << i;
    ASSERT_EQ(got[i].dtype(), DType::kFloat32) << what << ": output " << i;
    const float* w = want[i].data<float>();
    const float* g = got[i].data<float>();
    int64_t bad = 0;
    for (int64_t j = 0; j < want[i].numel(); ++j) {
      const bool close = g[j] == w[j] || std::fabs(g[j] - w[j]) <= tol.rel * std::fabs(w[j]) + tol.abs;
      if (!close && bad++ < 5)
        ADD_FAILURE() << what << ": output " << i << " element " << j << ": " << g[j] << " vs " << w[j];
    }
    EXPECT_EQ(bad, 0) << what << ": output " << i;
  }
}

// Sessions of `want` and `got`, run on the inputs of each seed in turn (a seed given twice reruns
// the sessions, whose outputs come from the arena): outputs within `tol` ({} bit for bit).
inline void expect_models_agree(const ir::Model& want, const ir::Model& got, std::initializer_list<uint64_t> seeds,
                                Tolerance tol) {
  auto w = create_session(want), g = create_session(got);
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_TRUE(g.ok()) << g.status().message();
  for (uint64_t seed : seeds)
    expect_outputs_close(run_once(*w, seed), run_once(*g, seed), tol, "seed " + std::to_string(seed));
}

// Same number of outputs; every element of output i within `fraction` of want[i]'s range
// (max - min): for fused int8 ops against the float chain op by op, where a quantized byte may
// move one step.
inline void expect_within_range_fraction(const std::vector<Tensor>& want, const std::vector<Tensor>& got,
                                         float fraction, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    const float* w = want[i].data<float>();
    const float* g = got[i].data<float>();
    float lo = w[0], hi = w[0], worst = 0;
    for (int64_t j = 0; j < want[i].numel(); ++j) {
      lo = std::min(lo, w[j]);
      hi = std::max(hi, w[j]);
      worst = std::max(worst, std::fabs(g[j] - w[j]));
    }
    EXPECT_LE(worst, fraction * (hi - lo)) << what << " output " << i;
  }
}

}  // namespace hone::passes::int8_golden
