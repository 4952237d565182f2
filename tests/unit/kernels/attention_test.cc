// Every fused-attention variant this CPU runs (attention.inc, as capped by HONE_ISA) against the
// scalar reference f32_attention_ref, and the reference against a direct double-precision
// evaluation of softmax(scale Q Kᵀ + mask) V: shapes with and without vector tails, heads in the
// [B, S, H, D] layout, no mask / a padding mask [B, 1, 1, Skv] / a causal mask [Sq, Skv], and the
// rows split into blocks as the op splits them; scores spread far past the exponential's floor,
// and a row with every key masked (NaN). tests/kernels_isa_fp32 reruns these (X86Kernels.*)
// with HONE_ISA=scalar and HONE_ISA=avx2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/x86/attention.h"

namespace hone::kernels::x86 {
namespace {

struct Problem {
  int64_t batch, heads, q_len, kv_len, dim, v_dim;
};

enum class Mask { kNone, kPadding, kCausal };

std::vector<float> random_vector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The tensors of one problem in the [B, S, H, D] layout, and the mask as the op would bind it.
struct Data {
  Problem p;
  std::vector<float> q, k, v, mask;
  AttentionArgs args;

  Data(const Problem& pr, Mask m) : p(pr) {
    q = random_vector(static_cast<size_t>(p.batch * p.q_len * p.heads * p.dim), 1);
    k = random_vector(static_cast<size_t>(p.batch * p.kv_len * p.heads * p.dim), 2);
    v = random_vector(static_cast<size_t>(p.batch * p.kv_len * p.heads * p.v_dim), 3);
    args.q = q.data();
    args.k = k.data();
    args.v = v.data();
    args.q_batch = p.q_len * p.heads * p.dim, args.q_head = p.dim, args.q_row = p.heads * p.dim;
    args.k_batch = p.kv_len * p.heads * p.dim, args.k_head = p.dim, args.k_row = p.heads * p.dim;
    args.v_batch = p.kv_len * p.heads * p.v_dim, args.v_head = p.v_dim, args.v_row = p.heads * p.v_dim;
    args.out_batch = p.q_len * p.heads * p.v_dim, args.out_head = p.v_dim, args.out_row = p.heads * p.v_dim;
    args.q_len = p.q_len, args.kv_len = p.kv_len, args.head_dim = p.dim, args.v_head_dim = p.v_dim;
    args.scale = 1.0f / std::sqrt(static_cast<float>(p.dim));
    const float neg_inf = -std::numeric_limits<float>::infinity();
    if (m == Mask::kPadding) {  // batch b masks its last b + 1 keys (one key always stays), with -10000
      mask.assign(static_cast<size_t>(p.batch * p.kv_len), 0.0f);
      for (int64_t b = 0; b < p.batch; ++b)
        for (int64_t j = std::max<int64_t>(1, p.kv_len - 1 - b); j < p.kv_len; ++j)
          mask[static_cast<size_t>(b * p.kv_len + j)] = -10000.0f;
      args.mask = mask.data(), args.mask_batch = p.kv_len, args.mask_head = 0, args.mask_row = 0;
    } else if (m == Mask::kCausal) {  // key j visible to query i when j <= i + (kv_len - q_len)
      mask.assign(static_cast<size_t>(p.q_len * p.kv_len), 0.0f);
      for (int64_t i = 0; i < p.q_len; ++i)
        for (int64_t j = i + (p.kv_len - p.q_len) + 1; j < p.kv_len; ++j)
          mask[static_cast<size_t>(i * p.kv_len + j)] = neg_inf;
      args.mask = mask.data(), args.mask_batch = 0, args.mask_head = 0, args.mask_row = p.kv_len;
    }
  }

  // Runs fn over every (batch, head) with the rows in blocks of `block`.
  std::vector<float> run(AttentionFn fn, int64_t block) {
    std::vector<float> out(static_cast<size_t>(p.batch * p.q_len * p.heads * p.v_dim), -1.0f);
    AttentionArgs a = args;
    a.out = out.data();
    std::vector<float> scratch(attention_scratch_floats(a));
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads; ++h)
        for (int64_t r = 0; r < p.q_len; r += block) fn(a, b, h, r, std::min(p.q_len, r + block), scratch.data());
    return out;
  }

