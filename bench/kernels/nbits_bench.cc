// Blockwise int4 GEMV (token generation: M = 1, K = N = 4096, block 32) against the memory it
// has to stream. The weights cycle through enough distinct matrices to exceed 4x the L3 cache, so
// every call reads them from DRAM, as a large model's layers do. Reported next to each other:
//   BM_Q4Gemv/<variant>/<dram>  every fp32-activation GEMV variant this CPU runs, GB/s on the
//                         bytes of codes + scales it reads (and "code_GB/s" on the codes alone);
//                         dram=0 repeats one matrix (in L3): the kernel's compute ceiling
//   BM_Q4GemvS8/<variant>/<dram>  the vpdpbusd (VNNI) kernels: A as 3 int8 digits (hone's
//                         default on VNNI) or 1 (accuracy_level 4); GB/s on the bytes of the
//                         repacked weights (codes + scales: as many as ORT's B + scales)
//   BM_MemRead            a plain sum over a buffer as large as the weight set, same threads,
//                         4 streams per thread: the read bandwidth the GEMV is measured against
//   BM_MemReadStreams     the same read with 1, 2, 4 and 8 streams per thread, in turns
//   BM_Q4GemvS8VsRead/<variant>  the VNNI GEMV and the plain read in turns, one call each per
//                         iteration, timed apart: "gemv/read" is the ratio of the two rates
//                         taken over the same seconds (on a shared VM the read bandwidth moves
//                         by 2x within a minute, so rows measured apart can mislead)
//   BM_OneDnnGemvF32      oneDNN fp32 GEMV 1x4096x4096 (4 bytes per weight, 8x the codes),
//                         cycling through matrices the same way
// Threads: --threads N (default 2). The numbers in docs/nbits.md were taken on a shared machine.
#include <benchmark/benchmark.h>
#include <emmintrin.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/x86/nbits_kernels.h"

