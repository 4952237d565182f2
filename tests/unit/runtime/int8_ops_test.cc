// MatMulInteger, QLinearMatMul and DynamicQuantizeLinear as ops in a Session, with constant int8
// weights (the oneDNN u8s8 path unless HONE_DNNL=0, which CTest also runs) against plain loops:
// int32 results exact, requantized results within one step (rounding ties), and weights that the
// fast path does not serve (non-zero zero point, run-time B) still right through the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/session_impl.h"
#include "../test_models.h"

namespace hone {
namespace {

using testing_models::node;
using testing_models::tensor_type;

template <class T>
Tensor random_tensor(DType dtype, Shape shape, uint32_t seed, int lo, int hi) {
  Tensor t = Tensor::create(dtype, std::move(shape)).value();
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(lo + static_cast<int>(rng() % (hi - lo + 1)));
  return t;
}

Tensor scalar(DType dtype, double v) {
  Tensor t = Tensor::create(dtype, {}).value();
  if (dtype == DType::kFloat32) t.data<float>()[0] = static_cast<float>(v);
  if (dtype == DType::kUInt8) t.data<uint8_t>()[0] = static_cast<uint8_t>(v);
  if (dtype == DType::kInt8) t.data<int8_t>()[0] = static_cast<int8_t>(v);
  return t;
}

struct Graph1 {
  ir::Model m;
  void init(const char* name, Tensor t) { m.graph.initializers.push_back({name, std::move(t), {}, std::nullopt}); }
};

Graph1 one_node(ir::Node n, DType a_type, Shape a_shape, DType y_type) {
  Graph1 g;
  g.m.ir_version = 8;
  g.m.opsets.push_back({"", 13});
  std::vector<ir::Dim> dims;
  for (int64_t d : a_shape) dims.push_back(ir::Dim::of(d));
  g.m.graph.inputs.push_back({"A", tensor_type(a_type, dims), {}});
  g.m.graph.outputs.push_back({"Y", tensor_type(y_type, {}), {}});
  g.m.graph.outputs.back().type.has_shape = false;
  g.m.graph.nodes.push_back(std::move(n));
  return g;
}

Tensor run1(const ir::Model& m, const Tensor& a) {
  auto s = create_session(m);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  auto out = s->run({a});
  EXPECT_TRUE(out.ok()) << out.status().message();
  if (!out.ok()) return {};
  // A second run takes the kernels' fast path (primitive found without building its key).
  auto again = s->run({a});
  EXPECT_TRUE(again.ok()) << again.status().message();
  if (again.ok()) {
    EXPECT_TRUE((*again)[0].bit_equal((*out)[0]));
  }
  return (*out)[0];
}

std::vector<int32_t> ref_acc(const Tensor& a, int32_t azp, const Tensor& b, const int8_t* bzp, bool bzp_per_col) {
  const int64_t k = b.dim(0), n = b.dim(1), m = a.numel() / k;
  std::vector<int32_t> acc(static_cast<size_t>(m * n), 0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < n; ++j)
        acc[static_cast<size_t>(i * n + j)] += (a.data<uint8_t>()[i * k + kk] - azp) *
                                               (b.data<int8_t>()[kk * n + j] - (bzp ? bzp[bzp_per_col ? j : 0] : 0));
  return acc;
}

TEST(Int8Ops, MatMulIntegerConstantWeightsExact) {
  for (int32_t azp : {0, 117}) {
    for (int bzp : {0, 3}) {
      Graph1 g = one_node(node("MatMulInteger", {"A", "B", "azp", "bzp"}, {"Y"}), DType::kUInt8, {2, 5, 40},
                          DType::kInt32);
      Tensor b = random_tensor<int8_t>(DType::kInt8, {40, 23}, 4, -127, 127);
      g.init("B", b);
      g.init("azp", scalar(DType::kUInt8, azp));
      g.init("bzp", scalar(DType::kInt8, bzp));
      Tensor a = random_tensor<uint8_t>(DType::kUInt8, {2, 5, 40}, 5, 0, 255);
      Tensor y = run1(g.m, a);
      ASSERT_EQ(y.shape(), (Shape{2, 5, 23}));
      const int8_t z = static_cast<int8_t>(bzp);
      const auto want = ref_acc(a, azp, b, &z, false);
      EXPECT_EQ(std::vector<int32_t>(y.data<int32_t>(), y.data<int32_t>() + y.numel()), want)
          << "azp " << azp << " bzp " << bzp;
    }
  }
}

TEST(Int8Ops, QLinearMatMulConstantWeightsWithinOneStep) {
  for (bool per_column : {false, true}) {
    for (DType y_type : {DType::kUInt8, DType::kInt8}) {
      Graph1 g = one_node(node("QLinearMatMul", {"A", "as", "azp", "B", "bs", "bzp", "ys", "yzp"}, {"Y"}),
                          DType::kUInt8, {9, 64}, y_type);
      const int64_t n = 31;
      Tensor b = random_tensor<int8_t>(DType::kInt8, {64, n}, 6, -127, 127);
      g.init("B", b);
      g.init("as", scalar(DType::kFloat32, 0.02));
      g.init("azp", scalar(DType::kUInt8, 128));
      Tensor bs = Tensor::create(DType::kFloat32, per_column ? Shape{n} : Shape{}).value();
      for (int64_t j = 0; j < bs.numel(); ++j) bs.data<float>()[j] = 0.003f + 0.0001f * static_cast<float>(j);
      g.init("bs", bs);
      Tensor bzp = Tensor::create(DType::kInt8, per_column ? Shape{n} : Shape{}).value();
      g.init("bzp", bzp);
      g.init("ys", scalar(DType::kFloat32, 0.05));
      g.init("yzp", scalar(y_type, y_type == DType::kUInt8 ? 100 : -5));
      Tensor a = random_tensor<uint8_t>(DType::kUInt8, {9, 64}, 7, 0, 255);
      Tensor y = run1(g.m, a);
      ASSERT_EQ(y.dtype(), y_type);
      const auto acc = ref_acc(a, 128, b, nullptr, false);
      for (int64_t i = 0; i < 9; ++i)
        for (int64_t j = 0; j < n; ++j) {
          const float mult = 0.02f * bs.data<float>()[per_column ? j : 0] / 0.05f;
          const float lo = y_type == DType::kUInt8 ? 0.f : -128.f, hi = y_type == DType::kUInt8 ? 255.f : 127.f;
          const float want = std::clamp(std::nearbyint(static_cast<float>(acc[static_cast<size_t>(i * n + j)]) * mult) +
                                            (y_type == DType::kUInt8 ? 100.f : -5.f), lo, hi);
          const float got = y_type == DType::kUInt8 ? float(y.data<uint8_t>()[i * n + j]) : float(y.data<int8_t>()[i * n + j]);
          EXPECT_LE(std::fabs(got - want), 1.0f) << i << "," << j;
        }
    }
  }
}

TEST(Int8Ops, DynamicQuantizeLinearOpMatchesFormula) {
  Graph1 g;
  g.m.ir_version = 8;
  g.m.opsets.push_back({"", 13});
  g.m.graph.inputs.push_back({"A", tensor_type(DType::kFloat32, {ir::Dim::of(3), ir::Dim::of(37)}), {}});
  for (const char* o : {"Y", "S", "Z"}) {
    g.m.graph.outputs.push_back({o, tensor_type(DType::kUndefined, {}), {}});
    g.m.graph.outputs.back().type.has_shape = false;
  }
  g.m.graph.nodes.push_back(node("DynamicQuantizeLinear", {"A"}, {"Y", "S", "Z"}));
  Tensor a = Tensor::create(DType::kFloat32, {3, 37}).value();
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = std::sin(static_cast<float>(i)) * 3.0f + 0.5f;
  auto s = create_session(g.m);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto out = s->run({a});
  ASSERT_TRUE(out.ok()) << out.status().message();
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < a.numel(); ++i) lo = std::min(lo, a.data<float>()[i]), hi = std::max(hi, a.data<float>()[i]);
  const float scale = (hi - lo) / 255.0f;
  const uint8_t zp = static_cast<uint8_t>(std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f)));
  EXPECT_EQ((*out)[1].data<float>()[0], scale);
  EXPECT_EQ((*out)[2].data<uint8_t>()[0], zp);
  for (int64_t i = 0; i < a.numel(); ++i)
    EXPECT_EQ((*out)[0].data<uint8_t>()[i],
              static_cast<uint8_t>(std::clamp(std::nearbyint(a.data<float>()[i] / scale) + zp, 0.0f, 255.0f)));
}


