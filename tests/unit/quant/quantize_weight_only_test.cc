#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "../test_models.h"
#include "eval/dataset.h"
#include "eval/npy.h"
#include "onnx/export.h"
#include "quant/quant_math.h"
#include "quant/quantize.h"
#include "quant_test_util.h"

namespace hone::quant {
namespace {

using namespace hone::quant_test;

QuantizeOptions wo(int bits, int block, std::string algo = "rtn", bool symmetric = true) {
  QuantizeOptions o;
  o.mode = Mode::kWeightOnly;
  o.bits = bits;
  o.block = block;
  o.algo = std::move(algo);
  o.weight_symmetric = symmetric;
  return o;
}

// X[rows, K] -> MatMul(W [K, N]) -> Y.
ir::Model matmul_model(int64_t K, int64_t N, uint32_t seed = 7) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 17});
  ir::Graph& g = m.graph;
  g.name = "mm";
  g.inputs.push_back({"X", ftype({ir::Dim::symbol("rows"), ir::Dim::of(K)}), {}});
  g.outputs.push_back({"Y", ftype({ir::Dim::symbol("rows"), ir::Dim::of(N)}), {}});
  g.initializers.push_back({"W", random_f32({K, N}, seed, 0.5f), {}, std::nullopt});
  g.nodes.push_back(mk("MatMul", {"X", "W"}, {"Y"}, "mm"));
  return m;
}

const ir::Node* find_op(const ir::Model& m, const std::string& op) {
  for (const auto& n : m.graph.nodes)
    if (n.op_type == op) return &n;
  return nullptr;
}

// Reads MatMulNBits' B, scales and (when present) packed uint8 zero points back to a dequantized
// [K, N] matrix (ORT's layout). Without zero points codes are unsigned with offset 2^(bits-1) and
// `codes` receives the signed codes; with them `codes` receives the stored unsigned codes.
std::vector<float> unpack(const ir::Model& m, const ir::Node& n, std::vector<int32_t>* codes,
                          std::vector<int32_t>* zero_points = nullptr) {
  const int64_t K = n.attr_int("K", 0), N = n.attr_int("N", 0), bits = n.attr_int("bits", 0),
                block = n.attr_int("block_size", 0);
  const Tensor& b = m.graph.find_initializer(n.inputs[1])->tensor;
  const Tensor& s = m.graph.find_initializer(n.inputs[2])->tensor;
  const int64_t nb = (K + block - 1) / block, blob = block * bits / 8;
  EXPECT_EQ(b.dtype(), DType::kUInt8);
  EXPECT_EQ(b.shape(), (Shape{N, nb, blob}));
  EXPECT_EQ(s.shape(), (Shape{N * nb}));
  std::vector<float> w(static_cast<size_t>(K * N));
  codes->assign(static_cast<size_t>(K * N), 0);
  // Zero points [n][block]: the default offset, or unpacked from input 3.
  std::vector<int32_t> zp(static_cast<size_t>(N * nb), 1 << (bits - 1));
  const bool has_zp = n.inputs.size() > 3 && !n.inputs[3].empty();
  if (has_zp) {
    const Tensor& z = m.graph.find_initializer(n.inputs[3])->tensor;
    const int64_t zrow = (nb * bits + 7) / 8;
    EXPECT_EQ(z.dtype(), DType::kUInt8);
    EXPECT_EQ(z.numel(), N * zrow);
    for (int64_t nn = 0; nn < N; ++nn)
      for (int64_t kb = 0; kb < nb; ++kb) {
        const uint8_t byte = z.data<uint8_t>()[nn * zrow + (bits == 4 ? kb / 2 : kb)];
        zp[static_cast<size_t>(nn * nb + kb)] = bits == 4 ? ((kb % 2) ? byte >> 4 : byte & 0xF) : byte;
      }
    if (bits == 4 && nb % 2 == 1) {  // the unused high nibble of each column's last byte is 0
      for (int64_t nn = 0; nn < N; ++nn) EXPECT_EQ(z.data<uint8_t>()[nn * zrow + zrow - 1] >> 4, 0);
    }
  }
  if (zero_points) *zero_points = zp;
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t k = 0; k < nb * block; ++k) {
      const uint8_t byte = b.data<uint8_t>()[(nn * nb + k / block) * blob + (bits == 4 ? (k % block) / 2 : k % block)];
      const int32_t u = bits == 4 ? ((k % 2) ? byte >> 4 : byte & 0xF) : byte;
      const int32_t offset = zp[static_cast<size_t>(nn * nb + k / block)];
      if (k >= K) {
        EXPECT_EQ(u, offset) << "padding must hold the code of 0.0";
        continue;
      }
      (*codes)[static_cast<size_t>(k * N + nn)] = has_zp ? u : u - offset;
      w[static_cast<size_t>(k * N + nn)] = static_cast<float>(u - offset) * s.data<float>()[nn * nb + k / block];
    }
  return w;
}

