// Packing, dispatch and threading for kernels/x86/qgemm_u8s8.h (built without ISA flags).
#include "kernels/x86/qgemm_u8s8.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "core/cpu_features.h"

namespace hone::kernels::qgemm {

namespace {

constexpr int64_t kQuadBytes = kPanelCols * 4;

int64_t packed_offset(int64_t quads, int64_t k, int64_t c) {
  return ((c / kPanelCols * quads + k / 4) * kPanelCols + c % kPanelCols) * 4 + k % 4;
}

WeightsView view_of(const PackedWeights& p) {
  return {p.k, p.n, p.quads(), reinterpret_cast<const int8_t*>(p.data.data()), p.col_sum.data()};
}

// A run [begin, end) of work units shared by its owner, who takes from the front, and other
// threads, who take single units from the back: both ends in one atomic word (32 bits each).
class UnitRun {
 public:
  struct Taken {
    int64_t begin = 0, end = 0;
    int64_t rest_end = 0;  // take_front: where the run still went when taken (the owner's next units)
  };
  void reset(int64_t begin, int64_t end) { ends_.store(pack(begin, end), std::memory_order_relaxed); }
  // Up to n units from the front, but no more than half of what is left (at least one): the
  // run's last units go one at a time, where a thread done early can still take some.
  Taken take_front(int64_t n) {
    uint64_t cur = ends_.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t b = begin_of(cur), e = end_of(cur);
      if (b >= e) return {};
      const int64_t nb = b + std::max<int64_t>(1, std::min(n, (e - b) / 2));
      if (ends_.compare_exchange_weak(cur, pack(nb, e), std::memory_order_acq_rel)) return {b, nb, e};
    }
  }
  // One unit from the back.
  Taken take_back() {
    uint64_t cur = ends_.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t b = begin_of(cur), e = end_of(cur);
      if (b >= e) return {};
      if (ends_.compare_exchange_weak(cur, pack(b, e - 1), std::memory_order_acq_rel)) return {e - 1, e, 0};
    }
  }

 private:
  static uint64_t pack(int64_t b, int64_t e) { return static_cast<uint64_t>(b) | static_cast<uint64_t>(e) << 32; }
  static int64_t begin_of(uint64_t v) { return static_cast<int64_t>(v & 0xffffffffu); }
  static int64_t end_of(uint64_t v) { return static_cast<int64_t>(v >> 32); }
  alignas(64) std::atomic<uint64_t> ends_{0};  // a line of its own: the owners' CAS do not collide
};

}  // namespace

PackedWeights pack_weights(const int8_t* w, int64_t k, int64_t n) {
  PackedWeights p;
  p.k = k;
  p.n = n;
  const int64_t quads = p.quads();
  p.data = HugePageBuffer(static_cast<size_t>(p.panels() * quads * kQuadBytes));  // zeroed: the padding
  p.col_sum.assign(static_cast<size_t>(n), 0);
  auto* out = reinterpret_cast<int8_t*>(p.data.data());
  // Row by row, so w is read once in order; each row's bytes land 4 apart inside their panel.
  for (int64_t kk = 0; kk < k; ++kk) {
    const int8_t* row = w + kk * n;
    for (int64_t c = 0; c < n; ++c) {
      out[packed_offset(quads, kk, c)] = row[c];
      p.col_sum[static_cast<size_t>(c)] += row[c];
    }
  }
  return p;
}

int8_t packed_weight(const PackedWeights& p, int64_t k, int64_t c) {
  return reinterpret_cast<const int8_t*>(p.data.data())[packed_offset(p.quads(), k, c)];
}

std::vector<Variant> available_variants() {
  const CpuFeatures& f = cpu_features();
  std::vector<Variant> v = {{"scalar", &qgemm_u8s8_ref}};
  if (f.avx2) v.push_back({"avx2", &qgemm_u8s8_avx2});
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) v.push_back({"avx512vnni", &qgemm_u8s8_avx512vnni});
  return v;
}

