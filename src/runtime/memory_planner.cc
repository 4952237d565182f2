#include "runtime/memory_planner.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

namespace hone::rt {

namespace {
size_t align_up(size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }
}  // namespace

ArenaLayout plan_arena(const std::vector<BufferLifetime>& buffers) {
  ArenaLayout layout;
  layout.offsets.assign(buffers.size(), 0);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Largest first; ties by first use so that the layout does not depend on the sort's stability.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (buffers[a].bytes != buffers[b].bytes) return buffers[a].bytes > buffers[b].bytes;
    return buffers[a].first < buffers[b].first;
  });
  struct Placed {
    size_t offset, end;
  };
  std::vector<size_t> placed;  // indices into buffers, in placement order
  std::vector<Placed> overlapping;
  for (size_t i : order) {
    const BufferLifetime& b = buffers[i];
    const size_t size = align_up(b.bytes);
    overlapping.clear();
    for (size_t j : placed)
      if (buffers[j].first <= b.last && b.first <= buffers[j].last)
        overlapping.push_back({layout.offsets[j], layout.offsets[j] + align_up(buffers[j].bytes)});
    std::sort(overlapping.begin(), overlapping.end(),
              [](const Placed& x, const Placed& y) { return x.offset < y.offset; });
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
    for (const Placed& p : overlapping) {
      if (p.offset > cursor && p.offset - cursor >= size && p.offset - cursor < best_gap) {
        best = cursor;
        best_gap = p.offset - cursor;
      }
      cursor = std::max(cursor, p.end);
    }
    layout.offsets[i] = best != SIZE_MAX ? best : cursor;
    layout.arena_bytes = std::max(layout.arena_bytes, layout.offsets[i] + size);
    placed.push_back(i);
  }
  return layout;
}

bool Arena::reserve(size_t bytes) {
  if (bytes <= capacity_) return true;
  const size_t size = align_up(bytes);
  void* p = std::aligned_alloc(kArenaAlignment, size);
  if (!p) return false;
  block_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  capacity_ = size;
  return true;
}

}  // namespace hone::rt