TEST(QuantizeWeightOnly, PackingMatchesTheQuantizedValues) {
  for (int bits : {4, 8}) {
    for (int64_t K : {64, 70}) {  // 70: the last block is padded
      ir::Model f = matmul_model(K, 12);
      QuantizeReport report;
      QuantizeOptions o = wo(bits, 32);
      o.report = &report;
      auto q = quantize_weight_only(f, o, nullptr, nullptr);
      ASSERT_TRUE(q.ok()) << q.status().message();
      EXPECT_EQ(report.quantized["MatMul"], 1);
      const ir::Node* n = find_op(*q, "MatMulNBits");
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(n->domain, "com.microsoft");
      EXPECT_EQ(n->attr_int("K", 0), K);
      EXPECT_EQ(n->attr_int("N", 0), 12);
      EXPECT_EQ(n->attr_int("bits", 0), bits);
      EXPECT_EQ(n->attr_int("block_size", 0), 32);
      EXPECT_EQ(n->inputs.size(), 3u);  // symmetric: no zero points
      EXPECT_EQ(n->outputs[0], "Y");
      EXPECT_EQ(q->opset("com.microsoft"), 1);
      EXPECT_EQ(q->graph.find_initializer("W"), nullptr);
      // The codes in B are exactly quant_math's blockwise RTN codes.
      const Tensor& w = f.graph.find_initializer("W")->tensor;
      QType qt = bits == 4 ? QType::kInt4 : QType::kInt8;
      auto p = params_blockwise_kn(w.data<float>(), K, 12, 32, qt, true, "W");
      ASSERT_TRUE(p.ok());
      std::vector<int32_t> expect;
      ASSERT_TRUE(quantize_blockwise_kn(w.data<float>(), K, 12, 32, *p, qt, &expect).ok());
      std::vector<int32_t> codes;
      std::vector<float> deq = unpack(*q, *n, &codes);
      EXPECT_EQ(codes, expect) << "bits " << bits << " K " << K;
      // And they dequantize to within half a step of the float weight.
      const int64_t nb = (K + 31) / 32;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < 12; ++c) {
          const float step = p->scales[static_cast<size_t>(c * nb + k / 32)];
          ASSERT_LE(std::fabs(deq[static_cast<size_t>(k * 12 + c)] - w.data<float>()[k * 12 + c]), step * 0.5f + 1e-6f);
        }
    }
  }
}

