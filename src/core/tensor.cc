#include "hone/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/checked_math.h"

namespace hone {

Result<int64_t> shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return invalid_model("negative dimension " + std::to_string(d) + " in shape " + shape_to_string(shape));
    auto p = checked_mul(n, d);
    if (!p) return invalid_model("element count of shape " + shape_to_string(shape) + " overflows 64 bits");
    n = *p;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

Result<Tensor> Tensor::create(DType dtype, Shape shape) {
  if (dtype == DType::kUndefined) return invalid_argument("tensor of undefined dtype");
  HONE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  if (dtype == DType::kString) {
    try {
      t.strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(n));
    } catch (const std::bad_alloc&) {
      return out_of_memory("cannot allocate " + std::to_string(n) + " strings");
    }
    return t;
  }
  auto bytes = checked_mul(n, static_cast<int64_t>(dtype_size(dtype)));
  if (!bytes || *bytes > (int64_t{1} << 46))  // 64 TiB: far past any machine, so no size_t games
    return out_of_memory("tensor of shape " + shape_to_string(t.shape_) + " is too large");
  size_t alloc = (static_cast<size_t>(*bytes) + 63) / 64 * 64;
  if (alloc == 0) alloc = 64;
  void* p = std::aligned_alloc(64, alloc);
  if (!p) return out_of_memory("cannot allocate " + std::to_string(*bytes) + " bytes for a tensor");
  std::memset(p, 0, alloc);
  t.owner_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  t.data_ = p;
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = 1;
  for (int64_t d : shape) t.numel_ *= d;  // callers pass shapes they already validated
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

Result<Tensor> Tensor::reshaped(Shape shape) const {
  HONE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape));
  if (n != numel_)
    return runtime_error("cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  auto r = Tensor::create(dtype_, shape_);
  if (!r.ok()) throw std::bad_alloc();
  Tensor t = std::move(r).value();
  if (dtype_ == DType::kString) {
    *t.strings_ = *strings_;
  } else if (nbytes()) {
    std::memcpy(t.data_, data_, nbytes());
  }
  return t;
}

bool Tensor::bit_equal(const Tensor& o) const {
  if (dtype_ != o.dtype_ || shape_ != o.shape_) return false;
  if (dtype_ == DType::kString) return *strings_ == *o.strings_;
  return nbytes() == 0 || std::memcmp(data_, o.data_, nbytes()) == 0;
}

}  // namespace hone
