// fuse_conv_activation: Conv with constant fp32 weights followed by Relu, LeakyRelu, Clip
// (ReLU6), Sigmoid, Tanh or Gelu becomes one internal hone.FusedConv node (Conv's inputs and
// attributes plus the activation, runtime/ops/fused_activation.h), which runs the activation as a
// oneDNN post-op while the output is still in cache. Runs after fold_batchnorm, so that
// Conv+BatchNorm+Relu ends as one node.
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

Status fuse_conv_activation(ir::Model& m) {
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& conv = g.nodes[i];
    if (!is_onnx_op(conv, "Conv") || remove[i] || conv.outputs.size() != 1 || conv.inputs.size() < 2) continue;
    const Tensor* w = constant_value(g, conv.inputs[1]);
    if (!w || w->dtype() != DType::kFloat32) continue;
    auto c = sole_consumer(g, ix, conv.outputs[0]);
    if (!c || remove[*c]) continue;
    std::vector<ir::Attribute> act = activation_attrs(g, g.nodes[*c]);
    if (act.empty()) continue;
    ir::Node fused = conv;
    fused.op_type = "FusedConv";
    fused.domain = kInternalDomain;
    for (auto& a : act) fused.attrs.push_back(std::move(a));
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