TEST(QuantizeWeightOnly, GemmTransBWithBias) {
  ir::Model f = mlp_model(64, 32, 16);  // fc2 is Gemm transB=1 with bias
  auto q = quantize_weight_only(f, wo(4, 32), nullptr, nullptr);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(op_counts(*q)["MatMulNBits"], 2);
  EXPECT_EQ(op_counts(*q)["Gemm"], 0);
  const ir::Node* gemm = nullptr;
  for (const auto& n : q->graph.nodes)
    if (n.op_type == "MatMulNBits" && n.outputs[0] == "Y") gemm = &n;
  ASSERT_NE(gemm, nullptr);
  ASSERT_EQ(gemm->inputs.size(), 6u);  // bias is input 5
  EXPECT_EQ(gemm->inputs[3], "");
  EXPECT_EQ(gemm->inputs[4], "");
  EXPECT_EQ(gemm->attr_int("K", 0), 32);
  EXPECT_EQ(gemm->attr_int("N", 0), 16);
  // The transposed weight is quantized in its [K, N] reading.
  std::vector<int32_t> codes;
  std::vector<float> deq = unpack(*q, *gemm, &codes);
  const Tensor& w2 = f.graph.find_initializer("W2")->tensor;  // [N, K]
  double err = 0, ref = 0;
  for (int64_t k = 0; k < 32; ++k)
    for (int64_t n = 0; n < 16; ++n) {
      const double d = deq[static_cast<size_t>(k * 16 + n)] - w2.data<float>()[n * 32 + k];
      err += d * d;
      ref += static_cast<double>(w2.data<float>()[n * 32 + k]) * w2.data<float>()[n * 32 + k];
    }
  EXPECT_LT(err / ref, 0.02);

  // A bias that is not a constant [N] initializer (here computed by a node) becomes an Add.
  ir::Model h = mlp_model(64, 32, 16);
  h.graph.nodes.insert(h.graph.nodes.begin(), mk("Identity", {"b2"}, {"b2_id"}, "id"));
  h.graph.nodes.back().inputs[2] = "b2_id";
  auto qh = quantize_weight_only(h, wo(4, 32), nullptr, nullptr);
  ASSERT_TRUE(qh.ok()) << qh.status().message();
  EXPECT_EQ(op_counts(*qh)["MatMulNBits"], 2);
  EXPECT_EQ(op_counts(*qh)["Add"], 1);
  EXPECT_EQ(qh->graph.nodes.back().op_type, "Add");
  EXPECT_EQ(qh->graph.nodes.back().outputs[0], "Y");
  SessionOptions so;
  so.threads = 1;
  if (create_session(*qh, so).ok()) {
    Tensor x = random_f32({3, 64}, 5);
    EXPECT_GE(cosine(run1(h, x), run1(*qh, x)), 0.99);
  }
}

TEST(QuantizeWeightOnly, BadOptionsAreErrors) {
  ir::Model f = matmul_model(64, 8);
  EXPECT_FALSE(quantize_weight_only(f, wo(3, 32), nullptr, nullptr).ok());
  EXPECT_FALSE(quantize_weight_only(f, wo(4, 48), nullptr, nullptr).ok());
  EXPECT_FALSE(quantize_weight_only(f, wo(4, 32, "magic"), nullptr, nullptr).ok());
  auto awq = quantize_weight_only(f, wo(4, 32, "awq"), nullptr, nullptr);  // no --calib
  ASSERT_FALSE(awq.ok());
  EXPECT_NE(awq.status().message().find("--calib"), std::string::npos);
}

// Runs the quantized single-MatMul model by hand: optional Mul by AWQ's 1/s, then X @ dequant(B).
std::vector<double> run_by_hand(const ir::Model& q, const Tensor& x) {
  const ir::Node* nb = find_op(q, "MatMulNBits");
  std::vector<int32_t> codes;
  std::vector<float> w = unpack(q, *nb, &codes);
  const int64_t K = nb->attr_int("K", 0), N = nb->attr_int("N", 0), rows = x.numel() / K;
  std::vector<float> inv(static_cast<size_t>(K), 1.0f);
  if (const ir::Node* mul = find_op(q, "Mul")) {
    const Tensor& t = q.graph.find_initializer(mul->inputs[1])->tensor;
    std::copy(t.data<float>(), t.data<float>() + K, inv.begin());
  }
  std::vector<double> y(static_cast<size_t>(rows * N), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k) {
      const float a = x.data<float>()[r * K + k] * inv[static_cast<size_t>(k)];
      for (int64_t n = 0; n < N; ++n) y[static_cast<size_t>(r * N + n)] += static_cast<double>(a) * w[static_cast<size_t>(k * N + n)];
    }
  return y;
}

