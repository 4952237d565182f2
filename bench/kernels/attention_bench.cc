// The fused attention block on BERT-base's shape (batch 1, 12 heads, 128 tokens, head size 64,
// padding mask [1, 1, 1, 128]) three ways: the unfused ONNX op sequence through a Session
// (Transposes, batched MatMul on oneDNN, Div, Add, Softmax, MatMul, Transpose), the same graph
// after fuse_attention through a Session (one hone.Attention node), and the kernel alone
// (f32_attention_* variants this CPU runs, (head, row block) split over the OpenMP threads), also
// on a packed QKV projection without a mask, the models' case.
// Run: OMP_NUM_THREADS=2 build-*/bench/attention_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/x86/attention.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace {

namespace x86 = hone::kernels::x86;
using hone::DType;
using hone::Tensor;

constexpr int64_t kHeads = 12, kTokens = 128, kHeadDim = 64;

Tensor random_tensor(hone::Shape shape, unsigned seed) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

hone::ir::TypeInfo f32_type(std::vector<int64_t> dims) {
  hone::ir::TypeInfo t;
  t.kind = hone::ir::TypeInfo::Kind::kTensor;
  t.elem = DType::kFloat32;
  t.has_shape = true;
  for (int64_t d : dims) t.dims.push_back(hone::ir::Dim::of(d));
  return t;
}

hone::ir::Node node(std::string op, std::vector<std::string> in, std::vector<std::string> out,
                    std::vector<int64_t> perm = {}) {
  hone::ir::Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  if (!perm.empty()) {
    hone::ir::Attribute a;
    a.name = "perm";
    a.type = hone::ir::AttrType::kInts;
    a.ints = std::move(perm);
    n.attrs.push_back(a);
  }
  return n;
}

// Q, K, V [1, S, H, D] and mask [1, 1, 1, S] in, the attention of the heads [1, S, H, D] out, as
// PyTorch exports BERT's self-attention core.
hone::ir::Model attention_model() {
  hone::ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 17});
  auto& g = m.graph;
  for (const char* name : {"Q", "K", "V"}) g.inputs.push_back({name, f32_type({1, kTokens, kHeads, kHeadDim}), {}});
  g.inputs.push_back({"M", f32_type({1, 1, 1, kTokens}), {}});
  g.outputs.push_back({"Y", f32_type({1, kTokens, kHeads, kHeadDim}), {}});
  Tensor sqrt_d = Tensor::create(DType::kFloat32, {}).value();
  sqrt_d.data<float>()[0] = std::sqrt(static_cast<float>(kHeadDim));
  g.initializers.push_back({"sqrt_d", sqrt_d, {}, std::nullopt});
  g.nodes = {node("Transpose", {"Q"}, {"qh"}, {0, 2, 1, 3}), node("Transpose", {"K"}, {"kt"}, {0, 2, 3, 1}),
             node("Transpose", {"V"}, {"vh"}, {0, 2, 1, 3}), node("MatMul", {"qh", "kt"}, {"s"}),
             node("Div", {"s", "sqrt_d"}, {"ss"}),        node("Add", {"ss", "M"}, {"sm"}),
             node("Softmax", {"sm"}, {"p"}),              node("MatMul", {"p", "vh"}, {"o"}),
             node("Transpose", {"o"}, {"Y"}, {0, 2, 1, 3})};
  return m;
}

std::vector<Tensor> inputs() {
  Tensor mask = Tensor::create(DType::kFloat32, {1, 1, 1, kTokens}).value();
  for (int64_t j = 0; j < kTokens; ++j) mask.data<float>()[j] = j < 100 ? 0.0f : -10000.0f;
  return {random_tensor({1, kTokens, kHeads, kHeadDim}, 1), random_tensor({1, kTokens, kHeads, kHeadDim}, 2),
          random_tensor({1, kTokens, kHeads, kHeadDim}, 3), mask};
}

void set_flops(benchmark::State& state) {
  // Two GEMMs of S x S x D per head.
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 4.0 * kHeads * kTokens *
                                                     kTokens * kHeadDim / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_attention_session(benchmark::State& state, bool fused) {
  hone::ir::Model m = attention_model();
  if (fused && !hone::passes::run_pass(m, "fuse_attention", true).ok()) {
    state.SkipWithError("fuse_attention failed");
    return;
  }
  hone::SessionOptions o;
  o.threads = omp_get_max_threads();
  auto s = hone::create_session(m, o);
  if (!s.ok()) {
    state.SkipWithError(s.status().message().c_str());
    return;
  }
  const std::vector<Tensor> in = inputs();
  for (auto _ : state) {
    auto out = s->run(in);
    if (!out.ok()) state.SkipWithError(out.status().message().c_str());
    benchmark::DoNotOptimize(out);
  }
  set_flops(state);
}

// The kernel on separate Q, K, V tensors with the padding mask (as the sessions above), or, with
// `packed`, as bert_base and bert_mini run it: Q, K and V read in place from one packed QKV
// projection [S, 3 * H * D] (rows 2304 floats apart) and no mask.
void BM_attention_kernel(benchmark::State& state, x86::AttentionFn fn, bool packed) {
  const std::vector<Tensor> in = inputs();
  const Tensor qkv = random_tensor({kTokens, 3 * kHeads * kHeadDim}, 4);
  Tensor out = Tensor::create(DType::kFloat32, {1, kTokens, kHeads, kHeadDim}).value();
  x86::AttentionArgs a;
  a.q = in[0].data<float>(), a.k = in[1].data<float>(), a.v = in[2].data<float>(), a.out = out.data<float>();
  a.q_head = a.k_head = a.v_head = a.out_head = kHeadDim;
  a.q_row = a.k_row = a.v_row = a.out_row = kHeads * kHeadDim;
  a.mask = in[3].data<float>();
  if (packed) {
    const int64_t e = kHeads * kHeadDim;
    a.q = qkv.data<float>(), a.k = a.q + e, a.v = a.q + 2 * e;
    a.q_row = a.k_row = a.v_row = 3 * e;
    a.mask = nullptr;
  }
  a.q_len = a.kv_len = kTokens, a.head_dim = a.v_head_dim = kHeadDim;
  a.scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  const size_t scratch_floats = x86::attention_scratch_floats(a);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < kHeads; ++h) {
      thread_local std::vector<float> scratch;
      if (scratch.size() < scratch_floats) scratch.resize(scratch_floats);
      fn(a, 0, h, 0, kTokens, scratch.data());
    }
    benchmark::DoNotOptimize(out.data<float>());
  }
  set_flops(state);
}

const bool registered = [] {
  benchmark::RegisterBenchmark("attention/unfused_ops_session", BM_attention_session, false)->UseRealTime();
  benchmark::RegisterBenchmark("attention/fused_session", BM_attention_session, true)->UseRealTime();
  for (bool packed : {false, true})
    for (const auto& v : x86::attention_variants())
      if (x86::isa_available(v.isa))
        benchmark::RegisterBenchmark(
            (std::string(packed ? "attention/kernel_packed_qkv/" : "attention/kernel/") + v.name).c_str(),
            BM_attention_kernel, v.fn, packed)
            ->UseRealTime();
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
