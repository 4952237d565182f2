// fuse_add_activation: an fp32 Add followed by Relu, LeakyRelu, Clip, Sigmoid, Tanh or Gelu (the
// residual Add + Relu of ResNet blocks) becomes one internal hone.FusedAdd node, which applies
// the activation to each run of the sum while it is in cache. Both inputs must be known float32
// (declared types or constants) and the Add's output must have no other reader.
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// Whether `v` is float32 for sure: a constant, a declared type, or the output of a Conv / MatMul /
// Gemm (or their fused forms) with constant float32 weights (exporters seldom declare the types
// of intermediate values).
bool known_float32(const ir::Graph& g, const GraphIndex& ix, const std::string& v) {
  if (const Tensor* t = constant_value(g, v)) return t->dtype() == DType::kFloat32;
  if (const ir::TypeInfo* type = g.find_type(v); type && type->is_tensor() && type->elem != DType::kUndefined)
    return type->elem == DType::kFloat32;
  auto p = ix.producer.find(v);
  if (p == ix.producer.end()) return false;
  const ir::Node& n = g.nodes[p->second];
  const std::string dom = ir::canonical_domain(n.domain);
  const bool weighted = (dom.empty() && (n.op_type == "Conv" || n.op_type == "MatMul" || n.op_type == "Gemm")) ||
                        (dom == kInternalDomain && (n.op_type == "FusedConv" || n.op_type == "FusedMatMul"));
  if (!weighted || n.inputs.size() < 2) return false;
  const Tensor* w = constant_value(g, n.inputs[1]);
  return w && w->dtype() == DType::kFloat32;
}

}  // namespace

Status fuse_add_activation(ir::Model& m) {
  if (onnx_opset(m) < 7) return Status::Ok();  // older Adds broadcast by attribute
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& add = g.nodes[i];
    if (!is_onnx_op(add, "Add") || remove[i] || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    if (!known_float32(g, ix, add.inputs[0]) && !known_float32(g, ix, add.inputs[1])) continue;
    auto c = sole_consumer(g, ix, add.outputs[0]);
    if (!c || remove[*c]) continue;
    std::vector<ir::Attribute> act = activation_attrs(g, g.nodes[*c]);
    if (act.empty()) continue;
    ir::Node fused;
    fused.name = add.name;
    fused.op_type = "FusedAdd";
    fused.domain = kInternalDomain;
    fused.inputs = add.inputs;
    fused.attrs = std::move(act);
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
