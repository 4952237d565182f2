#include "runtime/ops/op_util.h"

namespace hone::rt {

Result<int64_t> normalize_axis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return runtime_error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return runtime_error("shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  auto own = strides_of(in);
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[i + off] = in[i] == 1 ? 0 : own[i];
  return st;
}

Result<std::vector<int64_t>> read_ints(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::kInt64) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int64_t>()[i];
  } else if (t.dtype() == DType::kInt32) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int32_t>()[i];
  } else {
    return runtime_error("expected an int32 or int64 tensor, got " + std::string(dtype_name(t.dtype())));
  }
  return v;
}

Result<double> read_scalar(const Tensor& t) {
  if (t.numel() < 1) return runtime_error("expected a scalar, got an empty tensor");
  double v = 0;
  Status s = dispatch_all(t.dtype(), [&](auto x) -> Status {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, uint16_t>) {
      uint16_t bits = t.data<uint16_t>()[0];
      v = t.dtype() == DType::kFloat16   ? half_to_float(bits)
          : t.dtype() == DType::kBFloat16 ? bfloat16_to_float(bits)
                                          : static_cast<double>(bits);
    } else {
      v = static_cast<double>(t.data<T>()[0]);
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return v;
}

}  // namespace hone::rt