  // softmax(scale q.k + mask) . v straight from the definition, in double.
  std::vector<double> direct() const {
    std::vector<double> out(static_cast<size_t>(p.batch * p.q_len * p.heads * p.v_dim));
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads; ++h)
        for (int64_t i = 0; i < p.q_len; ++i) {
          std::vector<double> w(static_cast<size_t>(p.kv_len));
          double max = -INFINITY, sum = 0;
          for (int64_t j = 0; j < p.kv_len; ++j) {
            double s = 0;
            for (int64_t d = 0; d < p.dim; ++d)
              s += static_cast<double>(q[static_cast<size_t>(b * args.q_batch + i * args.q_row + h * p.dim + d)]) *
                   k[static_cast<size_t>(b * args.k_batch + j * args.k_row + h * p.dim + d)];
            s *= args.scale;
            if (args.mask) s += args.mask[b * args.mask_batch + i * args.mask_row + j];
            w[static_cast<size_t>(j)] = s;
            max = std::max(max, s);
          }
          for (auto& x : w) sum += (x = std::exp(x - max));
          for (int64_t d = 0; d < p.v_dim; ++d) {
            double acc = 0;
            for (int64_t j = 0; j < p.kv_len; ++j)
              acc += w[static_cast<size_t>(j)] / sum * v[static_cast<size_t>(b * args.v_batch + j * args.v_row + h * p.v_dim + d)];
            out[static_cast<size_t>(b * args.out_batch + i * args.out_row + h * p.v_dim + d)] = acc;
          }
        }
    return out;
  }
};

const std::vector<Problem> kProblems = {
    {1, 1, 1, 1, 1, 1},     {1, 2, 5, 7, 3, 5},     {2, 3, 17, 33, 16, 16}, {1, 2, 9, 9, 64, 64},
    {2, 2, 13, 70, 24, 80}, {1, 12, 128, 128, 64, 64}, {1, 1, 4, 129, 32, 17},
};

std::string describe(const Problem& p, Mask m, const char* variant) {
  return std::string(variant) + " B" + std::to_string(p.batch) + " H" + std::to_string(p.heads) + " Sq" +
         std::to_string(p.q_len) + " Skv" + std::to_string(p.kv_len) + " D" + std::to_string(p.dim) + " Dv" +
         std::to_string(p.v_dim) + " mask " + std::to_string(static_cast<int>(m));
}

TEST(X86Kernels, AttentionReferenceMatchesDefinition) {
  for (const auto& p : kProblems)
    for (Mask m : {Mask::kNone, Mask::kPadding, Mask::kCausal}) {
      Data data(p, m);
      const std::vector<float> got = data.run(attention_variants().front().fn, p.q_len);
      const std::vector<double> want = data.direct();
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << describe(p, m, "ref") << " at " << i;
    }
}

TEST(X86Kernels, AttentionVariantsMatchReference) {
  int tested = 0;
  for (const auto& variant : attention_variants()) {
    if (!isa_available(variant.isa)) continue;
    ++tested;
    for (const auto& p : kProblems)
      for (Mask m : {Mask::kNone, Mask::kPadding, Mask::kCausal})
        for (int64_t block : {p.q_len, int64_t{3}, int64_t{8}}) {
          Data data(p, m);
          const std::vector<float> want = data.run(attention_variants().front().fn, p.q_len);
          const std::vector<float> got = data.run(variant.fn, block);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 2e-5 + 2e-5 * std::fabs(want[i]))
                << describe(p, m, variant.name) << " block " << block << " at " << i;
        }
  }
  EXPECT_GE(tested, 1);
  // The dispatcher's choice is one of the variants this CPU runs.
  bool found = false;
  for (const auto& variant : attention_variants())
    found |= variant.fn == attention_best() && isa_available(variant.isa);
  EXPECT_TRUE(found) << attention_best_name();
}

