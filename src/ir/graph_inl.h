// Template definitions for graph.h.
#pragma once

namespace hone::ir {

template <class F>
void for_each_graph(Graph& g, F&& f, int depth) {
  f(g, depth);
  for (auto& n : g.nodes)
    for (auto& a : n.attrs) {
      if (a.g) for_each_graph(*a.g, f, depth + 1);
      for (auto& sg : a.graphs)
        if (sg) for_each_graph(*sg, f, depth + 1);
    }
}

template <class F>
void for_each_graph(const Graph& g, F&& f, int depth) {
  f(g, depth);
  for (const auto& n : g.nodes)
    for (const auto& a : n.attrs) {
      if (a.g) for_each_graph(static_cast<const Graph&>(*a.g), f, depth + 1);
      for (const auto& sg : a.graphs)
        if (sg) for_each_graph(static_cast<const Graph&>(*sg), f, depth + 1);
    }
}

}  // namespace hone::ir
