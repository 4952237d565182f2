// hone.Attention through a Session (runtime/ops/attention.cc): a mask broadcast along the keys
// (expanded before the kernel) equals no mask, no keys give zeros as the unfused ops do, and
// operands that do not describe one attention are refused with an error, never a crash. Named
// FusedFp32* so that tests/kernels_isa_fp32 reruns it with HONE_ISA=scalar and avx2.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/session_impl.h"

namespace hone {
namespace {

ir::TypeInfo f32_any() {
  ir::TypeInfo t;
  t.kind = ir::TypeInfo::Kind::kTensor;
  t.elem = DType::kFloat32;
  return t;
}

// Y = hone.Attention(Q, K, V[, M]) with scale 0.5.
ir::Model attention_model(bool with_mask) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}, {"hone", 1}};
  ir::Graph& g = m.graph;
  std::vector<std::string> in = {"Q", "K", "V"};
  if (with_mask) in.push_back("M");
  for (const auto& name : in) g.inputs.push_back({name, f32_any(), {}});
  g.outputs.push_back({"Y", f32_any(), {}});
  ir::Node n;
  n.op_type = "Attention";
  n.domain = "hone";
  n.inputs = in;
  n.outputs = {"Y"};
  ir::Attribute scale;
  scale.name = "scale";
  scale.type = ir::AttrType::kFloat;
  scale.f = 0.5f;
  n.attrs.push_back(scale);
  g.nodes.push_back(n);
  return m;
}

Tensor random_tensor(Shape shape, unsigned seed) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

Result<std::vector<Tensor>> run(bool with_mask, const std::vector<Tensor>& inputs) {
  auto s = create_session(attention_model(with_mask));
  if (!s.ok()) return s.status();
  return s->run(inputs);
}

TEST(FusedFp32AttentionOp, MaskAlongKeysIsExpanded) {
  // A mask constant along the keys shifts every score of a row equally: softmax ignores it.
  const Tensor q = random_tensor({2, 5, 3, 4}, 1), k = random_tensor({2, 6, 3, 4}, 2), v = random_tensor({2, 6, 3, 7}, 3);
  Tensor mask = random_tensor({2, 1, 5, 1}, 4);
  auto plain = run(false, {q, k, v});
  auto masked = run(true, {q, k, v, mask});
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  ASSERT_TRUE(masked.ok()) << masked.status().message();
  ASSERT_EQ((*plain)[0].shape(), (Shape{2, 5, 3, 7}));
  for (int64_t i = 0; i < (*plain)[0].numel(); ++i)
    ASSERT_NEAR((*masked)[0].data<float>()[i], (*plain)[0].data<float>()[i], 1e-5) << i;
}

TEST(FusedFp32AttentionOp, NoKeysGiveZeros) {
  auto out = run(false, {random_tensor({4, 2, 3}, 1), random_tensor({0, 2, 3}, 2), random_tensor({0, 2, 5}, 3)});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].shape(), (Shape{4, 2, 5}));
  for (int64_t i = 0; i < (*out)[0].numel(); ++i) EXPECT_EQ((*out)[0].data<float>()[i], 0.0f);
}

TEST(FusedFp32AttentionOp, MismatchedOperandsAreErrors) {
  const Tensor q = random_tensor({5, 3, 4}, 1), k = random_tensor({6, 3, 4}, 2), v = random_tensor({6, 3, 7}, 3);
  EXPECT_FALSE(run(false, {q, random_tensor({6, 2, 4}, 2), v}).ok());            // heads differ
  EXPECT_FALSE(run(false, {q, random_tensor({6, 3, 5}, 2), v}).ok());            // head size differs
  EXPECT_FALSE(run(false, {q, k, random_tensor({7, 3, 7}, 3)}).ok());            // K and V lengths differ
  EXPECT_FALSE(run(false, {random_tensor({5, 12}, 1), k, v}).ok());              // rank 2
  EXPECT_FALSE(run(false, {q, random_tensor({1, 6, 3, 4}, 2), v}).ok());         // ranks differ
  EXPECT_FALSE(run(true, {q, k, v, random_tensor({3, 5, 5}, 4)}).ok());          // mask of 5 keys, 6 given
  auto ok = run(true, {q, k, v, random_tensor({5, 6}, 4)});                      // [Sq, Skv] broadcasts
  EXPECT_TRUE(ok.ok()) << ok.status().message();
}

}  // namespace
}  // namespace hone
