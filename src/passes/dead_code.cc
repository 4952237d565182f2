// dead_code: removes nodes none of whose outputs is read (transitively) by a graph output,
// initializers nobody reads, and declared types (value_info) of values that no longer exist.
// ONNX ops have no side effects, so an unread node can always go.
#include <unordered_set>

#include "passes/passes.h"

namespace hone::passes {

namespace {

void add_subgraph_reads(const ir::Graph& sub, std::unordered_set<std::string>& live) {
  ir::for_each_graph(sub, [&](const ir::Graph& g, int) {
    for (const auto& n : g.nodes) live.insert(n.inputs.begin(), n.inputs.end());
    for (const auto& o : g.outputs) live.insert(o.name);
  });
}

}  // namespace

Status dead_code(ir::Model& m) {
  ir::Graph& g = m.graph;
  std::unordered_set<std::string> live;
  for (const auto& o : g.outputs) live.insert(o.name);
  std::vector<bool> remove(g.nodes.size(), false);
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const ir::Node& n = g.nodes[i];
    bool used = false;
    for (const auto& o : n.outputs) used |= !o.empty() && live.count(o);
    if (!used) {
      remove[i] = true;
      continue;
    }
    live.insert(n.inputs.begin(), n.inputs.end());
    for (const auto& a : n.attrs) {
      if (a.g) add_subgraph_reads(*a.g, live);
      for (const auto& sg : a.graphs)
        if (sg) add_subgraph_reads(*sg, live);
    }
  }
  erase_nodes(g, remove);
  // An initializer that is also a graph input is part of the model's interface: it stays.
  std::erase_if(g.initializers,
                [&](const ir::Initializer& init) { return !live.count(init.name) && !is_graph_input(g, init.name); });
  std::unordered_set<std::string> exists;
  for (const auto& n : g.nodes) exists.insert(n.outputs.begin(), n.outputs.end());
  for (const auto& init : g.initializers) exists.insert(init.name);
  std::erase_if(g.value_info, [&](const ir::ValueInfo& v) { return !exists.count(v.name); });
  return Status::Ok();
}

}  // namespace hone::passes
