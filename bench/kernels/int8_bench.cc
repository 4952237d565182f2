// int8 dense math, hone against oneDNN called directly on the same shapes and attributes:
//   QLinearMatMul 1024^3 (u8 x s8 -> u8, per-column scales): a 1-node hone Session vs oneDNN's
//     u8s8 matmul primitive with the same output scales and zero points;
//   BERT-base's dynamic-int8 layers (M = 128 tokens; K x N = 768x2304 QKV, 768x768, 768x3072,
//     3072x768): ONNX Runtime's DynamicQuantizeLinear + MatMulInteger + Cast + Mul + Add chain
//     through a Session at level 2 (fused into hone.DynQuantMatMul) vs oneDNN's u8s8 matmul on
//     already-quantized activations with the same float epilogue (so hone's extra is the
//     quantization of x, which the direct figure does not pay); and on those inputs hone's own
//     u8 x s8 GEMM alone (kernels/x86/qgemm_u8s8.h), each variant this CPU has (scalar, AVX2,
//     AVX-512 VNNI), beside oneDNN's primitive;
//   ResNet-50 conv shapes (batch 1): QLinearConv through a Session (NCHW at the op boundary, so
//     reorders on both sides) and hone.NhwcQLinearConv (NHWC, what the layout pass makes) vs
//     oneDNN's int8 convolution on NHWC activations with the same attributes;
//   DynamicQuantizeLinear over 128x3072 floats: each ISA variant of hone's kernel, one thread;
//   LayerNorm / GELU + DynamicQuantizeLinear fused (fuse_dynamic_quant_producer) and not, one thread.
// Every benchmark reports GOP/s (2 * MACs) or GB/s of input read. --threads N (default 2).
// Read the "min" of --benchmark_repetitions=N on a shared machine (see gemm_conv_bench.cc).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ir/graph.h"
#include "kernels/x86/dynamic_quant.h"
#include "kernels/x86/f32_kernels.h"
#include "kernels/x86/qgemm_u8s8.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace {

using hone::DType;
using hone::Shape;
using hone::Tensor;
namespace ir = hone::ir;

int g_threads = 2;

template <class T>
Tensor random_tensor(DType dtype, Shape shape, uint32_t seed, float lo, float hi) {
  Tensor t = Tensor::create(dtype, std::move(shape)).value();
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(std::nearbyint(dist(gen) * 1000) / 1000);
  return t;
}

Tensor scalar_tensor(DType dtype, float v) {
  Tensor t = Tensor::create(dtype, {}).value();
  if (dtype == DType::kFloat32) t.data<float>()[0] = v;
  if (dtype == DType::kUInt8) t.data<uint8_t>()[0] = static_cast<uint8_t>(v);
  if (dtype == DType::kInt8) t.data<int8_t>()[0] = static_cast<int8_t>(v);
  return t;
}

ir::TypeInfo tensor_type(DType elem, const Shape& shape) {
  ir::TypeInfo t;
  t.kind = ir::TypeInfo::Kind::kTensor;
  t.elem = elem;
  t.has_shape = true;
  for (int64_t d : shape) t.dims.push_back(ir::Dim::of(d));
  return t;
}