const Variant& best_variant() {
  static const Variant best = available_variants().back();
  return best;
}

bool has_fast_variant() { return best_variant().fn != &qgemm_u8s8_ref; }

void qgemm_u8s8_with(const Variant& v, const PackedWeights& w, const uint8_t* a, int64_t lda, int64_t m,
                     const Epilogue& e, float* y, int64_t ldy, int threads, const OwnedPartWork* work) {
  if (m <= 0 || w.n <= 0) {
    if (work && work->between) work->between();
    return;
  }
  const WeightsView wv = view_of(w);
  // The kernels read a row's k in whole quads of 4 bytes. When k is not a multiple of 4 the last
  // quad would run past the row (past the buffer, for the last row): such an a is copied once
  // into rows of whole quads, zero-padded (the padding meets zero weights).
  std::vector<uint8_t> padded;
  if (w.k % 4 != 0) {
    const int64_t kq = wv.quads * 4;
    padded.assign(static_cast<size_t>(m * kq), 0);
    for (int64_t r = 0; r < m; ++r) std::copy(a + r * lda, a + r * lda + w.k, padded.data() + r * kq);
    a = padded.data();
    lda = kq;
  }
  // Work units: a column panel times a chunk of rows. Panels first: a thread that owns whole
  // panels streams its part of w once and keeps each panel in cache over all rows. Rows are split
  // too only when there are fewer panels than threads (a narrow w).
  constexpr int64_t kTileRows = 6;  // the AVX-512 kernel's row tile: chunks are multiples of it
  const int64_t panels = w.panels(), tiles = (m + kTileRows - 1) / kTileRows;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(tiles, (threads + panels - 1) / panels));
  const int64_t units = panels * chunks;
  // Below about 256 K multiply-adds per thread, waking the team costs more than it saves.
  const int64_t macs = m * w.n * std::max<int64_t>(w.k, 1);
  const int team = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({threads, units, macs >> 18})));
  // Units [u0, u1) of one thread. A unit is one column panel times one chunk of rows; its part
  // of y is the rectangle `work` sees.
  auto rows_of = [&](int64_t c, int64_t* r0, int64_t* r1) {
    *r0 = std::min(m, tiles * c / chunks * kTileRows);
    *r1 = std::min(m, tiles * (c + 1) / chunks * kTileRows);
  };
  auto col = [&](int64_t p) { return std::min(w.n, p * kPanelCols); };
  // The products of units [u0, u1), each group of kPanelsPerPart panels (or each unit, when rows
  // are split) followed by `after` (when given) on its part while the part is still in L2: 128
  // rows x 256 columns are 128 KiB, where all of a thread's output at once (1.5 MiB for BERT's
  // 128 x 3072 on one thread) came back from L3. Four panels, not one: a call per row segment of
  // 64 floats cost more in calls than the cache saved (linear1 of bert_base's FFN, 1 thread:
  // one panel 1.04x the time of all at once, four 0.99x, medians of interleaved runs).
  // prefetch_end: where the thread goes on after u1, for the kernel's prefetch of the next panel.
  constexpr int64_t kPanelsPerPart = 4;
  auto products = [&](int thread, int64_t u0, int64_t u1, const OwnedPartWork::Part* after, int64_t prefetch_end) {
    if (u0 >= u1) return;
    if (chunks == 1) {
      WeightsView own = wv;
      own.prefetch_end = std::max(u1, prefetch_end);
      if (!after) {
        v.fn(own, a, lda, e, y, ldy, 0, m, u0, u1);
        return;
      }
      // Called panel group by panel group, the kernel still prefetches the group after.
      for (int64_t u = u0; u < u1; u += kPanelsPerPart) {
        const int64_t ue = std::min(u1, u + kPanelsPerPart);
        v.fn(own, a, lda, e, y, ldy, 0, m, u, ue);
        (*after)(thread, 0, m, col(u), col(ue));
      }
      return;
    }
    for (int64_t u = u0; u < u1; ++u) {
      int64_t r0, r1;
      rows_of(u % chunks, &r0, &r1);
      if (r0 >= r1) continue;
      v.fn(wv, a, lda, e, y, ldy, r0, r1, u / chunks, u / chunks + 1);
      if (after) (*after)(thread, r0, r1, col(u / chunks), col(u / chunks + 1));
    }
  };
  // `f` on the parts of units [u0, u1): one rectangle when they span all rows (longer row
  // segments for f's loops).
  auto parts = [&](const OwnedPartWork::Part& f, int thread, int64_t u0, int64_t u1) {
    if (!f) return;
    if (chunks == 1) {
      if (u0 < u1) f(thread, 0, m, col(u0), col(u1));
      return;
    }
    for (int64_t u = u0; u < u1; ++u) {
      int64_t r0, r1;
      rows_of(u % chunks, &r0, &r1);
      if (r0 < r1) f(thread, r0, r1, col(u / chunks), col(u / chunks + 1));
    }
  };
  const OwnedPartWork::Part* after = work && work->after_product ? &work->after_product : nullptr;
  if (team <= 1) {
    products(0, 0, units, after, 0);
    if (work) {
      if (work->between) work->between();
      parts(work->after_between, 0, 0, units);
    }
    return;
  }
  // Each thread owns an equal run of units and works through it from the front, a panel group at
  // a time; a thread that is done takes single units from the back of the others' runs. Split
  // statically, a core slowed for a while (another guest on this 2-vCPU VM, an interrupt) left
  // the other waiting at the barrier: libgomp's spin in this function was ~3 % of bert_base's
  // profile samples. Which thread computes a unit changes nothing in y.
  std::vector<UnitRun> runs(static_cast<size_t>(team));
  for (int t = 0; t < team; ++t) runs[static_cast<size_t>(t)].reset(units * t / team, units * (t + 1) / team);
  std::vector<int> owner(work ? static_cast<size_t>(units) : 0);
  const int64_t grain = chunks == 1 ? kPanelsPerPart : 1;
