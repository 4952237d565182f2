// eliminate_identity: removes Identity, and Dropout in inference mode whose mask nobody reads
// (the runtime passes its input through unchanged, see runtime/ops/shape_ops.cc).
//
// Readers of the removed node's output read its input instead. When that output is a graph
// output, its name is part of the model's interface and must stay: the producer of the input is
// renamed to it instead — unless the input is itself a graph input, initializer or graph output,
// which cannot be renamed; then the node stays.
#include "passes/passes.h"

namespace hone::passes {

namespace {

// Dropout at opset 12+ is random only when its training_mode input is true (or not constant).
bool inference_dropout(const ir::Graph& g, const ir::Node& n, int64_t opset,
                       const std::unordered_map<std::string, int>& uses) {
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) {
    auto it = uses.find(n.outputs[1]);
    if (it != uses.end() && it->second > 0) return false;
  }
  if (opset < 12 || n.input(2).empty()) return true;
  const Tensor* training = constant_value(g, n.input(2));
  return training && training->dtype() == DType::kBool && training->numel() == 1 && !training->data<bool>()[0];
}

bool produced_by_node(const ir::Graph& g, const std::string& name) {
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (o == name) return true;
  return false;
}

}  // namespace

Status eliminate_identity(ir::Model& m) {
  ir::Graph& g = m.graph;
  const int64_t opset = m.opset("");
  const auto uses = use_counts(g);
  std::vector<bool> remove(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    const bool identity = is_onnx_op(n, "Identity");
    if (!identity && !(is_onnx_op(n, "Dropout") && inference_dropout(g, n, opset, uses))) continue;
    if (n.outputs.empty() || n.outputs[0].empty() || n.input(0).empty()) continue;
    const std::string x = n.input(0), y = n.outputs[0];
    if (!is_graph_output(g, y)) {
      remove[i] = true;
      rename_uses(g, y, x);
      erase_value_info(g, y);
      continue;
    }
    if (is_graph_output(g, x) || !produced_by_node(g, x)) continue;
    remove[i] = true;
    for (auto& p : g.nodes)
      for (auto& o : p.outputs)
        if (o == x) o = y;
    rename_uses(g, x, y);
    erase_value_info(g, x);
  }
  erase_nodes(g, remove);
  return Status::Ok();
}

}  // namespace hone::passes
