// Seeded random test data shared by the unit tests: values uniform in [-1, 1), the same for the
// same seed (std::mt19937 feeding std::uniform_real_distribution<float>, drawn in order).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "hone/tensor.hpp"

namespace hone::test_data {

inline std::vector<float> uniform_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// A float32 tensor of `shape` holding uniform_floats(its element count, seed).
inline Tensor uniform_tensor(Shape shape, uint32_t seed) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

}  // namespace hone::test_data
