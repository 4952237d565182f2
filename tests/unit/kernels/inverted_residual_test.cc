// The fused inverted-residual block (kernels/x86/inverted_residual.h): every variant this CPU
// runs (scalar, AVX2, AVX-512; HONE_ISA caps them, tests/kernels_isa_fp32 reruns this capped)
// against the naive three-convolution oracle, on random shapes: odd widths and heights, channel
// counts that are not multiples of 16 or 48, stride 1 and 2, with and without the expand conv and
// the residual, different clamps, 1 and 2 threads, batch 1 and 2, both schedules (bands of rows, the
// whole image split between barriers).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/x86/inverted_residual.h"

namespace hone::kernels::x86 {
namespace {

struct BlockCase {
  int64_t batch, height, width, c_in, c_mid, c_out, stride;
  bool expand, residual;
};

std::vector<float> random_vector(std::mt19937& rng, int64_t n, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

// Runs one case through variant v and the oracle; returns max |got - want| / max(1, max |want|).
double run_case(const InvertedResidualVariant& v, const BlockCase& bc, int threads, IrSchedule schedule, unsigned seed) {
  std::mt19937 rng(seed);
  const int64_t c_mid = bc.expand ? bc.c_mid : bc.c_in;
  const int64_t ho = ir_out_size(bc.height, bc.stride), wo = ir_out_size(bc.width, bc.stride);
  const auto x = random_vector(rng, bc.batch * bc.height * bc.width * bc.c_in, 1.0f);
  const auto we = random_vector(rng, c_mid * bc.c_in, 1.0f / std::sqrt(static_cast<float>(bc.c_in)));
  const auto be = random_vector(rng, c_mid, 0.5f);
  const auto wd = random_vector(rng, c_mid * 9, 0.4f);
  const auto bd = random_vector(rng, c_mid, 0.5f);
  const auto wp = random_vector(rng, bc.c_out * c_mid, 1.0f / std::sqrt(static_cast<float>(c_mid)));
  const auto bp = random_vector(rng, bc.c_out, 0.5f);
  const int64_t out_size = bc.batch * ho * wo * bc.c_out;
  const auto sum = random_vector(rng, out_size, 1.0f);
  const float* sum_p = bc.residual ? sum.data() : nullptr;
  // ReLU6 after expand, ReLU after the depthwise, a clamp on the output that bites sometimes.
  const IrClamp ce{0.0f, 6.0f}, cd{0.0f, std::numeric_limits<float>::infinity()}, cp{-1.5f, 2.5f};

  std::vector<float> want(static_cast<size_t>(out_size)), got(static_cast<size_t>(out_size), -99.0f);
  f32_inverted_residual_naive_ref(x.data(), bc.batch, bc.height, bc.width, bc.c_in, c_mid, bc.c_out, bc.stride,
                                  bc.expand ? we.data() : nullptr, be.data(), ce, wd.data(), bd.data(), cd, wp.data(),
                                  bp.data(), cp, sum_p, want.data());
  InvertedResidualWeights w = InvertedResidualWeights::pack(bc.c_in, c_mid, bc.c_out, bc.stride,
                                                            bc.expand ? we.data() : nullptr, be.data(), wd.data(),
                                                            bd.data(), wp.data(), bp.data());
  w.expand_clamp = ce;
  w.depthwise_clamp = cd;
  w.project_clamp = cp;
  IrBuffer scratch(inverted_residual_scratch_floats(w, bc.height, bc.width, threads, schedule));
  inverted_residual(v, w, x.data(), bc.batch, bc.height, bc.width, sum_p, got.data(), scratch.data(), threads,
                    schedule);
  double max_ref = 1.0, max_err = 0.0;
  for (int64_t i = 0; i < out_size; ++i) {
    max_ref = std::max(max_ref, static_cast<double>(std::fabs(want[i])));
    max_err = std::max(max_err, static_cast<double>(std::fabs(got[i] - want[i])));
    if (std::isnan(got[i])) return 1e30;
  }
  return max_err / max_ref;
}

const BlockCase kCases[] = {
    // batch, h, w, c_in, c_mid, c_out, stride, expand, residual
    {1, 9, 11, 16, 96, 16, 1, true, true},   // MobileNet-v2 widths, odd sizes
    {1, 12, 12, 16, 96, 24, 2, true, false},  // stride 2, even input
    {1, 13, 7, 24, 144, 24, 2, true, false},  // stride 2, odd input
    {2, 7, 5, 5, 30, 7, 1, true, true},       // channels not multiples of 16, batch 2
    {1, 6, 9, 3, 17, 33, 2, true, false},     // odd everything
    {1, 5, 4, 64, 384, 64, 1, true, true},    // 8 panels of 48, k = 384
    {1, 3, 3, 8, 40, 20, 1, true, true},      // Ho = 3 rows for 2 threads
    {1, 1, 1, 4, 24, 8, 1, true, true},       // 1x1 image
    {1, 2, 2, 4, 24, 8, 2, true, false},      // stride 2 on 2x2
    {1, 10, 14, 32, 32, 16, 1, false, false},  // MobileNet-v2's first block: no expand
    {1, 9, 9, 20, 20, 12, 2, false, true},    // no expand, stride 2, odd channels
    {1, 4, 19, 10, 60, 50, 1, true, false},   // 50 outputs: a 48 panel and a 16-wide tail
};

class InvertedResidualKernel : public ::testing::TestWithParam<size_t> {};

TEST_P(InvertedResidualKernel, MatchesNaiveOracle) {
  const BlockCase& bc = kCases[GetParam()];
  int ran = 0;
  for (const auto& v : inverted_residual_variants()) {
    if (!isa_available(v.isa)) continue;
    ++ran;
    for (int threads : {1, 2})
      for (IrSchedule schedule : {IrSchedule::kRows, IrSchedule::kImage}) {
        const double err = run_case(v, bc, threads, schedule, static_cast<unsigned>(GetParam() * 10 + threads));
        EXPECT_LT(err, 1e-5) << v.name << " threads " << threads << " case " << GetParam() << " schedule "
                             << static_cast<int>(schedule);
      }
  }
  EXPECT_GE(ran, 1);
}

INSTANTIATE_TEST_SUITE_P(Shapes, InvertedResidualKernel, ::testing::Range<size_t>(0, std::size(kCases)));

TEST(InvertedResidualKernelDispatch, BestIsTheWidestAvailable) {
  const InvertedResidualVariant& best = inverted_residual_best();
  EXPECT_TRUE(isa_available(best.isa));
  for (const auto& v : inverted_residual_variants()) {
    if (!isa_available(v.isa)) continue;
    EXPECT_GE(static_cast<int>(best.isa), static_cast<int>(v.isa)) << v.name;
  }
}

// The oracle itself must be able to fail: a changed depthwise tap moves the output.
TEST(InvertedResidualKernelDispatch, OracleSeesAWrongWeight) {
  const BlockCase bc{1, 5, 5, 4, 12, 4, 1, true, false};
  const InvertedResidualVariant& v = inverted_residual_variants().front();
  EXPECT_LT(run_case(v, bc, 1, IrSchedule::kRows, 3), 1e-5);
  std::mt19937 rng(3);
  const auto x = random_vector(rng, 5 * 5 * 4, 1.0f);
  std::vector<float> we(12 * 4, 0.25f), wd(12 * 9, 0.1f), wp(4 * 12, 0.2f), y1(5 * 5 * 4), y2(5 * 5 * 4);
  f32_inverted_residual_naive_ref(x.data(), 1, 5, 5, 4, 12, 4, 1, we.data(), nullptr, {}, wd.data(), nullptr, {},
                                  wp.data(), nullptr, {}, nullptr, y1.data());
  wd[4] = 0.7f;
  f32_inverted_residual_naive_ref(x.data(), 1, 5, 5, 4, 12, 4, 1, we.data(), nullptr, {}, wd.data(), nullptr, {},
                                  wp.data(), nullptr, {}, nullptr, y2.data());
  EXPECT_NE(y1, y2);
}

}  // namespace
}  // namespace hone::kernels::x86
