// Every fp32 kernel variant this CPU runs (f32_kernels.inc, as capped by HONE_ISA) against the
// scalar reference, on random data with sizes that hit the vector body, the unrolled body and
// every tail length; erf and GELU also against double-precision math. tests/kernels_isa_fp32
// reruns these with HONE_ISA=scalar and HONE_ISA=avx2.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/x86/f32_kernels.h"

namespace hone::kernels::x86 {
namespace {

const std::vector<int64_t> kSizes = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 100, 128, 257, 769};

std::vector<float> random_vector(int64_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// |got - want| <= abs_tol + rel_tol * |want|, element by element; NaN only where the reference
// has NaN (a softmax row that is all -inf).
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double abs_tol, double rel_tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(w)) {
      ASSERT_TRUE(std::isnan(g)) << what << " at " << i << ": got " << g << ", want NaN";
      continue;
    }
    ASSERT_LE(std::fabs(g - w), abs_tol + rel_tol * std::fabs(w)) << what << " at " << i << ": got " << g << ", want " << w;
  }
}

template <class Fn>
std::vector<Variant<Fn>> available(const std::vector<Variant<Fn>>& all) {
  std::vector<Variant<Fn>> v;
  for (const auto& k : all)
    if (isa_available(k.isa)) v.push_back(k);
  return v;
}

TEST(X86Kernels, TablesStartWithTheScalarReference) {
  EXPECT_EQ(softmax_variants().front().isa, Isa::kScalar);
  EXPECT_EQ(layernorm_variants().front().isa, Isa::kScalar);
  EXPECT_EQ(gelu_erf_variants().front().isa, Isa::kScalar);
  EXPECT_EQ(gelu_tanh_variants().front().isa, Isa::kScalar);
  EXPECT_EQ(erf_variants().front().isa, Isa::kScalar);
  EXPECT_EQ(add_variants().front().isa, Isa::kScalar);
  EXPECT_EQ(div_variants().front().isa, Isa::kScalar);
  // The chosen kernel is the widest one the CPU runs: HONE_ISA=scalar must choose the reference.
  EXPECT_EQ(std::string(softmax_best_name()), available(softmax_variants()).back().name);
  EXPECT_EQ(std::string(gelu_erf_best_name()), available(gelu_erf_variants()).back().name);
  if (!isa_available(Isa::kAvx2)) {
    EXPECT_EQ(std::string(layernorm_best_name()), "f32_layernorm_ref");
  }
}

TEST(X86Kernels, SoftmaxMatchesReference) {
  const auto& ref = softmax_variants().front();
  for (const auto& k : available(softmax_variants())) {
    for (int64_t n : kSizes) {
      const int64_t rows = 3;
      // Logits around 40 with a spread of 30: exp would overflow without the max subtraction.
      auto x = random_vector(rows * n, 25.0f, 55.0f, static_cast<unsigned>(n));
      x[0] = -std::numeric_limits<float>::infinity();  // a masked position
      std::vector<float> want(x.size()), got(x.size());
      ref.fn(x.data(), want.data(), rows, n);
      k.fn(x.data(), got.data(), rows, n);
      expect_close(got, want, 1e-7, 2e-6, std::string(k.name) + " n=" + std::to_string(n));
      for (int64_t r = 0; r < rows; ++r) {
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += got[static_cast<size_t>(r * n + i)];
        if (r > 0 || n > 1) {
          EXPECT_NEAR(sum, 1.0, 1e-5) << k.name;
        }
      }
      // In place.
      k.fn(x.data(), x.data(), rows, n);
      expect_close(x, want, 1e-7, 2e-6, std::string(k.name) + " in place");
    }
  }
}

