// GPTQ (src/quant/gptq.h): the Hessian accumulator against a direct sum, GPTQ's output error on the
// calibration data against rtn's on a layer with correlated inputs, the layout it shares with rtn,
// and through quantize(): the same bytes with 1 and 2 threads, and from the rules file.
#include "quant/gptq.h"

#include <gtest/gtest.h>

#include <random>

#include "../test_models.h"
#include "eval/dataset.h"
#include "eval/npy.h"
#include "onnx/export.h"
#include "quant/quantize.h"
#include "quant_test_util.h"

namespace hone::quant {
namespace {

using namespace hone::quant_test;

// rows x K activations whose channels are correlated: X = Z M with M mixing a few latent factors
// into every channel, plus a little independent noise and channel scales from 0.2 to 5.
std::vector<float> correlated_inputs(int64_t rows, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t latent = 8;
  std::vector<float> m(static_cast<size_t>(latent * K));
  for (auto& v : m) v = nd(rng);
  std::vector<float> x(static_cast<size_t>(rows * K));
  std::vector<float> z(static_cast<size_t>(latent));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : z) v = nd(rng);
    for (int64_t k = 0; k < K; ++k) {
      float s = 0.1f * nd(rng);
      for (int64_t j = 0; j < latent; ++j) s += z[static_cast<size_t>(j)] * m[static_cast<size_t>(j * K + k)];
      const float scale = 0.2f + 4.8f * static_cast<float>(k % 7) / 6.0f;
      x[static_cast<size_t>(r * K + k)] = s * scale;
    }
  }
  return x;
}

// ||X (W - deq(q))||^2 over the rows of X.
double output_error(const std::vector<float>& x, int64_t rows, const std::vector<float>& w, int64_t K, int64_t N,
                    int64_t block, const QuantParams& p, const std::vector<int32_t>& q) {
  const int64_t nb = num_blocks(K, block);
  std::vector<double> d(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) {
      const size_t pi = static_cast<size_t>(n * nb + k / block);
      d[static_cast<size_t>(k * N + n)] =
          w[static_cast<size_t>(k * N + n)] - dequantize_value(q[static_cast<size_t>(k * N + n)], p.scales[pi], p.zero_points[pi]);
    }
  double e = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < N; ++n) {
      double y = 0;
      for (int64_t k = 0; k < K; ++k) y += static_cast<double>(x[static_cast<size_t>(r * K + k)]) * d[static_cast<size_t>(k * N + n)];
      e += y * y;
    }
  return e;
}

TEST(Gptq, HessianIsTwiceXtXOverRows) {
  const int64_t rows = 37, K = 9;
  std::vector<float> x = correlated_inputs(rows, K, 3);
  HessianAccumulator h(K);
  h.add(x.data(), 20);  // streamed in two parts
  h.add(x.data() + 20 * K, rows - 20);
  EXPECT_EQ(h.rows(), rows);
  const std::vector<double> got = h.hessian();
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) {
      double want = 0;
      for (int64_t r = 0; r < rows; ++r) want += static_cast<double>(x[static_cast<size_t>(r * K + i)]) * x[static_cast<size_t>(r * K + j)];
      want *= 2.0 / rows;
      EXPECT_NEAR(got[static_cast<size_t>(i * K + j)], want, 1e-9 * (1 + std::fabs(want))) << i << "," << j;
    }
}

