// Helpers shared by op implementations: axes, broadcasting, reading shape-like inputs, and
// dispatch over element types.
#pragma once

#include <cstdint>
#include <vector>

#include "core/checked_math.h"
#include "runtime/kernel.h"

namespace hone::rt {

// axis in [-rank, rank) -> [0, rank); an error otherwise.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank);

// Numpy broadcasting of two shapes; an error when they are incompatible.
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b);
// Element strides that read `in` as if broadcast to `out` (0 along broadcast dims).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Row-major strides of a shape.
std::vector<int64_t> strides_of(const Shape& s);

// Values of an int32/int64 tensor (shape inputs, axes, pads ...).
Result<std::vector<int64_t>> read_ints(const Tensor& t);
// Values of any numeric tensor as double (scalars such as Clip's min/max, Pad's value).
Result<double> read_scalar(const Tensor& t);

// Calls f(T{}) with T the C++ type of `dtype`. float16/bfloat16 map to uint16_t storage, bool
// to bool (1 byte); strings are not dispatched.
template <class F>
Status dispatch_all(DType dtype, F&& f);
// Float types computed natively (float, double).
template <class F>
Status dispatch_float(DType dtype, F&& f);
// float, double, and every integer type (no bool, no half types).
template <class F>
Status dispatch_numeric(DType dtype, F&& f);

}  // namespace hone::rt

#include "runtime/ops/op_util_inl.h"