ir::Node make_node(const char* op, std::vector<std::string> in, std::vector<std::string> out) {
  ir::Node n;
  n.op_type = op;
  n.name = std::string(op) + "_" + out[0];
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

void set_gops(benchmark::State& state, double ops) {
  state.counters["GOP/s"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

hone::Session make_session(ir::Model m, int level) {
  hone::passes::PassOptions o;
  o.level = level;
  if (auto s = hone::passes::optimize(m, o); !s.ok()) {
    std::fprintf(stderr, "optimize: %s\n", s.message().c_str());
    std::exit(1);
  }
  hone::SessionOptions options;
  options.threads = g_threads;
  auto s = hone::create_session(std::move(m), options);
  if (!s.ok()) {
    std::fprintf(stderr, "create_session: %s\n", s.status().message().c_str());
    std::exit(1);
  }
  return std::move(*s);
}

void run_session(benchmark::State& state, hone::Session& session, const Tensor& x, double ops) {
  const std::vector<Tensor> inputs{x};
  if (auto first = session.run(inputs); !first.ok()) {  // creates primitives, packs weights
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
  set_gops(state, ops);
}

// ---- QLinearMatMul 1024^3 ----

constexpr int64_t kM = 1024, kN = 1024, kK = 1024;

std::vector<float> column_scales(int64_t n) {
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) s[static_cast<size_t>(j)] = 0.002f + 0.00001f * static_cast<float>(j % 97);
  return s;
}

void BM_QLinearMatMul_HoneSession(benchmark::State& state) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.inputs.push_back({"A", tensor_type(DType::kUInt8, {kM, kK}), {}});
  g.outputs.push_back({"Y", tensor_type(DType::kUInt8, {kM, kN}), {}});
  Tensor bs = Tensor::create(DType::kFloat32, {kN}).value();
  const auto cs = column_scales(kN);
  std::copy(cs.begin(), cs.end(), bs.data<float>());
  auto init = [&](const char* name, Tensor t) { g.initializers.push_back({name, std::move(t), {}, std::nullopt}); };
  init("B", random_tensor<int8_t>(DType::kInt8, {kK, kN}, 2, -127, 127));
  init("as", scalar_tensor(DType::kFloat32, 0.02f));
  init("azp", scalar_tensor(DType::kUInt8, 128));
  init("bs", bs);
  init("bzp", Tensor::create(DType::kInt8, {kN}).value());
  init("ys", scalar_tensor(DType::kFloat32, 0.5f));
  init("yzp", scalar_tensor(DType::kUInt8, 10));
  g.nodes.push_back(make_node("QLinearMatMul", {"A", "as", "azp", "B", "bs", "bzp", "ys", "yzp"}, {"Y"}));
  hone::Session s = make_session(std::move(m), 2);
  run_session(state, s, random_tensor<uint8_t>(DType::kUInt8, {kM, kK}, 1, 0, 255), 2.0 * kM * kN * kK);
}

// What hone's QLinearMatMul asks oneDNN for, minus hone.
void BM_QLinearMatMul_OneDnnDirect(benchmark::State& state) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::desc a_md({kM, kK}, memory::data_type::u8, memory::format_tag::ab);
  const memory::desc w_any({kK, kN}, memory::data_type::s8, memory::format_tag::any);
  const memory::desc y_md({kM, kN}, memory::data_type::u8, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  std::vector<float> scales = column_scales(kN);
  for (float& v : scales) v = 0.02f * v / 0.5f;
  attr.set_output_scales(2, scales);
  attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, y_md), attr, eng);
  Tensor a = random_tensor<uint8_t>(DType::kUInt8, {kM, kK}, 1, 0, 255);
  Tensor w = random_tensor<int8_t>(DType::kInt8, {kK, kN}, 2, -127, 127);
  std::vector<uint8_t> y(static_cast<size_t>(kM * kN));
  memory w_user({{kK, kN}, memory::data_type::s8, memory::format_tag::ab}, eng, w.raw());
  memory w_packed(pd.weights_desc(), eng);
  dnnl::reorder(w_user, w_packed).execute(strm, w_user, w_packed);
  int32_t azp = 128, yzp = 10;
  memory a_m(a_md, eng, a.raw()), y_m(y_md, eng, y.data());
  memory azp_m({{1}, memory::data_type::s32, memory::format_tag::a}, eng, &azp);
  memory yzp_m({{1}, memory::data_type::s32, memory::format_tag::a}, eng, &yzp);
  const dnnl::matmul mm(pd);
  for (auto _ : state) {
    mm.execute(strm, {{DNNL_ARG_SRC, a_m},
                      {DNNL_ARG_WEIGHTS, w_packed},
                      {DNNL_ARG_DST, y_m},
                      {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, azp_m},
                      {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, yzp_m}});
    strm.wait();
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(pd.impl_info_str());
  set_gops(state, 2.0 * kM * kN * kK);
}

// ---- BERT-base dynamic-int8 layers (M = 128) ----

struct Layer {
  int64_t k, n;
};
constexpr Layer kLayers[] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
constexpr int64_t kTokens = 128;

// ONNX Runtime's chain for x[1, 128, k] @ W[k, n] + bias.
ir::Model dynamic_chain(const Layer& l) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.inputs.push_back({"X", tensor_type(DType::kFloat32, {1, kTokens, l.k}), {}});
  g.outputs.push_back({"Y", tensor_type(DType::kFloat32, {1, kTokens, l.n}), {}});
  auto init = [&](const char* name, Tensor t) { g.initializers.push_back({name, std::move(t), {}, std::nullopt}); };
  init("W", random_tensor<int8_t>(DType::kInt8, {l.k, l.n}, 3, -127, 127));
  init("ws", scalar_tensor(DType::kFloat32, 0.004f));
  init("wz", scalar_tensor(DType::kInt8, 0));
  init("bias", random_tensor<float>(DType::kFloat32, {l.n}, 4, -1, 1));
  g.nodes.push_back(make_node("DynamicQuantizeLinear", {"X"}, {"xq", "xs", "xz"}));
  g.nodes.push_back(make_node("MatMulInteger", {"xq", "W", "xz", "wz"}, {"i"}));
  ir::Node cast = make_node("Cast", {"i"}, {"f"});
  ir::Attribute to;
  to.name = "to";
  to.type = ir::AttrType::kInt;
  to.i = static_cast<int64_t>(DType::kFloat32);
  cast.attrs.push_back(to);
  g.nodes.push_back(cast);
  g.nodes.push_back(make_node("Mul", {"xs", "ws"}, {"s"}));
  g.nodes.push_back(make_node("Mul", {"f", "s"}, {"m"}));
  g.nodes.push_back(make_node("Add", {"m", "bias"}, {"Y"}));
  return m;
}

