// conv_ref is the oracle other conv backends are checked against, so it is checked here against
// the definition itself (a direct sum per output element) over 1D/2D/3D shapes, groups,
// strides, dilations, asymmetric padding, block boundaries and the threaded path; the
// transposed conv is checked as the adjoint of the conv: <conv(x), y> == <x, conv_transpose(y)>.
#include "kernels/ref/conv_ref.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hone::kernels::ref {
namespace {

struct Case {
  int64_t batch, in_channels, out_channels, groups;
  std::vector<int64_t> in, kernel, strides, dilations, pads_begin, pads_end;
};

int64_t product(const std::vector<int64_t>& v) {
  int64_t r = 1;
  for (int64_t x : v) r *= x;
  return r;
}

ConvParams params_of(const Case& c, int threads) {
  ConvParams p;
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.groups = c.groups;
  p.in_spatial = c.in;
  p.kernel = c.kernel;
  p.strides = c.strides;
  p.dilations = c.dilations;
  p.pads_begin = c.pads_begin;
  for (size_t d = 0; d < c.in.size(); ++d)
    p.out_spatial.push_back((c.in[d] + c.pads_begin[d] + c.pads_end[d] - (c.kernel[d] - 1) * c.dilations[d] - 1) /
                                c.strides[d] + 1);
  p.threads = threads;
  return p;
}

// Deterministic small integers as T, so float sums are exact and comparisons can be strict.
template <class T>
std::vector<T> values(int64_t n, uint32_t seed) {
  std::vector<T> v(static_cast<size_t>(n));
  uint32_t state = seed * 2654435761u + 7;
  for (auto& x : v) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<T>(static_cast<int>(state >> 27) - 16);
  }
  return v;
}

// Row-major multi-index of `flat` in `dims`.
std::vector<int64_t> unflatten(int64_t flat, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t d = dims.size(); d-- > 0;) idx[d] = flat % dims[d], flat /= dims[d];
  return idx;
}

// The definition: y[n, m, o] = b[m] + sum_{c in group(m), k} x[n, c, o * s - pad + k * dil] * w[m, c, k].
template <class T>
std::vector<T> direct_conv(const ConvParams& p, const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>& b) {
  const int64_t in_size = product(p.in_spatial), out_size = product(p.out_spatial), ks = product(p.kernel);
  const int64_t cg = p.in_channels / p.groups, mg = p.out_channels / p.groups;
  std::vector<T> y(static_cast<size_t>(p.batch * p.out_channels * out_size));
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m)
      for (int64_t o = 0; o < out_size; ++o) {
        const auto oi = unflatten(o, p.out_spatial);
        T sum = b.empty() ? T(0) : b[static_cast<size_t>(m)];
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t k = 0; k < ks; ++k) {
            const auto ki = unflatten(k, p.kernel);
            int64_t offset = 0;
            bool inside = true;
            for (size_t d = 0; d < oi.size(); ++d) {
              const int64_t coord = oi[d] * p.strides[d] - p.pads_begin[d] + ki[d] * p.dilations[d];
              inside = inside && coord >= 0 && coord < p.in_spatial[d];
              offset = offset * p.in_spatial[d] + coord;
            }
            if (!inside) continue;
            const int64_t channel = (m / mg) * cg + c;
            sum += x[static_cast<size_t>((n * p.in_channels + channel) * in_size + offset)] *
                   w[static_cast<size_t>((m * cg + c) * ks + k)];
          }
        y[static_cast<size_t>((n * p.out_channels + m) * out_size + o)] = sum;
      }
  return y;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {1, 1, 1, 1, {5}, {3}, {1}, {1}, {0}, {0}},
      {2, 4, 6, 2, {11}, {3}, {2}, {2}, {1}, {2}},
      {1, 3, 5, 1, {7, 6}, {3, 2}, {1, 1}, {1, 1}, {1, 0}, {1, 1}},
      {2, 6, 6, 6, {9, 9}, {3, 3}, {2, 1}, {1, 2}, {1, 2}, {0, 1}},  // depthwise
      {1, 4, 8, 2, {8, 8}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},  // pointwise, reads x directly
      {1, 2, 3, 1, {5, 4, 6}, {2, 3, 2}, {1, 2, 2}, {2, 1, 1}, {1, 1, 0}, {0, 1, 1}},
      // Several output-position and output-channel blocks, 70 channels (not a multiple of 4),
      // and enough work for the threaded path.
      {2, 8, 70, 1, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      // Kernel taps that fall entirely into padding.
      {1, 2, 2, 1, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {2, 2}, {2, 2}},
  };
  return all;
}

