// The int8 CNN / transformer ops fuse_qdq_ops and the layout pass create, in a Session, against
// plain loops or their NCHW twins: com.microsoft.QLinearAdd (every kernel variant against the
// scalar reference on all byte pairs, then the op with broadcasting), hone.NhwcQLinearConv (equal
// to QLinearConv on transposed data, on oneDNN and on the reference path that HONE_DNNL=0 runs),
// com.microsoft.MatMulIntegerToFloat and com.microsoft.QLinearGlobalAveragePool (against the
// formulas), and that the int8 matmul / pooling / convolution ops fill their whole output on arena
// reuse.
// Named Int8Ops.* so CTest's HONE_DNNL=0 / HONE_ISA reruns cover them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/x86/byte_lookup.h"
#include "kernels/x86/qlinear_add.h"
#include "runtime/session_impl.h"
#include "../test_models.h"

namespace hone {
namespace {

using testing_models::int_attr;
using testing_models::ints_attr;
using testing_models::node;
using testing_models::tensor_type;

template <class T>
Tensor random_bytes(DType dtype, Shape shape, uint32_t seed, int lo, int hi) {
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

// A model of one node reading graph inputs `inputs` (in order) and initializers, output "Y".
struct OneNode {
  ir::Model m;
  OneNode(ir::Node n, const std::vector<std::pair<std::string, const Tensor*>>& inputs) {
    m.ir_version = 8;
    m.opsets = {{"", 17}, {"com.microsoft", 1}, {"hone", 1}};
    for (const auto& [name, t] : inputs) {
      std::vector<ir::Dim> dims;
      for (int64_t d : t->shape()) dims.push_back(ir::Dim::of(d));
      m.graph.inputs.push_back({name, tensor_type(t->dtype(), dims), {}});
    }
    m.graph.outputs.push_back({"Y", tensor_type(DType::kFloat32, {}), {}});
    m.graph.outputs.back().type.has_shape = false;
    m.graph.nodes.push_back(std::move(n));
  }
  void init(const char* name, Tensor t) { m.graph.initializers.push_back({name, std::move(t), {}, std::nullopt}); }
  Tensor run(const std::vector<Tensor>& feeds) {
    auto s = create_session(m);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return {};
    auto out = s->run(feeds);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? (*out)[0] : Tensor{};
  }
};

TEST(Int8Ops, QLinearAddVariantsMatchReferenceOnAllBytePairs) {
  namespace qadd = kernels::qadd;
  // b is read from offset 77 (an unaligned start) for up to a.size() bytes.
  constexpr size_t kOffset = 77;
  std::vector<uint8_t> a(65536 + 13), b(65536 + 13 + kOffset);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i < a.size()) a[i] = static_cast<uint8_t>(i & 255);
    b[i] = static_cast<uint8_t>((i >> 8) & 255);
  }
  std::vector<qadd::Params> cases(5);
  cases[0] = {0.02f, 0.031f, 0.045f, 128, 120, 100, false};
  cases[1] = {0.5f, 0.5f, 1.0f, 0, 0, 0, false};  // many exact ties: round half to even decides
  cases[2] = {0.013f, 0.007f, 0.011f, -3, 9, -20, true};
  cases[3] = {1.0f, 1.0f, 0.25f, 0, 0, 5, true};  // saturates most sums
  cases[4] = {0.021f, 0.017f, 0.03f, 131, 120, 125, false};  // near-ties where an FMA would round differently
  for (const auto& v : qadd::available_variants()) {
    for (const qadd::Params& p : cases) {
      for (bool bcast : {false, true}) {
        for (int64_t n : {int64_t{65536 + 13}, int64_t{15}, int64_t{1}}) {
          std::vector<uint8_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), 0xAB);
          qadd::qlinear_add_ref(p, a.data(), b.data() + kOffset, bcast, n, want.data());
          v.add(p, a.data(), b.data() + kOffset, bcast, n, got.data());
          ASSERT_EQ(got, want) << v.name << " n " << n << " broadcast " << bcast << " signed " << p.is_signed;
        }
      }
    }
  }
}