void BM_DynQuantLayer_HoneSession(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  hone::Session s = make_session(dynamic_chain(l), 2);
  state.SetLabel(std::to_string(kTokens) + "x" + std::to_string(l.k) + "x" + std::to_string(l.n));
  run_session(state, s, random_tensor<float>(DType::kFloat32, {1, kTokens, l.k}, 1, -2, 2), 2.0 * kTokens * l.k * l.n);
}

// The unfused chain, op by op (level 1): what the fusion saves.
void BM_DynQuantLayer_HoneUnfused(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  hone::Session s = make_session(dynamic_chain(l), 1);
  run_session(state, s, random_tensor<float>(DType::kFloat32, {1, kTokens, l.k}, 1, -2, 2), 2.0 * kTokens * l.k * l.n);
}

// oneDNN alone on already-quantized x with the fused op's epilogue (runtime source zero point,
// per-run scale and bias as binary post-ops).
void BM_DynQuantLayer_OneDnnDirect(benchmark::State& state) {
  using dnnl::memory;
  const Layer& l = kLayers[state.range(0)];
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::desc a_md({kTokens, l.k}, memory::data_type::u8, memory::format_tag::ab);
  const memory::desc w_any({l.k, l.n}, memory::data_type::s8, memory::format_tag::any);
  const memory::desc y_md({kTokens, l.n}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc s_md({1, 1}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc b_md({1, l.n}, memory::data_type::f32, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  const bool zero_point = state.range(1) != 0;
  if (zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::post_ops ops;
  ops.append_binary(dnnl::algorithm::binary_mul, s_md);
  ops.append_binary(dnnl::algorithm::binary_add, b_md);
  attr.set_post_ops(ops);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, y_md), attr, eng);
  Tensor a = random_tensor<uint8_t>(DType::kUInt8, {kTokens, l.k}, 1, 0, 255);
  Tensor w = random_tensor<int8_t>(DType::kInt8, {l.k, l.n}, 3, -127, 127);
  Tensor bias = random_tensor<float>(DType::kFloat32, {l.n}, 4, -1, 1);
  std::vector<float> y(static_cast<size_t>(kTokens * l.n));
  memory w_user({{l.k, l.n}, memory::data_type::s8, memory::format_tag::ab}, eng, w.raw());
  memory w_packed(pd.weights_desc(), eng);
  dnnl::reorder(w_user, w_packed).execute(strm, w_user, w_packed);
  int32_t azp = 120;
  float scale = 0.0001f;
  memory a_m(a_md, eng, a.raw()), y_m(y_md, eng, y.data()), s_m(s_md, eng, &scale), b_m(b_md, eng, bias.raw());
  memory azp_m({{1}, memory::data_type::s32, memory::format_tag::a}, eng, &azp);
  const dnnl::matmul mm(pd);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, a_m},
                                       {DNNL_ARG_WEIGHTS, w_packed},
                                       {DNNL_ARG_DST, y_m},
                                       {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, s_m},
                                       {DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, b_m}};
  if (zero_point) args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, azp_m);
  for (auto _ : state) {
    mm.execute(strm, args);
    strm.wait();
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(pd.impl_info_str()) + (zero_point ? " src zero point" : " no zero point"));
  set_gops(state, 2.0 * kTokens * l.k * l.n);
}

