// Helpers for the data-movement ops (shape, concat/split, gather/scatter, slice/pad, transpose,
// resize, topk): they move elements without looking at their values, and read shape-like
// arguments that moved from attributes to inputs across opsets.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ops/op_util.h"

namespace hone::rt {

// A 16-byte element (complex128) moved as a unit.
struct Bytes16 {
  uint64_t lo, hi;
};

// Calls f(T{}) with T an unsigned type of the element's size, or std::string for strings: ops
// that only move elements need one instantiation per size, not per dtype.
template <class F>
Status dispatch_by_size(DType dtype, F&& f) {
  if (dtype == DType::kString) return f(std::string{});
  switch (dtype_size(dtype)) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    case 16: return f(Bytes16{});
    default: return unsupported("element type " + std::string(dtype_name(dtype)) + " is not supported here");
  }
}

// Element pointer of a tensor, strings included.
template <class T>
T* elements(Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) return t.strings().data();
  else return t.data<T>();
}
template <class T>
const T* elements(const Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) return t.strings().data();
  else return t.data<T>();
}

// The values of optional int input i; nullopt when it is omitted.
inline Result<std::optional<std::vector<int64_t>>> optional_ints_input(const KernelContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  if (!t) return std::optional<std::vector<int64_t>>();
  auto v = read_ints(*t);
  if (!v.ok()) return ctx.error("input " + std::to_string(i) + ": " + v.status().message());
  return std::optional<std::vector<int64_t>>(std::move(v).value());
}

// A list given by input `input_index` (when present) or else by attribute `attr` (when set);
// nullopt when neither is given. Opsets moved many such lists from attributes to inputs.
inline Result<std::optional<std::vector<int64_t>>> ints_from_input_or_attr(const KernelContext& ctx, size_t input_index,
                                                                           const std::string& attr) {
  if (ctx.input(input_index)) return optional_ints_input(ctx, input_index);
  if (ctx.node().attr(attr)) return std::optional<std::vector<int64_t>>(ctx.node().attr_ints(attr));
  return std::optional<std::vector<int64_t>>();
}

// The input tensor i, or an error naming the node when it is missing.
inline Result<const Tensor*> required_input(const KernelContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  if (!t) return ctx.error("input " + std::to_string(i) + " is required");
  return t;
}

// dst (contiguous, `shape`) = the elements of src at src_offset + sum(index[d] * src_strides[d]).
// Serves Expand (stride 0 on broadcast dims), Slice (step strides) and Transpose (permuted
// strides). Adjacent dims that are contiguous in src are merged first so that the inner loop
// runs as long as possible.
template <class T>
void strided_copy(const T* src, int64_t src_offset, const Shape& shape, const std::vector<int64_t>& src_strides, T* dst) {
  Shape dims;
  std::vector<int64_t> strides;
  int64_t numel = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    numel *= shape[d];
    if (shape[d] == 1) continue;
    if (!dims.empty() && strides.back() == src_strides[d] * shape[d]) {
      dims.back() *= shape[d];
      strides.back() = src_strides[d];
    } else {
      dims.push_back(shape[d]);
      strides.push_back(src_strides[d]);
    }
  }
  if (numel == 0) return;
  if (dims.empty()) {
    dst[0] = src[src_offset];
    return;
  }
  const int64_t inner = dims.back(), inner_stride = strides.back();
  const int64_t rows = numel / inner;
  const int64_t outer_rank = static_cast<int64_t>(dims.size()) - 1;
#pragma omp parallel for if (numel > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = src_offset, rem = r;
    for (int64_t d = outer_rank - 1; d >= 0; --d) {
      off += (rem % dims[static_cast<size_t>(d)]) * strides[static_cast<size_t>(d)];
      rem /= dims[static_cast<size_t>(d)];
    }
    const T* in = src + off;
    T* out = dst + r * inner;
    if (inner_stride == 1) {
      std::copy(in, in + inner, out);
    } else {
      for (int64_t j = 0; j < inner; ++j) out[j] = in[j * inner_stride];
    }
  }
}

// Product of dims [from, to) of a shape (callers pass shapes of existing tensors: no overflow).
inline int64_t dims_product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

}  // namespace hone::rt