TEST(QuantizeWeightOnly, AwqBeatsRtnOnOutlierChannelsAndRulesReapply) {
  const int64_t K = 64, N = 32, rows = 16;
  ir::Model f = matmul_model(K, N, 9);
  // Activations with a few channels 20x larger than the rest (what AWQ is for).
  Tensor x = random_f32({rows, K}, 21);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k : {3, 17, 40}) x.data<float>()[r * K + k] *= 20.0f;
  testing_models::ScratchDir dir;
  const std::string npz = dir / "calib.npz";
  // Samples along the first axis: 8 samples of [2, K].
  Tensor samples = x.reshaped({8, 2, K}).value();
  ASSERT_TRUE(eval::write_npz(npz, {{"X", samples}}).ok());
  IoInfo in;
  in.name = "X";
  in.dtype = DType::kFloat32;
  in.has_shape = true;
  in.dims = {-1, K};
  in.dim_names = {"rows", ""};
  auto ds = eval::Dataset::open(npz, {in});
  ASSERT_TRUE(ds.ok()) << ds.status().message();

  QuantizeOptions o = wo(4, 32, "awq");
  o.calib = &*ds;
  o.threads = 1;
  Rules rules;
  auto qa = quantize_weight_only(f, o, nullptr, &rules);
  ASSERT_TRUE(qa.ok()) << qa.status().message();
  auto qr = quantize_weight_only(f, wo(4, 32), nullptr, nullptr);
  ASSERT_TRUE(qr.ok());
  ASSERT_EQ(rules.tensors.size(), 1u);
  EXPECT_EQ(rules.tensors[0].method, "awq");
  ASSERT_EQ(rules.tensors[0].extra.count("channel_scale"), 1u) << "AWQ chose no scaling on outlier data";
  EXPECT_NE(find_op(*qa, "Mul"), nullptr);

  std::vector<double> ref(static_cast<size_t>(rows * N), 0.0);
  const Tensor& w = f.graph.find_initializer("W")->tensor;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) ref[static_cast<size_t>(r * N + n)] += static_cast<double>(x.data<float>()[r * K + k]) * w.data<float>()[k * N + n];
  auto err = [&](const std::vector<double>& y) {
    double e = 0;
    for (size_t i = 0; i < y.size(); ++i) e += (y[i] - ref[i]) * (y[i] - ref[i]);
    return e;
  };
  const double e_awq = err(run_by_hand(*qa, x)), e_rtn = err(run_by_hand(*qr, x));
  EXPECT_LT(e_awq, e_rtn * 0.9) << "awq " << e_awq << " rtn " << e_rtn;

  // Re-applying the rules (no calibration data) gives the same bytes.
  auto parsed = parse_rules(rules_to_json(rules), "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto again = quantize_weight_only(f, wo(8, 128, "rtn"), &*parsed, nullptr);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(*onnxio::serialize_model(*qa) == *onnxio::serialize_model(*again));
}

