// Dense fp32 math, same shapes through every path that can compute it:
//   MatMul 1024^3: a 1-node hone Session, oneDNN's matmul called directly, OpenBLAS cblas_sgemm
//   and hone's reference GEMM;
//   ResNet-50 conv shapes (batch 1): a 1-node hone Session and oneDNN's convolution called
//   directly with the same plain NCHW activations, plus oneDNN with its own blocked activation
//   layout (reordered outside the timed loop) to show what plain layouts at the op boundary cost;
//   and, since the layout_nhwc pass runs convolutions channels-last, the fair pair for it: the
//   one-Conv model optimized at level 2 (NCHW in and out, so the pass adds the boundary
//   transposes) against oneDNN's fastest recipe for the same NCHW in/out (reorder in, brgconv on
//   nhwc, reorder out), and a chain of 3 convs where the boundary transposes amortize.
//   hone runs 3x3 stride-1 convs as Winograd on oneDNN's blocked layout between reorders
//   (kernels/dnnl/conv_dnnl.h), so for those shapes the like-for-like baselines are *Winograd*:
//   the same Winograd primitive with the same reorders (NCHW <-> blocked for the level-0
//   Session; NCHW <-> NHWC <-> blocked for level 2), while the direct ones show the gain.
// The boundary transposes themselves: a 1-node Transpose model through a Session (oneDNN's
// reorder; run the binary again with HONE_DNNL=0 for hone's own loop), reporting GB/s moved.
// Every conv/GEMM benchmark reports GFLOP/s (2 * MACs). Threads: --threads N (default 2) for every library.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "hone/session.hpp"
#include "ir/graph.h"
#include "kernels/ref/gemm_ref.h"
#include "onnx/export.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace {

int g_threads = 2;

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

hone::Tensor random_tensor(hone::Shape shape, uint32_t seed) {
  hone::Tensor t = hone::Tensor::create(hone::DType::kFloat32, shape).value();
  const auto v = random_values(t.numel(), seed);
  std::memcpy(t.data<float>(), v.data(), t.nbytes());
  return t;
}

void set_gflops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

hone::ir::TypeInfo float_type(const hone::Shape& shape) {
  hone::ir::TypeInfo t;
  t.kind = hone::ir::TypeInfo::Kind::kTensor;
  t.elem = hone::DType::kFloat32;
  t.has_shape = true;
  for (int64_t d : shape) t.dims.push_back(hone::ir::Dim::of(d));
  return t;
}

