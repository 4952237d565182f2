// The fused inverted-residual kernel (kernels/x86/inverted_residual.h, what
// hone.NhwcInvertedResidual runs) against the three oneDNN channels-last convolutions the
// blocks run as otherwise (hone.NhwcConv: expand 1x1 + ReLU6, depthwise 3x3 + ReLU6, project
// 1x1 + residual), on MobileNet-v2's 12 distinct block shapes at 224x224. Both sides get the same OpenMP
// thread count (--threads, default 1). Process CPU time; run with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=N so that the pairs
// share the machine's state:
//   build-*/bench/inverted_residual_bench --threads=2 --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dnnl/conv_dnnl.h"
#include "kernels/x86/inverted_residual.h"

namespace {

namespace x86 = hone::kernels::x86;
namespace onednn = hone::kernels::onednn;

int g_threads = 1;

struct Block {
  int64_t size, c_in, c_mid, c_out, stride;
  bool expand, residual;
};
// MobileNet-v2 (torchvision) at 224x224: input size of each block.
const Block kBlocks[] = {
    {112, 32, 32, 16, 1, false, false}, {112, 16, 96, 24, 2, true, false}, {56, 24, 144, 24, 1, true, true},
    {56, 24, 144, 32, 2, true, false},  {28, 32, 192, 32, 1, true, true},  {28, 32, 192, 64, 2, true, false},
    {14, 64, 384, 64, 1, true, true},   {14, 64, 384, 96, 1, true, false}, {14, 96, 576, 96, 1, true, true},
    {14, 96, 576, 160, 2, true, false}, {7, 160, 960, 160, 1, true, true}, {7, 160, 960, 320, 1, true, false},
};

std::vector<float> random_vector(size_t n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

struct BlockData {
  Block b;
  int64_t ho;
  std::vector<float> x, we, be, wd, bd, wp, bp, sum, y;
  explicit BlockData(const Block& blk) : b(blk), ho(x86::ir_out_size(blk.size, blk.stride)) {
    const int64_t hw = b.size * b.size;
    x = random_vector(static_cast<size_t>(hw * b.c_in), 1.0f, 1);
    we = random_vector(static_cast<size_t>(b.c_mid * b.c_in), 0.2f, 2);
    be = random_vector(static_cast<size_t>(b.c_mid), 0.2f, 3);
    wd = random_vector(static_cast<size_t>(b.c_mid * 9), 0.3f, 4);
    bd = random_vector(static_cast<size_t>(b.c_mid), 0.2f, 5);
    wp = random_vector(static_cast<size_t>(b.c_out * b.c_mid), 0.1f, 6);
    bp = random_vector(static_cast<size_t>(b.c_out), 0.2f, 7);
    sum = random_vector(static_cast<size_t>(ho * ho * b.c_out), 1.0f, 8);
    y.resize(sum.size());
  }
  double flops() const {
    const double in = static_cast<double>(b.size * b.size), out = static_cast<double>(ho * ho);
    return 2.0 * ((b.expand ? in * b.c_in * b.c_mid : 0.0) + out * 9 * b.c_mid + out * b.c_mid * b.c_out);
  }
};

void label(benchmark::State& state, const BlockData& d, const std::string& suffix = "") {
  state.SetLabel(std::to_string(d.b.size) + "^2 " + std::to_string(d.b.c_in) + "->" + std::to_string(d.b.c_mid) +
                 "->" + std::to_string(d.b.c_out) + " s" + std::to_string(d.b.stride) + (d.b.residual ? " +res" : "") + suffix);
  state.counters["GFLOP/s"] =
      benchmark::Counter(d.flops() * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

void BM_InvertedResidual_Fused(benchmark::State& state) {
  omp_set_num_threads(g_threads);
  BlockData d(kBlocks[state.range(0)]);
  x86::InvertedResidualWeights w = x86::InvertedResidualWeights::pack(
      d.b.c_in, d.b.c_mid, d.b.c_out, d.b.stride, d.b.expand ? d.we.data() : nullptr, d.be.data(), d.wd.data(),
      d.bd.data(), d.wp.data(), d.bp.data());
  w.expand_clamp = {0.0f, 6.0f};
  w.depthwise_clamp = {0.0f, 6.0f};
  const x86::IrSchedule schedule = state.range(1) == 0 ? x86::inverted_residual_schedule(w, d.b.size, d.b.size, g_threads)
                                  : state.range(1) == 1 ? x86::IrSchedule::kRows
                                                        : x86::IrSchedule::kImage;
  x86::IrBuffer scratch(x86::inverted_residual_scratch_floats(w, d.b.size, d.b.size, g_threads, schedule));
  const x86::InvertedResidualVariant& v = x86::inverted_residual_best();
  for (auto _ : state) {
    x86::inverted_residual(v, w, d.x.data(), 1, d.b.size, d.b.size, d.b.residual ? d.sum.data() : nullptr,
                           d.y.data(), scratch.data(), g_threads, schedule);
    benchmark::DoNotOptimize(d.y.data());
  }
  label(state, d, schedule == x86::IrSchedule::kRows ? " rows" : " image");
}

onednn::ConvDesc nhwc_conv(int64_t size, int64_t c_in, int64_t c_out, int64_t k, int64_t stride, int64_t groups) {
  onednn::ConvDesc c;
  c.in_channels = c_in;
  c.out_channels = c_out;
  c.groups = groups;
  const int64_t pad = k / 2, out = (size + 2 * pad - k) / stride + 1;
  c.in_spatial = {size, size};
  c.kernel = {k, k};
  c.out_spatial = {out, out};
  c.strides = {stride, stride};
  c.dilations = {1, 1};
  c.pads_begin = {pad, pad};
  c.pads_end = {pad, pad};
  c.has_bias = true;
  c.channels_last = true;
  return c;
}

void BM_InvertedResidual_OneDnn3Convs(benchmark::State& state) {
  omp_set_num_threads(g_threads);
  BlockData d(kBlocks[state.range(0)]);
  const int64_t s = d.b.size;
  onednn::ConvDesc de = nhwc_conv(s, d.b.c_in, d.b.c_mid, 1, 1, 1);
  de.post_ops = {onednn::PostOp::clip(0.0f, 6.0f)};
  onednn::ConvDesc dd = nhwc_conv(s, d.b.c_mid, d.b.c_mid, 3, d.b.stride, d.b.c_mid);
  dd.post_ops = {onednn::PostOp::clip(0.0f, 6.0f)};
  onednn::ConvDesc dp = nhwc_conv(d.ho, d.b.c_mid, d.b.c_out, 1, 1, 1);
  if (d.b.residual) dp.residual = onednn::ConvDesc::Residual::kBinaryAdd;
  onednn::ConvF32Dnnl ce, cd, cp;
  std::vector<float> e(static_cast<size_t>(s * s * d.b.c_mid)), dw(static_cast<size_t>(d.ho * d.ho * d.b.c_mid));
  auto run = [&] {
    const float* dw_in = d.x.data();
    if (d.b.expand) {
      if (!ce.run(de, d.x.data(), d.we.data(), d.be.data(), e.data()).ok()) return false;
      dw_in = e.data();
    }
    if (!cd.run(dd, dw_in, d.wd.data(), d.bd.data(), dw.data()).ok()) return false;
    return cp.run(dp, dw.data(), d.wp.data(), d.bp.data(), d.y.data(), d.b.residual ? d.sum.data() : nullptr).ok();
  };
  if (!run()) {
    state.SkipWithError("oneDNN refused a convolution");
    return;
  }
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(d.y.data());
  }
  label(state, d, " (" + cd.impl_name() + ", " + cp.impl_name() + ")");
}

void configure(benchmark::internal::Benchmark* b) {
  b->UseRealTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMicrosecond);
}

// Second argument: 0 the schedule the op picks, 1 kRows, 2 kImage.
BENCHMARK(BM_InvertedResidual_Fused)
    ->ArgsProduct({benchmark::CreateDenseRange(0, static_cast<int>(std::size(kBlocks)) - 1, 1), {0, 1, 2}})
    ->Apply(configure);
BENCHMARK(BM_InvertedResidual_OneDnn3Convs)
    ->DenseRange(0, static_cast<int>(std::size(kBlocks)) - 1)
    ->Apply(configure);

}  // namespace

int main(int argc, char** argv) {
  // --threads=N (ours), the rest for Google Benchmark.
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) g_threads = std::max(1, std::atoi(argv[i] + 10));
    else rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
