// Gemm, MatMul and hone.FusedMatMul with a constant fp32 B and A of 1..4 rows take hone's GEMV
// (runtime/ops/small_m_gemv.h); these check them end to end through a Session against a
// double-precision evaluation of the op: transB, transA with M = 1, alpha, beta and every C
// broadcast, 1-D and batched A for MatMul, the fused bias and activation, and M = 5 (the oneDNN or
// reference path) giving the same answers. Shapes cross a 64-column panel boundary.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/session_impl.h"
#include "../test_models.h"
#include "../random_data.h"

namespace hone {
namespace {

using testing_models::float_attr;
using testing_models::int_attr;
using testing_models::string_attr;

// One node; A is the graph input, every other input an initializer (so B is constant).
Result<Tensor> run_with_constants(const std::string& domain, const std::string& op, const Tensor& a,
                                  const std::vector<Tensor>& constants, std::vector<ir::Attribute> attrs) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  if (!domain.empty()) m.opsets.push_back({domain, 1});
  ir::Node n;
  n.domain = domain;
  n.op_type = op;
  n.name = op;
  n.attrs = std::move(attrs);
  n.inputs.push_back("A");
  m.graph.inputs.push_back({"A", {}, {}});
  for (size_t i = 0; i < constants.size(); ++i) {
    n.inputs.push_back("c" + std::to_string(i));
    m.graph.initializers.push_back({n.inputs.back(), constants[i], {}, std::nullopt});
  }
  n.outputs.push_back("Y");
  m.graph.outputs.push_back({"Y", {}, {}});
  m.graph.nodes.push_back(std::move(n));
  SessionOptions options;
  options.threads = 2;
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), options));
  // Twice: the first run packs B, the second runs on the packed copy.
  HONE_ASSIGN_OR_RETURN(auto first, s.run({a}));
  HONE_ASSIGN_OR_RETURN(auto out, s.run({a}));
  for (int64_t i = 0; i < out[0].numel(); ++i)
    if (out[0].data<float>()[i] != first[0].data<float>()[i]) return runtime_error("runs differ");
  return out[0];
}

// alpha * op(A) op(B) + beta * C[broadcast], in double; A is [m, k] (or [k, m] when trans_a).
std::vector<double> gemm_expected(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor* c,
                                  double alpha, double beta) {
  const int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  std::vector<double> y(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = a.data<float>()[trans_a ? p * m + i : i * k + p];
        const double bv = b.data<float>()[trans_b ? j * k + p : p * n + j];
        s += av * bv;
      }
      double cv = 0.0;
      if (c) {
        const Shape& cs = c->shape();
        const int64_t rows = cs.size() == 2 ? cs[0] : 1, cols = cs.empty() ? 1 : cs.back();
        cv = c->data<float>()[(rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j)];
      }
      y[static_cast<size_t>(i * n + j)] = alpha * s + beta * cv;
    }
  return y;
}

void expect_close(const Tensor& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(static_cast<size_t>(got.numel()), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got.data<float>()[i], want[i], 1e-4 * (std::fabs(want[i]) + 1.0)) << what << " at " << i;
}

TEST(SmallMGemv, GemmMatchesForEveryCAndTransposition) {
  const int64_t k = 37, n = 70;
  struct Case {
    int64_t m;
    bool trans_a, trans_b;
    Shape c_shape;  // {} with has_c false: no C
    bool has_c;
    float alpha, beta;
  };
  const Case cases[] = {
      {1, false, true, {n}, true, 1.0f, 1.0f},       // a classifier: C is the bias
      {1, true, false, {1, n}, true, 0.5f, 2.0f},    // transA with one row
      {3, false, false, {3, n}, true, 1.0f, -1.0f},  // full C
      {4, false, true, {4, 1}, true, 2.0f, 0.25f},   // column C
      {2, false, true, {}, true, 1.0f, 3.0f},        // scalar C
      {2, false, false, {}, false, 1.5f, 1.0f},      // no C
      {5, false, true, {n}, true, 1.0f, 1.0f},       // past the GEMV's rows: oneDNN or reference
  };
  for (const Case& cs : cases) {
    const Tensor a = test_data::uniform_tensor(cs.trans_a ? Shape{k, cs.m} : Shape{cs.m, k}, 1);
    const Tensor b = test_data::uniform_tensor(cs.trans_b ? Shape{n, k} : Shape{k, n}, 2);
    const Tensor c = test_data::uniform_tensor(cs.c_shape, 3);
    std::vector<Tensor> constants{b};
    if (cs.has_c) constants.push_back(c);
    auto y = run_with_constants("", "Gemm", a, constants,
                                {int_attr("transA", cs.trans_a), int_attr("transB", cs.trans_b),
                                 float_attr("alpha", cs.alpha), float_attr("beta", cs.beta)});
    const std::string what = "m=" + std::to_string(cs.m) + " transA=" + std::to_string(cs.trans_a) +
                             " transB=" + std::to_string(cs.trans_b);
    ASSERT_TRUE(y.ok()) << what << ": " << y.status().message();
    EXPECT_EQ(y->shape(), (Shape{cs.m, n})) << what;
    expect_close(*y, gemm_expected(a, cs.trans_a, b, cs.trans_b, cs.has_c ? &c : nullptr, cs.alpha, cs.beta), what);
  }
}

TEST(SmallMGemv, MatMulVectorAndBatchedRows) {
  const int64_t k = 129, n = 65;
  const Tensor b = test_data::uniform_tensor({k, n}, 4);
  for (const Shape& a_shape : {Shape{k}, Shape{1, k}, Shape{2, 1, k}, Shape{2, 2, k}, Shape{3, 2, k}}) {
    const Tensor a = test_data::uniform_tensor(a_shape, 5);
    auto y = run_with_constants("", "MatMul", a, {b}, {});
    ASSERT_TRUE(y.ok()) << y.status().message();
    Shape want_shape(a_shape.begin(), a_shape.end() - 1);
    want_shape.push_back(n);
    EXPECT_EQ(y->shape(), want_shape);
    const int64_t rows = a.numel() / k;
    Tensor a2 = Tensor::create(DType::kFloat32, {rows, k}).value();
    std::copy(a.data<float>(), a.data<float>() + a.numel(), a2.data<float>());
    expect_close(*y, gemm_expected(a2, false, b, false, nullptr, 1.0, 0.0), "A " + shape_to_string(a_shape));
  }
}

TEST(SmallMGemv, FusedMatMulAddsBiasThenActivation) {
  const int64_t k = 50, n = 130;
  const Tensor b = test_data::uniform_tensor({n, k}, 6), bias = test_data::uniform_tensor({n}, 7);
  for (int64_t m : {1, 4, 6}) {
    const Tensor a = test_data::uniform_tensor({m, k}, 8);
    auto y = run_with_constants("hone", "FusedMatMul", a, {b, bias},
                                {int_attr("transB", 1), string_attr("activation", "Relu")});
    ASSERT_TRUE(y.ok()) << y.status().message();
    std::vector<double> want = gemm_expected(a, false, b, true, &bias, 1.0, 1.0);
    for (double& v : want) v = std::max(v, 0.0);
    expect_close(*y, want, "m=" + std::to_string(m));
  }
}

}  // namespace
}  // namespace hone
