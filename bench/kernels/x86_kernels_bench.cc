// hone's fp32 kernels (kernels/x86, every variant this CPU runs) against the closest oneDNN
// primitive on BERT shapes: softmax over [12*128, 128] (BERT-base attention scores), LayerNorm
// over [128, 768], GELU (erf) over [128, 3072], Add of a row bias [768] over [128, 768] and of two
// [128, 768] tensors. Both sides use OMP_NUM_THREADS threads (hone's kernels split by rows the
// way the runtime does). GEMV with M = 1 (packed weights, kernels/x86/gemv.h) against oneDNN's
// matmul with weights in its preferred layout, as hone's Gemm/MatMul used it, and a plain read of
// the same bytes (the bandwidth bound): on mobilenet_v2's classifier 1280x1000 with the weights
// warm in cache ("hot") and cycling through copies larger than the L3 ("cold").
// Run: OMP_NUM_THREADS=2 build/bench/x86_kernels_bench
#include <benchmark/benchmark.h>
#include <omp.h>

#include <dnnl.hpp>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "kernels/x86/f32_kernels.h"
#include "kernels/x86/gemv.h"

namespace {

namespace x86 = hone::kernels::x86;

std::vector<float> random_vector(size_t n, float lo, float hi) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// f(begin, end) over rows split evenly across the OpenMP threads.
template <class F>
void split_rows(int64_t rows, F f) {
  const int threads = omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    const int64_t b = rows * t / threads, e = rows * (t + 1) / threads;
    if (e > b) f(b, e);
  }
}

void set_bytes(benchmark::State& state, int64_t elements, int arrays) {
  state.SetBytesProcessed(state.iterations() * elements * arrays * static_cast<int64_t>(sizeof(float)));
}

struct Dnnl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  static Dnnl& get() {
    static Dnnl d;
    return d;
  }
  dnnl::memory mem(const dnnl::memory::dims& dims, float* p) {
    return dnnl::memory({dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab}, eng, p);
  }
};

constexpr int64_t kSoftmaxRows = 12 * 128, kSoftmaxCols = 128;
constexpr int64_t kLnRows = 128, kLnCols = 768;
constexpr int64_t kGeluRows = 128, kGeluCols = 3072;

// ---- softmax ----
void BM_softmax_hone(benchmark::State& state, x86::SoftmaxFn fn) {
  auto x = random_vector(kSoftmaxRows * kSoftmaxCols, -8, 8);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    split_rows(kSoftmaxRows, [&](int64_t b, int64_t e) { fn(x.data() + b * kSoftmaxCols, y.data() + b * kSoftmaxCols, e - b, kSoftmaxCols); });
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, kSoftmaxRows * kSoftmaxCols, 2);
}

void BM_softmax_dnnl(benchmark::State& state) {
  auto& d = Dnnl::get();
  auto x = random_vector(kSoftmaxRows * kSoftmaxCols, -8, 8);
  std::vector<float> y(x.size());
  auto src = d.mem({kSoftmaxRows, kSoftmaxCols}, x.data()), dst = d.mem({kSoftmaxRows, kSoftmaxCols}, y.data());
  dnnl::softmax_forward::primitive_desc pd({dnnl::prop_kind::forward_inference, src.get_desc(), 1}, d.eng);
  dnnl::softmax_forward prim(pd);
  for (auto _ : state) {
    prim.execute(d.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    d.strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  set_bytes(state, kSoftmaxRows * kSoftmaxCols, 2);
}

// ---- LayerNorm ----
void BM_layernorm_hone(benchmark::State& state, x86::LayerNormFn fn) {
  auto x = random_vector(kLnRows * kLnCols, -3, 3), scale = random_vector(kLnCols, 0.5f, 1.5f),
       bias = random_vector(kLnCols, -1, 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    split_rows(kLnRows, [&](int64_t b, int64_t e) {
      fn(x.data() + b * kLnCols, scale.data(), bias.data(), y.data() + b * kLnCols, e - b, kLnCols, 1e-5f);
    });
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, kLnRows * kLnCols, 2);
}

void BM_layernorm_dnnl(benchmark::State& state) {
  auto& d = Dnnl::get();
  auto x = random_vector(kLnRows * kLnCols, -3, 3), scale = random_vector(kLnCols, 0.5f, 1.5f),
       bias = random_vector(kLnCols, -1, 1);
  std::vector<float> y(x.size());
  auto src = d.mem({kLnRows, kLnCols}, x.data()), dst = d.mem({kLnRows, kLnCols}, y.data());
  dnnl::memory sc({{kLnCols}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a}, d.eng, scale.data());
  dnnl::memory sh({{kLnCols}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a}, d.eng, bias.data());
  dnnl::layer_normalization_forward::primitive_desc pd(
      {dnnl::prop_kind::forward_inference, src.get_desc(), 1e-5f,
       dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift},
      d.eng);
  dnnl::layer_normalization_forward prim(pd);
  for (auto _ : state) {
    prim.execute(d.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sh}});
    d.strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  set_bytes(state, kLnRows * kLnCols, 2);
}

// ---- GELU (erf) ----
void BM_gelu_hone(benchmark::State& state, x86::UnaryFn fn) {
  auto x = random_vector(kGeluRows * kGeluCols, -5, 5);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    split_rows(kGeluRows, [&](int64_t b, int64_t e) { fn(x.data() + b * kGeluCols, y.data() + b * kGeluCols, (e - b) * kGeluCols); });
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, kGeluRows * kGeluCols, 2);
}