namespace {

namespace nb = hone::kernels::nbits;

int g_threads = 2;
constexpr int64_t kK = 4096, kN = 4096, kBlock = 32;

// L3 size in bytes: sysfs, else sysconf, else 32 MiB. sysfs first: under some hypervisors glibc's
// sysconf derives it from CPUID leaves the host fills in oddly (320 MiB for a 32 MiB L3 here).
int64_t l3_bytes() {
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index3/size");
  std::string s;
  if (in >> s && !s.empty()) {
    int64_t n = std::atoll(s.c_str());
    if (s.back() == 'K') n <<= 10;
    if (s.back() == 'M') n <<= 20;
    if (n > 0) return n;
  }
  long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (v > 0) return v;
  return int64_t{32} << 20;
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// GB/s on wall time (the usual rate) and "GB/s_cpu": bytes over the process CPU time divided by
// the thread count. On a machine shared with other work the wall rate includes time slices lost to
// other processes; the CPU rate does not (it does include OpenMP's spin-waiting, so it is no
// overestimate of the kernel).
void set_rates(benchmark::State& state, double bytes_per_iter, double cpu_seconds) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (cpu_seconds > 0)
    state.counters["GB/s_cpu"] =
        bytes_per_iter * static_cast<double>(state.iterations()) * 1e-9 / (cpu_seconds / g_threads);
}

int64_t working_set_bytes() { return 4 * l3_bytes(); }

struct Q4Set {
  std::vector<std::vector<uint8_t>> b;
  std::vector<std::vector<float>> scales;
  std::vector<nb::NBitsWeights> w;
  int64_t matrix_bytes = 0, code_bytes = 0;
};

// Built once, shared by every GEMV benchmark.
const Q4Set& q4_set() {
  static const Q4Set set = [] {
    Q4Set s;
    const int64_t kb = (kK + kBlock - 1) / kBlock;
    s.code_bytes = kN * kb * kBlock / 2;
    s.matrix_bytes = s.code_bytes + kN * kb * static_cast<int64_t>(sizeof(float));
    const int64_t count = std::max<int64_t>(2, (working_set_bytes() + s.matrix_bytes - 1) / s.matrix_bytes);
    std::mt19937 rng(1);
    for (int64_t i = 0; i < count; ++i) {
      s.b.emplace_back(static_cast<size_t>(s.code_bytes));
      for (auto& v : s.b.back()) v = static_cast<uint8_t>(rng());
      s.scales.emplace_back(static_cast<size_t>(kN * kb), 0.01f);
    }
    for (int64_t i = 0; i < count; ++i) {
      nb::NBitsWeights w;
      w.bits = 4;
      w.k = kK;
      w.n = kN;
      w.block_size = kBlock;
      w.k_blocks = kb;
      w.blob_size = kBlock / 2;
      w.b = s.b[static_cast<size_t>(i)].data();
      w.scales = s.scales[static_cast<size_t>(i)].data();
      s.w.push_back(w);
    }
    return s;
  }();
  return set;
}

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

void BM_Q4Gemv(benchmark::State& state) {
  const nb::GemmVariant& v = nb::gemm_variants()[static_cast<size_t>(state.range(0))];
  const Q4Set& set = q4_set();
  if (!nb::isa_available(v.isa) || !nb::serves(v, set.w[0])) {
    state.SkipWithError("variant not available on this CPU");
    return;
  }
  const auto a = random_values(kK, 2);
  std::vector<float> y(static_cast<size_t>(kN));
  // range(1) == 0: one matrix over and over (it fits in L3): the kernel's compute ceiling.
  const size_t cycle = state.range(1) ? set.w.size() : 1;
  size_t i = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    nb::gemm(v, set.w[i], a.data(), kK, 1, y.data(), kN, g_threads);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % cycle;
  }
  state.SetLabel(std::string(v.name) + " matrices=" + std::to_string(cycle));
  set_rates(state, static_cast<double>(set.matrix_bytes), process_cpu_seconds() - cpu0);
  state.counters["code_GB/s"] =
      benchmark::Counter(static_cast<double>(set.code_bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The weight set repacked once for the VNNI kernels (c16: the same layout for every variant).
const std::vector<nb::PackedC16>& packed_set() {
  static const std::vector<nb::PackedC16> packed = [] {
    std::vector<nb::PackedC16> p;
    for (const auto& w : q4_set().w) p.push_back(nb::pack_c16(w));
    return p;
  }();
  return packed;
}

// The int8-activation kernels on the same matrices.
void BM_Q4GemvS8(benchmark::State& state) {
  const nb::S8GemmVariant& v = nb::s8_gemm_variants()[static_cast<size_t>(state.range(0))];
  if (!v.available()) {
    state.SkipWithError("variant not available on this CPU");
    return;
  }
  const auto& packed = packed_set();
  // What one product streams: codes and scales (no zero points here: all are 8), the same bytes
  // as ORT's B and scales.
  const double bytes = static_cast<double>(packed[0].bytes());
  const auto a = random_values(kK, 2);
  std::vector<float> y(static_cast<size_t>(kN));
  const size_t cycle = state.range(1) ? packed.size() : 1;
  size_t i = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    nb::s8_gemm(v, packed[i], a.data(), kK, 1, y.data(), kN, g_threads);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % cycle;
  }
  state.SetLabel(std::string(v.name) + " matrices=" + std::to_string(cycle));
  set_rates(state, bytes, process_cpu_seconds() - cpu0);
}

// Sum of 64-bit words over n words read as S interleaved streams: the range cut in S parts, a
// cache line of each in turn, two independent SSE2 accumulators per stream (baseline x86-64, no
// ISA flags), so that the loop is limited by memory, not by an add chain. Several streams, not
// one: one stream per thread leaves the hardware too few misses in flight (BM_MemReadStreams:
// on the Zen 5 development VM, 2 threads, 1 stream read 33.4 GB/s, 2 streams 35.5, 4 streams 36.7,
// 8 streams 37.0, taken in turns), and the GEMV kernels read several streams per thread too.
template <int S>
uint64_t sum_words(const uint64_t* p, int64_t n) {
  const int64_t part = n / S / 8 * 8;
  __m128i acc[S][2];
  for (int j = 0; j < S; ++j) acc[j][0] = acc[j][1] = _mm_setzero_si128();
  for (int64_t i = 0; i < part; i += 8) {
    for (int j = 0; j < S; ++j) {
      const __m128i* q = reinterpret_cast<const __m128i*>(p + j * part + i);
      acc[j][0] = _mm_add_epi64(acc[j][0], _mm_add_epi64(_mm_load_si128(q), _mm_load_si128(q + 1)));
      acc[j][1] = _mm_add_epi64(acc[j][1], _mm_add_epi64(_mm_load_si128(q + 2), _mm_load_si128(q + 3)));
    }
  }
  __m128i sum = _mm_setzero_si128();
  for (int j = 0; j < S; ++j) sum = _mm_add_epi64(sum, _mm_add_epi64(acc[j][0], acc[j][1]));
  uint64_t out[2];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), sum);
  uint64_t total = out[0] + out[1];
  for (int64_t i = S * part; i < n; ++i) total += p[i];
  return total;
}

// The plain read's buffer: as large as the weight set, the same kind of memory as the repacked
// weights (2 MiB aligned, huge pages advised), so that the GEMV is measured against the best plain
// read of it, not against a TLB-bound one.
const hone::kernels::HugePageBuffer& read_buffer() {
  static const hone::kernels::HugePageBuffer buf = [] {
    const int64_t words = working_set_bytes() / 8;
    hone::kernels::HugePageBuffer b(static_cast<size_t>(words * 8));
    auto* w = reinterpret_cast<uint64_t*>(b.data());
    for (int64_t i = 0; i < words; ++i) w[i] = static_cast<uint64_t>(i) * 2654435761u;
    return b;
  }();
  return buf;
}

