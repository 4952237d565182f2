// float16 and bfloat16 have no native arithmetic in the reference path: ops widen such tensors to
// float, compute in float, and round the results back (to nearest even).
#pragma once

#include <vector>

#include "hone/tensor.hpp"

namespace hone::rt {

inline bool is_half_type(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

// The elements of a float16/bfloat16 tensor as floats.
inline std::vector<float> widen_to_float(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const uint16_t* src = t.data<uint16_t>();
  const bool bf16 = t.dtype() == DType::kBFloat16;
  for (size_t i = 0; i < out.size(); ++i) out[i] = bf16 ? bfloat16_to_float(src[i]) : half_to_float(src[i]);
  return out;
}

// Stores dst.numel() floats from src into the float16/bfloat16 tensor dst.
inline void narrow_from_float(const float* src, Tensor& dst) {
  uint16_t* out = dst.data<uint16_t>();
  const bool bf16 = dst.dtype() == DType::kBFloat16;
  for (int64_t i = 0; i < dst.numel(); ++i) out[i] = bf16 ? float_to_bfloat16(src[i]) : float_to_half(src[i]);
}

}  // namespace hone::rt