// Many random scale and zero-point triples, each over every byte pair (thousands of near-ties
// where a contracted or reordered float operation would round differently), and the edges: a
// power-of-two y_scale, a denormal y_scale, scales whose sum may overflow to inf or NaN (the
// AVX-512 variant checks for NaN only then).
TEST(Int8Ops, QLinearAddVariantsMatchReferenceOnRandomScales) {
  namespace qadd = kernels::qadd;
  std::vector<uint8_t> a(65536), b(65536);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<uint8_t>(i & 255);
    b[i] = static_cast<uint8_t>(i >> 8);
  }
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> log_scale(-9.0f, 1.0f);
  std::vector<qadd::Params> cases;
  for (int c = 0; c < 120; ++c) {
    qadd::Params p;
    p.is_signed = c % 2 == 1;
    p.a_scale = std::exp(log_scale(rng));
    p.b_scale = std::exp(log_scale(rng));
    p.y_scale = c % 3 == 0 ? p.a_scale + p.b_scale : std::exp(log_scale(rng));  // often a sum near 1 unit
    auto zp = [&] { return p.is_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256); };
    p.a_zero_point = zp();
    p.b_zero_point = zp();
    p.y_zero_point = zp();
    cases.push_back(p);
  }
  cases.push_back({0.25f, 0.125f, 0.0625f, 3, 250, 7, false});
  cases.push_back({0.02f, 0.03f, 1e-39f, 128, 128, 0, false});
  cases.push_back({3e38f, 3e38f, 1.0f, 0, 255, 128, false});
  cases.push_back({0.0117647f, 0.0117647f, 0.0235294f, 0, 0, 0, false});  // ResNet-like, y = a + b
  int64_t checked = 0;
  for (const auto& v : qadd::available_variants()) {
    for (const qadd::Params& p : cases) {
      std::vector<uint8_t> want(a.size()), got(a.size(), 0xAB);
      qadd::qlinear_add_ref(p, a.data(), b.data(), false, static_cast<int64_t>(a.size()), want.data());
      v.add(p, a.data(), b.data(), false, static_cast<int64_t>(a.size()), got.data());
      for (size_t i = 0; i < a.size(); ++i)
        ASSERT_EQ(got[i], want[i]) << v.name << " a " << int(a[i]) << " b " << int(b[i]) << " scales " << p.a_scale
                                   << " " << p.b_scale << " " << p.y_scale << " zps " << p.a_zero_point << " "
                                   << p.b_zero_point << " " << p.y_zero_point << " signed " << p.is_signed;
      checked += static_cast<int64_t>(a.size());
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(Int8Ops, ByteLookupVariantsMatchReference) {
  // Every byte value through a shuffled table, on lengths around the 64-byte step.
  namespace lookup = kernels::lookup;
  std::vector<uint8_t> table(256), x(1000);
  std::mt19937 rng(13);
  for (int v = 0; v < 256; ++v) table[static_cast<size_t>(v)] = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i < 256 ? i : rng());
  for (const auto& v : lookup::available_variants())
    for (int64_t n : {int64_t{1000}, int64_t{256}, int64_t{64}, int64_t{63}, int64_t{1}}) {
      std::vector<uint8_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), 0xCD);
      lookup::byte_lookup_ref(table.data(), x.data(), n, want.data());
      v.lookup(table.data(), x.data(), n, got.data());
      ASSERT_EQ(got, want) << v.name << " n " << n;
    }
}

TEST(Int8Ops, QLinearAddOpBroadcastsAndMatchesReference) {
  for (DType type : {DType::kUInt8, DType::kInt8}) {
    const bool s = type == DType::kInt8;
    Tensor a = s ? random_bytes<int8_t>(type, {2, 3, 40}, 1, -128, 127) : random_bytes<uint8_t>(type, {2, 3, 40}, 1, 0, 255);
    for (Shape b_shape : {Shape{2, 3, 40}, Shape{3, 1}, Shape{}}) {
      Tensor b = s ? random_bytes<int8_t>(type, b_shape, 2, -128, 127) : random_bytes<uint8_t>(type, b_shape, 2, 0, 255);
      OneNode g(node("QLinearAdd", {"A", "as", "az", "B", "bs", "bz", "ys", "yz"}, {"Y"}), {{"A", &a}, {"B", &b}});
      g.m.graph.nodes[0].domain = "com.microsoft";
      g.init("as", scalar(DType::kFloat32, 0.021));
      g.init("az", scalar(type, s ? -4 : 131));
      g.init("bs", scalar(DType::kFloat32, 0.017));
      g.init("bz", scalar(type, s ? 7 : 120));
      g.init("ys", scalar(DType::kFloat32, 0.03));
      g.init("yz", scalar(type, s ? 2 : 125));
      Tensor y = g.run({a, b});
      ASSERT_EQ(y.shape(), a.shape());
      kernels::qadd::Params p{0.021f, 0.017f, 0.03f, s ? -4 : 131, s ? 7 : 120, s ? 2 : 125, s};
      const int64_t rows = 6, cols = 40;
      for (int64_t i = 0; i < y.numel(); ++i) {
        const int64_t bi = b.numel() == y.numel() ? i : b.numel() == 1 ? 0 : (i / cols) % 3;
        uint8_t want = 0;
        kernels::qadd::qlinear_add_ref(p, static_cast<const uint8_t*>(a.raw()) + i,
                                       static_cast<const uint8_t*>(b.raw()) + bi, false, 1, &want);
        ASSERT_EQ(static_cast<const uint8_t*>(y.raw())[i], want)
            << i << " of " << rows * cols << " signed " << s << " b " << shape_to_string(b.shape()) << " a=" << int(static_cast<const uint8_t*>(a.raw())[i]) << " b=" << int(static_cast<const uint8_t*>(b.raw())[bi]) << " bi " << bi << " b0..2 " << int(static_cast<const uint8_t*>(b.raw())[0]) << "," << int(static_cast<const uint8_t*>(b.raw())[1]) << "," << int(static_cast<const uint8_t*>(b.raw())[2]);
      }
    }
  }
}

