// RNN/GRU/LSTM properties the conformance cases do not cover: bidirectional and reverse runs,
// sequence lengths with reverse scans, and the layout attribute against layout 0.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/session_impl.h"

namespace hone {
namespace {

struct Inputs {
  std::vector<std::string> names;  // "" for an omitted input
  std::vector<Tensor> tensors;     // the given ones, in order
};

ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}

ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

// Runs one recurrent node; inputs named "" are omitted; returns all three outputs (Y_c only for LSTM).
Result<std::vector<Tensor>> run_node(const std::string& op, const Inputs& in, std::vector<ir::Attribute> attrs) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 14});
  ir::Node n;
  n.op_type = op;
  n.name = op;
  n.inputs = in.names;
  n.outputs = op == "LSTM" ? std::vector<std::string>{"Y", "Y_h", "Y_c"} : std::vector<std::string>{"Y", "Y_h"};
  n.attrs = std::move(attrs);
  for (const auto& name : in.names)
    if (!name.empty()) m.graph.inputs.push_back({name, {}, {}});
  for (const auto& name : n.outputs) m.graph.outputs.push_back({name, {}, {}});
  m.graph.nodes.push_back(std::move(n));
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), {}));
  return s.run(in.tensors);
}

// Deterministic values in [-1, 1).
Tensor random_floats(Shape shape, uint32_t seed) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  uint32_t state = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    state = state * 1664525u + 1013904223u;
    t.data<float>()[i] = static_cast<float>(state >> 8) / static_cast<float>(1 << 23) - 1.0f;
  }
  return t;
}

Tensor int32s(std::vector<int32_t> v) {
  Tensor t = Tensor::create(DType::kInt32, {static_cast<int64_t>(v.size())}).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<int32_t>()[i] = v[i];
  return t;
}

// Index `d` of the leading axis.
Tensor direction(const Tensor& t, int64_t d) {
  Shape s = t.shape();
  s[0] = 1;
  Tensor out = Tensor::create(t.dtype(), s).value();
  std::copy_n(t.data<float>() + d * out.numel(), out.numel(), out.data<float>());
  return out;
}

float at(const Tensor& t, std::vector<int64_t> index) {
  int64_t flat = 0;
  for (size_t i = 0; i < index.size(); ++i) flat = flat * t.dim(static_cast<int64_t>(i)) + index[i];
  return t.data<float>()[flat];
}

TEST(Rnn, SingleStepMatchesTheFormula) {
  Tensor x = random_floats({1, 1, 1}, 1), w = random_floats({1, 1, 1}, 2), r = random_floats({1, 1, 1}, 3);
  Tensor b = random_floats({1, 2}, 4), h0 = random_floats({1, 1, 1}, 5);
  auto out = run_node("RNN", {{"X", "W", "R", "B", "", "initial_h"}, {x, w, r, b, h0}}, {int_attr("hidden_size", 1)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  const float expected = std::tanh(x.data<float>()[0] * w.data<float>()[0] + h0.data<float>()[0] * r.data<float>()[0] +
                                   b.data<float>()[0] + b.data<float>()[1]);
  EXPECT_NEAR((*out)[0].data<float>()[0], expected, 1e-6);
  EXPECT_NEAR((*out)[1].data<float>()[0], expected, 1e-6);
}

TEST(Rnn, BidirectionalLstmIsAForwardAndAReverseRun) {
  const int64_t seq = 4, batch = 3, input = 2, hidden = 3;
  Tensor x = random_floats({seq, batch, input}, 1), w = random_floats({2, 4 * hidden, input}, 2);
  Tensor r = random_floats({2, 4 * hidden, hidden}, 3), b = random_floats({2, 8 * hidden}, 4);
  Tensor h0 = random_floats({2, batch, hidden}, 5), c0 = random_floats({2, batch, hidden}, 6);
  Tensor p = random_floats({2, 3 * hidden}, 7), lens = int32s({4, 2, 3});
  const std::vector<std::string> names{"X", "W", "R", "B", "lens", "h0", "c0", "P"};
  auto both = run_node("LSTM", {names, {x, w, r, b, lens, h0, c0, p}}, {string_attr("direction", "bidirectional")});
  ASSERT_TRUE(both.ok()) << both.status().message();
  ASSERT_EQ((*both)[0].shape(), (Shape{seq, 2, batch, hidden}));
  for (int64_t d = 0; d < 2; ++d) {
    auto one = run_node("LSTM",
                        {names, {x, direction(w, d), direction(r, d), direction(b, d), lens, direction(h0, d), direction(c0, d), direction(p, d)}},
                        {string_attr("direction", d == 0 ? "forward" : "reverse")});
    ASSERT_TRUE(one.ok()) << one.status().message();
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t j = 0; j < hidden; ++j) EXPECT_EQ(at((*both)[0], {t, d, n, j}), at((*one)[0], {t, 0, n, j}));
    for (size_t o = 1; o < 3; ++o)
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t j = 0; j < hidden; ++j) EXPECT_EQ(at((*both)[o], {d, n, j}), at((*one)[o], {0, n, j}));
  }
}

