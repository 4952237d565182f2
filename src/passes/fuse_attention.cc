// fuse_attention: the scaled dot-product attention core as PyTorch exports it,
//   Qh = Transpose(Q)  [* or / a scalar]          Q [B, Sq, H, D] -> [B, H, Sq, D]   (perm 0,2,1,3)
//   Kt = Transpose(K)                              K [B, Skv, H, D] -> [B, H, D, Skv] (perm 0,2,3,1)
//   Vh = Transpose(V)                              V [B, Skv, H, Dv] -> [B, H, Skv, Dv]
//   P  = Softmax(MatMul(Qh, Kt) [* or / a scalar] [+ mask], axis=-1)
//   out = Transpose(MatMul(P, Vh))                 -> [B, Sq, H, Dv]
// and its rank-3 form ([S, H, D] with perms 1,0,2 / 1,2,0 / 1,0,2: nn.MultiheadAttention, where
// H counts batch x heads), becomes one internal hone.Attention(Q, K, V[, mask]) node with the
// product of the scalars as `scale` (runtime/ops/attention.cc), which reads Q/K/V where the
// projections wrote them: no head split/merge transposes, no scores tensor in memory.
// Every intermediate value must have no other reader; the operands must be float32 as far as the
// graph tells (declared types, or the float32 constants the values are computed from).
//
// An operand that is Reshape(Slice(P, start, end, axes=[last])) of a packed projection P (the
// QKV chunk of nn.MultiheadAttention's in_proj) is taken in too: the node reads P with the slice
// bounds and the Reshape's target as attributes <x>_slice / <x>_shape (x = q, k, v), and the op
// reads the heads in place, so neither the Slice copies nor the Reshapes run.
#include <algorithm>
#include <unordered_set>

#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// The perms of the head split of Q and V (and of the merge of the output), and of K's transpose.
std::vector<int64_t> head_split_perm(size_t rank) {
  return rank == 4 ? std::vector<int64_t>{0, 2, 1, 3} : std::vector<int64_t>{1, 0, 2};
}
std::vector<int64_t> key_transpose_perm(size_t rank) {
  return rank == 4 ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{1, 2, 0};
}

