// Tensor: a dtype, a shape and a buffer. Copies share the buffer (a Tensor is a handle, like a
// shared_ptr); clone() makes a deep copy. Buffers are 64-byte aligned for SIMD kernels.
// String tensors keep their elements out of line in a vector<string>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hone/dtype.hpp"
#include "hone/status.hpp"

namespace hone {

using Shape = std::vector<int64_t>;

// Number of elements of a shape, or nullopt-like failure when a dim is negative or the product
// overflows. Every element count computed from untrusted data goes through this.
Result<int64_t> shape_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);  // "1x3x224x224"; "scalar" for rank 0

class Tensor {
 public:
  Tensor() = default;

  // Allocates a zero-filled tensor; fails on a negative dim, an overflowing size or no memory.
  static Result<Tensor> create(DType dtype, Shape shape);
  // Wraps memory that someone else owns and keeps alive through `owner` (mmap, arena, ...).
  static Tensor view(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner);

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <class T> T* data() { return static_cast<T*>(data_); }
  template <class T> const T* data() const { return static_cast<const T*>(data_); }
  std::vector<std::string>& strings() { return *strings_; }
  const std::vector<std::string>& strings() const { return *strings_; }

  // Same buffer, new shape with the same element count.
  Result<Tensor> reshaped(Shape shape) const;
  Tensor clone() const;
  // True when dtype, shape and bytes (or strings) are identical.
  bool bit_equal(const Tensor& other) const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
  std::shared_ptr<std::vector<std::string>> strings_;
};

}  // namespace hone
