// A zeroed, aligned byte buffer for packed weights that kernels stream (blockwise n-bit, u8 x s8 GEMM).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hone::kernels {

// Zeroed bytes, 64-byte aligned; from 2 MiB on, 2 MiB aligned and advised as transparent huge
// pages (MADV_HUGEPAGE): a 4096 x 4096 int4 matrix is 10 MiB, 2,560 4 KiB pages whose TLB
// misses the stream would otherwise take one per 64 cache lines.
class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  explicit HugePageBuffer(size_t bytes);
  HugePageBuffer(HugePageBuffer&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  HugePageBuffer& operator=(HugePageBuffer&& o) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;
  ~HugePageBuffer();
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hone::kernels