hone::ir::Attribute ints_attr(const char* name, std::vector<int64_t> v) {
  hone::ir::Attribute a;
  a.name = name;
  a.type = hone::ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

// A one-node model X -> op(X, constant weights...) -> Y, written to a scratch file and loaded
// through the public API, as a user would.
hone::Session load_one_node(hone::ir::Node node, const hone::Shape& x_shape, const hone::Shape& y_shape,
                            std::vector<hone::ir::Initializer> weights) {
  hone::ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  hone::ir::Graph& g = m.graph;
  g.name = "bench";
  g.inputs.push_back({"X", float_type(x_shape), {}});
  g.outputs.push_back({"Y", float_type(y_shape), {}});
  g.initializers = std::move(weights);
  g.nodes.push_back(std::move(node));
  const std::string path = (std::filesystem::temp_directory_path() / "hone_gemm_conv_bench.onnx").string();
  if (auto s = hone::onnxio::save_model(m, path); !s.ok()) {
    std::fprintf(stderr, "save_model: %s\n", s.message().c_str());
    std::exit(1);
  }
  hone::SessionOptions options;
  options.threads = g_threads;
  auto session = hone::Session::load(path, options);
  std::filesystem::remove(path);
  if (!session.ok()) {
    std::fprintf(stderr, "Session::load: %s\n", session.status().message().c_str());
    std::exit(1);
  }
  return std::move(*session);
}

void run_session(benchmark::State& state, hone::Session& session, const hone::Tensor& x, double flops) {
  const std::vector<hone::Tensor> inputs{x};
  // The first run creates primitives and packs weights.
  if (auto first = session.run(inputs); !first.ok()) {
    state.SkipWithError(first.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    auto out = session.run(inputs);
    if (!out.ok()) {
      state.SkipWithError(out.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  if (flops > 0) set_gflops(state, flops);
}

// ---- MatMul M = N = K = 1024 ----

constexpr int64_t kM = 1024, kN = 1024, kK = 1024;
constexpr double kGemmFlops = 2.0 * kM * kN * kK;

void BM_MatMul_HoneSession(benchmark::State& state) {
  hone::ir::Node node;
  node.op_type = "MatMul";
  node.name = "matmul";
  node.inputs = {"X", "W"};
  node.outputs = {"Y"};
  hone::Session s = load_one_node(node, {kM, kK}, {kM, kN}, {{"W", random_tensor({kK, kN}, 2), {}, std::nullopt}});
  run_session(state, s, random_tensor({kM, kK}, 1), kGemmFlops);
}

// What hone's MatMul does, minus hone: plain A and C, B reordered once into oneDNN's layout.
void BM_MatMul_OneDnnDirect(benchmark::State& state) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::desc a_md({kM, kK}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc b_any({kK, kN}, memory::data_type::f32, memory::format_tag::any);
  const memory::desc c_md({kM, kN}, memory::data_type::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, c_md), eng);
  auto a = random_values(kM * kK, 1), b = random_values(kK * kN, 2);
  std::vector<float> c(static_cast<size_t>(kM * kN));
  memory a_mem(a_md, eng, a.data()), c_mem(c_md, eng, c.data()), b_user({{kK, kN}, memory::data_type::f32, memory::format_tag::ab}, eng, b.data());
  memory b_mem(pd.weights_desc(), eng);
  dnnl::reorder(b_user, b_mem).execute(strm, b_user, b_mem);
  dnnl::matmul prim(pd);
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  set_gflops(state, kGemmFlops);
}

void BM_MatMul_OpenBlas(benchmark::State& state) {
  auto a = random_values(kM * kK, 1), b = random_values(kK * kN, 2);
  std::vector<float> c(static_cast<size_t>(kM * kN));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kM, kN, kK, 1.0f, a.data(), kK, b.data(), kN, 0.0f,
                c.data(), kN);
    benchmark::DoNotOptimize(c.data());
  }
  set_gflops(state, kGemmFlops);
}

void BM_MatMul_HoneRef(benchmark::State& state) {
  auto a = random_values(kM * kK, 1), b = random_values(kK * kN, 2);
  std::vector<float> c(static_cast<size_t>(kM * kN));
  for (auto _ : state) {
    hone::kernels::ref::sgemm(false, false, kM, kN, kK, 1.0f, a.data(), kK, b.data(), kN, 0.0f, c.data(), kN,
                              g_threads);
    benchmark::DoNotOptimize(c.data());
  }
  set_gflops(state, kGemmFlops);
}

// ---- ResNet-50 convolutions, batch 1 ----

struct ConvShape {
  const char* name;
  int64_t c, m, hw, k, stride;
};
// Index = benchmark argument.
constexpr ConvShape kConvs[] = {
    {"3x3_64_64_56", 64, 64, 56, 3, 1},
    {"1x1_256_64_56", 256, 64, 56, 1, 1},
    {"3x3_256_256_14", 256, 256, 14, 3, 1},
    {"7x7_3_64_224_s2", 3, 64, 224, 7, 2},
};

int64_t conv_out(const ConvShape& s) { return (s.hw + 2 * (s.k / 2) - s.k) / s.stride + 1; }
double conv_flops(const ConvShape& s) {
  return 2.0 * s.m * s.c * s.k * s.k * static_cast<double>(conv_out(s) * conv_out(s));
}

void BM_Conv_HoneSession(benchmark::State& state) {
  const ConvShape& s = kConvs[state.range(0)];
  hone::ir::Node node;
  node.op_type = "Conv";
  node.name = "conv";
  node.inputs = {"X", "W", "B"};
  node.outputs = {"Y"};
  const int64_t p = s.k / 2, out = conv_out(s);
  node.attrs = {ints_attr("kernel_shape", {s.k, s.k}), ints_attr("strides", {s.stride, s.stride}),
                ints_attr("pads", {p, p, p, p})};
  hone::Session session = load_one_node(node, {1, s.c, s.hw, s.hw}, {1, s.m, out, out},
                                        {{"W", random_tensor({s.m, s.c, s.k, s.k}, 2), {}, std::nullopt},
                                         {"B", random_tensor({s.m}, 3), {}, std::nullopt}});
  run_session(state, session, random_tensor({1, s.c, s.hw, s.hw}, 1), conv_flops(s));
  state.SetLabel(s.name);
}

// `count` k x k convs with bias (same shape in and out after the first), NCHW in and out,
// optimized at level 2 as `hone run` / `hone bench` do, so the convs run channels-last.
void conv_chain_level2(benchmark::State& state, const ConvShape& s, int count) {
  hone::ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  hone::ir::Graph& g = m.graph;
  const int64_t p = s.k / 2, out = conv_out(s);
  g.inputs.push_back({"X", float_type({1, s.c, s.hw, s.hw}), {}});
  std::string x = "X";
  for (int i = 0; i < count; ++i) {
    const std::string w = "W" + std::to_string(i), b = "B" + std::to_string(i);
    const int64_t in_c = i == 0 ? s.c : s.m;
    g.initializers.push_back({w, random_tensor({s.m, in_c, s.k, s.k}, 2 + i), {}, std::nullopt});
    g.initializers.push_back({b, random_tensor({s.m}, 20 + i), {}, std::nullopt});
    hone::ir::Node node;
    node.op_type = "Conv";
    node.name = "conv" + std::to_string(i);
    node.inputs = {x, w, b};
    node.outputs = {i + 1 == count ? std::string("Y") : "y" + std::to_string(i)};
    node.attrs = {ints_attr("kernel_shape", {s.k, s.k}), ints_attr("strides", {i == 0 ? s.stride : 1, i == 0 ? s.stride : 1}),
                  ints_attr("pads", {p, p, p, p})};
    x = node.outputs[0];
    g.nodes.push_back(std::move(node));
  }
  g.outputs.push_back({"Y", float_type({1, s.m, out, out}), {}});
  hone::passes::PassOptions o;
  o.level = 2;
  if (auto st = hone::passes::optimize(m, o); !st.ok()) {
    state.SkipWithError(st.message().c_str());
    return;
  }
  hone::SessionOptions options;
  options.threads = g_threads;
  auto session = hone::create_session(std::move(m), options);
  if (!session.ok()) {
    state.SkipWithError(session.status().message().c_str());
    return;
  }
  const int64_t tail = count - 1;
  const double flops = conv_flops(s) + static_cast<double>(tail) * 2.0 * s.m * s.m * s.k * s.k * out * out;
  run_session(state, *session, random_tensor({1, s.c, s.hw, s.hw}, 1), flops);
  state.SetLabel(std::string(s.name) + (count > 1 ? " x" + std::to_string(count) : ""));
}

void BM_Conv_HoneSessionLevel2(benchmark::State& state) { conv_chain_level2(state, kConvs[state.range(0)], 1); }

// Whether hone runs `s` as Winograd (kernels/dnnl/conv_dnnl.h, winograd_shape).
bool winograd_shape(const ConvShape& s) { return s.k == 3 && s.stride == 1 && s.c >= 16 && s.m >= 16; }

// oneDNN's fastest direct recipe for NCHW in and out: reorder X to nhwc, `count` brgconvs on
// nhwc, reorder Y back to nchw, all timed (as the Session side pays its boundary transposes).
// `winograd`: what hone.NhwcConv does on Winograd shapes instead: each conv reorders its nhwc
// input to the blocked layout, runs Winograd there and reorders its output back to nhwc.
void conv_direct_nhwc(benchmark::State& state, const ConvShape& s, int count, bool winograd = false) {
  using dnnl::memory;
  const int64_t p = s.k / 2, out = conv_out(s);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  std::vector<dnnl::convolution_forward> prims;
  std::vector<memory> weights, biases, acts;
  std::vector<memory> blocked_src, blocked_dst;  // winograd: per conv
  std::vector<dnnl::reorder> to_blocked, from_blocked;
  std::vector<std::vector<float>> storage;
  std::string impl;
  const memory::desc x_nchw({1, s.c, s.hw, s.hw}, memory::data_type::f32, memory::format_tag::nchw);
  const memory::desc y_nchw({1, s.m, out, out}, memory::data_type::f32, memory::format_tag::nchw);
  acts.emplace_back(memory::desc({1, s.c, s.hw, s.hw}, memory::data_type::f32, memory::format_tag::nhwc), eng);
  for (int i = 0; i < count; ++i) {
    const int64_t in_c = i == 0 ? s.c : s.m, in_hw = i == 0 ? s.hw : out, st = i == 0 ? s.stride : 1;
    const memory::desc src_md({1, in_c, in_hw, in_hw}, memory::data_type::f32, memory::format_tag::nhwc);
    const memory::desc dst_md({1, s.m, out, out}, memory::data_type::f32, memory::format_tag::nhwc);
    const memory::desc w_md({s.m, in_c, s.k, s.k}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc b_md({s.m}, memory::data_type::f32, memory::format_tag::a);
    const auto blocked = [](const memory::desc& md) {
      return memory::desc(md.dims(), memory::data_type::f32, memory::format_tag::aBcd16b);
    };
    const memory::desc conv_src = winograd ? blocked(src_md) : src_md, conv_dst = winograd ? blocked(dst_md) : dst_md;
    const auto algorithm = winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, conv_src, w_md, b_md,
                                               conv_dst, {st, st}, {p, p}, {p, p});
    const dnnl::convolution_forward::primitive_desc pd(desc, eng);
    impl = pd.impl_info_str();
    storage.push_back(random_values(s.m * in_c * s.k * s.k, 2 + i));
    memory user({{s.m, in_c, s.k, s.k}, memory::data_type::f32, memory::format_tag::oihw}, eng, storage.back().data());
    memory w(pd.weights_desc(), eng);
    dnnl::reorder(user, w).execute(strm, user, w);
    storage.push_back(random_values(s.m, 20 + i));
    weights.push_back(w);
    biases.emplace_back(b_md, eng, storage.back().data());
    acts.emplace_back(dst_md, eng);
    prims.emplace_back(pd);
    if (winograd) {
      blocked_src.emplace_back(conv_src, eng);
      blocked_dst.emplace_back(conv_dst, eng);
      to_blocked.emplace_back(acts[acts.size() - 2], blocked_src.back());
      from_blocked.emplace_back(blocked_dst.back(), acts.back());
    }
  }
  auto x = random_values(s.c * s.hw * s.hw, 1);
  std::vector<float> y(static_cast<size_t>(s.m * out * out));
  memory x_mem(x_nchw, eng, x.data()), y_mem(y_nchw, eng, y.data());
  dnnl::reorder in(x_mem, acts.front()), back(acts.back(), y_mem);
  strm.wait();
  for (auto _ : state) {
    in.execute(strm, x_mem, acts.front());
    for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
      if (winograd) to_blocked[i].execute(strm, acts[i], blocked_src[i]);
      prims[i].execute(strm, {{DNNL_ARG_SRC, winograd ? blocked_src[i] : acts[i]},
                              {DNNL_ARG_WEIGHTS, weights[i]},
                              {DNNL_ARG_BIAS, biases[i]},
                              {DNNL_ARG_DST, winograd ? blocked_dst[i] : acts[i + 1]}});
      if (winograd) from_blocked[i].execute(strm, blocked_dst[i], acts[i + 1]);
    }
    back.execute(strm, acts.back(), y_mem);
    strm.wait();
  }
  const double flops = conv_flops(s) + static_cast<double>(count - 1) * 2.0 * s.m * s.m * s.k * s.k * out * out;
  state.SetLabel(std::string(s.name) + (count > 1 ? " x" + std::to_string(count) : "") + " " + impl);
  if (flops > 0) set_gflops(state, flops);
}

void BM_Conv_OneDnnNhwcReorders(benchmark::State& state) { conv_direct_nhwc(state, kConvs[state.range(0)], 1); }
void BM_Conv_OneDnnNhwcWinograd(benchmark::State& state) { conv_direct_nhwc(state, kConvs[state.range(0)], 1, true); }
// A chain of 3 convs of the first shape (3x3, 64 -> 64, 56x56).
void BM_ConvChain3_HoneSessionLevel2(benchmark::State& state) { conv_chain_level2(state, kConvs[0], 3); }
void BM_ConvChain3_OneDnnNhwcReorders(benchmark::State& state) { conv_direct_nhwc(state, kConvs[0], 3); }
void BM_ConvChain3_OneDnnNhwcWinograd(benchmark::State& state) { conv_direct_nhwc(state, kConvs[0], 3, true); }

// oneDNN's convolution with bias; `plain` keeps NCHW activations (what hone does at its op
// boundary), otherwise oneDNN picks the activation layout and the inputs are reordered once.
void conv_direct(benchmark::State& state, bool plain) {
  using dnnl::memory;
  const ConvShape& s = kConvs[state.range(0)];
  const int64_t p = s.k / 2, out = conv_out(s);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const auto act_tag = plain ? memory::format_tag::nchw : memory::format_tag::any;
  const memory::desc src_md({1, s.c, s.hw, s.hw}, memory::data_type::f32, act_tag);
  const memory::desc w_md({s.m, s.c, s.k, s.k}, memory::data_type::f32, memory::format_tag::any);
  const memory::desc b_md({s.m}, memory::data_type::f32, memory::format_tag::a);
  const memory::desc dst_md({1, s.m, out, out}, memory::data_type::f32, act_tag);
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                             src_md, w_md, b_md, dst_md, {s.stride, s.stride}, {p, p}, {p, p});
  const dnnl::convolution_forward::primitive_desc pd(desc, eng);
  auto x = random_values(s.c * s.hw * s.hw, 1), w = random_values(s.m * s.c * s.k * s.k, 2),
       b = random_values(s.m, 3);
  auto reordered = [&](float* data, const memory::desc& user_md, const memory::desc& want) {
    memory user(user_md, eng, data), mem(want, eng);
    dnnl::reorder(user, mem).execute(strm, user, mem);
    return mem;
  };
  memory x_mem = reordered(x.data(), {{1, s.c, s.hw, s.hw}, memory::data_type::f32, memory::format_tag::nchw},
                           pd.src_desc());
  memory w_mem = reordered(w.data(), {{s.m, s.c, s.k, s.k}, memory::data_type::f32, memory::format_tag::oihw},
                           pd.weights_desc());
  memory b_mem(b_md, eng, b.data()), y_mem(pd.dst_desc(), eng);
  strm.wait();
  dnnl::convolution_forward prim(pd);
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_BIAS, b_mem}, {DNNL_ARG_DST, y_mem}});
    strm.wait();
  }
  state.SetLabel(std::string(s.name) + " " + pd.impl_info_str());
  set_gflops(state, conv_flops(s));
}