// Whether `value` is float32 as far as the graph tells: its declared type, the initializer it
// is, or the first input of an op whose output has its input's type (following up to `depth`
// producers). ONNX requires both inputs of Add/Mul/MatMul ... to have one type, so either may
// answer for them.
bool known_float32(const ir::Graph& g, const GraphIndex& ix, const std::string& value, int depth = 12) {
  if (const ir::TypeInfo* t = g.find_type(value); t && t->elem != DType::kUndefined) return t->elem == DType::kFloat32;
  if (const Tensor* c = constant_value(g, value)) return c->dtype() == DType::kFloat32;
  auto p = ix.producer.find(value);
  if (depth == 0 || p == ix.producer.end()) return false;
  const ir::Node& n = g.nodes[p->second];
  const std::string dom = ir::canonical_domain(n.domain);
  if (dom == kInternalDomain) {
    if (n.op_type == "DynQuantMatMul") return true;  // DynamicQuantizeLinear reads float32 only
    return !n.inputs.empty() && known_float32(g, ix, n.inputs[0], depth - 1);
  }
  if (!dom.empty()) return false;
  static const std::unordered_set<std::string> kSameAsFirst = {
      "Reshape", "Transpose", "Slice", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Split", "Softmax",
      "LayerNormalization", "Relu", "Gelu", "Erf", "Tanh", "Sigmoid", "Dropout", "Expand"};
  static const std::unordered_set<std::string> kSameAsAny = {"Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "Concat"};
  if (kSameAsFirst.count(n.op_type)) return !n.inputs.empty() && known_float32(g, ix, n.inputs[0], depth - 1);
  if (kSameAsAny.count(n.op_type)) {
    for (const auto& in : n.inputs)
      if (!in.empty() && known_float32(g, ix, in, depth - 1)) return true;
  }
  return false;
}

// A value and the nodes between it and where the pattern started.
struct Traced {
  std::string value;
  std::vector<size_t> nodes;
  double scale = 1.0;
};

// Steps over a Mul or Div by a scalar constant producing `value` (when it has no other reader),
// folding the factor into `t.scale`.
void step_over_scale(const ir::Graph& g, const GraphIndex& ix, Traced& t) {
  auto p = ix.producer.find(t.value);
  if (p == ix.producer.end() || !sole_consumer(g, ix, t.value)) return;
  const ir::Node& n = g.nodes[p->second];
  if (n.inputs.size() != 2) return;
  if (is_onnx_op(n, "Div")) {
    const auto c = scalar_constant(g, n.inputs[1]);
    if (!c || *c == 0.0) return;
    t.scale /= *c;
    t.value = n.inputs[0];
  } else if (is_onnx_op(n, "Mul")) {
    int k = scalar_constant(g, n.inputs[1]) ? 1 : scalar_constant(g, n.inputs[0]) ? 0 : -1;
    if (k < 0) return;
    t.scale *= *scalar_constant(g, n.inputs[k]);
    t.value = n.inputs[1 - k];
  } else {
    return;
  }
  t.nodes.push_back(p->second);
}

// When `t.value` is made by a Transpose with exactly `perm` (and read only by the pattern):
// steps over it.
bool step_over_transpose(const ir::Graph& g, const GraphIndex& ix, Traced& t, const std::vector<int64_t>& perm) {
  const ir::Node* n = produced_by(g, ix, t.value, "Transpose");
  if (!n || !sole_consumer(g, ix, t.value) || n->attr_ints("perm") != perm) return false;
  t.nodes.push_back(ix.producer.at(t.value));
  t.value = n->inputs[0];
  return true;
}

// The int64 values of a constant 1-D (or scalar) tensor; nullopt when `name` is not one.
std::optional<std::vector<int64_t>> int64_constant(const ir::Graph& g, const std::string& name) {
  const Tensor* t = constant_value(g, name);
  if (!t || t->dtype() != DType::kInt64 || t->rank() > 1) return std::nullopt;
  return std::vector<int64_t>(t->data<int64_t>(), t->data<int64_t>() + t->numel());
}

// When `t.value` is Reshape(Slice(P, start, end, axes=[-1] [, steps=[1]]), target) with constant
// bounds and a constant target of the operand's rank (each read only by the pattern): steps over
// both, onto P, and returns the view attributes <prefix>_slice = [start, end] and
// <prefix>_shape = target for the op to apply at run time.
std::vector<ir::Attribute> step_over_packed_view(const ir::Graph& g, const GraphIndex& ix, Traced& t, size_t rank,
                                                 const std::string& prefix) {
  const ir::Node* reshape = produced_by(g, ix, t.value, "Reshape");
  if (!reshape || reshape->inputs.size() != 2 || !sole_consumer(g, ix, t.value)) return {};
  const auto target = int64_constant(g, reshape->inputs[1]);
  if (!target || target->size() != rank) return {};
  // allowzero = 1 makes a 0 in the target a real zero-size dim: the op reads 0 as "copy".
  if (reshape->attr_int("allowzero", 0) != 0 && std::count(target->begin(), target->end(), 0) > 0) return {};
  const std::string& sliced = reshape->inputs[0];
  const ir::Node* slice = produced_by(g, ix, sliced, "Slice");
  if (!slice || slice->inputs.size() < 4 || !sole_consumer(g, ix, sliced)) return {};
  const auto start = int64_constant(g, slice->inputs[1]), end = int64_constant(g, slice->inputs[2]);
  const auto axes = int64_constant(g, slice->inputs[3]);
  if (!start || !end || !axes || start->size() != 1 || end->size() != 1 || *axes != std::vector<int64_t>{-1}) return {};
  if (slice->inputs.size() > 4 && !slice->inputs[4].empty()) {
    const auto steps = int64_constant(g, slice->inputs[4]);
    if (!steps || *steps != std::vector<int64_t>{1}) return {};
  }
  t.nodes.push_back(ix.producer.at(t.value));
  t.nodes.push_back(ix.producer.at(sliced));
  t.value = slice->inputs[0];
  ir::Attribute bounds, shape;
  bounds.name = prefix + "_slice";
  bounds.type = ir::AttrType::kInts;
  bounds.ints = {start->front(), end->front()};
  shape.name = prefix + "_shape";
  shape.type = ir::AttrType::kInts;
  shape.ints = *target;
  return {bounds, shape};
}

bool fuse_at(ir::Graph& g, const GraphIndex& ix, size_t sm_i, std::vector<bool>& remove) {
  const ir::Node& sm = g.nodes[sm_i];
  if (sm.inputs.size() != 1 || sm.outputs.size() != 1) return false;
  // P . Vh, then the head merge.
  auto pv_i = sole_consumer(g, ix, sm.outputs[0]);
  if (!pv_i || !is_onnx_op(g.nodes[*pv_i], "MatMul") || g.nodes[*pv_i].inputs[0] != sm.outputs[0]) return false;
  const ir::Node& pv = g.nodes[*pv_i];
  auto merge_i = sole_consumer(g, ix, pv.outputs[0]);
  if (!merge_i || !is_onnx_op(g.nodes[*merge_i], "Transpose")) return false;
  const std::vector<int64_t> merge_perm = g.nodes[*merge_i].attr_ints("perm");
  const size_t rank = merge_perm.size();
  if ((rank != 3 && rank != 4) || merge_perm != head_split_perm(rank)) return false;
  // Softmax over the last axis (before opset 13 the 2-D coercion at the last axis is the same).
  const int64_t axis = sm.attr_int("axis", -1);
  if (axis != -1 && axis != static_cast<int64_t>(rank) - 1) return false;

  // Back from the Softmax: [+ mask] [* scale] MatMul(Qh, Kt).
  Traced scores{sm.inputs[0], {}, 1.0};
  std::string mask;
  if (const ir::Node* add = produced_by(g, ix, scores.value, "Add"); add && add->inputs.size() == 2 &&
                                                                     sole_consumer(g, ix, scores.value)) {
    // The scores side is the one computed from a MatMul (through an optional scale).
    for (int k = 0; k < 2 && mask.empty(); ++k) {
      Traced t{add->inputs[k], {}, 1.0};
      step_over_scale(g, ix, t);
      if (produced_by(g, ix, t.value, "MatMul") && sole_consumer(g, ix, t.value)) {
        scores.nodes.push_back(ix.producer.at(scores.value));
        scores.value = add->inputs[k];
        mask = add->inputs[1 - k];
      }
    }
    if (mask.empty()) return false;
  }
  step_over_scale(g, ix, scores);
  const ir::Node* qk = produced_by(g, ix, scores.value, "MatMul");
  if (!qk || !sole_consumer(g, ix, scores.value)) return false;
  scores.nodes.push_back(ix.producer.at(scores.value));

  Traced q{qk->inputs[0], {}, 1.0}, k{qk->inputs[1], {}, 1.0}, v{pv.inputs[1], {}, 1.0};
  step_over_scale(g, ix, q);
  step_over_scale(g, ix, k);
  if (!step_over_transpose(g, ix, q, head_split_perm(rank)) || !step_over_transpose(g, ix, k, key_transpose_perm(rank)) ||
      !step_over_transpose(g, ix, v, head_split_perm(rank)))
    return false;
  std::vector<ir::Attribute> views;
  for (auto [t, prefix] : {std::pair{&q, "q"}, std::pair{&k, "k"}, std::pair{&v, "v"}}) {
    auto attrs = step_over_packed_view(g, ix, *t, rank, prefix);
    views.insert(views.end(), attrs.begin(), attrs.end());
  }
  if (!known_float32(g, ix, q.value) || !known_float32(g, ix, k.value) || !known_float32(g, ix, v.value)) return false;
  if (!mask.empty() && !known_float32(g, ix, mask)) return false;

  std::vector<size_t> pattern = {sm_i, *pv_i};
  for (const auto* t : {&scores, &q, &k, &v}) pattern.insert(pattern.end(), t->nodes.begin(), t->nodes.end());
  for (size_t i : pattern)
    if (remove[i]) return false;  // overlaps a pattern already fused
  std::vector<std::string> dropped;
  for (size_t i : pattern) {
    remove[i] = true;
    for (const auto& o : g.nodes[i].outputs) dropped.push_back(o);
  }
  // The merge Transpose becomes the fused node: it comes after every operand's producer.
  ir::Node& out = g.nodes[*merge_i];
  out.op_type = "Attention";
  out.domain = kInternalDomain;
  out.inputs = {q.value, k.value, v.value};
  if (!mask.empty()) out.inputs.push_back(mask);
  out.attrs = {float_attr("scale", static_cast<float>(scores.scale * q.scale * k.scale))};
  out.attrs.insert(out.attrs.end(), views.begin(), views.end());
  forget_values(g, dropped);
  return true;
}

}  // namespace

Status fuse_attention(ir::Model& m) {
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (is_onnx_op(g.nodes[i], "Softmax") && !remove[i]) changed |= fuse_at(g, ix, i, remove);
  if (changed) {
    erase_nodes(g, remove);
    declare_internal_domain(m);
  }
  return Status::Ok();
}

}  // namespace hone::passes
