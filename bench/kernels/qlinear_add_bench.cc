// com.microsoft.QLinearAdd's kernel (kernels/x86/qlinear_add.h), every variant this CPU runs, on
// ResNet-50's 16 residual adds: 3 x 56x56x256, 4 x 28x28x512, 6 x 14x14x1024, 3 x 7x7x2048 bytes
// (uint8, both operands and the output warm in cache as in the model, where the Add reads what
// the conv before it just wrote). One thread per variant (the kernel alone), then the whole op
// split as the runtime splits it, at OMP_NUM_THREADS threads.
// Run: OMP_NUM_THREADS=2 build/bench/qlinear_add_bench
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <vector>

#include "kernels/x86/qlinear_add.h"

namespace {

namespace qadd = hone::kernels::qadd;

constexpr int64_t kSizes[] = {56 * 56 * 256, 28 * 28 * 512, 14 * 14 * 1024, 7 * 7 * 2048};

struct Data {
  std::vector<uint8_t> a, b, y;
  qadd::Params p;
  explicit Data(int64_t n) : a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), y(static_cast<size_t>(n)) {
    std::mt19937 rng(7);
    for (int64_t i = 0; i < n; ++i) {
      a[static_cast<size_t>(i)] = static_cast<uint8_t>(rng());
      b[static_cast<size_t>(i)] = static_cast<uint8_t>(rng());
    }
    // Scales of the kind entropy calibration gives ResNet-50's residual tensors (none a power of two).
    p = {0.0371f, 0.0213f, 0.0457f, 121, 0, 0, false};
  }
};

void report(benchmark::State& state, int64_t n) {
  state.SetBytesProcessed(state.iterations() * n * 3);  // two operands read, one result written
  state.counters["elements"] = static_cast<double>(n);
}

// Args: variant index in available_variants(), size index.
void BM_QLinearAddVariant(benchmark::State& state) {
  const auto variants = qadd::available_variants();
  const auto v = static_cast<size_t>(state.range(0));
  if (v >= variants.size()) return state.SkipWithError("variant not available on this CPU");
  const int64_t n = kSizes[state.range(1)];
  Data d(n);
  state.SetLabel(variants[v].name);
  for (auto _ : state) {
    variants[v].add(d.p, d.a.data(), d.b.data(), false, n, d.y.data());
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  report(state, n);
}

// The runtime's entry point (best variant, split across threads when large).
void BM_QLinearAddOp(benchmark::State& state) {
  const int64_t n = kSizes[state.range(0)];
  Data d(n);
  const int threads = omp_get_max_threads();
  state.SetLabel(qadd::best_variant().name);
  for (auto _ : state) {
    qadd::qlinear_add(d.p, d.a.data(), d.b.data(), false, n, d.y.data(), threads);
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  report(state, n);
  state.counters["threads"] = threads;
}

BENCHMARK(BM_QLinearAddVariant)->ArgsProduct({{0, 1, 2}, {0, 1, 2, 3}})->UseRealTime();
BENCHMARK(BM_QLinearAddOp)->DenseRange(0, 3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