TEST(ConvRef, MatchesTheDefinitionInFloat) {
  for (int threads : {1, 2}) {
    for (size_t i = 0; i < cases().size(); ++i) {
      const Case& c = cases()[i];
      const ConvParams p = params_of(c, threads);
      auto x = values<float>(c.batch * c.in_channels * product(c.in), 1);
      auto w = values<float>(c.out_channels * (c.in_channels / c.groups) * product(c.kernel), 2);
      auto b = values<float>(c.out_channels, 3);
      std::vector<float> y(static_cast<size_t>(c.batch * c.out_channels * product(p.out_spatial)), -1.0f);
      conv_nd_ref<float>(p, x.data(), w.data(), b.data(), y.data());
      EXPECT_EQ(y, direct_conv(p, x, w, b)) << "case " << i << ", threads " << threads;
    }
  }
}

TEST(ConvRef, MatchesTheDefinitionInInt64WithoutBias) {
  for (size_t i = 0; i < cases().size(); ++i) {
    const Case& c = cases()[i];
    const ConvParams p = params_of(c, 0);
    auto x = values<int64_t>(c.batch * c.in_channels * product(c.in), 4);
    auto w = values<int64_t>(c.out_channels * (c.in_channels / c.groups) * product(c.kernel), 5);
    std::vector<int64_t> y(static_cast<size_t>(c.batch * c.out_channels * product(p.out_spatial)), -1);
    conv_nd_ref<int64_t>(p, x.data(), w.data(), nullptr, y.data());
    EXPECT_EQ(y, direct_conv(p, x, w, {})) << "case " << i;
  }
}

TEST(ConvRef, TransposeIsTheAdjointOfConv) {
  for (int threads : {1, 2}) {
    for (size_t i = 0; i < cases().size(); ++i) {
      const Case& c = cases()[i];
      const ConvParams p = params_of(c, threads);
      // conv_transpose maps y-shaped tensors back to x's shape with the same weights.
      ConvParams t = p;
      std::swap(t.in_channels, t.out_channels);
      std::swap(t.in_spatial, t.out_spatial);
      auto x = values<double>(c.batch * c.in_channels * product(c.in), 6);
      auto w = values<double>(c.out_channels * (c.in_channels / c.groups) * product(c.kernel), 7);
      auto y = values<double>(c.batch * c.out_channels * product(p.out_spatial), 8);
      std::vector<double> conv_x(y.size()), transposed_y(x.size());
      conv_nd_ref<double>(p, x.data(), w.data(), nullptr, conv_x.data());
      conv_transpose_nd_ref<double>(t, y.data(), w.data(), nullptr, transposed_y.data());
      double lhs = 0, rhs = 0;
      for (size_t j = 0; j < y.size(); ++j) lhs += conv_x[j] * y[j];
      for (size_t j = 0; j < x.size(); ++j) rhs += x[j] * transposed_y[j];
      EXPECT_EQ(lhs, rhs) << "case " << i << ", threads " << threads;
    }
  }
}

TEST(ConvRef, TransposeAddsBiasEverywhere) {
  ConvParams t;
  t.in_channels = 1;
  t.out_channels = 2;
  t.in_spatial = {1};
  t.kernel = {1};
  t.out_spatial = {3};  // larger than the full result: the tail is bias only
  t.strides = {1};
  t.dilations = {1};
  t.pads_begin = {0};
  const float x = 2, w[2] = {3, 4}, b[2] = {1, -1};
  float y[6];
  conv_transpose_nd_ref<float>(t, &x, w, b, y);
  EXPECT_EQ(std::vector<float>(y, y + 6), (std::vector<float>{7, 1, 1, 7, -1, -1}));
}

}  // namespace
}  // namespace hone::kernels::ref