// hone's own u8 x s8 GEMM (kernels/x86/qgemm_u8s8.h, what hone.DynQuantMatMul runs) alone, each
// variant this CPU has (second argument: index in available_variants(), past the end skipped), on
// the inputs and epilogue of BM_DynQuantLayer_OneDnnDirect: pre-quantized x with zero point 120,
// per-tensor scale, bias. Third argument 1: each run takes the next of enough distinct packed
// weight matrices to fill 64 MiB (twice this machine's L3), so the weights come from DRAM as in
// a model (85 MB of them in BERT-base); 0: one matrix, warm in cache like oneDNN's here.
void BM_QGemmU8S8(benchmark::State& state) {
  namespace qgemm = hone::kernels::qgemm;
  const auto variants = qgemm::available_variants();
  if (state.range(1) >= static_cast<int64_t>(variants.size())) {
    state.SkipWithError("ISA not available on this CPU");
    return;
  }
  const qgemm::Variant& v = variants[static_cast<size_t>(state.range(1))];
  const Layer& l = kLayers[state.range(0)];
  Tensor a = random_tensor<uint8_t>(DType::kUInt8, {kTokens, l.k}, 1, 0, 255);
  Tensor w = random_tensor<int8_t>(DType::kInt8, {l.k, l.n}, 3, -127, 127);
  Tensor bias = random_tensor<float>(DType::kFloat32, {l.n}, 4, -1, 1);
  const bool cold = state.range(2) != 0;
  std::vector<qgemm::PackedWeights> packed;
  do packed.push_back(qgemm::pack_weights(w.data<int8_t>(), l.k, l.n));
  while (cold && static_cast<int64_t>(packed.size()) * l.k * l.n < (int64_t{64} << 20));
  size_t next = 0;
  const float scale = 0.0001f;
  qgemm::Epilogue e;
  e.a_zero_point = 120;
  e.scale = &scale;
  e.bias = bias.data<float>();
  std::vector<float> y(static_cast<size_t>(kTokens * l.n));
  for (auto _ : state) {
    qgemm::qgemm_u8s8_with(v, packed[next], a.data<uint8_t>(), l.k, kTokens, e, y.data(), l.n, g_threads);
    next = (next + 1) % packed.size();
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(v.name) + " " + std::to_string(kTokens) + "x" + std::to_string(l.k) + "x" +
                 std::to_string(l.n) + (cold ? " weights from DRAM" : " weights in cache"));
  set_gops(state, 2.0 * kTokens * l.k * l.n);
}

// ---- ResNet-50 conv shapes (batch 1), QLinearConv ----

