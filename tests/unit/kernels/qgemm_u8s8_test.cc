// kernels/x86/qgemm_u8s8.h: every variant against the chain written out here on the unpacked
// weights (int32 sums of (a - zp) * w, then the float multiply and adds in the chain's order),
// bit for bit, over shapes that hit every row remainder (m % 6), column tail (n % 16, n % 64) and
// k tail (k % 4), with and without bias, residual and per-column scales, on 1 and 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/x86/qgemm_u8s8.h"

namespace hone::kernels::qgemm {
namespace {

struct Case {
  int64_t m, k, n;
  int32_t zp;
  bool per_column, bias, residual;
};

std::string describe(const Case& c) {
  return "m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) + " n=" + std::to_string(c.n) +
         " zp=" + std::to_string(c.zp) + (c.per_column ? " per-column" : "") + (c.bias ? " bias" : "") +
         (c.residual ? " residual" : "");
}

void expect_exact(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  // lda and ldy wider than k and n: the kernels must use the strides.
  const int64_t lda = c.k + 3, ldy = c.n + 5;
  std::vector<uint8_t> a(static_cast<size_t>(c.m * lda));
  std::vector<int8_t> w(static_cast<size_t>(c.k * c.n));
  for (auto& v : a) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : w) v = static_cast<int8_t>(byte(rng) - 128);
  std::vector<float> scale(c.per_column ? static_cast<size_t>(c.n) : 1u), bias(static_cast<size_t>(c.n)),
      residual(static_cast<size_t>(c.m * ldy));
  for (auto& v : scale) v = 1e-4f * (1.0f + real(rng));
  for (auto& v : bias) v = real(rng);
  for (auto& v : residual) v = real(rng);

  std::vector<float> want(static_cast<size_t>(c.m * ldy), -7.0f);
  for (int64_t r = 0; r < c.m; ++r)
    for (int64_t j = 0; j < c.n; ++j) {
      int32_t acc = 0;
      for (int64_t kk = 0; kk < c.k; ++kk)
        acc += (static_cast<int32_t>(a[static_cast<size_t>(r * lda + kk)]) - c.zp) * w[static_cast<size_t>(kk * c.n + j)];
      float v = static_cast<float>(acc) * scale[c.per_column ? static_cast<size_t>(j) : 0u];
      if (c.bias) v = v + bias[static_cast<size_t>(j)];
      if (c.residual) v = v + residual[static_cast<size_t>(r * ldy + j)];
      want[static_cast<size_t>(r * ldy + j)] = v;
    }

  const PackedWeights p = pack_weights(w.data(), c.k, c.n);
  for (int64_t kk = 0; kk < c.k; kk += 7)
    for (int64_t j = 0; j < c.n; j += 5)
      ASSERT_EQ(packed_weight(p, kk, j), w[static_cast<size_t>(kk * c.n + j)]) << describe(c);
  Epilogue e;
  e.a_zero_point = c.zp;
  e.scale = scale.data();
  e.per_column = c.per_column;
  e.bias = c.bias ? bias.data() : nullptr;
  e.residual = c.residual ? residual.data() : nullptr;
  for (const Variant& v : available_variants()) {
    for (int threads : {1, 3}) {
      std::vector<float> got(static_cast<size_t>(c.m * ldy), -7.0f);  // the gaps between rows stay -7
      qgemm_u8s8_with(v, p, a.data(), lda, c.m, e, got.data(), ldy, threads);
      int bad = 0;
      for (size_t i = 0; i < got.size() && bad < 3; ++i)
        if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
          ++bad;
          ADD_FAILURE() << v.name << " threads " << threads << " " << describe(c) << " at row " << i / ldy
                        << " column " << i % ldy << ": " << got[i] << " vs " << want[i];
        }
    }
  }
}

TEST(QGemmU8S8, EveryVariantMatchesTheChainBitForBit) {
  uint32_t seed = 1;
  // 20 and 25-28 rows: the AVX-512 kernel trades six-row tiles for five-row ones to leave no
  // tile of 1-4 rows (20 = 4 x 5, 25 = 5 x 5, 26 = 6 + 4 x 5, 27 = 2 x 6 + 3 x 5, 28 = 3 x 6 + 2 x 5).
  for (int64_t m : {1, 5, 6, 7, 13, 20, 25, 26, 27, 28})
    for (int64_t k : {1, 3, 4, 17, 64})
      for (int64_t n : {1, 15, 16, 64, 65, 130}) expect_exact({m, k, n, 131, true, true, false}, seed++);
}

TEST(QGemmU8S8, EpilogueOptionsAndZeroPoints) {
  uint32_t seed = 100;
  for (int32_t zp : {0, 1, 128, 255})
    for (bool per_column : {false, true})
      for (bool bias : {false, true})
        for (bool residual : {false, true}) expect_exact({11, 37, 70, zp, per_column, bias, residual}, seed++);
}

TEST(QGemmU8S8, BertSizedProductsAcrossThreads) {
  // Large enough for the threaded split by panels (n = 768: 12 panels) and by rows (n = 64: one
  // panel, rows split between threads); k = 768 sums stay exact in int32.
  expect_exact({128, 768, 768, 77, false, true, true}, 7);
  expect_exact({128, 768, 64, 3, true, true, false}, 8);
  // k past 4096: the AVX2 kernel widens a row tile's activations into a heap buffer instead of
  // its stack one (and k % 4 != 0: the padded copy of a).
  expect_exact({8, 4101, 70, 200, true, true, true}, 9);
}

