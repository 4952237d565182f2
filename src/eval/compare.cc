#include "eval/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hone::eval {

double element_as_double(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32: return t.data<float>()[i];
    case DType::kFloat64: return t.data<double>()[i];
    case DType::kFloat16: return half_to_float(t.data<uint16_t>()[i]);
    case DType::kBFloat16: return bfloat16_to_float(t.data<uint16_t>()[i]);
    case DType::kInt8: return t.data<int8_t>()[i];
    case DType::kInt16: return t.data<int16_t>()[i];
    case DType::kInt32: return t.data<int32_t>()[i];
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kUInt8: return t.data<uint8_t>()[i];
    case DType::kUInt16: return t.data<uint16_t>()[i];
    case DType::kUInt32: return t.data<uint32_t>()[i];
    case DType::kUInt64: return static_cast<double>(t.data<uint64_t>()[i]);
    case DType::kBool: return t.data<uint8_t>()[i];
    default: return 0;
  }
}

Comparison compare_tensors(const Tensor& a, const Tensor& b) {
  Comparison c;
  if (a.shape() != b.shape()) {
    c.comparable = false;
    c.why = "shape " + shape_to_string(a.shape()) + " vs " + shape_to_string(b.shape());
    return c;
  }
  if (a.dtype() == DType::kString || b.dtype() == DType::kString) {
    c.comparable = a.dtype() == b.dtype();
    if (!c.comparable) c.why = "dtype differs";
    else if (a.strings() != b.strings()) c.max_abs_error = std::numeric_limits<double>::infinity();
    return c;
  }
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = element_as_double(a, i), y = element_as_double(b, i);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) c.nan_mismatch = true;
      continue;
    }
    if (x == y) {  // also equal infinities
      c.max_abs_ref = std::max(c.max_abs_ref, std::isinf(y) ? 0.0 : std::fabs(y));
      continue;
    }
    c.max_abs_error = std::max(c.max_abs_error, std::fabs(x - y));
    c.max_abs_ref = std::max(c.max_abs_ref, std::fabs(y));
  }
  return c;
}

TensorSummary summarize(const Tensor& t) {
  TensorSummary s;
  if (t.dtype() == DType::kString || t.numel() == 0) return s;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -s.min;
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = element_as_double(t, i);
    if (std::isnan(v)) {
      ++s.nan_count;
      continue;
    }
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    sum += v;
    ++n;
  }
  s.mean = n ? sum / static_cast<double>(n) : 0;
  if (!n) s.min = s.max = 0;
  return s;
}

}  // namespace hone::eval