// Reads `words` 64-bit words from p (a multiple of 8: whole cache lines), split over the threads
// like the GEMV's columns, S streams per thread (4: the plain read every GEMV is measured against).
template <int S = 4>
uint64_t read_words(const uint64_t* p, int64_t words) {
  uint64_t total = 0;
#pragma omp parallel num_threads(g_threads) reduction(+ : total)
  {
    const int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lines = words / 8, l0 = lines * id / nt, l1 = lines * (id + 1) / nt;
    total += sum_words<S>(p + l0 * 8, (l1 - l0) * 8);
  }
  return total;
}

// A chunk the size of one GEMV's weights, in whole cache lines.
int64_t read_chunk_words() { return q4_set().matrix_bytes / 8 / 64 * 64; }

void BM_MemRead(benchmark::State& state) {
  const auto& buf = read_buffer();
  const int64_t words = static_cast<int64_t>(buf.size() / 8), chunk = read_chunk_words();
  const uint64_t* words_data = reinterpret_cast<const uint64_t*>(buf.data());
  // One chunk per iteration, cycling through the buffer.
  int64_t start = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    if (start + chunk > words) start = 0;
    benchmark::DoNotOptimize(read_words(words_data + start, chunk));
    start += chunk;
  }
  set_rates(state, static_cast<double>(chunk * 8), process_cpu_seconds() - cpu0);
}

// The plain read with 1, 2, 4 and 8 streams per thread, taken in turns (which goes first rotates),
// GB/s of each over the same seconds: why the reference read uses 4.
void BM_MemReadStreams(benchmark::State& state) {
  const auto& buf = read_buffer();
  const int64_t words = static_cast<int64_t>(buf.size() / 8), chunk = read_chunk_words();
  const uint64_t* words_data = reinterpret_cast<const uint64_t*>(buf.data());
  using clock = std::chrono::steady_clock;
  double seconds[4] = {0, 0, 0, 0};
  int64_t start = 0;
  int first = 0;
  for (auto _ : state) {
    for (int turn = 0; turn < 4; ++turn) {
      const int which = (turn + first) % 4;
      if (start + chunk > words) start = 0;
      const uint64_t* p = words_data + start;
      const auto t0 = clock::now();
      switch (which) {
        case 0: benchmark::DoNotOptimize(read_words<1>(p, chunk)); break;
        case 1: benchmark::DoNotOptimize(read_words<2>(p, chunk)); break;
        case 2: benchmark::DoNotOptimize(read_words<4>(p, chunk)); break;
        default: benchmark::DoNotOptimize(read_words<8>(p, chunk)); break;
      }
      seconds[which] += std::chrono::duration<double>(clock::now() - t0).count();
      start += chunk;
    }
    first = (first + 1) % 4;
  }
  const double bytes = static_cast<double>(chunk * 8) * static_cast<double>(state.iterations());
  const char* names[4] = {"1_stream_GB/s", "2_streams_GB/s", "4_streams_GB/s", "8_streams_GB/s"};
  for (int k = 0; k < 4; ++k) state.counters[names[k]] = bytes / seconds[k] * 1e-9;
}

// The VNNI GEMV and the plain read taken in turns, one call of each per iteration (which goes
// first alternates), each timed on its own: both see the same moments of a shared machine, so
// their ratio ("gemv/read", on the rates) holds up where BM_MemRead and BM_Q4GemvS8, run a few
// seconds apart, can catch a neighbour's load in one and not the other. Counters: read_GB/s,
// gemv_GB/s (bytes of the repacked weights, as BM_Q4GemvS8) and gemv/read.
void BM_Q4GemvS8VsRead(benchmark::State& state) {
  const nb::S8GemmVariant& v = nb::s8_gemm_variants()[static_cast<size_t>(state.range(0))];
  if (!v.available()) {
    state.SkipWithError("variant not available on this CPU");
    return;
  }
  const auto& packed = packed_set();
  const auto& buf = read_buffer();
  const int64_t words = static_cast<int64_t>(buf.size() / 8), chunk = read_chunk_words();
  const uint64_t* words_data = reinterpret_cast<const uint64_t*>(buf.data());
  const auto a = random_values(kK, 2);
  std::vector<float> y(static_cast<size_t>(kN));
  using clock = std::chrono::steady_clock;
  double gemv_s = 0, read_s = 0;
  int64_t start = 0;
  size_t i = 0;
  bool gemv_first = true;
  for (auto _ : state) {
    if (start + chunk > words) start = 0;
    for (int turn = 0; turn < 2; ++turn) {
      const auto t0 = clock::now();
      if ((turn == 0) == gemv_first) {
        nb::s8_gemm(v, packed[i], a.data(), kK, 1, y.data(), kN, g_threads);
        benchmark::DoNotOptimize(y.data());
        gemv_s += std::chrono::duration<double>(clock::now() - t0).count();
      } else {
        benchmark::DoNotOptimize(read_words(words_data + start, chunk));
        read_s += std::chrono::duration<double>(clock::now() - t0).count();
      }
    }
    gemv_first = !gemv_first;
    start += chunk;
    i = (i + 1) % packed.size();
  }
  const double n = static_cast<double>(state.iterations());
  const double gemv_rate = static_cast<double>(packed[0].bytes()) * n / gemv_s * 1e-9;
  const double read_rate = static_cast<double>(chunk * 8) * n / read_s * 1e-9;
  state.counters["gemv_GB/s"] = gemv_rate;
  state.counters["read_GB/s"] = read_rate;
  state.counters["gemv/read"] = gemv_rate / read_rate;
  state.SetLabel(std::string(v.name) + " matrices=" + std::to_string(packed.size()));
}