struct ConvShape {
  int64_t c, m, hw, k, stride;
};
constexpr ConvShape kConvs[] = {{64, 64, 56, 3, 1}, {256, 64, 56, 1, 1}, {256, 256, 14, 3, 1}, {1024, 256, 14, 1, 1},
                                {3, 64, 224, 7, 2}};

int64_t conv_out(const ConvShape& c) { return (c.hw + 2 * (c.k / 2) - c.k) / c.stride + 1; }
double conv_ops(const ConvShape& c) { return 2.0 * c.m * c.c * c.k * c.k * conv_out(c) * conv_out(c); }
std::string conv_label(const ConvShape& c) {
  return std::to_string(c.k) + "x" + std::to_string(c.k) + " " + std::to_string(c.c) + "->" + std::to_string(c.m) + " " +
         std::to_string(c.hw) + "^2/" + std::to_string(c.stride);
}

void conv_session_bench(benchmark::State& state, bool nhwc) {
  const ConvShape& c = kConvs[state.range(0)];
  const int64_t o = conv_out(c);
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  if (nhwc) m.opsets.push_back({"hone", 1});
  ir::Graph& g = m.graph;
  const Shape x_shape = nhwc ? Shape{1, c.hw, c.hw, c.c} : Shape{1, c.c, c.hw, c.hw};
  g.inputs.push_back({"X", tensor_type(DType::kUInt8, x_shape), {}});
  g.outputs.push_back({"Y", tensor_type(DType::kUInt8, nhwc ? Shape{1, o, o, c.m} : Shape{1, c.m, o, o}), {}});
  auto init = [&](const char* name, Tensor t) { g.initializers.push_back({name, std::move(t), {}, std::nullopt}); };
  init("W", random_tensor<int8_t>(DType::kInt8, {c.m, c.c, c.k, c.k}, 2, -127, 127));
  init("xs", scalar_tensor(DType::kFloat32, 0.02f));
  init("xzp", scalar_tensor(DType::kUInt8, 128));
  Tensor ws = Tensor::create(DType::kFloat32, {c.m}).value();
  const auto cs = column_scales(c.m);
  std::copy(cs.begin(), cs.end(), ws.data<float>());
  init("ws", ws);
  init("wzp", Tensor::create(DType::kInt8, {c.m}).value());
  init("ys", scalar_tensor(DType::kFloat32, 0.5f));
  init("yzp", scalar_tensor(DType::kUInt8, 10));
  init("B", random_tensor<int32_t>(DType::kInt32, {c.m}, 3, -1000, 1000));
  ir::Node n = make_node(nhwc ? "NhwcQLinearConv" : "QLinearConv", {"X", "xs", "xzp", "W", "ws", "wzp", "ys", "yzp", "B"}, {"Y"});
  if (nhwc) n.domain = "hone";
  ir::Attribute strides, pads;
  strides.name = "strides";
  strides.type = ir::AttrType::kInts;
  strides.ints = {c.stride, c.stride};
  pads.name = "pads";
  pads.type = ir::AttrType::kInts;
  pads.ints = {c.k / 2, c.k / 2, c.k / 2, c.k / 2};
  n.attrs = {strides, pads};
  g.nodes.push_back(n);
  hone::Session s = make_session(std::move(m), 2);
  state.SetLabel(conv_label(c));
  run_session(state, s, random_tensor<uint8_t>(DType::kUInt8, x_shape, 1, 0, 255), conv_ops(c));
}

void BM_QLinearConv_HoneSession(benchmark::State& state) { conv_session_bench(state, false); }
void BM_NhwcQLinearConv_HoneSession(benchmark::State& state) { conv_session_bench(state, true); }

