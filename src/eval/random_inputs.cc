#include "eval/random_inputs.h"

#include <random>

namespace hone::eval {

Result<Shape> resolve_input_shape(const IoInfo& in, const std::map<std::string, Shape>& overrides) {
  auto it = overrides.find(in.name);
  if (it != overrides.end()) {
    const Shape& s = it->second;
    if (in.has_shape) {
      if (s.size() != in.dims.size())
        return invalid_argument("--shape " + in.name + "=" + shape_to_string(s) + " has rank " + std::to_string(s.size()) +
                                " but the input is " + in.to_string());
      for (size_t i = 0; i < s.size(); ++i)
        if (in.dims[i] >= 0 && in.dims[i] != s[i])
          return invalid_argument("--shape " + in.name + "=" + shape_to_string(s) + " contradicts the declared " + in.to_string());
    }
    return s;
  }
  if (!in.has_shape) return invalid_argument("input '" + in.name + "' has no declared shape; give one with --shape " + in.name + "=...");
  Shape s;
  for (int64_t d : in.dims) s.push_back(d >= 0 ? d : 1);
  return s;
}

Result<Tensor> random_tensor(DType dtype, const Shape& shape, uint64_t seed) {
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dtype, shape));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  std::uniform_int_distribution<int> small(0, 9);
  const int64_t n = t.numel();
  switch (dtype) {
    case DType::kFloat32: for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(uni(rng)); break;
    case DType::kFloat64: for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = uni(rng); break;
    case DType::kFloat16: for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = float_to_half(static_cast<float>(uni(rng))); break;
    case DType::kBFloat16: for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(uni(rng))); break;
    case DType::kBool: for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = small(rng) & 1; break;
    case DType::kInt8: for (int64_t i = 0; i < n; ++i) t.data<int8_t>()[i] = static_cast<int8_t>(small(rng)); break;
    case DType::kUInt8: for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(small(rng)); break;
    case DType::kInt16: for (int64_t i = 0; i < n; ++i) t.data<int16_t>()[i] = static_cast<int16_t>(small(rng)); break;
    case DType::kUInt16: for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = static_cast<uint16_t>(small(rng)); break;
    case DType::kInt32: for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = small(rng); break;
    case DType::kUInt32: for (int64_t i = 0; i < n; ++i) t.data<uint32_t>()[i] = static_cast<uint32_t>(small(rng)); break;
    case DType::kInt64: for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = small(rng); break;
    case DType::kUInt64: for (int64_t i = 0; i < n; ++i) t.data<uint64_t>()[i] = static_cast<uint64_t>(small(rng)); break;
    default: return unsupported("cannot make random data of type " + std::string(dtype_name(dtype)));
  }
  return t;
}

Result<std::vector<Tensor>> random_inputs(const std::vector<IoInfo>& inputs, const std::map<std::string, Shape>& overrides,
                                          uint64_t seed) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    HONE_ASSIGN_OR_RETURN(Shape s, resolve_input_shape(inputs[i], overrides));
    DType dt = inputs[i].dtype == DType::kUndefined ? DType::kFloat32 : inputs[i].dtype;
    HONE_ASSIGN_OR_RETURN(Tensor t, random_tensor(dt, s, seed + i));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace hone::eval
