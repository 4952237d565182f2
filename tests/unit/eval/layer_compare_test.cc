// compare_layers on two small in-test models: the layer whose weight was perturbed must rank first.
#include "eval/layer_compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "eval/random_inputs.h"
#include "../test_models.h"

namespace hone::eval {
namespace {

using testing_models::node;
using testing_models::tensor_type;

constexpr int64_t kN = 8;

Tensor random_matrix(uint64_t seed, float scale) {
  Tensor t = Tensor::create(DType::kFloat32, {kN, kN}).value();
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng) * scale;
  return t;
}

// X -> MatMul W1 (fc1) -> h1 -> Relu -> r1 -> MatMul W2 (fc2) -> h2 -> MatMul W3 (fc3) -> Y.
// W3 = 2 I keeps the relative error of h2 exactly, so fc3 adds none; Relu of an exact h1 adds none.
ir::Model mlp(float w2_delta) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.inputs.push_back({"X", tensor_type(DType::kFloat32, {ir::Dim::of(1), ir::Dim::of(kN)}), {}});
  g.outputs.push_back({"Y", tensor_type(DType::kFloat32, {ir::Dim::of(1), ir::Dim::of(kN)}), {}});
  Tensor w2 = random_matrix(2, 0.5f);
  for (int64_t i = 0; i < w2.numel(); i += 3) w2.data<float>()[i] += w2_delta;
  Tensor w3 = Tensor::create(DType::kFloat32, {kN, kN}).value();
  for (int64_t i = 0; i < kN; ++i) w3.data<float>()[i * kN + i] = 2.0f;
  g.initializers.push_back({"W1", random_matrix(1, 0.5f), {}, std::nullopt});
  g.initializers.push_back({"W2", w2, {}, std::nullopt});
  g.initializers.push_back({"W3", w3, {}, std::nullopt});
  g.nodes.push_back(node("MatMul", {"X", "W1"}, {"h1"}, "fc1"));
  g.nodes.push_back(node("Relu", {"h1"}, {"r1"}, "relu1"));
  g.nodes.push_back(node("MatMul", {"r1", "W2"}, {"h2"}, "fc2"));
  g.nodes.push_back(node("MatMul", {"h2", "W3"}, {"Y"}, "fc3"));
  return m;
}

SampleFn random_samples(const ir::Model& m) {
  std::vector<IoInfo> inputs(1);
  inputs[0].name = "X";
  inputs[0].dtype = DType::kFloat32;
  inputs[0].has_shape = true;
  inputs[0].dims = {1, kN};
  inputs[0].dim_names = {"", ""};
  return [inputs](int64_t i) { return random_inputs(inputs, {}, 100 + static_cast<uint64_t>(i)); };
}

TEST(LayerCompare, IdenticalModelsHaveNoError) {
  ir::Model a = mlp(0), b = mlp(0);
  auto r = compare_layers(a, b, 3, random_samples(a), {1});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 3);
  ASSERT_EQ(r->layers.size(), 4u);  // h1, r1, h2, Y
  for (const auto& l : r->layers) {
    EXPECT_EQ(l.metrics.max_abs_error, 0) << l.value;
    EXPECT_EQ(l.added_error, 0) << l.value;
    EXPECT_EQ(l.metrics.samples, 3);
  }
  EXPECT_TRUE(r->find("Y")->is_output);
  EXPECT_FALSE(r->find("h2")->is_output);
}

TEST(LayerCompare, PerturbedMiddleLayerRanksFirst) {
  ir::Model ref = mlp(0), cand = mlp(0.2f);
  auto r = compare_layers(ref, cand, 4, random_samples(ref), {1});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->layers.size(), 4u);
  const LayerError& worst = r->layers[r->ranking[0]];
  EXPECT_EQ(worst.value, "h2");
  EXPECT_EQ(worst.node, "fc2");
  EXPECT_EQ(worst.inputs, (std::vector<std::string>{"r1"}));
  EXPECT_GT(worst.added_error, 0.01);
  EXPECT_TRUE(std::isfinite(worst.metrics.sqnr_db));
  EXPECT_TRUE(std::isinf(worst.input_sqnr_db));  // r1 is exact
  // Upstream layers are exact; fc3 (2 I) passes the error on without adding to it.
  EXPECT_EQ(r->find("h1")->metrics.max_abs_error, 0);
  EXPECT_EQ(r->find("r1")->metrics.max_abs_error, 0);
  const LayerError* y = r->find("Y");
  EXPECT_GT(y->metrics.max_abs_error, 0);
  EXPECT_NEAR(y->metrics.rel_rms_error, worst.metrics.rel_rms_error, 1e-5);
  EXPECT_LT(std::fabs(y->added_error), 1e-5);
}

