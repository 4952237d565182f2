// runtime/output_buffer_pool.h: a block dropped by its last holder is handed out again to the
// same slot for the same size, never while someone still holds it, never to another slot or for
// a size it does not fit; blocks outliving the pool are freed when dropped (ASan checks the
// memory side in `make asan`).
#include "runtime/output_buffer_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace hone::rt {
namespace {

TEST(OutputBufferPool, ADroppedBlockServesTheSameSlotAgain) {
  auto pool = OutputBufferPool::create(3);
  void* first = nullptr;
  {
    std::shared_ptr<void> a = pool->get(1, 1000);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.get()) % 64, 0u);
    std::memset(a.get(), 7, 1000);  // the whole size is writable
    first = a.get();
    EXPECT_EQ(pool->kept(), 0u);
  }
  EXPECT_EQ(pool->kept(), 1u);
  std::shared_ptr<void> again = pool->get(1, 990);  // rounds to the same 1024 bytes
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(pool->kept(), 0u);
}

TEST(OutputBufferPool, AHeldBlockIsNeverHandedOut) {
  auto pool = OutputBufferPool::create(1);
  std::shared_ptr<void> held = pool->get(0, 4096);
  std::shared_ptr<void> copy = held;  // two holders: the block stays out until both drop
  std::shared_ptr<void> other = pool->get(0, 4096);
  EXPECT_NE(other.get(), held.get());
  held.reset();
  EXPECT_EQ(pool->kept(), 0u);
  copy.reset();
  EXPECT_EQ(pool->kept(), 1u);
}

TEST(OutputBufferPool, OtherSlotsAndSizesGetTheirOwnBlocks) {
  auto pool = OutputBufferPool::create(2);
  void* p = nullptr;
  {
    auto a = pool->get(0, 4096);
    p = a.get();
  }
  {
    auto b = pool->get(1, 4096);  // another slot
    EXPECT_NE(b.get(), p);
  }
  {
    auto c = pool->get(0, 8192);  // larger than the kept block
    EXPECT_NE(c.get(), p);
  }
  // Slot 0 now keeps the 8192-byte block (the newest); a request under half its size gets a new one.
  auto d = pool->get(0, 1000);
  EXPECT_EQ(pool->kept(), 2u);  // slot 0's and slot 1's blocks, d is a fresh one
  d.reset();
  EXPECT_EQ(pool->kept(), 2u);  // d replaced slot 0's block
  auto e = pool->get(0, 1000);
  EXPECT_EQ(pool->kept(), 1u);  // d's block came back
}

TEST(OutputBufferPool, SlotsPastTheEndAreNeverKept) {
  auto pool = OutputBufferPool::create(1);
  { auto a = pool->get(SIZE_MAX, 128); }
  { auto b = pool->get(5, 128); }
  EXPECT_EQ(pool->kept(), 0u);
}

TEST(OutputBufferPool, BlocksOutliveThePool) {
  auto pool = OutputBufferPool::create(1);
  std::shared_ptr<void> a = pool->get(0, 256);
  { auto kept = pool->get(0, 256); }  // one block kept in the pool, freed with it
  pool.reset();
  std::memset(a.get(), 1, 256);  // still valid; freed (not given back) when dropped
  a.reset();
}

}  // namespace
}  // namespace hone::rt