TEST(X86Kernels, LayerNormMatchesReference) {
  const auto& ref = layernorm_variants().front();
  for (const auto& k : available(layernorm_variants())) {
    for (int64_t n : kSizes) {
      const int64_t rows = 4;
      // A large mean against a small spread: a one-pass variance would lose it.
      const auto x = random_vector(rows * n, 99.0f, 101.0f, static_cast<unsigned>(n) + 1);
      const auto scale = random_vector(n, -2.0f, 2.0f, 3), bias = random_vector(n, -1.0f, 1.0f, 4);
      for (bool with_bias : {true, false}) {
        std::vector<float> want(x.size()), got(x.size());
        const float* b = with_bias ? bias.data() : nullptr;
        ref.fn(x.data(), scale.data(), b, want.data(), rows, n, 1e-5f);
        k.fn(x.data(), scale.data(), b, got.data(), rows, n, 1e-5f);
        expect_close(got, want, 5e-4, 5e-4, std::string(k.name) + " n=" + std::to_string(n));
      }
    }
  }
}

// f(x) in double for erf, GELU (erf) and GELU (tanh).
double erf_exact(double x) { return std::erf(x); }
double gelu_erf_exact(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_exact(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

void check_unary(const std::vector<Variant<UnaryFn>>& variants, double (*exact)(double), double abs_tol, double rel_tol) {
  const auto& ref = variants.front();
  for (const auto& k : available(variants)) {
    for (int64_t n : kSizes) {
      auto x = random_vector(n, -6.0f, 6.0f, static_cast<unsigned>(n) + 7);
      x[0] = n > 1 ? 0.0f : 1e-3f;
      std::vector<float> want(x.size()), got(x.size()), exact_v(x.size());
      ref.fn(x.data(), want.data(), n);
      k.fn(x.data(), got.data(), n);
      for (size_t i = 0; i < x.size(); ++i) exact_v[i] = static_cast<float>(exact(x[i]));
      expect_close(got, want, abs_tol, rel_tol, std::string(k.name) + " vs reference, n=" + std::to_string(n));
      expect_close(got, exact_v, abs_tol, rel_tol, std::string(k.name) + " vs double, n=" + std::to_string(n));
    }
    // Far outside the polynomial's range, and small arguments (relative accuracy near 0).
    std::vector<float> x = {-1e4f, -100.0f, -20.0f, -9.0f, -5.7f, -4.5f, 4.5f, 5.7f, 9.0f, 20.0f, 100.0f, 1e4f,
                            1e-6f, -1e-6f, 1e-20f, 0.5f, -0.5f};
    std::vector<float> got(x.size()), exact_v(x.size());
    k.fn(x.data(), got.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) exact_v[i] = static_cast<float>(exact(x[i]));
    expect_close(got, exact_v, abs_tol, rel_tol, std::string(k.name) + " special values");
  }
}

TEST(X86Kernels, ErfMatchesReference) { check_unary(erf_variants(), erf_exact, 1e-7, 1e-6); }
TEST(X86Kernels, GeluErfMatchesReference) { check_unary(gelu_erf_variants(), gelu_erf_exact, 1e-6, 2e-6); }
TEST(X86Kernels, GeluTanhMatchesReference) { check_unary(gelu_tanh_variants(), gelu_tanh_exact, 1e-6, 5e-6); }

void check_binary(const std::vector<Variant<BinaryFn>>& variants) {
  const auto& ref = variants.front();
  for (const auto& k : available(variants)) {
    for (int64_t n : kSizes) {
      const auto a = random_vector(n, -3.0f, 3.0f, static_cast<unsigned>(n) + 11);
      const auto b = random_vector(n, 0.5f, 4.0f, static_cast<unsigned>(n) + 12);
      for (int64_t sa : {0, 1}) {
        for (int64_t sb : {0, 1}) {
          std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
          ref.fn(a.data(), sa, b.data(), sb, want.data(), n);
          k.fn(a.data(), sa, b.data(), sb, got.data(), n);
          // One IEEE operation per element: results are bit-identical.
          expect_close(got, want, 0, 0,
                       std::string(k.name) + " n=" + std::to_string(n) + " sa=" + std::to_string(sa) +
                           " sb=" + std::to_string(sb));
        }
      }
    }
  }
}

TEST(X86Kernels, BinaryMatchesReference) {
  check_binary(add_variants());
  check_binary(sub_variants());
  check_binary(mul_variants());
  check_binary(div_variants());
}

}  // namespace
}  // namespace hone::kernels::x86