Tensor to_nhwc(const Tensor& x) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor t = Tensor::create(x.dtype(), {n, h, w, c}).value();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < h * w; ++p)
        static_cast<uint8_t*>(t.raw())[(b * h * w + p) * c + ch] =
            static_cast<const uint8_t*>(x.raw())[(b * c + ch) * h * w + p];
  return t;
}

struct ConvCase {
  int64_t n, c, h, w, m, k, group, stride, pad;
  bool per_channel, bias;
};

TEST(Int8Ops, NhwcQLinearConvEqualsQLinearConvTransposed) {
  for (const ConvCase& cc : {ConvCase{1, 16, 9, 7, 32, 3, 1, 1, 1, true, true}, ConvCase{2, 8, 10, 10, 12, 3, 2, 2, 1, false, true},
                             ConvCase{1, 64, 6, 6, 16, 1, 1, 1, 0, true, false}, ConvCase{1, 3, 15, 15, 8, 7, 1, 2, 3, true, true}}) {
    Tensor x = random_bytes<uint8_t>(DType::kUInt8, {cc.n, cc.c, cc.h, cc.w}, 3, 0, 255);
    Tensor x_nhwc = to_nhwc(x);
    Tensor results[2];
    for (int nhwc = 0; nhwc < 2; ++nhwc) {
      std::vector<std::string> ins = {"A", "xs", "xzp", "W", "ws", "wzp", "ys", "yzp"};
      if (cc.bias) ins.push_back("B");
      ir::Node n = node(nhwc ? "NhwcQLinearConv" : "QLinearConv", ins, {"Y"});
      if (nhwc) n.domain = "hone";
      n.attrs = {int_attr("group", cc.group), ints_attr("strides", {cc.stride, cc.stride}),
                 ints_attr("pads", {cc.pad, cc.pad, cc.pad, cc.pad})};
      OneNode g(n, {{"A", nhwc ? &x_nhwc : &x}});
      g.init("W", random_bytes<int8_t>(DType::kInt8, {cc.m, cc.c / cc.group, cc.k, cc.k}, 4, -127, 127));
      g.init("xs", scalar(DType::kFloat32, 0.03));
      g.init("xzp", scalar(DType::kUInt8, 117));
      Tensor ws = Tensor::create(DType::kFloat32, cc.per_channel ? Shape{cc.m} : Shape{}).value();
      for (int64_t j = 0; j < ws.numel(); ++j) ws.data<float>()[j] = 0.002f + 0.0003f * static_cast<float>(j);
      g.init("ws", ws);
      g.init("wzp", Tensor::create(DType::kInt8, cc.per_channel ? Shape{cc.m} : Shape{}).value());
      g.init("ys", scalar(DType::kFloat32, 0.25));
      g.init("yzp", scalar(DType::kUInt8, 60));
      if (cc.bias) g.init("B", random_bytes<int32_t>(DType::kInt32, {cc.m}, 5, -3000, 3000));
      results[nhwc] = g.run({nhwc ? x_nhwc : x});
    }
    ASSERT_EQ(results[0].rank(), 4);
    Tensor want = to_nhwc(results[0]);
    ASSERT_EQ(results[1].shape(), want.shape()) << "c " << cc.c;
    EXPECT_TRUE(results[1].bit_equal(want)) << "c " << cc.c << " k " << cc.k << " group " << cc.group;
  }
}

TEST(Int8Ops, NhwcQLinearConvRefusesBadInput) {
  Tensor x = random_bytes<uint8_t>(DType::kUInt8, {1, 4, 4}, 3, 0, 255);  // rank 3: not NHWC
  ir::Node n = node("NhwcQLinearConv", {"A", "xs", "xzp", "W", "ws", "wzp", "ys", "yzp"}, {"Y"});
  n.domain = "hone";
  OneNode g(n, {{"A", &x}});
  g.init("W", random_bytes<int8_t>(DType::kInt8, {2, 4, 1, 1}, 4, -127, 127));
  g.init("xs", scalar(DType::kFloat32, 0.03));
  g.init("xzp", scalar(DType::kUInt8, 117));
  g.init("ws", scalar(DType::kFloat32, 0.01));
  g.init("wzp", scalar(DType::kInt8, 0));
  g.init("ys", scalar(DType::kFloat32, 0.25));
  g.init("yzp", scalar(DType::kUInt8, 60));
  auto s = create_session(g.m);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto out = s->run({x});
  EXPECT_FALSE(out.ok());
}