TEST(Gptq, LowerOutputErrorThanRtnOnCorrelatedInputs) {
  const int64_t rows = 512, K = 96, N = 40;  // K = 96: three blocks of 32, or 1.5 of 64 (padded)
  std::vector<float> x = correlated_inputs(rows, K, 5);
  Tensor wt = random_f32({K, N}, 17, 0.3f);
  std::vector<float> w(wt.data<float>(), wt.data<float>() + K * N);
  HessianAccumulator acc(K);
  acc.add(x.data(), rows);
  const std::vector<double> h = acc.hessian();
  for (QType qt : {QType::kInt4, QType::kUInt4, QType::kUInt8}) {
    for (int64_t block : {32, 64}) {
      const bool sym = qt == QType::kInt4;
      QuantParams pr;
      std::vector<int32_t> qr;
      ASSERT_TRUE(params_blockwise_kn(w.data(), K, N, block, qt, sym, "w").ok());
      pr = params_blockwise_kn(w.data(), K, N, block, qt, sym, "w").value();
      ASSERT_TRUE(quantize_blockwise_kn(w.data(), K, N, block, pr, qt, &qr).ok());
      QuantParams pg;
      std::vector<int32_t> qg;
      Status st = gptq_blockwise_kn(w, K, N, block, qt, h, 0.01, &pg, &qg);
      ASSERT_TRUE(st.ok()) << st.message();
      ASSERT_EQ(pg.scales.size(), static_cast<size_t>(N * num_blocks(K, block)));
      ASSERT_EQ(qg.size(), static_cast<size_t>(K * N));
      const QRange range = sym ? qtype_symmetric_range(qt) : qtype_range(qt);
      for (int32_t c : qg) ASSERT_TRUE(c >= range.qmin && c <= range.qmax) << c;
      for (float s : pg.scales) ASSERT_TRUE(s > 0 && std::isfinite(s));
      const double e_rtn = output_error(x, rows, w, K, N, block, pr, qr);
      const double e_gptq = output_error(x, rows, w, K, N, block, pg, qg);
      EXPECT_LE(e_gptq, e_rtn) << qtype_name(qt) << " block " << block;
      std::printf("gptq vs rtn, %s block %lld: output error %.4g vs %.4g (%.2fx)\n", qtype_name(qt),
                  static_cast<long long>(block), e_gptq, e_rtn, e_rtn / e_gptq);
    }
  }
}

TEST(Gptq, DeadInputsAndBadArguments) {
  const int64_t K = 32, N = 8;
  std::vector<float> w(static_cast<size_t>(K * N), 0.25f);
  std::vector<double> h(static_cast<size_t>(K * K), 0.0);  // every input channel always zero
  QuantParams p;
  std::vector<int32_t> q;
  ASSERT_TRUE(gptq_blockwise_kn(w, K, N, 32, QType::kUInt4, h, 0.01, &p, &q).ok());
  for (size_t i = 0; i < q.size(); ++i) EXPECT_EQ(q[i], p.zero_points[0]) << "dead channels quantize to 0.0";
  EXPECT_FALSE(gptq_blockwise_kn(w, K, N, 32, QType::kUInt4, std::vector<double>(5), 0.01, &p, &q).ok());
  EXPECT_FALSE(gptq_blockwise_kn(w, K, N, 32, QType::kUInt4, h, 0.0, &p, &q).ok());
  h[0] = NAN;
  EXPECT_FALSE(gptq_blockwise_kn(w, K, N, 32, QType::kUInt4, h, 0.01, &p, &q).ok());
}

