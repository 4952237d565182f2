#pragma once

#include <string>

namespace hone::rt {

template <class F>
Status dispatch_float(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    default: return unsupported("element type " + std::string(dtype_name(dtype)) + " is not supported here");
  }
}

template <class F>
Status dispatch_numeric(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kInt8: return f(int8_t{});
    case DType::kInt16: return f(int16_t{});
    case DType::kInt32: return f(int32_t{});
    case DType::kInt64: return f(int64_t{});
    case DType::kUInt8: return f(uint8_t{});
    case DType::kUInt16: return f(uint16_t{});
    case DType::kUInt32: return f(uint32_t{});
    case DType::kUInt64: return f(uint64_t{});
    default: return unsupported("element type " + std::string(dtype_name(dtype)) + " is not supported here");
  }
}

template <class F>
Status dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kBool: return f(bool{});
    case DType::kFloat16:
    case DType::kBFloat16: return f(uint16_t{});
    case DType::kComplex64: return f(uint64_t{});
    default: return dispatch_numeric(dtype, std::forward<F>(f));
  }
}

}  // namespace hone::rt
