#include "kernels/ref/gemm_ref.h"

#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

namespace hone::kernels::ref {
namespace {

// Signed integers are multiplied and summed as their unsigned counterparts: overflow then wraps
// (well defined) instead of being undefined behaviour.
template <class T>
struct ArithOf {
  using type = T;
};
template <>
struct ArithOf<int32_t> {
  using type = uint32_t;
};
template <>
struct ArithOf<int64_t> {
  using type = uint64_t;
};
template <class T>
using Arith = typename ArithOf<T>::type;

// A tile of C (kTileM x kTileN) is accumulated in a private buffer while K is walked in panels of
// kPanelK rows of B, each copied contiguously first so that the inner loop streams both the
// accumulator row and the B panel row whatever the transposition. The B panel (128 KiB for float)
// stays in L2; the accumulator tile (64 KiB) likewise.
constexpr int64_t kTileM = 64;
constexpr int64_t kTileN = 256;
constexpr int64_t kPanelK = 128;

template <class T>
struct GemmArgs {
  bool trans_a, trans_b;
  int64_t m, n, k;
  T alpha;
  const T* a;
  int64_t lda;
  const T* b;
  int64_t ldb;
  T beta;
  T* c;
  int64_t ldc;
};

template <class T>
void compute_tile(const GemmArgs<T>& g, int64_t i0, int64_t j0, std::vector<Arith<T>>& panel,
                  std::vector<Arith<T>>& acc) {
  using U = Arith<T>;
  const int64_t i1 = std::min(g.m, i0 + kTileM), j1 = std::min(g.n, j0 + kTileN);
  const int64_t rows = i1 - i0, cols = j1 - j0;
  std::fill(acc.begin(), acc.begin() + rows * cols, U{});
  for (int64_t p0 = 0; p0 < g.k; p0 += kPanelK) {
    const int64_t p1 = std::min(g.k, p0 + kPanelK);
    for (int64_t p = p0; p < p1; ++p) {
      U* dst = &panel[static_cast<size_t>((p - p0) * cols)];
      if (g.trans_b) {
        for (int64_t j = j0; j < j1; ++j) dst[j - j0] = static_cast<U>(g.b[j * g.ldb + p]);
      } else {
        const T* src = g.b + p * g.ldb;
        for (int64_t j = j0; j < j1; ++j) dst[j - j0] = static_cast<U>(src[j]);
      }
    }
    for (int64_t i = i0; i < i1; ++i) {
      U* acc_row = &acc[static_cast<size_t>((i - i0) * cols)];
      for (int64_t p = p0; p < p1; ++p) {
        const U a_ip = static_cast<U>(g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p]);
        const U* b_row = &panel[static_cast<size_t>((p - p0) * cols)];
        for (int64_t j = 0; j < cols; ++j) acc_row[j] += a_ip * b_row[j];
      }
    }
  }
  const U alpha = static_cast<U>(g.alpha), beta = static_cast<U>(g.beta);
  const bool read_c = g.beta != T{};
  for (int64_t i = i0; i < i1; ++i) {
    const U* acc_row = &acc[static_cast<size_t>((i - i0) * cols)];
    T* c_row = g.c + i * g.ldc;
    for (int64_t j = j0; j < j1; ++j) {
      U v = alpha * acc_row[j - j0];
      if (read_c) v += beta * static_cast<U>(c_row[j]);
      c_row[j] = static_cast<T>(v);
    }
  }
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc, int threads) {
  if (m <= 0 || n <= 0) return;
  const GemmArgs<T> g{trans_a, trans_b, m, n, std::max<int64_t>(k, 0), alpha, a, lda, b, ldb, beta, c, ldc};
  const int64_t tiles_m = (m + kTileM - 1) / kTileM, tiles_n = (n + kTileN - 1) / kTileN;
  // Below ~256K multiply-adds the thread start-up costs more than it saves.
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(std::max<int64_t>(k, 1));
  const bool parallel = threads != 1 && tiles_m * tiles_n > 1 && work > double(1 << 18);
  const int team = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel if (parallel) num_threads(team)
  {
    std::vector<Arith<T>> panel(static_cast<size_t>(kPanelK * std::min(n, kTileN)));
    std::vector<Arith<T>> acc(static_cast<size_t>(std::min(m, kTileM) * std::min(n, kTileN)));
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t tm = 0; tm < tiles_m; ++tm)
      for (int64_t tn = 0; tn < tiles_n; ++tn) compute_tile(g, tm * kTileM, tn * kTileN, panel, acc);
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t, int);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t, int);
template void gemm<int32_t>(bool, bool, int64_t, int64_t, int64_t, int32_t, const int32_t*, int64_t, const int32_t*,
                            int64_t, int32_t, int32_t*, int64_t, int);
template void gemm<int64_t>(bool, bool, int64_t, int64_t, int64_t, int64_t, const int64_t*, int64_t, const int64_t*,
                            int64_t, int64_t, int64_t*, int64_t, int);
template void gemm<uint32_t>(bool, bool, int64_t, int64_t, int64_t, uint32_t, const uint32_t*, int64_t,
                             const uint32_t*, int64_t, uint32_t, uint32_t*, int64_t, int);
template void gemm<uint64_t>(bool, bool, int64_t, int64_t, int64_t, uint64_t, const uint64_t*, int64_t,
                             const uint64_t*, int64_t, uint64_t, uint64_t*, int64_t, int);

}  // namespace hone::kernels::ref