// Through quantize(): an MLP (MatMul + Gemm transB with bias) with gptq, 1 and 2 threads, and the
// rules re-applied without data: the same bytes every time; gptq without data is refused.
TEST(Gptq, QuantizeIsDeterministicAndRulesReapply) {
  const int64_t K = 64;
  ir::Model f = mlp_model(K, 48, 16);
  std::vector<float> xs = correlated_inputs(96, K, 9);  // 96 rows >= K = 64 (fewer keep rtn)
  Tensor x = Tensor::create(DType::kFloat32, {12, 8, K}).value();
  std::copy(xs.begin(), xs.end(), x.data<float>());
  testing_models::ScratchDir dir;
  const std::string npz = dir / "calib.npz";
  ASSERT_TRUE(eval::write_npz(npz, {{"X", x}}).ok());
  IoInfo in;
  in.name = "X";
  in.dtype = DType::kFloat32;
  in.has_shape = true;
  in.dims = {-1, K};
  in.dim_names = {"batch", ""};
  auto ds = eval::Dataset::open(npz, {in});
  ASSERT_TRUE(ds.ok()) << ds.status().message();

  for (bool sym : {false, true}) {
    QuantizeOptions o;
    o.mode = Mode::kWeightOnly;
    o.algo = "gptq";
    o.weight_symmetric = sym;
    o.calib = &*ds;
    o.threads = 1;
    Rules rules;
    auto q1 = quantize(f, o, nullptr, &rules);
    ASSERT_TRUE(q1.ok()) << q1.status().message();
    EXPECT_EQ(op_counts(*q1)["MatMulNBits"], 2);
    ASSERT_EQ(rules.tensors.size(), 2u);
    for (const auto& t : rules.tensors) {
      EXPECT_EQ(t.method, "gptq");
      EXPECT_EQ(t.scheme, sym ? "symmetric" : "asymmetric");
      ASSERT_EQ(t.extra.count("codes"), 1u);
      EXPECT_EQ(t.extra.at("codes").size(), static_cast<size_t>(t.tensor == "W1" ? K * 48 : 48 * 16));
    }
    o.threads = 2;
    auto q2 = quantize(f, o, nullptr, nullptr);
    ASSERT_TRUE(q2.ok());
    EXPECT_TRUE(*onnxio::serialize_model(*q1) == *onnxio::serialize_model(*q2)) << "threads changed the bytes";
    auto parsed = parse_rules(rules_to_json(rules), "mem");
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    QuantizeOptions plain;
    plain.mode = Mode::kWeightOnly;
    auto q3 = quantize(f, plain, &*parsed, nullptr);
    ASSERT_TRUE(q3.ok()) << q3.status().message();
    EXPECT_TRUE(*onnxio::serialize_model(*q1) == *onnxio::serialize_model(*q3)) << "rules re-application differs";
    // GPTQ's codes are not rtn's (otherwise the rules would not need them).
    QuantizeOptions rtn = plain;
    rtn.weight_symmetric = sym;
    auto qr = quantize(f, rtn, nullptr, nullptr);
    ASSERT_TRUE(qr.ok());
    EXPECT_FALSE(*onnxio::serialize_model(*q1) == *onnxio::serialize_model(*qr));

    // A rules file whose codes are out of range is refused.
    Rules bad = *parsed;
    bad.tensors[0].extra["codes"][0] = 99.0f;
    EXPECT_FALSE(quantize(f, plain, &bad, nullptr).ok());
    bad = *parsed;
    bad.tensors[0].extra.erase("codes");
    EXPECT_FALSE(quantize(f, plain, &bad, nullptr).ok());
  }
  // Fewer calibration rows than inputs (K): rtn, recorded as such.
  {
    Tensor few = Tensor::create(DType::kFloat32, {4, 2, K}).value();
    std::copy(xs.begin(), xs.begin() + 8 * K, few.data<float>());
    const std::string few_npz = dir / "few.npz";
    ASSERT_TRUE(eval::write_npz(few_npz, {{"X", few}}).ok());
    auto fds = eval::Dataset::open(few_npz, {in});
    ASSERT_TRUE(fds.ok());
    QuantizeOptions o;
    o.mode = Mode::kWeightOnly;
    o.algo = "gptq";
    o.calib = &*fds;
    Rules rules;
    auto qf = quantize(f, o, nullptr, &rules);
    ASSERT_TRUE(qf.ok()) << qf.status().message();
    for (const auto& t : rules.tensors) EXPECT_EQ(t.method, "rtn") << t.tensor;
    QuantizeOptions rtn;
    rtn.mode = Mode::kWeightOnly;
    auto qr = quantize(f, rtn, nullptr, nullptr);
    ASSERT_TRUE(qr.ok());
    EXPECT_TRUE(*onnxio::serialize_model(*qf) == *onnxio::serialize_model(*qr));
  }
  QuantizeOptions nodata;
  nodata.mode = Mode::kWeightOnly;
  nodata.algo = "gptq";
  auto r = quantize(f, nodata, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--calib"), std::string::npos);
}

}  // namespace
}  // namespace hone::quant
