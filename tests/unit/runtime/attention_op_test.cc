// hone.Attention through a Session (runtime/ops/attention.cc): a mask broadcast along the keys
// (expanded before the kernel) equals no mask, no keys give zeros as the unfused ops do, and
// operands that do not describe one attention are refused with an error, never a crash; Q, K, V
// given as views of one packed projection (<x>_slice / <x>_shape) equal the same operands sliced
// and reshaped beforehand, read in place or copied out. Named
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

ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

// Y = hone.Attention(P, P, P) with scale 0.5, Q/K/V the thirds of P's last axis reshaped to
// `target` (what fuse_attention makes of nn.MultiheadAttention's chunked in_proj).
ir::Model packed_attention_model(int64_t width, const std::vector<int64_t>& target) {
  ir::Model m = attention_model(false);
  ir::Graph& g = m.graph;
  g.inputs = {{"P", f32_any(), {}}};
  ir::Node& n = g.nodes[0];
  n.inputs = {"P", "P", "P"};
  const char* prefixes[3] = {"q", "k", "v"};
  for (int64_t i = 0; i < 3; ++i) {
    n.attrs.push_back(ints_attr(std::string(prefixes[i]) + "_slice", {i * width, (i + 1) * width}));
    n.attrs.push_back(ints_attr(std::string(prefixes[i]) + "_shape", target));
  }
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

// Third i of P's last axis, reshaped to `shape`.
Tensor third(const Tensor& p, int64_t i, const Shape& shape) {
  const int64_t c = p.shape().back(), w = c / 3, rows = p.numel() / c;
  Tensor t = Tensor::create(DType::kFloat32, shape).value();
  EXPECT_EQ(t.numel(), rows * w);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < w; ++j) t.data<float>()[r * w + j] = p.data<float>()[r * c + i * w + j];
  return t;
}

// The packed form against the plain op on the operands sliced and reshaped beforehand.
void expect_packed_equals_sliced(const Shape& p_shape, const std::vector<int64_t>& target, const Shape& operand) {
  const Tensor p = random_tensor(p_shape, 7);
  auto s = create_session(packed_attention_model(p_shape.back() / 3, target));
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto packed = s->run({p});
  ASSERT_TRUE(packed.ok()) << packed.status().message();
  auto plain = run(false, {third(p, 0, operand), third(p, 1, operand), third(p, 2, operand)});
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  ASSERT_EQ((*packed)[0].shape(), (*plain)[0].shape());
  for (int64_t i = 0; i < (*plain)[0].numel(); ++i)
    ASSERT_NEAR((*packed)[0].data<float>()[i], (*plain)[0].data<float>()[i], 1e-5) << i;
}

TEST(FusedFp32AttentionOp, PackedProjectionReadInPlace) {
  // nn.MultiheadAttention, one batch: P [S, 1, 3E] -> [S, H, D] (0 copies S; -1 infers H).
  expect_packed_equals_sliced({9, 1, 3 * 24}, {0, -1, 8}, {9, 3, 8});
  // Batch first: P [B, S, 3E] -> [B, S, H, D].
  expect_packed_equals_sliced({2, 7, 3 * 20}, {2, 7, 4, 5}, {2, 7, 4, 5});
}

TEST(FusedFp32AttentionOp, PackedProjectionCopiedWhenNotInPlace) {
  // Two batches of nn.MultiheadAttention: [S, 2, E] -> [S, 2H, D] mixes batches into heads.
  expect_packed_equals_sliced({5, 2, 3 * 12}, {5, 6, 4}, {5, 6, 4});
  // Rows folded differently: P [B, S, 3E] -> [B*S, H, D] (rank 3).
  expect_packed_equals_sliced({2, 4, 3 * 8}, {8, 2, 4}, {8, 2, 4});
}

TEST(FusedFp32AttentionOp, BadPackedViewsAreErrors) {
  const Tensor p = random_tensor({5, 1, 36}, 1);
  auto bad_target = create_session(packed_attention_model(12, {5, 5, 4}));  // 5*5*4 != 5*12
  ASSERT_TRUE(bad_target.ok());
  EXPECT_FALSE(bad_target->run({p}).ok());
  auto huge_target = create_session(packed_attention_model(12, {int64_t{1} << 40, int64_t{1} << 40, 4}));
  ASSERT_TRUE(huge_target.ok());
  EXPECT_FALSE(huge_target->run({p}).ok());  // overflows: an error, not undefined behaviour
  auto empty_huge = create_session(packed_attention_model(12, {0, int64_t{1} << 40, int64_t{1} << 40}));
  ASSERT_TRUE(empty_huge.ok());
  EXPECT_FALSE(empty_huge->run({random_tensor({0, 1, 36}, 3)}).ok());  // zero rows, but the dims overflow
  ir::Model half = packed_attention_model(12, {5, 3, 4});
  std::erase_if(half.graph.nodes[0].attrs, [](const ir::Attribute& a) { return a.name == "k_shape"; });
  EXPECT_FALSE(create_session(half).ok());  // k_slice without k_shape
  ir::Model ok = packed_attention_model(12, {5, 3, 4});
  auto s = create_session(ok);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_FALSE(s->run({random_tensor({5, 1, 30}, 2)}).ok());  // P narrower than the slices
  auto int_p = Tensor::create(DType::kInt64, {5, 1, 36});
  EXPECT_FALSE(s->run({*int_p}).ok());
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