TEST(QGemmU8S8, ExtremeBytesStayExact) {
  // All 255 activations with zero point 0 and all -128 weights: the largest magnitude per product.
  const int64_t m = 7, k = 1000, n = 33;
  std::vector<uint8_t> a(static_cast<size_t>(m * k), 255);
  std::vector<int8_t> w(static_cast<size_t>(k * n), -128);
  const float one = 1.0f;
  Epilogue e;
  e.scale = &one;
  const PackedWeights p = pack_weights(w.data(), k, n);
  for (const Variant& v : available_variants()) {
    std::vector<float> y(static_cast<size_t>(m * n), 0.0f);
    qgemm_u8s8_with(v, p, a.data(), k, m, e, y.data(), n, 2);
    for (float got : y) ASSERT_EQ(got, static_cast<float>(255 * -128 * k)) << v.name;
  }
}

// OwnedPartWork: the parts cover every element of y exactly once, both times; `between` runs once,
// after every after_product and before any after_between; each part's values are the finished
// product's; thread indices stay below the threads asked for.
TEST(QGemmU8S8, OwnedPartsCoverTheOutputOnceInOrder) {
  struct Shape {
    int64_t m, k, n;
  };
  for (const Shape s : {Shape{128, 64, 768}, Shape{130, 64, 64}, Shape{5, 8, 200}, Shape{1, 4, 1}}) {
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> a(static_cast<size_t>(s.m * s.k));
    std::vector<int8_t> w(static_cast<size_t>(s.k * s.n));
    for (auto& v : a) v = static_cast<uint8_t>(byte(rng));
    for (auto& v : w) v = static_cast<int8_t>(byte(rng) - 128);
    const PackedWeights p = pack_weights(w.data(), s.k, s.n);
    const float one = 1.0f;
    Epilogue e;
    e.scale = &one;
    std::vector<float> want(static_cast<size_t>(s.m * s.n));
    qgemm_u8s8_with(available_variants().front(), p, a.data(), s.k, s.m, e, want.data(), s.n, 1);
    for (const Variant& v : available_variants()) {
      for (int threads : {1, 2, 3}) {
        std::vector<float> y(static_cast<size_t>(s.m * s.n), 0.0f);
        std::vector<int> first(y.size(), 0), second(y.size(), 0);
        std::vector<int> seen_threads(static_cast<size_t>(threads), 0);
        int betweens = 0;
        bool ordered = true, values = true;
        OwnedPartWork work;
        work.after_product = [&](int t, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
          if (t < 0 || t >= threads) ordered = false;
          else seen_threads[static_cast<size_t>(t)] = 1;
          if (betweens != 0) ordered = false;
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t c = c0; c < c1; ++c) {
              const size_t i = static_cast<size_t>(r * s.n + c);
              ++first[i];
              if (std::memcmp(&y[i], &want[i], sizeof(float)) != 0) values = false;
            }
        };
        work.between = [&] { ++betweens; };
        work.after_between = [&](int, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
          if (betweens != 1) ordered = false;
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t c = c0; c < c1; ++c) ++second[static_cast<size_t>(r * s.n + c)];
        };
        qgemm_u8s8_with(v, p, a.data(), s.k, s.m, e, y.data(), s.n, threads, &work);
        const std::string what = std::string(v.name) + " threads " + std::to_string(threads) + " m=" +
                                 std::to_string(s.m) + " n=" + std::to_string(s.n);
        EXPECT_EQ(betweens, 1) << what;
        EXPECT_TRUE(ordered) << what;
        EXPECT_TRUE(values) << what << ": a part was handed over before its products were final";
        EXPECT_EQ(std::count(first.begin(), first.end(), 1), static_cast<long>(first.size())) << what;
        EXPECT_EQ(std::count(second.begin(), second.end(), 1), static_cast<long>(second.size())) << what;
      }
    }
  }
}

// A thread that is held up: the other finishes its own units, then takes the held one's from the
// back. Every element is still computed once, by the thread that then runs after_between on it.
TEST(QGemmU8S8, AnIdleThreadTakesOverTheUnitsOfASlowOne) {
  const int64_t m = 128, k = 64, n = 768;  // 12 panels, 6 per thread
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> a(static_cast<size_t>(m * k));
  std::vector<int8_t> w(static_cast<size_t>(k * n));
  for (auto& v : a) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : w) v = static_cast<int8_t>(byte(rng) - 128);
  const PackedWeights p = pack_weights(w.data(), k, n);
  const float one = 1.0f;
  Epilogue e;
  e.scale = &one;
  std::vector<float> want(static_cast<size_t>(m * n)), y(want.size());
  qgemm_u8s8_with(available_variants().front(), p, a.data(), k, m, e, want.data(), n, 1);
  std::vector<int> producer(want.size(), -1), finisher(want.size(), -1);
  std::atomic<int64_t> columns_of_1{0};
  OwnedPartWork work;
  work.after_product = [&](int t, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) producer[static_cast<size_t>(r * n + c)] = t;
    if (t == 1) columns_of_1 += c1 - c0;
    // Thread 0 waits (up to 5 s) until thread 1 has done more than its own half of the columns.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (t == 0 && columns_of_1.load() <= n / 2 && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
  };
  work.after_between = [&](int t, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) finisher[static_cast<size_t>(r * n + c)] = t;
  };
  qgemm_u8s8_with(best_variant(), p, a.data(), k, m, e, y.data(), n, 2, &work);
  EXPECT_EQ(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)), 0);
  EXPECT_GT(columns_of_1.load(), n / 2) << "thread 1 never took thread 0's units";
  EXPECT_EQ(producer, finisher);
  EXPECT_EQ(std::count(producer.begin(), producer.end(), -1), 0);
}

TEST(QGemmU8S8, TheBestVariantIsTheLastAvailable) {
  EXPECT_STREQ(best_variant().name, available_variants().back().name);
  EXPECT_EQ(has_fast_variant(), available_variants().size() > 1);
}

}  // namespace
}  // namespace hone::kernels::qgemm
