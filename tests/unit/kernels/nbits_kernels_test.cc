// Blockwise n-bit kernels: the scalar reference against a dequantization written here from the
// layout's definition, then every variant of nbits_kernels.inc that this CPU runs against the
// reference, on random data with sizes that hit every tail (K not a multiple of the block, odd N,
// M not a multiple of the 4-row group), with and without zero points, 2/4/8 bits.
// Variants the CPU lacks (or HONE_ISA caps away) are skipped. tests/kernels_isa reruns these
// with HONE_ISA=scalar and HONE_ISA=avx2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/ref/nbits_ref.h"
#include "kernels/x86/nbits_kernels.h"
#include "../random_data.h"

namespace hone::kernels::nbits {
namespace {

enum class ZpKind { kNone, kU8, kF32 };

struct Case {
  int bits;
  int64_t k, n, m, block;
  ZpKind zp;
};

// Random weights in ORT's layout, with everything the view points at.
struct RandomWeights {
  std::vector<uint8_t> b;
  std::vector<float> scales;
  std::vector<uint8_t> zp_u8;
  std::vector<float> zp_f32;
  NBitsWeights w;

  RandomWeights(const Case& c, uint32_t seed) {
    std::mt19937 rng(seed);
    w.bits = c.bits;
    w.k = c.k;
    w.n = c.n;
    w.block_size = c.block;
    w.k_blocks = (c.k + c.block - 1) / c.block;
    w.blob_size = c.block * c.bits / 8;
    b.resize(static_cast<size_t>(c.n * w.k_blocks * w.blob_size));
    for (auto& v : b) v = static_cast<uint8_t>(rng() & 0xFF);
    std::uniform_real_distribution<float> sd(0.001f, 0.1f);
    scales.resize(static_cast<size_t>(c.n * w.k_blocks));
    for (auto& s : scales) s = (rng() & 1) ? sd(rng) : -sd(rng);
    const int top = (1 << c.bits) - 1;
    if (c.zp == ZpKind::kU8) {
      zp_u8.resize(scales.size());
      for (auto& z : zp_u8) z = static_cast<uint8_t>(rng() % static_cast<uint32_t>(top + 1));
    } else if (c.zp == ZpKind::kF32) {
      zp_f32.resize(scales.size());
      std::uniform_real_distribution<float> zd(0.0f, static_cast<float>(top));
      for (auto& z : zp_f32) z = zd(rng);  // fractional: the form no byte can hold
    }
    w.b = b.data();
    w.scales = scales.data();
    w.zp_u8 = zp_u8.empty() ? nullptr : zp_u8.data();
    w.zp_f32 = zp_f32.empty() ? nullptr : zp_f32.data();
  }
};

// W[k][n] from the layout's definition (independent of nbits_ref's helpers), in double.
double hand_weight_uncached(const RandomWeights& rw, int64_t k, int64_t n) {
  const NBitsWeights& w = rw.w;
  const int64_t blk = k / w.block_size, i = k % w.block_size;
  const uint8_t* blob = rw.b.data() + (n * w.k_blocks + blk) * w.blob_size;
  const int per_byte = 8 / w.bits;
  const int code = (blob[i / per_byte] >> ((i % per_byte) * w.bits)) & ((1 << w.bits) - 1);
  const size_t s = static_cast<size_t>(n * w.k_blocks + blk);
  double zp = std::pow(2.0, w.bits - 1);
  if (!rw.zp_u8.empty()) zp = rw.zp_u8[s];
  if (!rw.zp_f32.empty()) zp = rw.zp_f32[s];
  return (code - zp) * rw.scales[s];
}

// The whole matrix once, [n][k] (the checks below read every weight once per row of A).
std::vector<double> hand_matrix(const RandomWeights& rw) {
  std::vector<double> m(static_cast<size_t>(rw.w.n * rw.w.k));
  for (int64_t n = 0; n < rw.w.n; ++n)
    for (int64_t k = 0; k < rw.w.k; ++k) m[static_cast<size_t>(n * rw.w.k + k)] = hand_weight_uncached(rw, k, n);
  return m;
}

// |y - expected| <= 1e-5 * sum_k |a_k| * (|w_k| + 2^bits * |scale_k|): fp32 accumulation over K
// terms, with code * scale - zp * scale rounded once per weight (the fast kernels' form).
void expect_close(const RandomWeights& rw, const std::vector<double>& hand, const std::vector<float>& a, int64_t m,
                  const std::vector<float>& y, const std::vector<double>& expected, const std::string& what) {
  const NBitsWeights& w = rw.w;
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t n = 0; n < w.n; ++n) {
      double bound = 0;
      for (int64_t k = 0; k < w.k; ++k) {
        const double s = rw.scales[static_cast<size_t>(n * w.k_blocks + k / w.block_size)];
        bound += std::fabs(a[static_cast<size_t>(r * w.k + k)]) *
                 (std::fabs(hand[static_cast<size_t>(n * w.k + k)]) + std::ldexp(std::fabs(s), w.bits));
      }
      const size_t i = static_cast<size_t>(r * w.n + n);
      ASSERT_NEAR(y[i], expected[i], 1e-5 * bound + 1e-30) << what << " row " << r << " col " << n;
    }
  }
}

