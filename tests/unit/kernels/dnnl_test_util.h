// Helpers shared by the oneDNN bridge tests (dnnl_conv_test, dnnl_conv_winograd_test,
// dnnl_matmul_test): seeded uniform data and the relative tolerance they all compare with.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "../random_data.h"

namespace hone::kernels::onednn::test_util {

// n values uniform in [-1, 1), the same for the same seed.
inline std::vector<float> random_values(int64_t n, uint32_t seed) { return test_data::uniform_floats(n, seed); }

// max|got - want| <= 1e-4 * max|want| + 1e-5: oneDNN reorders the sums, so results are close, not equal.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  float scale = 0.0f, err = 0.0f;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    err = std::max(err, std::fabs(got[i] - want[i]));
  }
  EXPECT_LE(err, 1e-4f * scale + 1e-5f) << "max error " << err << " at scale " << scale;
}

}  // namespace hone::kernels::onednn::test_util