void BM_Conv_OneDnnDirect(benchmark::State& state) { conv_direct(state, true); }
void BM_Conv_OneDnnBlockedLayout(benchmark::State& state) { conv_direct(state, false); }

// What hone's level-0 Conv does on a Winograd shape: reorder NCHW X to the blocked layout, the
// Winograd convolution with bias there, reorder Y back to NCHW, all timed.
void BM_Conv_OneDnnWinograd(benchmark::State& state) {
  using dnnl::memory;
  const ConvShape& s = kConvs[state.range(0)];
  const int64_t p = s.k / 2, out = conv_out(s);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::desc x_md({1, s.c, s.hw, s.hw}, memory::data_type::f32, memory::format_tag::nchw);
  const memory::desc y_md({1, s.m, out, out}, memory::data_type::f32, memory::format_tag::nchw);
  const memory::desc src_md({1, s.c, s.hw, s.hw}, memory::data_type::f32, memory::format_tag::aBcd16b);
  const memory::desc dst_md({1, s.m, out, out}, memory::data_type::f32, memory::format_tag::aBcd16b);
  const memory::desc w_md({s.m, s.c, s.k, s.k}, memory::data_type::f32, memory::format_tag::any);
  const memory::desc b_md({s.m}, memory::data_type::f32, memory::format_tag::a);
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_winograd,
                                             src_md, w_md, b_md, dst_md, {s.stride, s.stride}, {p, p}, {p, p});
  const dnnl::convolution_forward::primitive_desc pd(desc, eng);
  auto x = random_values(s.c * s.hw * s.hw, 1), w = random_values(s.m * s.c * s.k * s.k, 2),
       b = random_values(s.m, 3);
  std::vector<float> y(static_cast<size_t>(s.m * out * out));
  memory w_user({{s.m, s.c, s.k, s.k}, memory::data_type::f32, memory::format_tag::oihw}, eng, w.data());
  memory w_mem(pd.weights_desc(), eng);
  dnnl::reorder(w_user, w_mem).execute(strm, w_user, w_mem);
  memory x_mem(x_md, eng, x.data()), y_mem(y_md, eng, y.data()), b_mem(b_md, eng, b.data());
  memory src(src_md, eng), dst(dst_md, eng);
  dnnl::reorder in(x_mem, src), back(dst, y_mem);
  dnnl::convolution_forward prim(pd);
  strm.wait();
  for (auto _ : state) {
    in.execute(strm, x_mem, src);
    prim.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_BIAS, b_mem}, {DNNL_ARG_DST, dst}});
    back.execute(strm, dst, y_mem);
    strm.wait();
  }
  state.SetLabel(std::string(s.name) + " " + pd.impl_info_str());
  set_gflops(state, conv_flops(s));
}

