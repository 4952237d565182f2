// Element types. The numeric values are ONNX's TensorProto.DataType so that conversion at the
// file boundary is a range check, not a table. Every per-type fact lives in one trait table
// (dtype_info) so that adding a type touches one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace hone {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
};

struct DTypeInfo {
  DType dtype;
  std::string_view name;  // ONNX spelling in lower case: "float", "int64", "bfloat16" ...
  size_t size;            // bytes per element; 0 for string (stored out of line)
  bool is_float;          // float16/bfloat16/float/double
  bool is_integer;        // signed or unsigned integers (not bool)
  bool is_signed;
};

// The trait table entry for a dtype; kUndefined's entry for anything unknown.
const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
inline size_t dtype_size(DType t) { return dtype_info(t).size; }
// Maps an ONNX data_type integer to a DType hone supports; nullopt for anything else.
std::optional<DType> dtype_from_onnx(int32_t v);
std::optional<DType> dtype_from_name(std::string_view name);

// Half-precision conversions (round to nearest even). Plain C++: the reference path.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bfloat16_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bfloat16(float f);

}  // namespace hone
