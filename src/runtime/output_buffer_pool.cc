#include "runtime/output_buffer_pool.h"

#include <cstdlib>

namespace hone::rt {

std::shared_ptr<OutputBufferPool> OutputBufferPool::create(size_t slots) {
  return std::shared_ptr<OutputBufferPool>(new OutputBufferPool(slots));
}

OutputBufferPool::~OutputBufferPool() {
  for (Block& b : kept_) std::free(b.data);
}

std::shared_ptr<void> OutputBufferPool::get(size_t slot, size_t bytes) {
  const size_t want = (bytes + 63) / 64 * 64;
  Block block;
  if (slot < kept_.size()) {
    std::lock_guard<std::mutex> lock(mutex_);
    Block& k = kept_[slot];
    // Not a block more than twice the size: a slot whose shape shrank should not pin a large one.
    if (k.data && k.capacity >= want && k.capacity / 2 <= want) {
      block = k;
      k = Block{};
    }
  }
  if (!block.data) {
    block.data = std::aligned_alloc(64, want);
    block.capacity = want;
    if (!block.data) return nullptr;
  }
  std::weak_ptr<OutputBufferPool> pool = weak_from_this();
  const size_t capacity = block.capacity;
  return std::shared_ptr<void>(block.data, [pool, slot, capacity](void* p) {
    if (auto alive = pool.lock())
      alive->give_back(slot, p, capacity);
    else
      std::free(p);
  });
}

void OutputBufferPool::give_back(size_t slot, void* data, size_t capacity) {
  void* drop = data;
  if (slot < kept_.size()) {
    std::lock_guard<std::mutex> lock(mutex_);
    Block& k = kept_[slot];
    drop = k.data;  // the newest block stays: the next run most likely asks for its size
    k = Block{data, capacity};
  }
  std::free(drop);
}

size_t OutputBufferPool::kept() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const Block& b : kept_) n += b.data != nullptr;
  return n;
}

}  // namespace hone::rt
