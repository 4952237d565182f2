// Helpers shared by the passes (passes.h).
#include <algorithm>
#include <unordered_set>

#include "passes/passes.h"

namespace hone::passes {

namespace {

void count_subgraph_reads(const ir::Graph& sub, std::unordered_map<std::string, int>& uses) {
  ir::for_each_graph(sub, [&](const ir::Graph& g, int) {
    for (const auto& n : g.nodes)
      for (const auto& in : n.inputs)
        if (!in.empty()) ++uses[in];
    for (const auto& o : g.outputs) ++uses[o.name];
  });
}

bool defines(const ir::Graph& g, const std::string& name) {
  for (const auto& v : g.inputs)
    if (v.name == name) return true;
  if (g.find_initializer(name)) return true;
  for (const auto& n : g.nodes)
    if (std::find(n.outputs.begin(), n.outputs.end(), name) != n.outputs.end()) return true;
  return false;
}

void rename_in_subgraph(ir::Graph& g, const std::string& from, const std::string& to) {
  if (defines(g, from)) return;  // shadowed: below here `from` is another value
  rename_uses(g, from, to);
  for (auto& o : g.outputs)
    if (o.name == from) o.name = to;
}

}  // namespace

std::unordered_map<std::string, int> use_counts(const ir::Graph& g) {
  std::unordered_map<std::string, int> uses;
  for (const auto& n : g.nodes) {
    for (const auto& in : n.inputs)
      if (!in.empty()) ++uses[in];
    for (const auto& a : n.attrs) {
      if (a.g) count_subgraph_reads(*a.g, uses);
      for (const auto& sg : a.graphs)
        if (sg) count_subgraph_reads(*sg, uses);
    }
  }
  for (const auto& o : g.outputs) ++uses[o.name];
  return uses;
}

bool is_graph_output(const ir::Graph& g, const std::string& name) {
  return std::any_of(g.outputs.begin(), g.outputs.end(), [&](const ir::ValueInfo& v) { return v.name == name; });
}

bool is_graph_input(const ir::Graph& g, const std::string& name) {
  return std::any_of(g.inputs.begin(), g.inputs.end(), [&](const ir::ValueInfo& v) { return v.name == name; });
}

const Tensor* constant_value(const ir::Graph& g, const std::string& name) {
  if (name.empty() || is_graph_input(g, name)) return nullptr;
  const ir::Initializer* init = g.find_initializer(name);
  return init ? &init->tensor : nullptr;
}

void rename_uses(ir::Graph& g, const std::string& from, const std::string& to) {
  for (auto& n : g.nodes) {
    std::replace(n.inputs.begin(), n.inputs.end(), from, to);
    for (auto& a : n.attrs) {
      if (a.g) rename_in_subgraph(*a.g, from, to);
      for (auto& sg : a.graphs)
        if (sg) rename_in_subgraph(*sg, from, to);
    }
  }
}

void erase_value_info(ir::Graph& g, const std::string& name) {
  std::erase_if(g.value_info, [&](const ir::ValueInfo& v) { return v.name == name; });
}

std::string unique_name(const ir::Graph& g, const std::string& base) {
  std::unordered_set<std::string> taken;
  ir::for_each_graph(g, [&](const ir::Graph& sg, int) {
    for (const auto& v : sg.inputs) taken.insert(v.name);
    for (const auto& v : sg.outputs) taken.insert(v.name);
    for (const auto& v : sg.value_info) taken.insert(v.name);
    for (const auto& i : sg.initializers) taken.insert(i.name);
    for (const auto& n : sg.nodes) taken.insert(n.outputs.begin(), n.outputs.end());
  });
  std::string name = base;
  for (int k = 1; taken.count(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

void erase_nodes(ir::Graph& g, const std::vector<bool>& remove) {
  std::vector<ir::Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!remove[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

bool is_onnx_op(const ir::Node& n, const char* op_type) {
  return n.op_type == op_type && ir::canonical_domain(n.domain).empty();
}

}  // namespace hone::passes