TEST(QuantizeWeightOnly, RtnRulesReapplyByteIdentical) {
  ir::Model f = mlp_model(64, 32, 16);
  Rules rules;
  auto q1 = quantize_weight_only(f, wo(4, 32), nullptr, &rules);
  ASSERT_TRUE(q1.ok());
  ASSERT_EQ(rules.tensors.size(), 2u);
  EXPECT_EQ(rules.tensors[0].block, 32);
  auto parsed = parse_rules(rules_to_json(rules), "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto q2 = quantize_weight_only(f, wo(8, 64), &*parsed, nullptr);
  ASSERT_TRUE(q2.ok()) << q2.status().message();
  EXPECT_TRUE(*onnxio::serialize_model(*q1) == *onnxio::serialize_model(*q2));
}

TEST(QuantizeWeightOnly, RunsInHoneWhenTheKernelExists) {
  ir::Model f = matmul_model(70, 24);
  auto q = quantize_weight_only(f, wo(4, 32), nullptr, nullptr);
  ASSERT_TRUE(q.ok());
  SessionOptions so;
  so.threads = 1;
  auto s = create_session(*q, so);
  if (!s.ok()) GTEST_SKIP() << "no MatMulNBits kernel in this build: " << s.status().message();
  Tensor x = random_f32({5, 70}, 31);
  auto out = s->run(std::vector<Tensor>{x});
  ASSERT_TRUE(out.ok()) << out.status().message();
  std::vector<double> want = run_by_hand(*q, x);
  ASSERT_EQ((*out)[0].numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR((*out)[0].data<float>()[i], want[i], 1e-3 * (1 + std::fabs(want[i])));
  Tensor ref = run1(f, x);
  EXPECT_GE(cosine(ref, (*out)[0]), 0.99);
}

TEST(QuantizeWeightOnly, AsymmetricPackingMatchesTheQuantizedValues) {
  for (int bits : {4, 8}) {
    for (int64_t K : {64, 70, 96}) {  // 70: padded last block; 96: odd block count (half a zp byte)
      ir::Model f = matmul_model(K, 12);
      // Shift some columns off zero so that the zero points differ from the midpoint.
      Tensor& wt = f.graph.find_initializer("W")->tensor;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < 12; c += 3) wt.data<float>()[k * 12 + c] += 0.3f * static_cast<float>(c % 2 ? 1 : -1);
      Rules rules;
      auto q = quantize_weight_only(f, wo(bits, 32, "rtn", false), nullptr, &rules);
      ASSERT_TRUE(q.ok()) << q.status().message();
      const ir::Node* n = find_op(*q, "MatMulNBits");
      ASSERT_NE(n, nullptr);
      ASSERT_EQ(n->inputs.size(), 4u);  // zero points are input 3
      const Tensor& w = f.graph.find_initializer("W")->tensor;
      const QType qt = bits == 4 ? QType::kUInt4 : QType::kUInt8;
      auto p = params_blockwise_kn(w.data<float>(), K, 12, 32, qt, false, "W");
      ASSERT_TRUE(p.ok());
      std::vector<int32_t> expect;
      ASSERT_TRUE(quantize_blockwise_kn(w.data<float>(), K, 12, 32, *p, qt, &expect).ok());
      std::vector<int32_t> codes, zps;
      std::vector<float> deq = unpack(*q, *n, &codes, &zps);
      EXPECT_EQ(codes, expect) << "bits " << bits << " K " << K;
      EXPECT_EQ(zps, p->zero_points);
      EXPECT_NE(std::count(zps.begin(), zps.end(), 1 << (bits - 1)), static_cast<std::ptrdiff_t>(zps.size()));
      const int64_t nb = (K + 31) / 32;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < 12; ++c) {
          const size_t pi = static_cast<size_t>(c * nb + k / 32);
          const size_t i = static_cast<size_t>(k * 12 + c);
          // Equal to quant_math's dequantization, and within half a step of the float weight.
          EXPECT_EQ(deq[i], dequantize_value(expect[i], p->scales[pi], p->zero_points[pi]));
          ASSERT_LE(std::fabs(deq[i] - w.data<float>()[k * 12 + c]), p->scales[pi] * 0.5f + 1e-6f);
        }
      ASSERT_EQ(rules.tensors.size(), 1u);
      EXPECT_EQ(rules.tensors[0].scheme, "asymmetric");
      EXPECT_EQ(rules.tensors[0].dtype, bits == 4 ? "uint4" : "uint8");
      EXPECT_EQ(rules.tensors[0].zero_points, p->zero_points);
    }
  }
}

TEST(QuantizeWeightOnly, AsymmetricRunsInHoneAndRulesReapplyByteIdentical) {
  for (int bits : {4, 8}) {
    for (int64_t K : {64, 70, 96}) {
      ir::Model f = matmul_model(K, 24);
      Tensor& wt = f.graph.find_initializer("W")->tensor;
      for (int64_t i = 0; i < wt.numel(); i += 2) wt.data<float>()[i] = std::fabs(wt.data<float>()[i]);
      Rules rules;
      auto q = quantize_weight_only(f, wo(bits, 32, "rtn", false), nullptr, &rules);
      ASSERT_TRUE(q.ok()) << q.status().message();
      auto parsed = parse_rules(rules_to_json(rules), "mem");
      ASSERT_TRUE(parsed.ok()) << parsed.status().message();
      auto again = quantize_weight_only(f, wo(8, 128), &*parsed, nullptr);  // options ignored: the rules decide
      ASSERT_TRUE(again.ok()) << again.status().message();
      EXPECT_TRUE(*onnxio::serialize_model(*q) == *onnxio::serialize_model(*again));
      // A zero point outside the type's range in a rule is refused.
      Rules bad = *parsed;
      bad.tensors[0].zero_points[0] = 1 << bits;
      EXPECT_FALSE(quantize_weight_only(f, wo(4, 32), &bad, nullptr).ok());

      SessionOptions so;
      so.threads = 1;
      auto s = create_session(*q, so);
      if (!s.ok()) GTEST_SKIP() << "no MatMulNBits kernel in this build: " << s.status().message();
      for (int64_t rows : {1, 5, 160}) {  // 1 row: GEMV; 160: the dequantize + GEMM path
        Tensor x = random_f32({rows, K}, 31);
        auto out = s->run(std::vector<Tensor>{x});
        ASSERT_TRUE(out.ok()) << out.status().message();
        std::vector<double> want = run_by_hand(*q, x);
        ASSERT_EQ((*out)[0].numel(), static_cast<int64_t>(want.size()));
        for (size_t i = 0; i < want.size(); ++i)
          EXPECT_NEAR((*out)[0].data<float>()[i], want[i], 1e-3 * (1 + std::fabs(want[i]))) << bits << " " << K << " " << i;
        EXPECT_GE(cosine(run1(f, x), (*out)[0]), 0.99);
      }
    }
  }
}