TEST(LayerCompare, QuantizedStyleNodeKeepsName) {
  // The candidate computes h2 as MatMul -> h2_raw -> Mul by 1 -> h2 (as a quantized node keeps
  // the float output name behind new intermediate values): h2 is matched, h2_raw is not shared.
  ir::Model ref = mlp(0), cand = mlp(0.2f);
  ir::Graph& g = cand.graph;
  g.nodes[2].outputs[0] = "h2_raw";
  Tensor one = Tensor::create(DType::kFloat32, {1}).value();
  one.data<float>()[0] = 1.0f;
  g.initializers.push_back({"one", one, {}, std::nullopt});
  g.nodes.insert(g.nodes.begin() + 3, node("Mul", {"h2_raw", "one"}, {"h2"}, "fc2_rescale"));
  EXPECT_EQ(shared_values(ref.graph, cand.graph), (std::vector<std::string>{"h1", "r1", "h2", "Y"}));
  auto r = compare_layers(ref, cand, 2, random_samples(ref), {1});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const LayerError& worst = r->layers[r->ranking[0]];
  EXPECT_EQ(worst.value, "h2");
  EXPECT_EQ(worst.ref_op, "MatMul");
  EXPECT_EQ(worst.cand_op, "Mul");
}

TEST(LayerCompare, QdqCopyIsComparedWhereTheValueIsMade) {
  // Static (QDQ) style: h2 -> QuantizeLinear -> DequantizeLinear -> h2_dq, which fc3 reads. The
  // quantization error of h2 must count at fc2 (value h2), not at fc3.
  ir::Model ref = mlp(0), cand = mlp(0);
  ir::Graph& g = cand.graph;
  Tensor scale = Tensor::create(DType::kFloat32, {}).value();
  scale.data<float>()[0] = 0.05f;
  Tensor zp = Tensor::create(DType::kUInt8, {}).value();
  zp.data<uint8_t>()[0] = 128;
  g.initializers.push_back({"h2_scale", scale, {}, std::nullopt});
  g.initializers.push_back({"h2_zp", zp, {}, std::nullopt});
  g.nodes.insert(g.nodes.begin() + 3, node("QuantizeLinear", {"h2", "h2_scale", "h2_zp"}, {"h2_q"}, "h2_Q"));
  g.nodes.insert(g.nodes.begin() + 4, node("DequantizeLinear", {"h2_q", "h2_scale", "h2_zp"}, {"h2_dq"}, "h2_DQ"));
  g.nodes[5].inputs[0] = "h2_dq";
  EXPECT_EQ(quantized_view(g, "h2"), "h2_dq");
  EXPECT_EQ(quantized_view(g, "r1"), "r1");
  auto r = compare_layers(ref, cand, 3, random_samples(ref), {1});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const LayerError& worst = r->layers[r->ranking[0]];
  EXPECT_EQ(worst.value, "h2");
  EXPECT_EQ(worst.cand_value, "h2_dq");
  EXPECT_GT(worst.metrics.max_abs_error, 0);
  EXPECT_LE(worst.metrics.max_abs_error, 0.025 + 1e-6);  // half a quantization step (no clipping here)
  EXPECT_LT(std::fabs(r->find("Y")->added_error), 1e-5);
}

