// Small float models built in-test for the quantization tests, and a cosine helper.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "../test_models.h"
#include "ir/graph.h"
#include "runtime/session_impl.h"

namespace hone::quant_test {

inline ir::TypeInfo ftype(std::vector<ir::Dim> dims) {
  ir::TypeInfo t;
  t.kind = ir::TypeInfo::Kind::kTensor;
  t.elem = DType::kFloat32;
  t.has_shape = true;
  t.dims = std::move(dims);
  return t;
}

inline Tensor random_f32(Shape shape, uint32_t seed, float scale = 1.0f) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

inline ir::Node mk(std::string op, std::vector<std::string> in, std::vector<std::string> out, std::string name) {
  ir::Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.name = std::move(name);
  return n;
}

// An int64 tensor holding v: 1-D unless `shape` says otherwise.
inline Tensor i64(std::vector<int64_t> v, std::optional<Shape> shape = std::nullopt) {
  Tensor t = Tensor::create(DType::kInt64, shape ? *shape : Shape{static_cast<int64_t>(v.size())}).value();
  EXPECT_EQ(t.numel(), static_cast<int64_t>(v.size()));
  std::copy_n(v.begin(), std::min<size_t>(v.size(), static_cast<size_t>(t.numel())), t.data<int64_t>());
  return t;
}

// The attribute builders of test_models.h under the short names these tests use.
inline ir::Attribute iattr(const std::string& name, int64_t v) { return testing_models::int_attr(name, v); }
inline ir::Attribute fattr(const std::string& name, float v) { return testing_models::float_attr(name, v); }
inline ir::Attribute iattrs(const std::string& name, std::vector<int64_t> v) {
  return testing_models::ints_attr(name, std::move(v));
}

// X[batch, K] -> MatMul(W1 [K, H]) -> h -> Relu -> r -> Gemm(W2 [N, H], b2 [N], transB=1) -> Y.
inline ir::Model mlp_model(int64_t K = 40, int64_t H = 48, int64_t N = 24, int opset = 13) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", opset});
  ir::Graph& g = m.graph;
  g.name = "mlp";
  g.inputs.push_back({"X", ftype({ir::Dim::symbol("batch"), ir::Dim::of(K)}), {}});
  g.outputs.push_back({"Y", ftype({ir::Dim::symbol("batch"), ir::Dim::of(N)}), {}});
  g.initializers.push_back({"W1", random_f32({K, H}, 1, 0.2f), {}, std::nullopt});
  g.initializers.push_back({"W2", random_f32({N, H}, 2, 0.2f), {}, std::nullopt});
  g.initializers.push_back({"b2", random_f32({N}, 3, 0.1f), {}, std::nullopt});
  g.nodes.push_back(mk("MatMul", {"X", "W1"}, {"h"}, "fc1"));
  g.nodes.push_back(mk("Relu", {"h"}, {"r"}, "relu"));
  ir::Node gemm = mk("Gemm", {"r", "W2", "b2"}, {"Y"}, "fc2");
  gemm.attrs.push_back(iattr("transB", 1));
  g.nodes.push_back(gemm);
  return m;
}

// X[1, C, 9, 9] -> Conv(W [M, C, 3, 3], B [M], pads 1) -> Y.
inline ir::Model conv_model(int64_t C = 3, int64_t M = 6) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.name = "conv";
  g.inputs.push_back({"X", ftype({ir::Dim::of(1), ir::Dim::of(C), ir::Dim::of(9), ir::Dim::of(9)}), {}});
  g.outputs.push_back({"Y", ftype({ir::Dim::of(1), ir::Dim::of(M), ir::Dim::of(9), ir::Dim::of(9)}), {}});
  g.initializers.push_back({"W", random_f32({M, C, 3, 3}, 4, 0.3f), {}, std::nullopt});
  g.initializers.push_back({"B", random_f32({M}, 5, 0.1f), {}, std::nullopt});
  ir::Node c = mk("Conv", {"X", "W", "B"}, {"Y"}, "conv");
  c.attrs.push_back(iattrs("kernel_shape", {3, 3}));
  c.attrs.push_back(iattrs("pads", {1, 1, 1, 1}));
  g.nodes.push_back(c);
  return m;
}

inline std::map<std::string, int> op_counts(const ir::Model& m) {
  std::map<std::string, int> c;
  for (const auto& n : m.graph.nodes) ++c[n.op_type];
  return c;
}

inline double cosine(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.numel(), b.numel());
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i) {
    const double x = a.data<float>()[i], y = b.data<float>()[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / (std::sqrt(aa * bb) + 1e-30);
}

// Output 0 of a model on one input.
inline Tensor run1(const ir::Model& m, const Tensor& x) {
  SessionOptions so;
  so.threads = 1;
  auto s = create_session(m, so);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return Tensor();
  auto out = s->run(std::vector<Tensor>{x});
  EXPECT_TRUE(out.ok()) << out.status().message();
  if (!out.ok()) return Tensor();
  return (*out)[0];
}

}  // namespace hone::quant_test
