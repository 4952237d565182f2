// u8s8_matmul_dnnl (kernels/dnnl/matmul_int8_dnnl.h) against plain loops: the int32 accumulators
// must be exact (s32 output, and float output with scale 1 while sums stay below 2^24), the float
// epilogue must be the MatMulInteger -> Cast -> Mul -> Add (-> residual Add) chain's to the last bit, and the
// requantized output within one step of the float formula (rounding ties may differ).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <tuple>
#include <random>
#include <vector>

#include "kernels/dnnl/dnnl_engine.h"
#include "kernels/dnnl/matmul_int8_dnnl.h"

namespace hone::kernels::onednn {
namespace {

struct Case {
  int64_t m, n, k;
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
};

Case make_case(int64_t m, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  Case c{m, n, k, std::vector<uint8_t>(static_cast<size_t>(m * k)), std::vector<int8_t>(static_cast<size_t>(k * n))};
  for (auto& v : c.a) v = static_cast<uint8_t>(rng() % 256);
  for (auto& v : c.w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  return c;
}

std::vector<int32_t> reference_acc(const Case& c, int32_t a_zp) {
  std::vector<int32_t> acc(static_cast<size_t>(c.m * c.n), 0);
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t kk = 0; kk < c.k; ++kk)
      for (int64_t j = 0; j < c.n; ++j)
        acc[static_cast<size_t>(i * c.n + j)] +=
            (static_cast<int32_t>(c.a[static_cast<size_t>(i * c.k + kk)]) - a_zp) * c.w[static_cast<size_t>(kk * c.n + j)];
  return acc;
}

TEST(MatMulInt8Dnnl, S32AccumulatorsAreExact) {
  if (!enabled() || !int8_exact_isa()) GTEST_SKIP() << "HONE_DNNL=0, or no VNNI: the reference path serves";
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 13, 33}, {64, 48, 96}, {5, 100, 250}}) {
    for (int32_t zp : {0, 131}) {
      const Case c = make_case(m, n, k, static_cast<uint32_t>(m * 31 + zp));
      MatMulU8S8Dnnl mm;
      mm.set_weights(c.w.data());
      MatMulInt8Desc d;
      d.m = m;
      d.n = n;
      d.k = k;
      d.dst = Int8Dst::kS32;
      d.a_zero_point = zp != 0;
      std::vector<int32_t> y(static_cast<size_t>(m * n), -1);
      Status s = mm.run(d, c.a.data(), zp, nullptr, nullptr, y.data());
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(y, reference_acc(c, zp)) << m << "x" << n << "x" << k << " zp " << zp << " (" << mm.impl_name() << ")";
    }
  }
}

TEST(MatMulInt8Dnnl, FloatEpilogueIsTheChainsArithmetic) {
  if (!enabled() || !int8_exact_isa()) GTEST_SKIP() << "HONE_DNNL=0, or no VNNI: the reference path serves";
  for (bool per_column : {false, true}) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool bias = variant & 1, residual = variant & 2;  // residual: a skip connection added last
      const int64_t m = 9, n = 37, k = 70;
      const Case c = make_case(m, n, k, 3 + per_column + 2 * bias);
      std::mt19937 rng(11);
      std::vector<float> scale(per_column ? n : 1), b(n);
      for (float& s : scale) s = 0.001f + static_cast<float>(rng() % 1000) * 1e-5f;
      for (float& v : b) v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) * 0.37f;
      MatMulU8S8Dnnl mm;
      mm.set_weights(c.w.data());
      MatMulInt8Desc d;
      d.m = m;
      d.n = n;
      d.k = k;
      d.dst = Int8Dst::kF32;
      d.a_zero_point = true;
      d.per_column = per_column;
      d.has_bias = bias;
      d.has_residual = residual;
      std::vector<float> r(static_cast<size_t>(m * n));
      for (float& v : r) v = static_cast<float>(static_cast<int>(rng() % 4001) - 2000) * 0.013f;
      const int32_t zp = 97;
      std::vector<float> y(static_cast<size_t>(m * n));
      Status s = mm.run(d, c.a.data(), zp, scale.data(), bias ? b.data() : nullptr, y.data(), residual ? r.data() : nullptr);
      ASSERT_TRUE(s.ok()) << s.message();
      const auto acc = reference_acc(c, zp);
      int mismatches = 0;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          float want = static_cast<float>(acc[static_cast<size_t>(i * n + j)]) * scale[per_column ? j : 0];
          if (bias) want = want + b[static_cast<size_t>(j)];
          if (residual) want = want + r[static_cast<size_t>(i * n + j)];
          const float got = y[static_cast<size_t>(i * n + j)];
          if (got != want && mismatches++ < 3) ADD_FAILURE() << "[" << i << "," << j << "] " << got << " vs " << want;
        }
      EXPECT_EQ(mismatches, 0) << "per_column " << per_column << " bias " << bias << " residual " << residual << " ("
                               << mm.impl_name() << ")";
    }
  }
}