// oneDNN's int8 convolution alone, activations already in its NHWC layout (hone's op keeps NCHW
// at its boundary and reorders on both sides: the difference is that cost).
void BM_QLinearConv_OneDnnDirect(benchmark::State& state) {
  using dnnl::memory;
  const ConvShape& c = kConvs[state.range(0)];
  const int64_t o = conv_out(c);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::desc x_md({1, c.c, c.hw, c.hw}, memory::data_type::u8, memory::format_tag::nhwc);
  const memory::desc w_any({c.m, c.c, c.k, c.k}, memory::data_type::s8, memory::format_tag::any);
  const memory::desc b_md({c.m}, memory::data_type::s32, memory::format_tag::a);
  const memory::desc y_md({1, c.m, o, o}, memory::data_type::u8, memory::format_tag::nhwc);
  dnnl::primitive_attr attr;
  std::vector<float> scales = column_scales(c.m);
  for (float& v : scales) v = 0.02f * v / 0.5f;
  attr.set_output_scales(2, scales);
  attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  const dnnl::convolution_forward::primitive_desc pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x_md,
                                      w_any, b_md, y_md, {c.stride, c.stride}, {0, 0}, {c.k / 2, c.k / 2},
                                      {c.k / 2, c.k / 2}),
      attr, eng);
  Tensor x = random_tensor<uint8_t>(DType::kUInt8, {1, c.hw, c.hw, c.c}, 1, 0, 255);
  Tensor w = random_tensor<int8_t>(DType::kInt8, {c.m, c.c, c.k, c.k}, 2, -127, 127);
  Tensor b = random_tensor<int32_t>(DType::kInt32, {c.m}, 3, -1000, 1000);
  std::vector<uint8_t> y(static_cast<size_t>(c.m * o * o));
  memory w_user({{c.m, c.c, c.k, c.k}, memory::data_type::s8, memory::format_tag::oihw}, eng, w.raw());
  memory w_packed(pd.weights_desc(), eng);
  dnnl::reorder(w_user, w_packed).execute(strm, w_user, w_packed);
  int32_t xzp = 128, yzp = 10;
  memory x_m(x_md, eng, x.raw()), y_m(y_md, eng, y.data()), b_m(b_md, eng, b.raw());
  memory xzp_m({{1}, memory::data_type::s32, memory::format_tag::a}, eng, &xzp);
  memory yzp_m({{1}, memory::data_type::s32, memory::format_tag::a}, eng, &yzp);
  const dnnl::convolution_forward conv(pd);
  for (auto _ : state) {
    conv.execute(strm, {{DNNL_ARG_SRC, x_m},
                        {DNNL_ARG_WEIGHTS, w_packed},
                        {DNNL_ARG_BIAS, b_m},
                        {DNNL_ARG_DST, y_m},
                        {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, xzp_m},
                        {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, yzp_m}});
    strm.wait();
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(conv_label(c) + " " + pd.impl_info_str());
  set_gops(state, conv_ops(c));
}

// ---- DynamicQuantizeLinear kernel, one thread per variant ----

void BM_DynamicQuantize(benchmark::State& state) {
  const auto variants = hone::kernels::dynq::available_variants();
  if (state.range(0) >= static_cast<int64_t>(variants.size())) {
    state.SkipWithError("ISA not available on this CPU");
    return;
  }
  const auto& v = variants[static_cast<size_t>(state.range(0))];
  Tensor x = random_tensor<float>(DType::kFloat32, {kTokens, 3072}, 5, -3, 3);
  std::vector<uint8_t> y(static_cast<size_t>(x.numel()));
  for (auto _ : state) {
    auto p = hone::kernels::dynq::u8_dynamic_quantize_with(v, x.data<float>(), x.numel(), y.data(), 1);
    benchmark::DoNotOptimize(p);
  }
  state.SetLabel(v.name);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * x.numel() * 4);
}

// ---- Producer-fused quantization (fuse_dynamic_quant_producer) vs producer then quantizer ----
// BERT-base's two producers, one thread: LayerNorm over 128x768 and GELU over 128x3072, each
// followed by DynamicQuantizeLinear of its output; "Fused" scans the range on rows just written
// (u8_dynamic_quantize_produced), "Unfused" runs the producer over the tensor, then
// u8_dynamic_quantize (min/max pass + quantize pass), as the graph without the pass does.

struct Producer {
  const char* name;
  int64_t cols;
};
constexpr Producer kProducers[] = {{"layernorm", 768}, {"gelu", 3072}};

