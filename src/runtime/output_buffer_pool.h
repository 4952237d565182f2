// Heap buffers for a graph's outputs, handed back when their last tensor drops and reused by the
// next run.
//
// A graph output outlives its run in the caller's hands, so it gets fresh heap memory every run.
// A caller that drops each run's outputs before the next one (a serving loop, a benchmark) then
// has the allocator free and find the same large block run after run: through glibc, 64-byte
// aligned, a Session of ResNet-50's 1x1 256->64 int8 conv (a 200 KB output) spent ~3 % of its
// main thread there (malloc, free, memalign and fastbin consolidation in `perf`), and an output
// past glibc's mmap threshold (32 MiB at most) was mapped fresh every run: a page fault per 4 KiB
// (a Relu on 64 MiB, 2 threads: 37 ms a run, 4.9 ms with the pool, the same peak RSS). The pool keeps
// the last buffer given back for each value slot and hands it out again when that slot next asks
// for at most as many bytes (and not far fewer). One buffer per slot: it never holds more than one
// run's worth of outputs. Buffers are handed out uninitialized (for kernels that write every
// element). Thread-safe: a tensor may drop on any thread, after the pool's executor is gone too.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace hone::rt {

class OutputBufferPool : public std::enable_shared_from_this<OutputBufferPool> {
 public:
  static std::shared_ptr<OutputBufferPool> create(size_t slots);
  ~OutputBufferPool();
  OutputBufferPool(const OutputBufferPool&) = delete;
  OutputBufferPool& operator=(const OutputBufferPool&) = delete;

  // At least `bytes` (> 0) bytes, 64-byte aligned, for value slot `slot`: when the last copy of
  // the returned pointer drops, the block goes back to this pool (or to the heap once the pool is
  // gone). Null when out of memory.
  std::shared_ptr<void> get(size_t slot, size_t bytes);

  // Blocks kept now (for tests).
  size_t kept() const;

 private:
  struct Block {
    void* data = nullptr;
    size_t capacity = 0;
  };
  explicit OutputBufferPool(size_t slots) : kept_(slots) {}
  void give_back(size_t slot, void* data, size_t capacity);

  mutable std::mutex mutex_;
  std::vector<Block> kept_;  // per slot; data null when none
};

}  // namespace hone::rt