TEST(MatMulInt8Dnnl, RequantizedU8WithinOneStep) {
  if (!enabled() || !int8_exact_isa()) GTEST_SKIP() << "HONE_DNNL=0, or no VNNI: the reference path serves";
  const int64_t m = 6, n = 19, k = 45;
  const Case c = make_case(m, n, k, 77);
  std::vector<int32_t> bias(n);
  for (int64_t j = 0; j < n; ++j) bias[static_cast<size_t>(j)] = static_cast<int32_t>(j * 97) - 900;
  MatMulU8S8Dnnl mm;
  mm.set_weights(c.w.data());
  MatMulInt8Desc d;
  d.m = m;
  d.n = n;
  d.k = k;
  d.dst = Int8Dst::kU8;
  d.a_zero_point = true;
  d.has_bias = true;
  d.per_column = true;
  for (int64_t j = 0; j < n; ++j) d.out_scales.push_back(0.0004f + 0.00003f * static_cast<float>(j));
  d.y_zero_point = 120;
  d.post_ops.push_back(PostOp::relu());
  std::vector<uint8_t> y(static_cast<size_t>(m * n));
  Status s = mm.run(d, c.a.data(), 128, nullptr, bias.data(), y.data());
  ASSERT_TRUE(s.ok()) << s.message();
  const auto acc = reference_acc(c, 128);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const float v = static_cast<float>(acc[static_cast<size_t>(i * n + j)] + bias[static_cast<size_t>(j)]) *
                      d.out_scales[static_cast<size_t>(j)];
      const float want = std::clamp(std::nearbyint(std::max(v, 0.0f) + 120.0f), 0.0f, 255.0f);
      EXPECT_LE(std::fabs(static_cast<float>(y[static_cast<size_t>(i * n + j)]) - want), 1.0f) << i << "," << j;
    }
}

TEST(MatMulInt8Dnnl, RefusesWhatItCannotRun) {
  if (!int8_exact_isa()) GTEST_SKIP() << "no VNNI: everything is refused";
  MatMulInt8Desc d;
  d.m = 0;
  d.n = 4;
  d.k = 4;
  EXPECT_FALSE(MatMulU8S8Dnnl::supports(d));
  d.m = 2;
  d.dst = Int8Dst::kU8;  // requantizing without its scales
  EXPECT_FALSE(MatMulU8S8Dnnl::supports(d));
  MatMulU8S8Dnnl mm;  // no weights set
  d.dst = Int8Dst::kS32;
  std::vector<uint8_t> a(8);
  std::vector<int32_t> y(8);
  EXPECT_EQ(mm.run(d, a.data(), 0, nullptr, nullptr, y.data()).code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace hone::kernels::onednn

namespace hone::kernels::onednn {
namespace {

// oneDNN never dispatches past AVX-512 VNNI/BF16 unless the user asks (dnnl_engine.h): its 2.6 AMX
// int8 convolution corrupted the heap in the int8 conv tests on an AMX Xeon. Fails on an AMX
// machine if the cap is lost; on others it checks that asking for the cap does no harm.
TEST(OneDnnIsa, CappedBelowAmxUnlessTheUserAsks) {
  if (std::getenv("ONEDNN_MAX_CPU_ISA") || std::getenv("DNNL_MAX_CPU_ISA") || std::getenv("HONE_ONEDNN_AMX"))
    GTEST_SKIP() << "the user set oneDNN's ISA";
  cpu_engine();
  using ::dnnl::cpu_isa;
  const cpu_isa isa = ::dnnl::get_effective_cpu_isa();
  EXPECT_NE(isa, cpu_isa::avx512_core_amx);
  EXPECT_EQ(static_cast<unsigned>(isa) & ~static_cast<unsigned>(cpu_isa::avx512_core_bf16), 0u)
      << "effective ISA 0x" << std::hex << static_cast<unsigned>(isa);
}

}  // namespace
}  // namespace hone::kernels::onednn