TEST(Int8Ops, MaxPoolOnBytesMatchesFloatPath) {
  // The 8-bit 2-D fast path of MaxPool against the generic float path on the same values.
  struct PoolCase {
    int64_t k, stride, pad, ceil;
  };
  for (DType type : {DType::kUInt8, DType::kInt8}) {
    const bool s = type == DType::kInt8;
    Tensor x = s ? random_bytes<int8_t>(type, {2, 3, 13, 11}, 9, -128, 127) : random_bytes<uint8_t>(type, {2, 3, 13, 11}, 9, 0, 255);
    Tensor xf = Tensor::create(DType::kFloat32, x.shape()).value();
    for (int64_t i = 0; i < x.numel(); ++i)
      xf.data<float>()[i] = s ? static_cast<float>(x.data<int8_t>()[i]) : static_cast<float>(x.data<uint8_t>()[i]);
    for (const PoolCase& pc : {PoolCase{3, 2, 1, 0}, PoolCase{2, 1, 0, 0}, PoolCase{3, 2, 1, 1}, PoolCase{3, 3, 2, 1}}) {
      Tensor ys[2];
      for (int f = 0; f < 2; ++f) {
        ir::Node n = node("MaxPool", {"X"}, {"Y"});
        n.attrs = {ints_attr("kernel_shape", {pc.k, pc.k}), ints_attr("strides", {pc.stride, pc.stride}),
                   ints_attr("pads", {pc.pad, pc.pad, pc.pad, pc.pad}), int_attr("ceil_mode", pc.ceil)};
        OneNode g(n, {{"X", f ? &xf : &x}});
        ys[f] = g.run({f ? xf : x});
      }
      ASSERT_EQ(ys[0].shape(), ys[1].shape()) << pc.k << " " << pc.stride << " " << pc.pad;
      for (int64_t i = 0; i < ys[0].numel(); ++i) {
        const float got = s ? static_cast<float>(ys[0].data<int8_t>()[i]) : static_cast<float>(ys[0].data<uint8_t>()[i]);
        ASSERT_EQ(got, ys[1].data<float>()[i]) << i << " k " << pc.k << " stride " << pc.stride << " pad " << pc.pad;
      }
    }
  }
}

TEST(Int8Ops, NhwcMaxPoolOnBytesEqualsMaxPoolTransposed) {
  // hone.NhwcMaxPool (layout_nhwc's twin of the byte MaxPool fuse_qdq leaves between int8
  // convolutions) against the NCHW MaxPool of pool.cc on the same bytes, moved channels last.
  struct PoolCase {
    Shape x;  // NCHW, or NCW
    std::vector<ir::Attribute> attrs;
  };
  const PoolCase cases[] = {
      {{1, 64, 16, 16}, {ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {2, 2}), ints_attr("pads", {1, 1, 1, 1})}},
      {{2, 5, 11, 10},
       {ints_attr("kernel_shape", {2, 3}), ints_attr("strides", {2, 2}), ints_attr("dilations", {1, 2}),
        int_attr("ceil_mode", 1)}},
      {{1, 3, 13, 11}, {ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {3, 3}), ints_attr("pads", {2, 2, 2, 2})}},
      {{2, 7, 13}, {ints_attr("kernel_shape", {3}), ints_attr("strides", {2})}},
  };
  auto nchw_to_nhwc = [](const Tensor& x) {
    if (x.rank() == 4) return to_nhwc(x);
    const int64_t n = x.dim(0), c = x.dim(1), w = x.dim(2);  // NCW -> NWC
    Tensor t = Tensor::create(x.dtype(), {n, w, c}).value();
    for (int64_t i = 0; i < n * c * w; ++i) {
      const int64_t b = i / (c * w), ch = (i / w) % c, p = i % w;
      static_cast<uint8_t*>(t.raw())[(b * w + p) * c + ch] = static_cast<const uint8_t*>(x.raw())[i];
    }
    return t;
  };
  for (DType type : {DType::kUInt8, DType::kInt8}) {
    const bool s = type == DType::kInt8;
    for (const PoolCase& pc : cases) {
      SCOPED_TRACE(shape_to_string(pc.x) + (s ? " int8" : " uint8"));
      Tensor x = s ? random_bytes<int8_t>(type, pc.x, 10, -128, 127) : random_bytes<uint8_t>(type, pc.x, 10, 0, 255);
      ir::Node n = node("MaxPool", {"X"}, {"Y"});
      n.attrs = pc.attrs;
      OneNode ref(n, {{"X", &x}});
      const Tensor want = nchw_to_nhwc(ref.run({x}));
      const Tensor x_last = nchw_to_nhwc(x);
      ir::Node t = node("NhwcMaxPool", {"X"}, {"Y"});
      t.domain = "hone";
      t.attrs = pc.attrs;
      OneNode twin(t, {{"X", &x_last}});
      const Tensor got = twin.run({x_last});
      ASSERT_EQ(got.dtype(), type);
      ASSERT_EQ(got.shape(), want.shape());
      for (int64_t i = 0; i < got.numel(); ++i)
        ASSERT_EQ(static_cast<const uint8_t*>(got.raw())[i], static_cast<const uint8_t*>(want.raw())[i]) << i;
    }
  }
  Tensor wide = Tensor::create(DType::kUInt16, {1, 4, 4, 2}).value();
  ir::Node t = node("NhwcMaxPool", {"X"}, {"Y"});
  t.domain = "hone";
  t.attrs = {ints_attr("kernel_shape", {2, 2})};
  OneNode bad(t, {{"X", &wide}});
  auto session = create_session(bad.m);
  ASSERT_TRUE(session.ok()) << session.status().message();
  auto out = session->run({wide});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("float32, uint8 or int8"), std::string::npos) << out.status().message();
}