void producer_bench(benchmark::State& state, bool fused) {
  const Producer& p = kProducers[state.range(0)];
  const int64_t rows = kTokens, cols = p.cols;
  Tensor x = random_tensor<float>(DType::kFloat32, {rows, cols}, 7, -3, 3);
  Tensor gamma = random_tensor<float>(DType::kFloat32, {cols}, 8, 0.5f, 1.5f);
  Tensor beta = random_tensor<float>(DType::kFloat32, {cols}, 9, -1, 1);
  std::vector<float> y(static_cast<size_t>(rows * cols));
  std::vector<uint8_t> yq(y.size());
  const auto layernorm = hone::kernels::x86::layernorm_best();
  const auto gelu = hone::kernels::x86::gelu_erf_best();
  const bool is_ln = p.cols == 768;
  auto produce = [&](int64_t begin, int64_t end) {
    const float* xs = x.data<float>() + begin * cols;
    if (is_ln)
      layernorm(xs, gamma.data<float>(), beta.data<float>(), y.data() + begin * cols, end - begin, cols, 1e-5f);
    else
      gelu(xs, y.data() + begin * cols, (end - begin) * cols);
  };
  for (auto _ : state) {
    hone::kernels::dynq::QuantParams q;
    if (fused) {
      q = hone::kernels::dynq::u8_dynamic_quantize_produced(produce, rows, cols, y.data(), yq.data(), 1);
    } else {
      produce(0, rows);
      q = hone::kernels::dynq::u8_dynamic_quantize(y.data(), rows * cols, yq.data(), 1);
    }
    benchmark::DoNotOptimize(q);
    benchmark::DoNotOptimize(yq.data());
  }
  state.SetLabel(std::string(p.name) + " " + std::to_string(rows) + "x" + std::to_string(cols));
}
void BM_ProducerQuantize_Fused(benchmark::State& state) { producer_bench(state, true); }
void BM_ProducerQuantize_Unfused(benchmark::State& state) { producer_bench(state, false); }

double fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void configure(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", fastest);
}

constexpr int kNumLayers = static_cast<int>(std::size(kLayers));

BENCHMARK(BM_QLinearMatMul_HoneSession)->Apply(configure);
BENCHMARK(BM_QLinearMatMul_OneDnnDirect)->Apply(configure);
BENCHMARK(BM_DynQuantLayer_HoneSession)->DenseRange(0, kNumLayers - 1)->Apply(configure);
// Second argument: 1 = with the run-time source zero point (what hone.DynQuantMatMul runs), 0 =
// without (what the zero point costs oneDNN).
BENCHMARK(BM_DynQuantLayer_OneDnnDirect)->ArgsProduct({benchmark::CreateDenseRange(0, kNumLayers - 1, 1), {1, 0}})->Apply(configure);
BENCHMARK(BM_QGemmU8S8)->ArgsProduct({benchmark::CreateDenseRange(0, kNumLayers - 1, 1), {0, 1, 2}, {0, 1}})->Apply(configure);
BENCHMARK(BM_DynQuantLayer_HoneUnfused)->DenseRange(0, kNumLayers - 1)->Apply(configure);
constexpr int kNumConvs = static_cast<int>(std::size(kConvs));
BENCHMARK(BM_QLinearConv_HoneSession)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_NhwcQLinearConv_HoneSession)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_QLinearConv_OneDnnDirect)->DenseRange(0, kNumConvs - 1)->Apply(configure);
BENCHMARK(BM_DynamicQuantize)->DenseRange(0, 2)->Apply(configure);
BENCHMARK(BM_ProducerQuantize_Fused)->DenseRange(0, 1)->Apply(configure);
BENCHMARK(BM_ProducerQuantize_Unfused)->DenseRange(0, 1)->Apply(configure);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      g_threads = std::atoi(argv[i] + 10);
    else
      args.push_back(argv[i]);
  }
  omp_set_num_threads(g_threads);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