void BM_gelu_dnnl(benchmark::State& state) {
  auto& d = Dnnl::get();
  auto x = random_vector(kGeluRows * kGeluCols, -5, 5);
  std::vector<float> y(x.size());
  auto src = d.mem({kGeluRows, kGeluCols}, x.data()), dst = d.mem({kGeluRows, kGeluCols}, y.data());
  dnnl::eltwise_forward::primitive_desc pd(
      {dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_gelu_erf, src.get_desc(), 0.0f, 0.0f}, d.eng);
  dnnl::eltwise_forward prim(pd);
  for (auto _ : state) {
    prim.execute(d.strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    d.strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  set_bytes(state, kGeluRows * kGeluCols, 2);
}

// ---- Add: a row bias [768] over [128, 768] (row) and two [128, 768] tensors (same) ----
void BM_add_hone(benchmark::State& state, x86::BinaryFn fn, bool row_bias) {
  auto a = random_vector(kLnRows * kLnCols, -3, 3), b = random_vector(row_bias ? kLnCols : kLnRows * kLnCols, -1, 1);
  std::vector<float> y(a.size());
  for (auto _ : state) {
    split_rows(kLnRows, [&](int64_t r0, int64_t r1) {
      if (row_bias) {
        for (int64_t r = r0; r < r1; ++r) fn(a.data() + r * kLnCols, 1, b.data(), 1, y.data() + r * kLnCols, kLnCols);
      } else {
        fn(a.data() + r0 * kLnCols, 1, b.data() + r0 * kLnCols, 1, y.data() + r0 * kLnCols, (r1 - r0) * kLnCols);
      }
    });
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, kLnRows * kLnCols, row_bias ? 2 : 3);
}

void BM_add_dnnl(benchmark::State& state, bool row_bias) {
  auto& d = Dnnl::get();
  auto a = random_vector(kLnRows * kLnCols, -3, 3), b = random_vector(row_bias ? kLnCols : kLnRows * kLnCols, -1, 1);
  std::vector<float> y(a.size());
  auto ma = d.mem({kLnRows, kLnCols}, a.data()), my = d.mem({kLnRows, kLnCols}, y.data());
  auto mb = d.mem({row_bias ? 1 : kLnRows, kLnCols}, b.data());
  dnnl::binary::primitive_desc pd({dnnl::algorithm::binary_add, ma.get_desc(), mb.get_desc(), my.get_desc()}, d.eng);
  dnnl::binary prim(pd);
  for (auto _ : state) {
    prim.execute(d.strm, {{DNNL_ARG_SRC_0, ma}, {DNNL_ARG_SRC_1, mb}, {DNNL_ARG_DST, my}});
    d.strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  set_bytes(state, kLnRows * kLnCols, row_bias ? 2 : 3);
}

// ---- GEMV, M = 1 ----
struct GemvShape {
  int64_t k, n;
};
constexpr GemvShape kGemvShapes[] = {{1280, 1000}, {1024, 1024}, {4096, 4096}};

// How many copies of a k x n matrix to cycle through: 1 (hot), or enough to exceed 96 MiB (cold).
int64_t gemv_copies(const GemvShape& s, bool cold) {
  const int64_t bytes = s.k * s.n * 4;
  return cold ? std::max<int64_t>(2, ((int64_t{96} << 20) + bytes - 1) / bytes) : 1;
}

void set_weight_rate(benchmark::State& state, const GemvShape& s) {
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(s.k * s.n * 4) * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void BM_gemv_hone(benchmark::State& state, const x86::GemvVariant* v, GemvShape s, bool cold) {
  const int64_t copies = gemv_copies(s, cold);
  std::vector<x86::PackedGemvWeights> w;
  for (int64_t i = 0; i < copies; ++i) {
    const auto b = random_vector(static_cast<size_t>(s.k * s.n), -1.0f, 1.0f);
    w.push_back(x86::PackedGemvWeights::pack(b.data(), s.k, s.n, /*trans_b=*/true));
  }
  const auto a = random_vector(static_cast<size_t>(s.k), -1.0f, 1.0f);
  std::vector<float> y(static_cast<size_t>(s.n));
  size_t i = 0;
  for (auto _ : state) {
    x86::gemv(*v, w[i], a.data(), s.k, 1, y.data(), s.n, omp_get_max_threads());
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % w.size();
  }
  set_weight_rate(state, s);
}

void BM_gemv_dnnl(benchmark::State& state, GemvShape s, bool cold) {
  using dnnl::memory;
  Dnnl& d = Dnnl::get();
  const int64_t copies = gemv_copies(s, cold);
  const memory::desc a_md({1, s.k}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc b_md({s.k, s.n}, memory::data_type::f32, memory::format_tag::any);
  const memory::desc c_md({1, s.n}, memory::data_type::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), d.eng);
  auto a = random_vector(static_cast<size_t>(s.k), -1.0f, 1.0f);
  std::vector<float> c(static_cast<size_t>(s.n));
  std::vector<memory> weights;
  for (int64_t i = 0; i < copies; ++i) {
    auto b = random_vector(static_cast<size_t>(s.k * s.n), -1.0f, 1.0f);
    memory user({{s.k, s.n}, memory::data_type::f32, memory::format_tag::ab}, d.eng, b.data());
    weights.emplace_back(pd.weights_desc(), d.eng);
    dnnl::reorder(user, weights.back()).execute(d.strm, user, weights.back());
  }
  d.strm.wait();
  memory a_mem(a_md, d.eng, a.data()), c_mem(c_md, d.eng, c.data());
  dnnl::matmul prim(pd);
  size_t i = 0;
  for (auto _ : state) {
    prim.execute(d.strm, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, weights[i]}, {DNNL_ARG_DST, c_mem}});
    d.strm.wait();
    i = (i + 1) % weights.size();
  }
  state.SetLabel(pd.impl_info_str());
  set_weight_rate(state, s);
}

// A plain read of the same bytes, split over the threads: the bound a GEMV can reach.
void BM_gemv_read(benchmark::State& state, GemvShape s, bool cold) {
  const int64_t copies = gemv_copies(s, cold);
  std::vector<std::vector<float>> w;
  for (int64_t i = 0; i < copies; ++i) w.push_back(random_vector(static_cast<size_t>(s.k * s.n), -1.0f, 1.0f));
  const int64_t n = s.k * s.n;
  size_t i = 0;
  for (auto _ : state) {
    const float* p = w[i].data();
    float total = 0.0f;
#pragma omp parallel reduction(+ : total)
    {
      // 16 independent partial sums per thread, so the adds vectorize and never wait on each other.
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t b = n / 16 * t / nt * 16, e = n / 16 * (t + 1) / nt * 16;
      float acc[16] = {};
      for (int64_t j = b; j < e; j += 16)
        for (int l = 0; l < 16; ++l) acc[l] += p[j + l];
      for (float v : acc) total += v;
    }
    benchmark::DoNotOptimize(total);
    i = (i + 1) % w.size();
  }
  set_weight_rate(state, s);
}

// Every variant this CPU runs, from the tables the dispatcher uses.
const bool kRegistered = [] {
  for (const auto& v : x86::softmax_variants())
    if (x86::isa_available(v.isa)) benchmark::RegisterBenchmark((std::string("softmax_1536x128/") + v.name).c_str(), BM_softmax_hone, v.fn);
  benchmark::RegisterBenchmark("softmax_1536x128/dnnl_softmax", BM_softmax_dnnl);
  for (const auto& v : x86::layernorm_variants())
    if (x86::isa_available(v.isa)) benchmark::RegisterBenchmark((std::string("layernorm_128x768/") + v.name).c_str(), BM_layernorm_hone, v.fn);
  benchmark::RegisterBenchmark("layernorm_128x768/dnnl_layer_normalization", BM_layernorm_dnnl);
  for (const auto& v : x86::gelu_erf_variants())
    if (x86::isa_available(v.isa)) benchmark::RegisterBenchmark((std::string("gelu_128x3072/") + v.name).c_str(), BM_gelu_hone, v.fn);
  benchmark::RegisterBenchmark("gelu_128x3072/dnnl_eltwise_gelu_erf", BM_gelu_dnnl);
  for (bool row : {true, false}) {
    const std::string shape = row ? "add_128x768_row768/" : "add_128x768_same/";
    for (const auto& v : x86::add_variants())
      if (x86::isa_available(v.isa)) benchmark::RegisterBenchmark((shape + v.name).c_str(), BM_add_hone, v.fn, row);
    benchmark::RegisterBenchmark((shape + "dnnl_binary_add").c_str(), BM_add_dnnl, row);
  }
  for (const GemvShape& s : kGemvShapes)
    for (bool cold : {false, true}) {
      const std::string shape =
          "gemv_1x" + std::to_string(s.k) + "x" + std::to_string(s.n) + (cold ? "_cold/" : "_hot/");
      for (const auto& v : x86::gemv_variants())
        if (x86::isa_available(v.isa) && v.isa != x86::Isa::kScalar)
          benchmark::RegisterBenchmark((shape + v.name).c_str(), BM_gemv_hone, &v, s, cold)->UseRealTime();
      benchmark::RegisterBenchmark((shape + "dnnl_matmul").c_str(), BM_gemv_dnnl, s, cold)->UseRealTime();
      benchmark::RegisterBenchmark((shape + "read").c_str(), BM_gemv_read, s, cold)->UseRealTime();
    }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