TEST(Int8Ops, QuantizeLinearPerTensorUint8MatchesFormula) {
  // The vectorized per-tensor uint8 path of QuantizeLinear against the op's formula: ties, NaN,
  // infinities and saturation, on a length with a tail and on one large enough to be threaded.
  for (int64_t n : {int64_t{1037}, int64_t{70001}}) {
    Tensor x = Tensor::create(DType::kFloat32, {n}).value();
    std::mt19937 rng(11);
    for (int64_t i = 0; i < n; ++i) x.data<float>()[i] = (static_cast<float>(rng() % 20001) - 10000.0f) * 0.0025f;
    x.data<float>()[0] = std::nanf("");
    x.data<float>()[1] = std::numeric_limits<float>::infinity();
    x.data<float>()[2] = -std::numeric_limits<float>::infinity();
    x.data<float>()[3] = 0.125f;  // exactly half a step of 0.25: a tie
    OneNode g(node("QuantizeLinear", {"X", "s", "z"}, {"Y"}), {{"X", &x}});
    g.init("s", scalar(DType::kFloat32, 0.25));
    g.init("z", scalar(DType::kUInt8, 37));
    Tensor y = g.run({x});
    ASSERT_EQ(y.numel(), n);
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::nearbyint(x.data<float>()[i] / 0.25f) + 37.0f;
      const float want = std::isnan(q) ? 37.0f : std::clamp(q, 0.0f, 255.0f);
      ASSERT_EQ(static_cast<float>(y.data<uint8_t>()[i]), want) << i << " x " << x.data<float>()[i];
    }
  }
}

TEST(Int8Ops, DequantizeLinearPerTensor8BitMatchesFormula) {
  // The per-tensor 8-bit loop of DequantizeLinear against (x - zero_point) * scale, both types.
  for (DType type : {DType::kUInt8, DType::kInt8}) {
    const bool s = type == DType::kInt8;
    Tensor x = s ? random_bytes<int8_t>(type, {3, 1001}, 12, -128, 127) : random_bytes<uint8_t>(type, {3, 1001}, 12, 0, 255);
    OneNode g(node("DequantizeLinear", {"X", "s", "z"}, {"Y"}), {{"X", &x}});
    g.init("s", scalar(DType::kFloat32, 0.0137));
    g.init("z", scalar(type, s ? -7 : 131));
    Tensor y = g.run({x});
    ASSERT_EQ(y.shape(), x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int32_t v = s ? int32_t{x.data<int8_t>()[i]} : int32_t{x.data<uint8_t>()[i]};
      ASSERT_EQ(y.data<float>()[i], static_cast<float>(v - (s ? -7 : 131)) * 0.0137f) << i;
    }
  }
}

TEST(Int8Ops, MatMulIntegerToFloatMatchesLoops) {
  const int64_t k = 37, n = 29;
  Tensor a = random_bytes<uint8_t>(DType::kUInt8, {2, 5, k}, 6, 0, 255);
  Tensor b = random_bytes<int8_t>(DType::kInt8, {k, n}, 7, -127, 127);
  Tensor bs = Tensor::create(DType::kFloat32, {n}).value();
  Tensor bias = Tensor::create(DType::kFloat32, {n}).value();
  for (int64_t j = 0; j < n; ++j) {
    bs.data<float>()[j] = 0.001f + 0.0001f * static_cast<float>(j);
    bias.data<float>()[j] = 0.5f - 0.03f * static_cast<float>(j);
  }
  for (bool with_bias : {false, true}) {
    std::vector<std::string> ins = {"A", "B", "as", "bs", "az", "bz"};
    if (with_bias) ins.push_back("bias");
    ir::Node nd = node("MatMulIntegerToFloat", ins, {"Y"});
    nd.domain = "com.microsoft";
    OneNode g(nd, {{"A", &a}});
    g.init("B", b);
    g.init("as", scalar(DType::kFloat32, 0.02));
    g.init("bs", bs);
    g.init("az", scalar(DType::kUInt8, 133));
    g.init("bz", Tensor::create(DType::kInt8, {n}).value());
    if (with_bias) g.init("bias", bias);
    Tensor y = g.run({a});
    ASSERT_EQ(y.shape(), (Shape{2, 5, n}));
    for (int64_t r = 0; r < 10; ++r)
      for (int64_t c = 0; c < n; ++c) {
        int32_t acc = 0;
        for (int64_t kk = 0; kk < k; ++kk) acc += (a.data<uint8_t>()[r * k + kk] - 133) * b.data<int8_t>()[kk * n + c];
        float want = static_cast<float>(acc) * (0.02f * bs.data<float>()[c]);
        if (with_bias) want = want + bias.data<float>()[c];
        ASSERT_EQ(y.data<float>()[r * n + c], want) << r << "," << c;
      }
  }
}