std::string describe(const Case& c) {
  return "bits=" + std::to_string(c.bits) + " K=" + std::to_string(c.k) + " N=" + std::to_string(c.n) +
         " M=" + std::to_string(c.m) + " block=" + std::to_string(c.block) + " zp=" + std::to_string(int(c.zp));
}

std::vector<Case> cases() {
  // (K, N, M, block): a single element; K short of a block; tails everywhere; a long K; block 16;
  // GEMVs (M = 1) wide enough for the VNNI kernels to take column groups several at a time, with
  // groups left over, on 1 and 2 threads (38 and 16 groups of 16 columns, the last one partial).
  const int64_t shapes[][4] = {{1, 1, 1, 32}, {100, 7, 3, 32}, {257, 33, 17, 64}, {300, 9, 1, 128},
                               {48, 5, 4, 16}, {64, 16, 5, 32}, {200, 597, 1, 32}, {136, 250, 1, 64}};
  std::vector<Case> out;
  for (int bits : {2, 4, 8})
    for (ZpKind zp : {ZpKind::kNone, ZpKind::kU8, ZpKind::kF32})
      for (const auto& s : shapes) out.push_back({bits, s[0], s[1], s[2], s[3], zp});
  return out;
}

TEST(NbitsReference, MatchesHandDequantization) {
  uint32_t seed = 1;
  for (const Case& c : cases()) {
    RandomWeights rw(c, seed++);
    const auto a = test_data::uniform_floats(c.m * c.k, seed++);
    const auto hand = hand_matrix(rw);
    std::vector<double> expected(static_cast<size_t>(c.m * c.n));
    for (int64_t r = 0; r < c.m; ++r)
      for (int64_t n = 0; n < c.n; ++n) {
        double s = 0;
        for (int64_t k = 0; k < c.k; ++k) s += a[static_cast<size_t>(r * c.k + k)] * hand[static_cast<size_t>(n * c.k + k)];
        expected[static_cast<size_t>(r * c.n + n)] = s;
      }
    std::vector<float> y(static_cast<size_t>(c.m * c.n), -1.0f);
    qn_f32_gemm_ref(rw.w, a.data(), c.k, c.m, y.data(), c.n, 0, c.n);
    expect_close(rw, hand, a, c.m, y, expected, describe(c));
    // Dequantization alone, element by element.
    std::vector<float> deq(static_cast<size_t>(c.n * c.k));
    dequantize_ref(rw.w, 0, c.n, deq.data(), c.k);
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t k = 0; k < c.k; ++k)
        ASSERT_NEAR(deq[static_cast<size_t>(n * c.k + k)], hand[static_cast<size_t>(n * c.k + k)],
                    1e-6 * std::fabs(hand[static_cast<size_t>(n * c.k + k)]) + 1e-7)
            << describe(c);
  }
}

class NbitsVariant : public ::testing::TestWithParam<size_t> {};

