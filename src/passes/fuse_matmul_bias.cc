// fuse_matmul_bias: MatMul(A, B) with B a constant fp32 matrix [K, N], followed by Add of a
// constant bias holding N values along the last dim and/or by an activation (Relu, LeakyRelu,
// Clip, Sigmoid, Tanh, Gelu / hone.Gelu), becomes one internal hone.FusedMatMul(A, B, bias) node:
// one oneDNN matmul with the bias and the activation as post-ops instead of two or three passes
// over the output. (PyTorch exports nn.Linear on 3-D inputs this way: MatMul + Add.) A Gemm
// (alpha = beta = 1, no transA, constant fp32 B and C with C one value per column) followed by an
// activation becomes the same node, with transB carried over.
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// Rank of a value when its type says so.
std::optional<int64_t> known_rank(const ir::Graph& g, const std::string& v) {
  const ir::TypeInfo* t = g.find_type(v);
  if (!t || !t->has_shape) return std::nullopt;
  return static_cast<int64_t>(t->dims.size());
}

// A bias that adds one value per output column without changing the output's shape: N float32
// values shaped [N] or [1, ..., 1, N], no higher in rank than the product (A's rank; 1 for a 1-D A).
bool is_column_bias(const ir::Graph& g, const std::string& name, int64_t n, const std::string& a) {
  const Tensor* t = constant_value(g, name);
  if (!t || t->dtype() != DType::kFloat32 || t->numel() != n || t->rank() < 1) return false;
  if (t->dim(t->rank() - 1) != n) return false;
  if (t->rank() == 1) return true;
  auto ra = known_rank(g, a);
  return ra && t->rank() <= (*ra >= 2 ? *ra : 1);  // MatMul of a 1-D A is 1-D
}

}  // namespace

Status fuse_matmul_bias(ir::Model& m) {
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& mm = g.nodes[i];
    if (!is_onnx_op(mm, "MatMul") || remove[i] || mm.inputs.size() != 2) continue;
    const Tensor* b = constant_value(g, mm.inputs[1]);
    if (!b || b->dtype() != DType::kFloat32 || b->rank() != 2) continue;
    // (A 1-D A gives [N] from MatMul and from hone.FusedMatMul alike: its rows are A's rows.)
    const int64_t n = b->dim(1);
    std::string bias;
    size_t last = i;
    std::vector<std::string> dropped;
    if (auto c = sole_consumer(g, ix, mm.outputs[0]); c && is_onnx_op(g.nodes[*c], "Add") && !remove[*c]) {
      const std::string other = other_input(g.nodes[*c], mm.outputs[0]);
      if (!other.empty() && is_column_bias(g, other, n, mm.inputs[0])) {
        bias = other;
        dropped.push_back(mm.outputs[0]);
        last = *c;
      }
    }
    std::vector<ir::Attribute> act;
    if (auto c = sole_consumer(g, ix, g.nodes[last].outputs[0]); c && !remove[*c]) {
      act = activation_attrs(g, g.nodes[*c]);
      if (!act.empty()) {
        dropped.push_back(g.nodes[last].outputs[0]);
        if (last != i) remove[last] = true;
        last = *c;
      }
    }
    if (last == i) continue;  // nothing to fuse
    {
      ir::Node fused;
      fused.name = mm.name;
      fused.op_type = "FusedMatMul";
      fused.domain = kInternalDomain;
      fused.inputs = {mm.inputs[0], mm.inputs[1]};
      if (!bias.empty()) fused.inputs.push_back(bias);
      fused.outputs = {g.nodes[last].outputs[0]};
      fused.attrs = act;
      remove[i] = true;
      g.nodes[last] = std::move(fused);
      forget_values(g, dropped);
      changed = true;
    }
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& gemm = g.nodes[i];
    if (!is_onnx_op(gemm, "Gemm") || remove[i] || gemm.inputs.size() < 2 || gemm.outputs.size() != 1) continue;
    if (gemm.attr_float("alpha", 1.0f) != 1.0f || gemm.attr_int("transA", 0) != 0) continue;
    const Tensor* b = constant_value(g, gemm.inputs[1]);
    if (!b || b->dtype() != DType::kFloat32 || b->rank() != 2) continue;
    const bool trans_b = gemm.attr_int("transB", 0) != 0;
    const int64_t n = b->dim(trans_b ? 0 : 1);
    std::string bias = gemm.input(2);
    if (!bias.empty()) {
      const Tensor* c = constant_value(g, bias);
      if (gemm.attr_float("beta", 1.0f) != 1.0f || !c || c->dtype() != DType::kFloat32 || c->numel() != n ||
          c->rank() < 1 || c->rank() > 2 || c->dim(c->rank() - 1) != n)
        continue;
    }
    auto c = sole_consumer(g, ix, gemm.outputs[0]);
    if (!c || remove[*c]) continue;
    std::vector<ir::Attribute> act = activation_attrs(g, g.nodes[*c]);
    if (act.empty()) continue;
    ir::Node fused;
    fused.name = gemm.name;
    fused.op_type = "FusedMatMul";
    fused.domain = kInternalDomain;
    fused.inputs = {gemm.inputs[0], gemm.inputs[1]};
    if (!bias.empty()) fused.inputs.push_back(bias);
    fused.attrs = act;
    if (trans_b) fused.attrs.push_back(int_attr("transB", 1));
    fuse_into_consumer(g, remove, i, *c, std::move(fused));
    changed = true;
  }
  if (changed) {
    erase_nodes(g, remove);
    declare_internal_domain(m);
  }
  return Status::Ok();
}

}  // namespace hone::passes
