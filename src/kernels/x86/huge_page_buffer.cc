// kernels/x86/huge_page_buffer.h (built without ISA flags).
#include "kernels/x86/huge_page_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace hone::kernels {

HugePageBuffer::HugePageBuffer(size_t bytes) {
  if (bytes == 0) return;
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  const size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (!p) throw std::bad_alloc();
  // Advice only: where THP is off (or "never") the pages stay 4 KiB and nothing else changes.
  if (align == kHuge) madvise(p, rounded, MADV_HUGEPAGE);
  std::memset(p, 0, rounded);
  data_ = static_cast<uint8_t*>(p);
  size_ = bytes;
}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

HugePageBuffer::~HugePageBuffer() { std::free(data_); }

}  // namespace hone::kernels