TEST(Int8Ops, QLinearGlobalAveragePoolMatchesFormula) {
  Tensor x = random_bytes<uint8_t>(DType::kUInt8, {2, 6, 7, 7}, 8, 0, 255);
  Tensor x_nhwc = to_nhwc(x);
  for (int channels_last = 0; channels_last < 2; ++channels_last) {
    ir::Node nd = node("QLinearGlobalAveragePool", {"X", "xs", "xz", "ys", "yz"}, {"Y"});
    nd.domain = "com.microsoft";
    nd.attrs = {int_attr("channels_last", channels_last)};
    OneNode g(nd, {{"X", channels_last ? &x_nhwc : &x}});
    g.init("xs", scalar(DType::kFloat32, 0.05));
    g.init("xz", scalar(DType::kUInt8, 100));
    g.init("ys", scalar(DType::kFloat32, 0.02));
    g.init("yz", scalar(DType::kUInt8, 10));
    Tensor y = g.run({channels_last ? x_nhwc : x});
    ASSERT_EQ(y.shape(), channels_last ? (Shape{2, 1, 1, 6}) : (Shape{2, 6, 1, 1}));
    for (int64_t p = 0; p < 12; ++p) {
      double sum = 0;
      for (int64_t i = 0; i < 49; ++i) sum += (x.data<uint8_t>()[p * 49 + i] - 100) * 0.05;
      const double want = std::clamp(std::nearbyint(sum / 49 / 0.02) + 10, 0.0, 255.0);
      EXPECT_LE(std::fabs(y.data<uint8_t>()[p] - want), 1.0) << p;
    }
  }
}

// The int8 matmul and pooling ops take their outputs from the session's arena without a zero fill
// (allocate_output_overwritten): each must write every element on every path, or a run shows a
// previous run's values. The op's output is an intermediate (a float consumer reads it), so from
// the second run on it lives in the arena; one session runs inputs A, B, A, B, A and each output
// must equal, byte for byte, a fresh session's first (heap, zero-filled) run on the same input.
struct ReuseCase {
  std::string what;
  ir::Model m;
  Tensor a, b;  // the two feeds of the model's one input "A"
};

void expect_every_run_writes_whole_output(const ReuseCase& c) {
  SCOPED_TRACE(c.what);
  auto session = create_session(c.m);
  ASSERT_TRUE(session.ok()) << session.status().message();
  const Tensor* feeds[] = {&c.a, &c.b, &c.a, &c.b, &c.a};
  for (size_t r = 0; r < std::size(feeds); ++r) {
    auto fresh = create_session(c.m);
    ASSERT_TRUE(fresh.ok()) << fresh.status().message();
    auto want = fresh->run({*feeds[r]});
    auto got = session->run({*feeds[r]});
    ASSERT_TRUE(want.ok() && got.ok()) << (want.ok() ? got.status().message() : want.status().message());
    const Tensor &w = (*want)[0], &g = (*got)[0];
    ASSERT_EQ(w.shape(), g.shape()) << "run " << r;
    ASSERT_EQ(w.nbytes(), g.nbytes());
    int64_t bad = 0;
    for (size_t i = 0; i < w.nbytes(); ++i)
      bad += static_cast<const uint8_t*>(w.raw())[i] != static_cast<const uint8_t*>(g.raw())[i];
    EXPECT_EQ(bad, 0) << "run " << r << ": bytes differing from a fresh session's";
  }
}

// Model: A -> op (output T, initializers `inits`) -> consumer -> Y (float).
ReuseCase reuse_case(std::string what, const Tensor& a, const Tensor& b, ir::Node op,
                     std::vector<std::pair<std::string, Tensor>> inits, ir::Node consumer) {
  ReuseCase c{std::move(what), {}, a, b};
  c.m.ir_version = 8;
  c.m.opsets = {{"", 17}, {"com.microsoft", 1}, {"hone", 1}};
  std::vector<ir::Dim> dims;
  for (int64_t d : a.shape()) dims.push_back(ir::Dim::of(d));
  c.m.graph.inputs.push_back({"A", tensor_type(a.dtype(), dims), {}});
  c.m.graph.outputs.push_back({"Y", tensor_type(DType::kFloat32, {}), {}});
  c.m.graph.outputs.back().type.has_shape = false;
  for (auto& [name, t] : inits) c.m.graph.initializers.push_back({name, std::move(t), {}, std::nullopt});
  c.m.graph.nodes.push_back(std::move(op));
  c.m.graph.nodes.push_back(std::move(consumer));
  return c;
}