TEST_P(NbitsVariant, MatchesReference) {
  const GemmVariant& v = gemm_variants()[GetParam()];
  if (!isa_available(v.isa)) GTEST_SKIP() << v.name << ": this CPU (or HONE_ISA) lacks " << isa_name(v.isa);
  uint32_t seed = 100;
  int served = 0;
  for (const Case& c : cases()) {
    RandomWeights rw(c, seed++);
    const auto a = test_data::uniform_floats(c.m * c.k, seed++);
    if (!serves(v, rw.w)) continue;
    ++served;
    const auto hand = hand_matrix(rw);
    std::vector<float> ref(static_cast<size_t>(c.m * c.n));
    qn_f32_gemm_ref(rw.w, a.data(), c.k, c.m, ref.data(), c.n, 0, c.n);
    const std::vector<double> expected(ref.begin(), ref.end());
    for (int threads : {1, 2}) {
      std::vector<float> y(static_cast<size_t>(c.m * c.n), std::nanf(""));
      gemm(v, rw.w, a.data(), c.k, c.m, y.data(), c.n, threads);
      expect_close(rw, hand, a, c.m, y, expected, std::string(v.name) + " " + describe(c) + " threads=" +
                                                std::to_string(threads));
    }
  }
  EXPECT_GT(served, 0) << v.name << " served none of the cases";
}

INSTANTIATE_TEST_SUITE_P(All, NbitsVariant, ::testing::Range<size_t>(0, gemm_variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& p) {
                           return std::string(gemm_variants()[p.param].name);
                         });

// int8 activations: the kernel against the product with A replaced by its int8 approximation
// (step * a8, computed here in double from quantize_a's output: fp32 rounding only), and that
// approximation against the exact product within the documented bound
// sum_b step_b / 2 * sum_{k in b} |w_k|.
class NbitsS8Variant : public ::testing::TestWithParam<size_t> {};

TEST_P(NbitsS8Variant, MatchesReferenceWithinTheInt8Bound) {
  const S8GemmVariant& v = s8_gemm_variants()[GetParam()];
  if (!v.available()) GTEST_SKIP() << v.name << ": this CPU (or HONE_ISA) lacks it";
  uint32_t seed = 300;
  int served = 0;
  for (const Case& c : cases()) {
    RandomWeights rw(c, seed++);
    const auto a = test_data::uniform_floats(c.m * c.k, seed++);
    if (!c16_packable(rw.w)) continue;
    ++served;
    const auto hand = hand_matrix(rw);
    const PackedC16 packed = pack_c16(rw.w);
    QuantizedA q;
    quantize_a(a.data(), c.k, c.m, c.k, c.block, v.limbs, &q);
    for (int threads : {1, 2}) {
      std::vector<float> y(static_cast<size_t>(c.m * c.n), std::nanf(""));
      s8_gemm(v, packed, a.data(), c.k, c.m, y.data(), c.n, threads);
      for (int64_t r = 0; r < c.m; ++r)
        for (int64_t n = 0; n < c.n; ++n) {
          double approx = 0, exact = 0, fp_bound = 0, q_bound = 0;
          for (int64_t k = 0; k < c.k; ++k) {
            const size_t ib = static_cast<size_t>(r * q.k_blocks + k / c.block);
            const double wk = hand[static_cast<size_t>(n * c.k + k)];
            double digits = 0;  // the digits' value, most significant first
            for (int d = 0; d < q.limbs; ++d)
              digits = digits * 256 + q.a8[static_cast<size_t>((r * q.limbs + d) * q.kp + k)];
            const double ahat = static_cast<double>(q.step[ib]) * digits;
            approx += ahat * wk;
            exact += static_cast<double>(a[static_cast<size_t>(r * c.k + k)]) * wk;
            const double s = rw.scales[static_cast<size_t>(n * rw.w.k_blocks + k / c.block)];
            fp_bound += std::fabs(ahat) * (std::fabs(wk) + std::ldexp(std::fabs(s), c.bits));
            // Half a step, plus the rounding of a / step in float.
            q_bound += (0.5 * q.step[ib] + std::ldexp(std::fabs(a[static_cast<size_t>(r * c.k + k)]), -23)) *
                       std::fabs(wk);
          }
          const float got = y[static_cast<size_t>(r * c.n + n)];
          ASSERT_NEAR(got, approx, 1e-5 * fp_bound + 1e-30) << v.name << " " << describe(c) << " r=" << r << " n=" << n;
          ASSERT_NEAR(approx, exact, 1.001 * q_bound + 1e-12) << describe(c) << " r=" << r << " n=" << n;
          // With 3 digits the result is also within the fp32 kernels' bound of the exact product.
          if (v.limbs == 3) {
            ASSERT_NEAR(got, exact, 1e-5 * fp_bound + 1e-30) << v.name << " " << describe(c) << " r=" << r;
          }
        }
    }
  }
  EXPECT_GT(served, 0);
}

