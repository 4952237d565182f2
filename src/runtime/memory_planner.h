// Places intermediate buffers in one arena: buffers whose lifetimes overlap get disjoint byte
// ranges, the others may share space. Lifetimes are step indices of a GraphExecutor's step list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace hone::rt {

constexpr size_t kArenaAlignment = 64;  // what Tensor::create guarantees, so SIMD kernels see no difference

// One buffer to place: `bytes` long, in use from step `first` through step `last` (inclusive).
struct BufferLifetime {
  size_t bytes = 0;
  int64_t first = 0;
  int64_t last = 0;
};

struct ArenaLayout {
  std::vector<size_t> offsets;  // per request, multiples of kArenaAlignment
  size_t arena_bytes = 0;
};

// Greedy by size with best fit (TFLite's and ONNX Runtime's planners): the largest buffers are
// placed first, each in the smallest gap left between the already placed buffers it overlaps in
// time, or past the last of them. Two buffers live at the same step never overlap in bytes.
ArenaLayout plan_arena(const std::vector<BufferLifetime>& buffers);

// A 64-byte aligned block that only grows. Tensors placed in it hold `owner()`, so a tensor that
// outlives a re-allocation keeps its old block alive instead of dangling.
class Arena {
 public:
  // Makes the block at least `bytes` long; the contents are not preserved. False when out of memory.
  bool reserve(size_t bytes);
  uint8_t* data() const { return static_cast<uint8_t*>(block_.get()); }
  size_t capacity() const { return capacity_; }
  bool contains(const void* p) const {
    auto* b = static_cast<const uint8_t*>(p);
    return block_ && b >= data() && b < data() + capacity_;
  }
  const std::shared_ptr<void>& owner() const { return block_; }

 private:
  std::shared_ptr<void> block_;
  size_t capacity_ = 0;
};

}  // namespace hone::rt