TEST(QuantizeWeightOnly, AsymmetricAwqAndGemmBiasRulesReapply) {
  const int64_t K = 64, N = 32, rows = 16;
  ir::Model f = matmul_model(K, N, 9);
  Tensor x = random_f32({rows, K}, 21);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k : {3, 17, 40}) x.data<float>()[r * K + k] *= 20.0f;
  testing_models::ScratchDir dir;
  const std::string npz = dir / "calib.npz";
  ASSERT_TRUE(eval::write_npz(npz, {{"X", x.reshaped({8, 2, K}).value()}}).ok());
  IoInfo in;
  in.name = "X";
  in.dtype = DType::kFloat32;
  in.has_shape = true;
  in.dims = {-1, K};
  in.dim_names = {"rows", ""};
  auto ds = eval::Dataset::open(npz, {in});
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  std::string first;
  for (int threads : {1, 3}) {  // deterministic whatever the thread count
    QuantizeOptions o = wo(4, 32, "awq", false);
    o.calib = &*ds;
    o.threads = threads;
    Rules rules;
    auto qa = quantize_weight_only(f, o, nullptr, &rules);
    ASSERT_TRUE(qa.ok()) << qa.status().message();
    ASSERT_EQ(rules.tensors.size(), 1u);
    EXPECT_EQ(rules.tensors[0].scheme, "asymmetric");
    EXPECT_EQ(rules.tensors[0].method, "awq");
    const ir::Node* n = find_op(*qa, "MatMulNBits");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->inputs.size(), 4u);
    auto bytes = *onnxio::serialize_model(*qa);
    if (first.empty()) first = bytes;
    else EXPECT_TRUE(bytes == first) << "threads " << threads;
    auto parsed = parse_rules(rules_to_json(rules), "mem");
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    auto again = quantize_weight_only(f, wo(8, 128), &*parsed, nullptr);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_TRUE(*onnxio::serialize_model(*again) == bytes);
    // Close to the float result (AWQ's Mul, then the asymmetric blocks).
    const std::vector<double> y = run_by_hand(*qa, x);
    Tensor ref = run1(f, x);
    double dot = 0, a2 = 0, b2 = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      dot += y[i] * ref.data<float>()[i];
      a2 += y[i] * y[i];
      b2 += static_cast<double>(ref.data<float>()[i]) * ref.data<float>()[i];
    }
    EXPECT_GE(dot / std::sqrt(a2 * b2), 0.99);
  }

  // Gemm with a bias: zero points at input 3, bias at 5.
  ir::Model g = mlp_model(64, 32, 16);
  Rules rules;
  auto q = quantize_weight_only(g, wo(4, 32, "rtn", false), nullptr, &rules);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const ir::Node* gemm = nullptr;
  for (const auto& n : q->graph.nodes)
    if (n.op_type == "MatMulNBits" && n.outputs[0] == "Y") gemm = &n;
  ASSERT_NE(gemm, nullptr);
  ASSERT_EQ(gemm->inputs.size(), 6u);
  EXPECT_NE(gemm->inputs[3], "");
  EXPECT_EQ(gemm->inputs[4], "");
  EXPECT_NE(gemm->inputs[5], "");
  auto parsed = parse_rules(rules_to_json(rules), "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto again = quantize_weight_only(g, wo(8, 64), &*parsed, nullptr);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(*onnxio::serialize_model(*q) == *onnxio::serialize_model(*again));
  SessionOptions so;
  so.threads = 1;
  if (create_session(*q, so).ok()) {
    Tensor xg = random_f32({3, 64}, 5);
    EXPECT_GE(cosine(run1(g, xg), run1(*q, xg)), 0.99);
  }
}