TEST(Int8Ops, MatMulAndPoolOutputsAreFullyWrittenOnArenaReuse) {
  const int64_t k = 37, n = 29;
  const Tensor a = random_bytes<uint8_t>(DType::kUInt8, {3, 5, k}, 21, 0, 255);
  const Tensor b = random_bytes<uint8_t>(DType::kUInt8, {3, 5, k}, 22, 0, 255);
  const Tensor w = random_bytes<int8_t>(DType::kInt8, {k, n}, 23, -127, 127);
  Tensor w_scale = Tensor::create(DType::kFloat32, {n}).value();
  Tensor bias = Tensor::create(DType::kFloat32, {n}).value();
  for (int64_t j = 0; j < n; ++j) {
    w_scale.data<float>()[j] = 0.001f + 0.0001f * static_cast<float>(j);
    bias.data<float>()[j] = 0.5f - 0.03f * static_cast<float>(j);
  }
  auto dequantize = [](const char* y_zp) { return node("DequantizeLinear", {"T", "ys", y_zp}, {"Y"}); };
  std::vector<ReuseCase> cases;
  for (bool zero_b_zp : {true, false}) {  // zero: the oneDNN bridge where it runs; else the loops
    Tensor b_zp = Tensor::create(DType::kInt8, {}).value();
    b_zp.data<int8_t>()[0] = zero_b_zp ? 0 : 3;
    const std::string path = zero_b_zp ? " (b zero point 0)" : " (b zero point 3)";
    cases.push_back(reuse_case("QLinearMatMul" + path, a, b,
                               node("QLinearMatMul", {"A", "as", "az", "W", "ws", "wz", "ys", "yz"}, {"T"}),
                               {{"as", scalar(DType::kFloat32, 0.02)},
                                {"az", scalar(DType::kUInt8, 131)},
                                {"W", w},
                                {"ws", scalar(DType::kFloat32, 0.004)},
                                {"wz", b_zp},
                                {"ys", scalar(DType::kFloat32, 0.3)},
                                {"yz", scalar(DType::kUInt8, 120)}},
                               dequantize("yz")));
    cases.push_back(reuse_case("MatMulInteger" + path, a, b, node("MatMulInteger", {"A", "W", "az", "wz"}, {"T"}),
                               {{"W", w}, {"az", scalar(DType::kUInt8, 131)}, {"wz", b_zp}},
                               [] {
                                 ir::Node cast = node("Cast", {"T"}, {"Y"});
                                 cast.attrs = {int_attr("to", static_cast<int64_t>(DType::kFloat32))};
                                 return cast;
                               }()));
    ir::Node mmf = node("MatMulIntegerToFloat", {"A", "W", "as", "ws", "az", "wz", "bias"}, {"T"});
    mmf.domain = "com.microsoft";
    Tensor bzp_n = Tensor::create(DType::kInt8, {n}).value();
    for (int64_t j = 0; j < n; ++j) bzp_n.data<int8_t>()[j] = b_zp.data<int8_t>()[0];
    cases.push_back(reuse_case("MatMulIntegerToFloat" + path, a, b, mmf,
                               {{"W", w},
                                {"as", scalar(DType::kFloat32, 0.02)},
                                {"ws", w_scale},
                                {"az", scalar(DType::kUInt8, 131)},
                                {"wz", bzp_n},
                                {"bias", bias}},
                               node("Neg", {"T"}, {"Y"})));
  }
  const Tensor pa = random_bytes<uint8_t>(DType::kUInt8, {2, 6, 7, 7}, 24, 0, 255);
  const Tensor pb = random_bytes<uint8_t>(DType::kUInt8, {2, 6, 7, 7}, 25, 0, 255);
  for (int channels_last = 0; channels_last < 2; ++channels_last) {
    ir::Node gap = node("QLinearGlobalAveragePool", {"A", "as", "az", "ys", "yz"}, {"T"});
    gap.domain = "com.microsoft";
    gap.attrs = {int_attr("channels_last", channels_last)};
    cases.push_back(reuse_case(std::string("QLinearGlobalAveragePool channels_last=") + char('0' + channels_last), pa,
                               pb, gap,
                               {{"as", scalar(DType::kFloat32, 0.05)},
                                {"az", scalar(DType::kUInt8, 100)},
                                {"ys", scalar(DType::kFloat32, 0.02)},
                                {"yz", scalar(DType::kUInt8, 10)}},
                               dequantize("yz")));
  }
  for (const ReuseCase& c : cases) expect_every_run_writes_whole_output(c);
}

// The same for the int8 convolutions: ConvInteger, QLinearConv and hone.NhwcQLinearConv, on
// oneDNN (weight zero point 0, where it runs) and on the reference (zero point 3, and HONE_DNNL=0).
TEST(Int8Ops, ConvOutputsAreFullyWrittenOnArenaReuse) {
  const Tensor a = random_bytes<uint8_t>(DType::kUInt8, {2, 6, 7, 7}, 31, 0, 255);
  const Tensor b = random_bytes<uint8_t>(DType::kUInt8, {2, 6, 7, 7}, 32, 0, 255);
  const Tensor w = random_bytes<int8_t>(DType::kInt8, {5, 6, 3, 3}, 33, -127, 127);
  const std::vector<ir::Attribute> attrs = {ints_attr("kernel_shape", {3, 3}), ints_attr("pads", {1, 1, 1, 1}),
                                            ints_attr("strides", {2, 1})};
  std::vector<ReuseCase> cases;
  for (bool zero_w_zp : {true, false}) {
    Tensor w_zp = Tensor::create(DType::kInt8, {}).value();
    w_zp.data<int8_t>()[0] = zero_w_zp ? 0 : 3;
    const std::string path = zero_w_zp ? " (w zero point 0)" : " (w zero point 3)";
    ir::Node ci = node("ConvInteger", {"A", "W", "az", "wz"}, {"T"});
    ci.attrs = attrs;
    ir::Node cast = node("Cast", {"T"}, {"Y"});
    cast.attrs = {int_attr("to", static_cast<int64_t>(DType::kFloat32))};
    cases.push_back(
        reuse_case("ConvInteger" + path, a, b, ci, {{"W", w}, {"az", scalar(DType::kUInt8, 131)}, {"wz", w_zp}}, cast));
    for (bool nhwc : {false, true}) {
      ir::Node qc =
          node(nhwc ? "NhwcQLinearConv" : "QLinearConv", {"A", "as", "az", "W", "ws", "wz", "ys", "yz"}, {"T"});
      if (nhwc) qc.domain = "hone";
      qc.attrs = attrs;
      cases.push_back(reuse_case((nhwc ? "NhwcQLinearConv" : "QLinearConv") + path, nhwc ? to_nhwc(a) : a,
                                 nhwc ? to_nhwc(b) : b, qc,
                                 {{"as", scalar(DType::kFloat32, 0.02)},
                                  {"az", scalar(DType::kUInt8, 131)},
                                  {"W", w},
                                  {"ws", scalar(DType::kFloat32, 0.004)},
                                  {"wz", w_zp},
                                  {"ys", scalar(DType::kFloat32, 0.3)},
                                  {"yz", scalar(DType::kUInt8, 120)}},
                                 node("DequantizeLinear", {"T", "ys", "yz"}, {"Y"})));
    }
  }
  for (const ReuseCase& c : cases) expect_every_run_writes_whole_output(c);
}