// Plain 2-D convolution sums of (x - xzp) * w, y[N, M, OH, OW], with symmetric pads.
std::vector<int32_t> ref_conv(const Tensor& x, int32_t xzp, const Tensor& w, int64_t group, int64_t stride, int64_t pad,
                              Shape* y_shape, int64_t dil = 1) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t m = w.dim(0), cg = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (wd + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
  *y_shape = {n, m, oh, ow};
  std::vector<int32_t> y(static_cast<size_t>(n * m * oh * ow), 0);
  const int64_t mg = m / group;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          int32_t acc = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t r = i * stride - pad + u * dil, q = j * stride - pad + v * dil;
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                const int64_t cin = (o / mg) * cg + ci;
                acc += (x.data<uint8_t>()[((b * c + cin) * h + r) * wd + q] - xzp) *
                       w.data<int8_t>()[((o * cg + ci) * kh + u) * kw + v];
              }
          y[static_cast<size_t>(((b * m + o) * oh + i) * ow + j)] = acc;
        }
  return y;
}

ir::Attribute int_attr(const char* name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

ir::Attribute ints_attr(const char* name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

struct ConvCase {
  int64_t n, c, h, w, m, k, group, stride, pad, dil = 1;
};

TEST(Int8Ops, ConvIntegerConstantWeightsExact) {
  for (const ConvCase& cc : {ConvCase{1, 8, 9, 7, 16, 3, 1, 1, 1}, ConvCase{2, 6, 10, 10, 9, 3, 3, 2, 1},
                             ConvCase{1, 5, 6, 6, 4, 1, 1, 1, 0}, ConvCase{1, 4, 12, 10, 8, 3, 1, 1, 2, 2}}) {
    for (int32_t xzp : {0, 113}) {
      ir::Node n = node("ConvInteger", {"A", "W", "xzp"}, {"Y"});
      n.attrs = {int_attr("group", cc.group), ints_attr("strides", {cc.stride, cc.stride}),
                 ints_attr("pads", {cc.pad, cc.pad, cc.pad, cc.pad}), ints_attr("dilations", {cc.dil, cc.dil})};
      Graph1 g = one_node(n, DType::kUInt8, {cc.n, cc.c, cc.h, cc.w}, DType::kInt32);
      Tensor w = random_tensor<int8_t>(DType::kInt8, {cc.m, cc.c / cc.group, cc.k, cc.k}, 8, -127, 127);
      g.init("W", w);
      g.init("xzp", scalar(DType::kUInt8, xzp));
      Tensor x = random_tensor<uint8_t>(DType::kUInt8, {cc.n, cc.c, cc.h, cc.w}, 9, 0, 255);
      Tensor y = run1(g.m, x);
      Shape want_shape;
      const auto want = ref_conv(x, xzp, w, cc.group, cc.stride, cc.pad, &want_shape, cc.dil);
      ASSERT_EQ(y.shape(), want_shape);
      EXPECT_EQ(std::vector<int32_t>(y.data<int32_t>(), y.data<int32_t>() + y.numel()), want)
          << "c " << cc.c << " group " << cc.group << " xzp " << xzp;
    }
  }
}

TEST(Int8Ops, QLinearConvConstantWeightsWithinOneStep) {
  const ConvCase cc{1, 8, 11, 9, 12, 3, 2, 1, 1};
  for (bool per_channel : {false, true}) {
    ir::Node n = node("QLinearConv", {"A", "xs", "xzp", "W", "ws", "wzp", "ys", "yzp", "B"}, {"Y"});
    n.attrs = {int_attr("group", cc.group), ints_attr("pads", {1, 1, 1, 1})};
    Graph1 g = one_node(n, DType::kUInt8, {cc.n, cc.c, cc.h, cc.w}, DType::kUInt8);
    Tensor w = random_tensor<int8_t>(DType::kInt8, {cc.m, cc.c / cc.group, cc.k, cc.k}, 10, -127, 127);
    g.init("W", w);
    g.init("xs", scalar(DType::kFloat32, 0.03));
    g.init("xzp", scalar(DType::kUInt8, 120));
    Tensor ws = Tensor::create(DType::kFloat32, per_channel ? Shape{cc.m} : Shape{}).value();
    for (int64_t j = 0; j < ws.numel(); ++j) ws.data<float>()[j] = 0.002f + 0.0003f * static_cast<float>(j);
    g.init("ws", ws);
    g.init("wzp", Tensor::create(DType::kInt8, per_channel ? Shape{cc.m} : Shape{}).value());
    g.init("ys", scalar(DType::kFloat32, 0.2));
    g.init("yzp", scalar(DType::kUInt8, 90));
    Tensor b = random_tensor<int32_t>(DType::kInt32, {cc.m}, 11, -3000, 3000);
    g.init("B", b);
    Tensor x = random_tensor<uint8_t>(DType::kUInt8, {cc.n, cc.c, cc.h, cc.w}, 12, 0, 255);
    Tensor y = run1(g.m, x);
    Shape want_shape;
    const auto acc = ref_conv(x, 120, w, cc.group, 1, 1, &want_shape);
    ASSERT_EQ(y.shape(), want_shape);
    const int64_t plane = want_shape[2] * want_shape[3];
    int64_t off_by_one = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const int64_t o = (i / plane) % cc.m;
      const double mult = 0.03f * ws.data<float>()[per_channel ? o : 0] / 0.2f;
      const double want =
          std::clamp(std::nearbyint(double(acc[static_cast<size_t>(i)] + b.data<int32_t>()[o]) * mult) + 90.0, 0.0, 255.0);
      const double diff = std::fabs(double(y.data<uint8_t>()[i]) - want);
      EXPECT_LE(diff, 1.0) << i;
      off_by_one += diff > 0;
    }
    EXPECT_LE(off_by_one, y.numel() / 50) << "rounding differences should be rare ties";
  }
}

}  // namespace
}  // namespace hone
