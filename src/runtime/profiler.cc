#include "runtime/profiler.h"

namespace hone::rt {

void Profiler::add(const ir::Node& node, double ms) {
  auto [it, inserted] = index_.emplace(&node, nodes_.size());
  if (inserted) {
    std::string label = node.name;
    if (label.empty() && !node.outputs.empty()) label = node.outputs[0];
    nodes_.push_back({std::move(label), node.qualified_op(), 0.0, 0});
  }
  NodeTime& t = nodes_[it->second];
  t.ms += ms;
  ++t.calls;
}

}  // namespace hone::rt
