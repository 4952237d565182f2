// f32_matmul_dnnl against the reference GEMM (the oracle) on random data with odd sizes: plain,
// transposed operands (Gemm), alpha, bias, batched with broadcast batch dims on either side,
// constant (packed) and run-time B, and fused post-ops.
#include "kernels/dnnl/matmul_dnnl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "kernels/ref/gemm_ref.h"
#include "dnnl_test_util.h"

namespace hone::kernels::onednn {
namespace {

using test_util::expect_close;
using test_util::random_values;

int64_t product(const std::vector<int64_t>& v) {
  int64_t r = 1;
  for (int64_t x : v) r *= x;
  return r;
}

// The reference result of d: one reference GEMM per output batch entry, broadcasting by index.
std::vector<float> reference(const MatMulDesc& d, const std::vector<float>& a, const std::vector<float>& b,
                             const std::vector<float>& bias) {
  std::vector<int64_t> batch_y(d.batch_a.size());
  for (size_t i = 0; i < batch_y.size(); ++i) batch_y[i] = std::max(d.batch_a[i], d.batch_b[i]);
  const int64_t count = product(batch_y);
  std::vector<float> y(static_cast<size_t>(count * d.m * d.n), 0.0f);
  for (int64_t e = 0; e < count; ++e) {
    int64_t rest = e, ia = 0, ib = 0;
    std::vector<int64_t> idx(batch_y.size());
    for (size_t i = batch_y.size(); i-- > 0;) idx[i] = rest % batch_y[i], rest /= batch_y[i];
    for (size_t i = 0; i < batch_y.size(); ++i) {
      ia = ia * d.batch_a[i] + (d.batch_a[i] == 1 ? 0 : idx[i]);
      ib = ib * d.batch_b[i] + (d.batch_b[i] == 1 ? 0 : idx[i]);
    }
    float* out = y.data() + e * d.m * d.n;
    if (d.has_bias)
      for (int64_t r = 0; r < d.m; ++r) std::copy(bias.begin(), bias.end(), out + r * d.n);
    ref::sgemm(d.trans_a, d.trans_b, d.m, d.n, d.k, d.alpha, a.data() + ia * d.m * d.k, d.trans_a ? d.m : d.k,
               b.data() + ib * d.k * d.n, d.trans_b ? d.k : d.n, d.has_bias ? 1.0f : 0.0f, out, d.n);
  }
  return y;
}

void check(MatMulDesc d, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " m=" << d.m << " n=" << d.n << " k=" << d.k);
  const auto a = random_values(product(d.batch_a) * d.m * d.k, seed);
  const auto b = random_values(product(d.batch_b) * d.k * d.n, seed + 1);
  const auto bias = random_values(d.n, seed + 2);
  const std::vector<float> want = reference(d, a, b, bias);
  for (bool constant : {false, true}) {
    d.b_constant = constant;
    MatMulF32Dnnl mm;
    std::vector<float> got(want.size(), 0.0f);
    ASSERT_TRUE(mm.run(d, a.data(), b.data(), bias.data(), got.data()).ok()) << "constant B: " << constant;
    expect_close(got, want);
    std::fill(got.begin(), got.end(), 0.0f);
    ASSERT_TRUE(mm.run(d, a.data(), b.data(), bias.data(), got.data()).ok());
    expect_close(got, want);
  }
}

MatMulDesc plain(int64_t m, int64_t n, int64_t k) {
  MatMulDesc d;
  d.m = m;
  d.n = n;
  d.k = k;
  return d;
}

TEST(DnnlMatMulTest, PlainOddSizes) {
  uint32_t seed = 1;
  for (auto [m, n, k] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {1, 37, 129}, {17, 1, 33}, {65, 63, 31},
                                                           {128, 257, 96}, {3, 1000, 511}})
    check(plain(m, n, k), seed++);
}

TEST(DnnlMatMulTest, GemmTransposedAlphaBias) {
  uint32_t seed = 50;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      MatMulDesc d = plain(19, 45, 23);
      d.trans_a = ta;
      d.trans_b = tb;
      d.alpha = 0.75f;
      check(d, seed++);
      d.alpha = 1.0f;
      d.has_bias = true;
      check(d, seed++);
    }
}

TEST(DnnlMatMulTest, BatchedAndBroadcast) {
  uint32_t seed = 100;
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> batches = {
      {{3}, {3}}, {{2, 5}, {2, 5}}, {{4}, {1}}, {{1}, {4}}, {{2, 1}, {1, 3}}, {{1, 3, 2}, {2, 3, 1}}};
  for (const auto& [ba, bb] : batches) {
    MatMulDesc d = plain(7, 11, 13);
    d.batch_a = ba;
    d.batch_b = bb;
    check(d, seed++);
  }
}

TEST(DnnlMatMulTest, FusedPostOps) {
  MatMulDesc d = plain(9, 14, 21);
  d.alpha = 2.0f;
  d.post_ops = {PostOp::sum(1.0f), PostOp::relu()};
  const auto a = random_values(d.m * d.k, 1);
  const auto b = random_values(d.k * d.n, 2);
  const auto c = random_values(d.m * d.n, 3);
  std::vector<float> want = c;
  ref::sgemm(false, false, d.m, d.n, d.k, 2.0f, a.data(), d.k, b.data(), d.n, 1.0f, want.data(), d.n);
  for (float& v : want) v = std::max(v, 0.0f);
  std::vector<float> got = c;
  MatMulF32Dnnl mm;
  ASSERT_TRUE(mm.run(d, a.data(), b.data(), nullptr, got.data()).ok());
  expect_close(got, want);
}

TEST(DnnlMatMulTest, RefusesWhatItCannotRun) {
  MatMulDesc d = plain(2, 2, 2);
  d.batch_a = {2};
  d.batch_b = {3};  // batch dims that do not broadcast
  EXPECT_FALSE(MatMulF32Dnnl::supports(d));
  d.batch_b = {2};
  d.m = 0;
  EXPECT_FALSE(MatMulF32Dnnl::supports(d));
}

}  // namespace
}  // namespace hone::kernels::onednn