// The Winograd baselines for the shapes hone runs as Winograd.
void winograd_shapes(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < static_cast<int>(std::size(kConvs)); ++i)
    if (winograd_shape(kConvs[i])) b->Arg(i);
}

constexpr int kNumConvs = static_cast<int>(std::size(kConvs));

// NCHW -> NHWC in front of the first conv (a 3-channel image, a wide activation) and NHWC -> NCHW
// behind the last one.
struct TransposeCase {
  hone::Shape shape;
  std::vector<int64_t> perm;
  const char* label;
};
const TransposeCase kTransposes[] = {
    {{1, 3, 224, 224}, {0, 2, 3, 1}, "nchw2nhwc_3x224x224"},
    {{1, 256, 56, 56}, {0, 2, 3, 1}, "nchw2nhwc_256x56x56"},
    {{1, 56, 56, 64}, {0, 3, 1, 2}, "nhwc2nchw_64x56x56"},
    {{1, 7, 7, 2048}, {0, 3, 1, 2}, "nhwc2nchw_2048x7x7"},
};

void BM_Transpose_HoneSession(benchmark::State& state) {
  const TransposeCase& t = kTransposes[state.range(0)];
  hone::ir::Node node;
  node.op_type = "Transpose";
  node.inputs = {"X"};
  node.outputs = {"Y"};
  node.attrs = {ints_attr("perm", t.perm)};
  hone::Shape y_shape;
  for (int64_t p : t.perm) y_shape.push_back(t.shape[static_cast<size_t>(p)]);
  hone::Session s = load_one_node(node, t.shape, y_shape, {});
  run_session(state, s, random_tensor(t.shape, 7), 0.0);
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  state.counters["GB/s"] =
      benchmark::Counter(2.0 * 4.0 * static_cast<double>(n) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
  state.SetLabel(t.label);
}

// On a shared machine other work only ever slows a repetition down, so the fastest one is the
// estimate to compare: run with --benchmark_repetitions=N (and random interleaving) and read "min".
// The CPU column is the whole process's CPU time (all threads): less sensitive to time slices
// lost to other processes than wall time, when the machine is oversubscribed.
double fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void configure(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", fastest);
}

BENCHMARK(BM_MatMul_HoneSession)->Apply(configure);
BENCHMARK(BM_MatMul_OneDnnDirect)->Apply(configure);
BENCHMARK(BM_MatMul_OpenBlas)->Apply(configure);
BENCHMARK(BM_MatMul_HoneRef)->Apply(configure);
BENCHMARK(BM_Conv_HoneSession)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_Conv_OneDnnDirect)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_Conv_OneDnnBlockedLayout)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_Conv_OneDnnWinograd)->Apply(winograd_shapes)->Apply(configure);
BENCHMARK(BM_Conv_HoneSessionLevel2)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_Conv_OneDnnNhwcReorders)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_Conv_OneDnnNhwcWinograd)->Apply(winograd_shapes)->Apply(configure);
BENCHMARK(BM_ConvChain3_HoneSessionLevel2)->Apply(configure);
BENCHMARK(BM_ConvChain3_OneDnnNhwcReorders)->Apply(configure);
BENCHMARK(BM_ConvChain3_OneDnnNhwcWinograd)->Apply(configure);
BENCHMARK(BM_Transpose_HoneSession)->DenseRange(0, static_cast<int>(std::size(kTransposes)) - 1)->Apply(configure);

}  // namespace

// --threads N (default 2) sizes OpenMP (hone and oneDNN) and OpenBLAS alike; the other flags go
// to Google Benchmark.
int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      g_threads = std::atoi(argv[i] + 10);
    else
      args.push_back(argv[i]);
  }
  omp_set_num_threads(g_threads);
  openblas_set_num_threads(g_threads);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