TEST(Rnn, ReverseGruIsAForwardRunOverTheReversedSequence) {
  const int64_t seq = 5, batch = 2, input = 3, hidden = 4;
  Tensor x = random_floats({seq, batch, input}, 11), w = random_floats({1, 3 * hidden, input}, 12);
  Tensor r = random_floats({1, 3 * hidden, hidden}, 13), b = random_floats({1, 6 * hidden}, 14);
  // Batch entry 1 uses 3 steps: a reverse scan starts from its step 2.
  Tensor lens = int32s({5, 3});
  Tensor flipped = Tensor::create(DType::kFloat32, x.shape()).value();
  for (int64_t n = 0; n < batch; ++n) {
    const int64_t len = lens.data<int32_t>()[n];
    for (int64_t t = 0; t < len; ++t)
      std::copy_n(x.data<float>() + ((len - 1 - t) * batch + n) * input, input, flipped.data<float>() + (t * batch + n) * input);
  }
  for (int64_t linear_before_reset = 0; linear_before_reset < 2; ++linear_before_reset) {
    const std::vector<std::string> names{"X", "W", "R", "B", "lens"};
    auto reverse = run_node("GRU", {names, {x, w, r, b, lens}},
                            {string_attr("direction", "reverse"), int_attr("linear_before_reset", linear_before_reset)});
    auto forward = run_node("GRU", {names, {flipped, w, r, b, lens}}, {int_attr("linear_before_reset", linear_before_reset)});
    ASSERT_TRUE(reverse.ok()) << reverse.status().message();
    ASSERT_TRUE(forward.ok()) << forward.status().message();
    for (int64_t n = 0; n < batch; ++n) {
      const int64_t len = lens.data<int32_t>()[n];
      for (int64_t t = 0; t < seq; ++t)
        for (int64_t j = 0; j < hidden; ++j) {
          const float want = t < len ? at((*forward)[0], {len - 1 - t, 0, n, j}) : 0.0f;
          EXPECT_FLOAT_EQ(at((*reverse)[0], {t, 0, n, j}), want);
        }
      for (int64_t j = 0; j < hidden; ++j) EXPECT_FLOAT_EQ(at((*reverse)[1], {0, n, j}), at((*forward)[1], {0, n, j}));
    }
  }
}

TEST(Rnn, BatchFirstLayoutMatchesLayoutZero) {
  const int64_t seq = 3, batch = 2, input = 2, hidden = 3;
  Tensor x = random_floats({seq, batch, input}, 21), w = random_floats({2, hidden, input}, 22);
  Tensor r = random_floats({2, hidden, hidden}, 23), h0 = random_floats({2, batch, hidden}, 24);
  Tensor xt = Tensor::create(DType::kFloat32, {batch, seq, input}).value();
  Tensor h0t = Tensor::create(DType::kFloat32, {batch, 2, hidden}).value();
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t n = 0; n < batch; ++n)
      std::copy_n(x.data<float>() + (t * batch + n) * input, input, xt.data<float>() + (n * seq + t) * input);
  for (int64_t d = 0; d < 2; ++d)
    for (int64_t n = 0; n < batch; ++n)
      std::copy_n(h0.data<float>() + (d * batch + n) * hidden, hidden, h0t.data<float>() + (n * 2 + d) * hidden);
  const std::vector<std::string> names{"X", "W", "R", "", "", "h0"};
  auto seq_first = run_node("RNN", {names, {x, w, r, h0}}, {string_attr("direction", "bidirectional")});
  auto batch_first = run_node("RNN", {names, {xt, w, r, h0t}}, {string_attr("direction", "bidirectional"), int_attr("layout", 1)});
  ASSERT_TRUE(seq_first.ok()) << seq_first.status().message();
  ASSERT_TRUE(batch_first.ok()) << batch_first.status().message();
  ASSERT_EQ((*batch_first)[0].shape(), (Shape{batch, seq, 2, hidden}));
  ASSERT_EQ((*batch_first)[1].shape(), (Shape{batch, 2, hidden}));
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t d = 0; d < 2; ++d)
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t j = 0; j < hidden; ++j) {
          EXPECT_EQ(at((*seq_first)[0], {t, d, n, j}), at((*batch_first)[0], {n, t, d, j}));
          if (t == 0) {
            EXPECT_EQ(at((*seq_first)[1], {d, n, j}), at((*batch_first)[1], {n, d, j}));
          }
        }
}

TEST(Rnn, RejectsInconsistentShapes) {
  Tensor x = random_floats({2, 1, 3}, 1), w = random_floats({1, 4, 2}, 2), r = random_floats({1, 4, 4}, 3);
  auto out = run_node("RNN", {{"X", "W", "R"}, {x, w, r}}, {});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("'W'"), std::string::npos) << out.status().message();
  Tensor lens = int32s({5});
  auto too_long = run_node("RNN", {{"X", "W", "R", "", "lens"}, {x, random_floats({1, 4, 3}, 2), r, lens}}, {});
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("sequence length"), std::string::npos) << too_long.status().message();
}

TEST(Rnn, RejectsUnknownActivations) {
  Tensor x = random_floats({2, 1, 3}, 1), w = random_floats({1, 4, 3}, 2), r = random_floats({1, 4, 4}, 3);
  ir::Attribute acts;
  acts.name = "activations";
  acts.type = ir::AttrType::kStrings;
  acts.strings = {"Gelu"};
  auto out = run_node("RNN", {{"X", "W", "R"}, {x, w, r}}, {acts});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("Gelu"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace hone