INSTANTIATE_TEST_SUITE_P(All, NbitsS8Variant, ::testing::Range<size_t>(0, s8_gemm_variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& p) {
                           return std::string(s8_gemm_variants()[p.param].name);
                         });

// The repacked stream read back element by element equals ORT's layout: codes, scales and zero
// points of every column and block, tails (odd N, K short of a block) included. Zero points that
// are all 8 leave no zero-point stream.
TEST(NbitsC16Pack, ReadsBackEveryCodeScaleAndZeroPoint) {
  uint32_t seed = 700;
  for (const Case& c : cases()) {
    RandomWeights rw(c, seed++);
    if (!c16_packable(rw.w)) continue;
    const PackedC16 p = pack_c16(rw.w);
    ASSERT_EQ(p.groups, (c.n + 15) / 16);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p.stream.data()) % 64, 0u);
    ASSERT_EQ(p.zp.empty(), c.zp == ZpKind::kNone) << describe(c);
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t b = 0; b < rw.w.k_blocks; ++b) {
        ASSERT_EQ(c16_scale(p, n, b), rw.scales[static_cast<size_t>(n * rw.w.k_blocks + b)]) << describe(c);
        ASSERT_EQ(c16_zero_point(p, n, b), static_cast<int>(zero_point_at(rw.w, n, b))) << describe(c);
        const uint8_t* blob = rw.b.data() + (n * rw.w.k_blocks + b) * rw.w.blob_size;
        for (int64_t i = 0; i < c.block; ++i)
          ASSERT_EQ(c16_code(p, n, b * c.block + i), code_at(blob, 4, i)) << describe(c) << " n=" << n << " b=" << b;
      }
    // Padding columns of the last group: scale 0, so they add nothing.
    for (int64_t n = c.n; n < p.groups * 16; ++n) ASSERT_EQ(c16_scale(p, n, 0), 0.0f);
  }
  // Zero points given but all 8: the same as none.
  RandomWeights rw({4, 64, 20, 1, 32, ZpKind::kU8}, 9);
  std::fill(rw.zp_u8.begin(), rw.zp_u8.end(), uint8_t{8});
  EXPECT_TRUE(pack_c16(rw.w).zp.empty());
}

// quantize_a (AVX-512 where available) gives the same bytes as the scalar reference: K tails,
// a row stride past K, zeros and a block of zeros, blocks 16 to 256, one and three digits.
TEST(NbitsQuantizeA, VectorMatchesTheScalarReference) {
  const int64_t shapes[][4] = {{1, 1, 16, 1}, {100, 3, 32, 7}, {257, 2, 64, 0}, {4096, 1, 32, 0},
                               {300, 5, 128, 3}, {48, 4, 16, 1}, {1000, 2, 256, 0}};
  uint32_t seed = 900;
  for (const auto& sh : shapes) {
    const int64_t k = sh[0], m = sh[1], block = sh[2], lda = k + sh[3];
    std::mt19937 rng(seed++);
    std::uniform_real_distribution<float> d(-3.0f, 3.0f);
    std::vector<float> a(static_cast<size_t>(m * lda));
    for (auto& v : a) v = d(rng);
    // A block of zeros (step 0) and some exact zeros elsewhere.
    for (int64_t i = 0; i < std::min(block, k); ++i) a[static_cast<size_t>(i)] = 0.0f;
    for (size_t i = 0; i < a.size(); i += 7) a[i] = 0.0f;
    for (int limbs : {1, 3}) {
      QuantizedA ref, fast;
      quantize_a_ref(a.data(), lda, m, k, block, limbs, &ref);
      quantize_a(a.data(), lda, m, k, block, limbs, &fast);
      const std::string what = "K=" + std::to_string(k) + " M=" + std::to_string(m) + " block=" +
                               std::to_string(block) + " limbs=" + std::to_string(limbs);
      ASSERT_EQ(fast.kp, ref.kp) << what;
      EXPECT_EQ(fast.a8, ref.a8) << what;
      EXPECT_EQ(fast.step, ref.step) << what;
      EXPECT_EQ(fast.asum, ref.asum) << what;
      EXPECT_EQ(fast.vsum, ref.vsum) << what;
    }
  }
}

