// fuse_layernorm: LayerNorm over the last axis as exporters decompose it,
//   mean = ReduceMean(x, axes=[-1]);  d = Sub(x, mean);  var = ReduceMean(Pow(d, 2) | Mul(d, d), axes=[-1])
//   y = Add(Mul(Div(d, Sqrt(Add(var, eps))), gamma), beta)        (the Add of beta optional)
// becomes one internal hone.LayerNormalization(x, gamma, beta) node (axis=-1, epsilon=eps; ONNX's
// LayerNormalization semantics at any opset), run by the f32_layernorm kernels. gamma and beta
// must be constants of rank <= 1; intermediate values must have no other reader.
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// Whether ReduceMean node r averages over the last axis only, keeping dims.
bool mean_over_last_axis(const ir::Graph& g, const ir::Node& r) {
  if (r.attr_int("keepdims", 1) != 1 || r.inputs.empty()) return false;
  std::vector<int64_t> axes;
  if (r.attr("axes")) {
    axes = r.attr_ints("axes");
  } else if (r.inputs.size() >= 2 && !r.inputs[1].empty()) {  // opset 18: axes is an input
    const Tensor* t = constant_value(g, r.inputs[1]);
    if (!t || t->dtype() != DType::kInt64) return false;
    axes.assign(t->data<int64_t>(), t->data<int64_t>() + t->numel());
  }
  if (axes.size() != 1) return false;
  if (axes[0] == -1) return true;
  const ir::TypeInfo* type = g.find_type(r.inputs[0]);
  return type && type->has_shape && axes[0] == static_cast<int64_t>(type->dims.size()) - 1;
}

bool small_constant(const ir::Graph& g, const std::string& name) {
  const Tensor* t = constant_value(g, name);
  return t && t->dtype() == DType::kFloat32 && t->rank() <= 1;
}

bool fuse_at(ir::Graph& g, const GraphIndex& ix, size_t r1, std::vector<bool>& remove) {
  const ir::Node& mean = g.nodes[r1];
  if (!mean_over_last_axis(g, mean)) return false;
  const std::string x = mean.inputs[0];
  auto sub_i = sole_consumer(g, ix, mean.outputs[0]);
  if (!sub_i) return false;
  const ir::Node& sub = g.nodes[*sub_i];
  if (!is_onnx_op(sub, "Sub") || sub.inputs.size() != 2 || sub.inputs[0] != x || sub.inputs[1] != mean.outputs[0])
    return false;
  const std::string d = sub.outputs[0];
  // d feeds the square (Pow(d, 2) or Mul(d, d)) and the Div, and nothing else.
  auto readers = ix.consumers.find(d);
  if (readers == ix.consumers.end() || is_graph_output(g, d)) return false;
  std::optional<size_t> sq_i, div_i;
  for (size_t c : readers->second) {
    const ir::Node& n = g.nodes[c];
    if (is_onnx_op(n, "Pow") && n.inputs.size() == 2 && n.inputs[0] == d && near(scalar_constant(g, n.inputs[1]), 2.0))
      sq_i = c;
    else if (is_onnx_op(n, "Mul") && n.inputs.size() == 2 && n.inputs[0] == d && n.inputs[1] == d)
      sq_i = c;
    else if (is_onnx_op(n, "Div") && n.inputs.size() == 2 && n.inputs[0] == d)
      div_i = c;
    else
      return false;
  }
  if (!sq_i || !div_i) return false;
  const int expected_uses = is_onnx_op(g.nodes[*sq_i], "Mul") ? 3 : 2;
  if (ix.uses.at(d) != expected_uses || static_cast<int>(readers->second.size()) != expected_uses) return false;
  // var = ReduceMean(square); std = Sqrt(var + eps).
  auto var_i = sole_consumer(g, ix, g.nodes[*sq_i].outputs[0]);
  if (!var_i || !is_onnx_op(g.nodes[*var_i], "ReduceMean") || !mean_over_last_axis(g, g.nodes[*var_i])) return false;
  auto eps_i = sole_consumer(g, ix, g.nodes[*var_i].outputs[0]);
  if (!eps_i || !is_onnx_op(g.nodes[*eps_i], "Add")) return false;
  const auto eps = scalar_constant(g, other_input(g.nodes[*eps_i], g.nodes[*var_i].outputs[0]));
  if (!eps || *eps < 0) return false;
  auto sqrt_i = sole_consumer(g, ix, g.nodes[*eps_i].outputs[0]);
  if (!sqrt_i || !is_onnx_op(g.nodes[*sqrt_i], "Sqrt")) return false;
  const ir::Node& div = g.nodes[*div_i];
  if (div.inputs[1] != g.nodes[*sqrt_i].outputs[0] || !sole_consumer(g, ix, div.inputs[1])) return false;
  // * gamma (+ beta).
  auto scale_i = sole_consumer(g, ix, div.outputs[0]);
  if (!scale_i || !is_onnx_op(g.nodes[*scale_i], "Mul")) return false;
  const std::string gamma = other_input(g.nodes[*scale_i], div.outputs[0]);
  if (!small_constant(g, gamma)) return false;
  size_t last = *scale_i;
  std::string beta;
  if (auto bias_i = sole_consumer(g, ix, g.nodes[*scale_i].outputs[0]); bias_i && is_onnx_op(g.nodes[*bias_i], "Add")) {
    const std::string b = other_input(g.nodes[*bias_i], g.nodes[*scale_i].outputs[0]);
    if (small_constant(g, b)) {
      beta = b;
      last = *bias_i;
    }
  }
  std::vector<size_t> pattern = {r1, *sub_i, *sq_i, *var_i, *eps_i, *sqrt_i, *div_i, *scale_i, last};
  for (size_t i : pattern)
    if (remove[i]) return false;
  std::vector<std::string> dropped;
  for (size_t i : pattern)
    if (i != last && !remove[i]) {
      remove[i] = true;
      dropped.push_back(g.nodes[i].outputs[0]);
    }
  ir::Node& out = g.nodes[last];
  out.op_type = "LayerNormalization";
  out.domain = kInternalDomain;
  out.inputs = {x, gamma};
  if (!beta.empty()) out.inputs.push_back(beta);
  out.attrs = {int_attr("axis", -1), float_attr("epsilon", static_cast<float>(*eps))};
  forget_values(g, dropped);
  return true;
}

}  // namespace

Status fuse_layernorm(ir::Model& m) {
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (is_onnx_op(g.nodes[i], "ReduceMean") && !remove[i]) changed |= fuse_at(g, ix, i, remove);
  if (changed) {
    erase_nodes(g, remove);
    declare_internal_domain(m);
  }
  return Status::Ok();
}

}  // namespace hone::passes