TEST(QuantizeWeightOnly, GatherEmbeddingBecomesGatherBlockQuantized) {
  const int64_t V = 50, D = 72;  // 72: the last block of 32 is partial
  ir::Model f;
  f.ir_version = 8;
  f.opsets.push_back({"", 17});
  ir::TypeInfo ids = ftype({ir::Dim::of(2), ir::Dim::of(5)});
  ids.elem = DType::kInt64;
  f.graph.inputs.push_back({"ids", ids, {}});
  f.graph.outputs.push_back({"emb", ftype({ir::Dim::of(2), ir::Dim::of(5), ir::Dim::of(D)}), {}});
  f.graph.initializers.push_back({"E", random_f32({V, D}, 41, 1.0f), {}, std::nullopt});
  f.graph.nodes.push_back(mk("Gather", {"E", "ids"}, {"emb"}, "embed"));
  Rules rules;
  QuantizeReport report;
  QuantizeOptions o = wo(4, 32);
  o.report = &report;
  auto q = quantize_weight_only(f, o, nullptr, &rules);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(report.quantized["Gather"], 1);
  const ir::Node* n = find_op(*q, "GatherBlockQuantized");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->domain, "com.microsoft");
  EXPECT_EQ(n->attr_int("bits", 0), 4);
  EXPECT_EQ(n->attr_int("block_size", 0), 32);
  EXPECT_EQ(n->attr_int("quantize_axis", -1), 1);
  const Tensor& data = q->graph.find_initializer(n->inputs[0])->tensor;
  const Tensor& scales = q->graph.find_initializer(n->inputs[2])->tensor;
  EXPECT_EQ(data.shape(), (Shape{V, D / 2}));
  EXPECT_EQ(scales.shape(), (Shape{V, 3}));
  // Unpack by hand: low nibble = even column, offset 8, within half a step of the table.
  const Tensor& e = f.graph.find_initializer("E")->tensor;
  for (int64_t v = 0; v < V; ++v)
    for (int64_t d = 0; d < D; ++d) {
      const uint8_t byte = data.data<uint8_t>()[v * (D / 2) + d / 2];
      const int code = (d % 2 ? byte >> 4 : byte & 0xF) - 8;
      const float s = scales.data<float>()[v * 3 + d / 32];
      ASSERT_LE(std::fabs(code * s - e.data<float>()[v * D + d]), s * 0.5f + 1e-6f) << v << "," << d;
    }
  // Rules re-apply to the same bytes.
  auto again = quantize_weight_only(f, wo(8, 64), &rules, nullptr);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(*onnxio::serialize_model(*q) == *onnxio::serialize_model(*again));
  // And hone runs it (the runtime's GatherBlockQuantized) close to the float gather.
  Tensor idx = Tensor::create(DType::kInt64, {2, 5}).value();
  for (int64_t i = 0; i < 10; ++i) idx.data<int64_t>()[i] = (i * 7) % V;
  SessionOptions so;
  so.threads = 1;
  auto s = create_session(*q, so);
  if (!s.ok()) GTEST_SKIP() << "no GatherBlockQuantized kernel: " << s.status().message();
  auto out = s->run(std::vector<Tensor>{idx});
  ASSERT_TRUE(out.ok()) << out.status().message();
  Tensor ref = run1(f, idx);
  EXPECT_GE(cosine(ref, (*out)[0]), 0.99);
  EXPECT_LT(cosine(ref, (*out)[0]), 1.0 - 1e-9);
}

}  // namespace
}  // namespace hone::quant