// The oneDNN int8 conv keeps the last run's descriptor while x's shape and the presence of its
// zero point stay the same (Int8ConvKernel::run_dnnl). One session fed shapes and zero points
// that change run to run, back and forth, must give byte for byte what a fresh session gives on
// each feed; a stale descriptor would read or write the wrong extents or drop the zero point.
TEST(Int8Ops, Int8ConvFollowsChangingShapesAndZeroPoints) {
  const Tensor w = random_bytes<int8_t>(DType::kInt8, {5, 6, 3, 3}, 41, -127, 127);
  struct Feed {
    Shape x_shape;
    int zero_point;
  };
  const Feed feeds[] = {{{1, 6, 7, 7}, 131}, {{1, 6, 7, 7}, 0},  {{2, 6, 9, 5}, 0},
                        {{2, 6, 9, 5}, 17},  {{1, 6, 7, 7}, 131}, {{1, 6, 4, 11}, 255}};
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "NhwcQLinearConv" : "QLinearConv");
    ir::Model m;
    m.ir_version = 8;
    m.opsets = {{"", 17}, {"hone", 1}};
    const std::vector<ir::Dim> dims = {ir::Dim::symbol("n"), ir::Dim::symbol(nhwc ? "h" : "c"),
                                       ir::Dim::symbol(nhwc ? "w" : "h"), ir::Dim::symbol(nhwc ? "c" : "w")};
    m.graph.inputs.push_back({"A", tensor_type(DType::kUInt8, dims), {}});
    m.graph.inputs.push_back({"az", tensor_type(DType::kUInt8, std::vector<ir::Dim>{}), {}});
    m.graph.outputs.push_back({"Y", tensor_type(DType::kUInt8, {}), {}});
    m.graph.outputs.back().type.has_shape = false;
    ir::Node qc = node(nhwc ? "NhwcQLinearConv" : "QLinearConv", {"A", "as", "az", "W", "ws", "wz", "ys", "yz"}, {"Y"});
    if (nhwc) qc.domain = "hone";
    qc.attrs = {ints_attr("kernel_shape", {3, 3}), ints_attr("pads", {1, 0, 1, 2}), ints_attr("strides", {1, 2})};
    m.graph.nodes.push_back(qc);
    for (auto& [name, t] : std::vector<std::pair<std::string, Tensor>>{{"as", scalar(DType::kFloat32, 0.02)},
                                                                      {"W", w},
                                                                      {"ws", scalar(DType::kFloat32, 0.004)},
                                                                      {"wz", scalar(DType::kInt8, 0)},
                                                                      {"ys", scalar(DType::kFloat32, 0.3)},
                                                                      {"yz", scalar(DType::kUInt8, 120)}})
      m.graph.initializers.push_back({name, std::move(t), {}, std::nullopt});
    auto session = create_session(m);
    ASSERT_TRUE(session.ok()) << session.status().message();
    uint32_t seed = 50;
    for (const Feed& f : feeds) {
      SCOPED_TRACE(shape_to_string(f.x_shape) + " zero point " + std::to_string(f.zero_point));
      Tensor x = random_bytes<uint8_t>(DType::kUInt8, f.x_shape, seed++, 0, 255);
      if (nhwc) x = to_nhwc(x);
      const Tensor zp = scalar(DType::kUInt8, f.zero_point);
      auto fresh = create_session(m);
      ASSERT_TRUE(fresh.ok()) << fresh.status().message();
      const std::vector<Tensor> inputs{x, zp};
      auto want = fresh->run(inputs);
      auto got = session->run(inputs);
      ASSERT_TRUE(want.ok() && got.ok()) << (want.ok() ? got.status().message() : want.status().message());
      const Tensor& expected = (*want)[0];
      const Tensor& actual = (*got)[0];
      ASSERT_EQ(expected.shape(), actual.shape());
      EXPECT_EQ(0, std::memcmp(expected.raw(), actual.raw(), expected.nbytes()));
    }
  }
}

}  // namespace
}  // namespace hone