#pragma omp parallel num_threads(team)
  {
    // Runs are taken by index modulo `team`: should OpenMP start fewer threads than asked, the
    // runs of the missing ones are all taken from the back.
    const int t = omp_get_thread_num();
    auto run_units = [&](int64_t u0, int64_t u1, int64_t prefetch_end) {
      products(t, u0, u1, after, prefetch_end);
      if (work)
        for (int64_t u = u0; u < u1; ++u) owner[static_cast<size_t>(u)] = t;
    };
    for (UnitRun::Taken r; (r = runs[static_cast<size_t>(t)].take_front(grain)).begin < r.end;)
      run_units(r.begin, r.end, r.rest_end);
    for (int k = 1; k < team; ++k)
      for (UnitRun::Taken r; (r = runs[static_cast<size_t>((t + k) % team)].take_back()).begin < r.end;)
        run_units(r.begin, r.end, 0);
    if (work) {
#pragma omp barrier
#pragma omp single
      if (work->between) work->between();  // the implied barrier after `single` holds the others
      // after_between on this thread's units (its part of y is in its cache), run by run.
      for (int64_t u = 0; u < units;) {
        int64_t e = u + 1;
        while (e < units && owner[static_cast<size_t>(e)] == owner[static_cast<size_t>(u)]) ++e;
        if (owner[static_cast<size_t>(u)] == t) parts(work->after_between, t, u, e);
        u = e;
      }
    }
  }
}

void qgemm_u8s8(const PackedWeights& w, const uint8_t* a, int64_t lda, int64_t m, const Epilogue& e, float* y,
                int64_t ldy, int threads, const OwnedPartWork* work) {
  qgemm_u8s8_with(best_variant(), w, a, lda, m, e, y, ldy, threads, work);
}

}  // namespace hone::kernels::qgemm