void BM_OneDnnGemvF32(benchmark::State& state) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const int64_t bytes = kK * kN * 4;
  const int64_t count = std::max<int64_t>(2, (working_set_bytes() + bytes - 1) / bytes);
  memory::desc a_md({1, kK}, memory::data_type::f32, memory::format_tag::ab);
  memory::desc b_md({kK, kN}, memory::data_type::f32, memory::format_tag::any);
  memory::desc c_md({1, kN}, memory::data_type::f32, memory::format_tag::ab);
  const matmul::primitive_desc pd(matmul::desc(a_md, b_md, c_md), eng);
  auto a = random_values(kK, 1);
  std::vector<float> c(static_cast<size_t>(kN));
  memory a_mem(a_md, eng, a.data()), c_mem(c_md, eng, c.data());
  std::vector<memory> weights;
  for (int64_t i = 0; i < count; ++i) {
    auto b = random_values(kK * kN, static_cast<uint32_t>(10 + i));
    memory b_user({{kK, kN}, memory::data_type::f32, memory::format_tag::ab}, eng, b.data());
    weights.emplace_back(pd.weights_desc(), eng);
    reorder(b_user, weights.back()).execute(strm, b_user, weights.back());
  }
  strm.wait();
  matmul prim(pd);
  size_t i = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, weights[i]}, {DNNL_ARG_DST, c_mem}});
    strm.wait();
    i = (i + 1) % weights.size();
  }
  state.SetLabel(std::string(pd.impl_info_str()) + " matrices=" + std::to_string(count));
  set_rates(state, static_cast<double>(bytes), process_cpu_seconds() - cpu0);
}

void configure(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->Unit(benchmark::kMicrosecond)->MinTime(0.5);
}

void q4_variants(benchmark::internal::Benchmark* b) {
  for (size_t i = 0; i < nb::gemm_variants().size(); ++i)
    if (nb::gemm_variants()[i].bits == 4)
      for (int64_t from_dram : {1, 0}) b->Args({static_cast<int64_t>(i), from_dram});
}

void s8_variants(benchmark::internal::Benchmark* b) {
  for (size_t i = 0; i < nb::s8_gemm_variants().size(); ++i)
    for (int64_t from_dram : {1, 0}) b->Args({static_cast<int64_t>(i), from_dram});
}

BENCHMARK(BM_MemRead)->Apply(configure);
BENCHMARK(BM_MemReadStreams)->Apply(configure);
BENCHMARK(BM_Q4Gemv)->Apply(q4_variants)->Apply(configure);
BENCHMARK(BM_Q4GemvS8)->Apply(s8_variants)->Apply(configure);
BENCHMARK(BM_Q4GemvS8VsRead)->DenseRange(0, static_cast<int64_t>(nb::s8_gemm_variants().size()) - 1)->Apply(configure);
BENCHMARK(BM_OneDnnGemvF32)->Apply(configure);

}  // namespace

// --threads N (default 2) sizes OpenMP for hone and oneDNN alike; other flags go to Google
// Benchmark (e.g. --benchmark_repetitions=5 --benchmark_report_aggregates_only=true).
int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      g_threads = std::max(1, std::atoi(argv[i] + 10));
    else
      args.push_back(argv[i]);
  }
  omp_set_num_threads(g_threads);
  std::printf("L3 %lld MiB, working set %lld MiB, threads %d\n", static_cast<long long>(l3_bytes() >> 20),
              static_cast<long long>(working_set_bytes() >> 20), g_threads);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