// X -> MatMul W (scores) -> s -> Add mask (-1e6 on every other column) -> m -> Softmax -> Y.
ir::Model masked_softmax(float w_delta) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  ir::Graph& g = m.graph;
  g.inputs.push_back({"X", tensor_type(DType::kFloat32, {ir::Dim::of(1), ir::Dim::of(kN)}), {}});
  g.outputs.push_back({"Y", tensor_type(DType::kFloat32, {ir::Dim::of(1), ir::Dim::of(kN)}), {}});
  Tensor w = random_matrix(5, 1.0f);
  for (int64_t i = 0; i < w.numel(); i += 2) w.data<float>()[i] += w_delta;
  Tensor mask = Tensor::create(DType::kFloat32, {1, kN}).value();
  for (int64_t i = 0; i < kN; i += 2) mask.data<float>()[i] = -1e6f;
  g.initializers.push_back({"W", w, {}, std::nullopt});
  g.initializers.push_back({"mask", mask, {}, std::nullopt});
  g.nodes.push_back(node("MatMul", {"X", "W"}, {"s"}, "scores"));
  g.nodes.push_back(node("Add", {"s", "mask"}, {"m"}, "add_mask"));
  g.nodes.push_back(node("Softmax", {"m"}, {"Y"}, "softmax"));
  return m;
}

TEST(LayerCompare, ErrorIsSeenThroughPassThroughNodes) {
  // The mask makes m's relative error tiny (1e6 dominates sum m^2); without looking through the
  // Add, the Softmax would seem to add the scores' whole error.
  ir::Model ref = masked_softmax(0), cand = masked_softmax(0.1f);
  auto r = compare_layers(ref, cand, 4, random_samples(ref), {1});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->layers.size(), 3u);
  EXPECT_LT(r->find("m")->metrics.rel_rms_error, 1e-4);
  EXPECT_EQ(r->layers[r->ranking[0]].value, "s");
  const LayerError* y = r->find("Y");
  EXPECT_NEAR(y->input_rel_rms_error, r->find("s")->metrics.rel_rms_error, 1e-12);
  EXPECT_LT(y->added_error, r->find("s")->added_error);
}

TEST(LayerCompare, ShapeMismatchIsSkippedNotFatal) {
  // The candidate's h1 is reshaped to [kN, 1] under the same name (and back, so Y still fits).
  ir::Model ref = mlp(0), cand = mlp(0);
  ir::Graph& g = cand.graph;
  Tensor s1 = Tensor::create(DType::kInt64, {2}).value();
  s1.data<int64_t>()[0] = kN;
  s1.data<int64_t>()[1] = 1;
  Tensor s2 = Tensor::create(DType::kInt64, {2}).value();
  s2.data<int64_t>()[0] = 1;
  s2.data<int64_t>()[1] = kN;
  g.initializers.push_back({"s1", s1, {}, std::nullopt});
  g.initializers.push_back({"s2", s2, {}, std::nullopt});
  g.nodes[0].outputs[0] = "h1_flat";
  g.nodes.insert(g.nodes.begin() + 1, node("Reshape", {"h1_flat", "s1"}, {"h1"}, "odd"));
  g.nodes.insert(g.nodes.begin() + 2, node("Reshape", {"h1", "s2"}, {"h1_back"}, "back"));
  g.nodes[3].inputs[0] = "h1_back";
  auto r = compare_layers(ref, cand, 1, random_samples(ref), {1});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].first, "h1");
  EXPECT_EQ(r->find("h1"), nullptr);
  EXPECT_EQ(r->find("Y")->metrics.max_abs_error, 0);
}

TEST(LayerCompare, DifferentInputsAreRefused) {
  ir::Model ref = mlp(0), cand = mlp(0);
  cand.graph.inputs[0].name = "Z";
  cand.graph.nodes[0].inputs[0] = "Z";
  auto r = compare_layers(ref, cand, 1, random_samples(ref), {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
}

TEST(LayerCompare, SampleErrorsPropagate) {
  ir::Model ref = mlp(0);
  SampleFn bad = [](int64_t) -> Result<std::vector<Tensor>> { return io_error("sample unreadable"); };
  auto r = compare_layers(ref, ref, 1, bad, {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "sample unreadable");
}

}  // namespace
}  // namespace hone::eval
