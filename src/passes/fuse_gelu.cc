// fuse_gelu: the exact GELU as exporters write it out,
//   y = Mul(Mul(x, Add(Erf(Div(x, sqrt(2))), 1)), 0.5)      (PyTorch nn.GELU / F.gelu)
//   y = Mul(Mul(x, 0.5), Add(Erf(Div(x, sqrt(2))), 1))      (x * 0.5 * (1 + erf(x / sqrt(2))))
// with Mul(x, 1/sqrt(2)) for the Div and any operand order of Add/Mul, becomes one internal
// hone.Gelu(x) node (approximate="none"), run by the f32_gelu_erf kernels — or absorbed into
// the MatMul before it by fuse_matmul_bias. The intermediate values must have no other reader.
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// Tries the pattern around Erf node `e`; on success marks the nodes to remove, rewrites the last
// node into hone.Gelu and returns true.
bool fuse_at(ir::Graph& g, const GraphIndex& ix, size_t e, std::vector<bool>& remove) {
  const ir::Node& erf = g.nodes[e];
  if (erf.inputs.size() != 1 || erf.outputs.size() != 1) return false;
  // x / sqrt(2) or x * (1 / sqrt(2)).
  auto scaled = ix.producer.find(erf.inputs[0]);
  if (scaled == ix.producer.end() || !sole_consumer(g, ix, erf.inputs[0])) return false;
  const ir::Node& sn = g.nodes[scaled->second];
  std::string x;
  if (is_onnx_op(sn, "Div") && sn.inputs.size() == 2 && near(scalar_constant(g, sn.inputs[1]), std::sqrt(2.0))) {
    x = sn.inputs[0];
  } else if (is_onnx_op(sn, "Mul") && sn.inputs.size() == 2) {
    for (int k = 0; k < 2; ++k)
      if (near(scalar_constant(g, sn.inputs[k]), std::sqrt(0.5))) x = sn.inputs[1 - k];
  }
  if (x.empty()) return false;
  // 1 + erf.
  auto add_i = sole_consumer(g, ix, erf.outputs[0]);
  if (!add_i) return false;
  const ir::Node& add = g.nodes[*add_i];
  if (!is_onnx_op(add, "Add") || !near(scalar_constant(g, other_input(add, erf.outputs[0])), 1.0)) return false;
  auto mul_i = sole_consumer(g, ix, add.outputs[0]);
  if (!mul_i) return false;
  const ir::Node& mul = g.nodes[*mul_i];
  if (!is_onnx_op(mul, "Mul")) return false;
  const std::string other = other_input(mul, add.outputs[0]);
  size_t last;
  std::vector<size_t> pattern = {scaled->second, e, *add_i, *mul_i};
  if (other == x) {
    // (x * (1 + erf)) * 0.5
    auto half_i = sole_consumer(g, ix, mul.outputs[0]);
    if (!half_i) return false;
    const ir::Node& half = g.nodes[*half_i];
    if (!is_onnx_op(half, "Mul") || !near(scalar_constant(g, other_input(half, mul.outputs[0])), 0.5)) return false;
    last = *half_i;
  } else {
    // (x * 0.5) * (1 + erf)
    auto h = ix.producer.find(other);
    if (h == ix.producer.end() || !sole_consumer(g, ix, other)) return false;
    const ir::Node& hn = g.nodes[h->second];
    if (!is_onnx_op(hn, "Mul") || other_input(hn, x).empty() || !near(scalar_constant(g, other_input(hn, x)), 0.5))
      return false;
    pattern.push_back(h->second);
    last = *mul_i;
  }
  pattern.push_back(last);
  for (size_t i : pattern)
    if (remove[i]) return false;  // overlaps a pattern already fused
  std::vector<std::string> dropped;
  for (size_t i : pattern)
    if (i != last) {
      remove[i] = true;
      dropped.push_back(g.nodes[i].outputs[0]);
    }
  ir::Node& out = g.nodes[last];
  out.op_type = "Gelu";
  out.domain = kInternalDomain;
  out.inputs = {x};
  out.attrs = {string_attr("approximate", "none")};
  forget_values(g, dropped);
  return true;
}

}  // namespace

Status fuse_gelu(ir::Model& m) {
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (is_onnx_op(g.nodes[i], "Erf") && !remove[i]) changed |= fuse_at(g, ix, i, remove);
  if (changed) {
    erase_nodes(g, remove);
    declare_internal_domain(m);
  }
  return Status::Ok();
}

}  // namespace hone::passes