class NbitsDequantVariant : public ::testing::TestWithParam<size_t> {};

TEST_P(NbitsDequantVariant, MatchesReference) {
  const DequantVariant& v = dequant_variants()[GetParam()];
  if (!isa_available(v.isa)) GTEST_SKIP() << v.name << ": this CPU (or HONE_ISA) lacks " << isa_name(v.isa);
  uint32_t seed = 500;
  int served = 0;
  for (const Case& c : cases()) {
    RandomWeights rw(c, seed++);
    if (c.bits != v.bits || c.block % 32 != 0) continue;
    ++served;
    const auto hand = hand_matrix(rw);
    // A row stride past K with a sentinel after K: nothing may be written there.
    const int64_t ldo = c.k + 3;
    std::vector<float> out(static_cast<size_t>(c.n * ldo), -7.0f);
    v.fn(rw.w, 0, c.n, out.data(), ldo);
    for (int64_t n = 0; n < c.n; ++n) {
      for (int64_t k = 0; k < c.k; ++k) {
        const double s = rw.scales[static_cast<size_t>(n * rw.w.k_blocks + k / c.block)];
        ASSERT_NEAR(out[static_cast<size_t>(n * ldo + k)], hand[static_cast<size_t>(n * c.k + k)],
                    1e-6 * (std::fabs(hand[static_cast<size_t>(n * c.k + k)]) + std::ldexp(std::fabs(s), c.bits)))
            << v.name << " " << describe(c) << " n=" << n << " k=" << k;
      }
      for (int64_t k = c.k; k < ldo; ++k) ASSERT_EQ(out[static_cast<size_t>(n * ldo + k)], -7.0f) << v.name;
    }
  }
  EXPECT_GT(served, 0);
}

INSTANTIATE_TEST_SUITE_P(All, NbitsDequantVariant, ::testing::Range<size_t>(0, dequant_variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& p) {
                           return std::string(dequant_variants()[p.param].name);
                         });

TEST(NbitsDispatch, PicksTheWidestAvailableVariantAndHonoursHoneIsa) {
  for (int bits : {2, 4, 8}) {
    for (int64_t block : {16, 32, 128}) {
      NBitsWeights w;
      w.bits = bits;
      w.block_size = block;
      const GemmVariant& best = best_gemm(w);
      EXPECT_TRUE(isa_available(best.isa)) << best.name;
      EXPECT_TRUE(serves(best, w)) << best.name;
      // Nothing later in the table (wider) that this CPU runs serves w.
      const auto& all = gemm_variants();
      bool after = false;
      for (const auto& v : all) {
        if (&v == &best) {
          after = true;
          continue;
        }
        if (after) {
          EXPECT_FALSE(isa_available(v.isa) && serves(v, w)) << v.name << " beats " << best.name;
        }
      }
      const char* cap = std::getenv("HONE_ISA");
      if (cap && std::string(cap) == "scalar") {
        EXPECT_EQ(best.isa, NBitsIsa::kScalar) << best.name;
      }
      if (cap && std::string(cap) == "avx2") {
        EXPECT_NE(best.isa, NBitsIsa::kAvx512) << best.name;
      }
    }
  }
  const char* cap = std::getenv("HONE_ISA");
  if (cap && (std::string(cap) == "scalar" || std::string(cap) == "avx2")) {
    EXPECT_EQ(best_s8_gemm(1), nullptr);
    EXPECT_EQ(best_s8_gemm(3), nullptr);
  }
  // 2-bit and block 16 (4-bit) have no fast kernel: the reference serves them.
  NBitsWeights two;
  two.bits = 2;
  EXPECT_EQ(best_gemm(two).isa, NBitsIsa::kScalar);
}

}  // namespace
}  // namespace hone::kernels::nbits