// Scores far apart (scale 6 instead of 1 / sqrt(d): logits spread over hundreds), so that many
// weights fall below the exponential's floor (2^-160 on AVX-512, 2^-127 on AVX2): they must come
// out as the reference's underflowing exp does, and the row's largest weights stay exact.
TEST(X86Kernels, AttentionVariantsMatchReferenceOnWideScores) {
  const std::vector<Problem> problems = {{1, 2, 9, 9, 64, 64}, {1, 3, 13, 70, 24, 80}, {1, 2, 7, 129, 32, 17}};
  for (const auto& variant : attention_variants()) {
    if (!isa_available(variant.isa)) continue;
    for (const auto& p : problems)
      for (Mask m : {Mask::kNone, Mask::kPadding}) {
        Data data(p, m);
        data.args.scale = 6.0f;
        const std::vector<float> want = data.run(attention_variants().front().fn, p.q_len);
        const std::vector<float> got = data.run(variant.fn, p.q_len);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 2e-5 + 2e-5 * std::fabs(want[i])) << describe(p, m, variant.name) << " at " << i;
      }
  }
}

// A masked key weighs exactly 0, as in the reference (exp(-10000) and exp(-inf) are 0 in double):
// with huge values in the masked keys' V rows, a weight of even ~1e-38 would move the output.
TEST(X86Kernels, AttentionMaskedKeysWeighExactlyZero) {
  const Problem p{2, 2, 5, 20, 16, 16};
  for (const auto& variant : attention_variants()) {
    if (!isa_available(variant.isa)) continue;
    for (Mask m : {Mask::kPadding, Mask::kCausal}) {
      Data data(p, m);
      for (int64_t b = 0; b < p.batch; ++b)
        for (int64_t j = 0; j < p.kv_len; ++j) {
          // A key masked for every query row of batch b (padding), or for the first row (causal).
          const bool masked = m == Mask::kPadding ? data.mask[static_cast<size_t>(b * p.kv_len + j)] != 0.0f
                                                  : data.mask[static_cast<size_t>(j)] != 0.0f;
          if (!masked || (m == Mask::kCausal && j + 1 < p.kv_len)) continue;  // causal: the last key only
          for (int64_t h = 0; h < p.heads; ++h)
            for (int64_t d = 0; d < p.v_dim; ++d)
              data.v[static_cast<size_t>(b * data.args.v_batch + j * data.args.v_row + h * p.v_dim + d)] = 1e38f;
        }
      const std::vector<double> want = data.direct();
      const std::vector<float> got = data.run(variant.fn, p.q_len);
      for (size_t i = 0; i < got.size(); ++i) {
        // Causal: the last query row sees the last key (it is not masked there).
        const int64_t row = static_cast<int64_t>(i) / (p.heads * p.v_dim) % p.q_len;
        if (m == Mask::kCausal && row == p.q_len - 1) continue;
        ASSERT_NEAR(got[i], want[i], 2e-5 + 2e-5 * std::fabs(want[i])) << describe(p, m, variant.name) << " at " << i;
      }
    }
  }
}

// A row whose every key is masked to -inf has no softmax: every variant gives NaN there, as the
// unfused Softmax does (attention.h), and the other rows are unaffected.
TEST(X86Kernels, AttentionFullyMaskedRowIsNaN) {
  const Problem p{2, 2, 5, 20, 16, 16};
  for (const auto& variant : attention_variants()) {
    if (!isa_available(variant.isa)) continue;
    Data data(p, Mask::kPadding);
    std::fill(data.mask.begin(), data.mask.begin() + p.kv_len, -std::numeric_limits<float>::infinity());  // batch 0
    const std::vector<float> got = data.run(variant.fn, p.q_len);
    const size_t per_batch = got.size() / 2;
    for (size_t i = 0; i < got.size(); ++i) {
      if (i < per_batch) {
        ASSERT_TRUE(std::isnan(got[i])) << variant.name << " at " << i;
      } else {
        ASSERT_TRUE(std::isfinite(got[i])) << variant.name << " at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace hone::kernels::x86
