#include "hone/dtype.hpp"

#include <array>
#include <cmath>

namespace hone {
namespace {

// Indexed by the ONNX data_type value. Order matters: entry i describes DType(i).
constexpr std::array<DTypeInfo, 17> kDTypes = {{
    {DType::kUndefined, "undefined", 0, false, false, false},
    {DType::kFloat32, "float", 4, true, false, true},
    {DType::kUInt8, "uint8", 1, false, true, false},
    {DType::kInt8, "int8", 1, false, true, true},
    {DType::kUInt16, "uint16", 2, false, true, false},
    {DType::kInt16, "int16", 2, false, true, true},
    {DType::kInt32, "int32", 4, false, true, true},
    {DType::kInt64, "int64", 8, false, true, true},
    {DType::kString, "string", 0, false, false, false},
    {DType::kBool, "bool", 1, false, false, false},
    {DType::kFloat16, "float16", 2, true, false, true},
    {DType::kFloat64, "double", 8, true, false, true},
    {DType::kUInt32, "uint32", 4, false, true, false},
    {DType::kUInt64, "uint64", 8, false, true, false},
    {DType::kComplex64, "complex64", 8, false, false, true},
    {DType::kComplex128, "complex128", 16, false, false, true},
    {DType::kBFloat16, "bfloat16", 2, true, false, true},
}};

static_assert(kDTypes[16].dtype == DType::kBFloat16, "trait table order must follow the enum");

}  // namespace

const DTypeInfo& dtype_info(DType t) {
  auto i = static_cast<size_t>(t);
  return i < kDTypes.size() ? kDTypes[i] : kDTypes[0];
}

std::optional<DType> dtype_from_onnx(int32_t v) {
  if (v <= 0 || v >= static_cast<int32_t>(kDTypes.size())) return std::nullopt;
  return static_cast<DType>(v);
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& d : kDTypes)
    if (d.dtype != DType::kUndefined && d.name == name) return d.dtype;
  if (name == "float32") return DType::kFloat32;
  if (name == "float64") return DType::kFloat64;
  return std::nullopt;
}

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal half: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to inf
  if (absx < 0x38800000u) {  // subnormal or zero in half
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t e = absx >> 23;
    uint32_t m = (absx & 0x7fffff) | 0x800000;  // with the implicit bit
    uint32_t shift = 126 - e;                     // half subnormals count units of 2^-24
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) ++r;  // round to nearest even
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = absx + 0xc8000fffu + ((absx >> 13) & 1);  // rebias 127->15 and round to nearest even
  return static_cast<uint16_t>(sign | (r >> 13));
}

uint16_t float_to_bfloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace hone
