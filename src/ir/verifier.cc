#include "ir/verifier.h"

#include <functional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/checked_math.h"

namespace hone::ir {
namespace {

using NameSet = std::unordered_set<std::string>;

std::string node_label(const Node& n) {
  return "node '" + (n.name.empty() ? n.op_type : n.name) + "' (" + n.qualified_op() + ")";
}

std::string join_ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Attributes that restate what a weight tensor already says must agree with it.
Status check_conv(const Graph& g, const Node& n, const std::unordered_map<std::string, const Initializer*>& inits) {
  auto w_it = inits.find(n.input(1));
  if (w_it == inits.end()) return Status::Ok();
  const Tensor& w = w_it->second->tensor;
  const std::string what = node_label(n);
  if (w.rank() < 3)
    return invalid_model(what + ": weight '" + n.input(1) + "' has rank " + std::to_string(w.rank()) + ", expected at least 3");
  std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  auto ks = n.attr_ints("kernel_shape");
  if (!ks.empty() && ks != kernel)
    return invalid_model(what + ": kernel_shape " + join_ints(ks) + " contradicts weight '" + n.input(1) + "' of shape " +
                         shape_to_string(w.shape()));
  const size_t spatial = kernel.size();
  for (const char* a : {"strides", "dilations"}) {
    auto v = n.attr_ints(a);
    if (!v.empty() && v.size() != spatial)
      return invalid_model(what + ": " + a + " has " + std::to_string(v.size()) + " values for " + std::to_string(spatial) + " spatial dims");
    for (int64_t x : v)
      if (x <= 0) return invalid_model(what + ": " + a + " must be positive, got " + join_ints(v));
  }
  auto pads = n.attr_ints("pads");
  if (!pads.empty() && pads.size() != 2 * spatial)
    return invalid_model(what + ": pads has " + std::to_string(pads.size()) + " values, expected " + std::to_string(2 * spatial));
  for (int64_t p : pads)
    if (p < 0) return invalid_model(what + ": pads must be non-negative, got " + join_ints(pads));
  int64_t group = n.attr_int("group", 1);
  if (group <= 0) return invalid_model(what + ": group must be positive, got " + std::to_string(group));
  // Conv's weight is C_out x C_in/group x kernel; ConvTranspose's is C_in x C_out/group x kernel.
  // Either way the groups split the weight's first dim, and the input's channels follow.
  const bool transpose = n.op_type == "ConvTranspose";
  if (w.dim(0) % group != 0)
    return invalid_model(what + ": weight has " + std::to_string(w.dim(0)) + (transpose ? " input" : " output") +
                         " channels, not divisible by group " + std::to_string(group));
  if (const TypeInfo* x = g.find_type(n.input(0)); x && x->has_shape && x->dims.size() >= 2 && x->dims[1].known()) {
    if (x->dims.size() != kernel.size() + 2)
      return invalid_model(what + ": input '" + n.input(0) + "' has rank " + std::to_string(x->dims.size()) +
                           " but the weight implies rank " + std::to_string(kernel.size() + 2));
    // group comes from the file: C_in/group * group may overflow (a weight with 0 output
    // channels passes the divisibility check for any group); an overflow is a mismatch, not UB.
    auto expected = transpose ? std::optional<int64_t>(w.dim(0)) : checked_mul(w.dim(1), group);
    if (!expected || x->dims[1].value != *expected)
      return invalid_model(what + ": input '" + n.input(0) + "' has " + std::to_string(x->dims[1].value) +
                           " channels but weight '" + n.input(1) + "' (" + shape_to_string(w.shape()) + ", group " +
                           std::to_string(group) + ") expects " +
                           (expected ? std::to_string(*expected) : std::string("more than 2^63")));
  }
  if (!transpose) {
    if (auto b = inits.find(n.input(2)); b != inits.end()) {
      const Tensor& bias = b->second->tensor;
      if (bias.rank() != 1 || bias.dim(0) != w.dim(0))
        return invalid_model(what + ": bias '" + n.input(2) + "' has shape " + shape_to_string(bias.shape()) +
                             ", expected " + std::to_string(w.dim(0)));
    }
  }
  return Status::Ok();
}

class Verifier {
 public:
  Status graph(const Graph& g, std::vector<const NameSet*>& outer, int depth) {
    NameSet defined;
    std::unordered_map<std::string, const Initializer*> inits;
    const std::string where = depth ? "subgraph '" + g.name + "'" : std::string("graph");
    NameSet input_names;
    for (const auto& v : g.inputs) {
      if (v.name.empty()) return invalid_model(where + " has an input without a name");
      if (!input_names.insert(v.name).second) return invalid_model(where + " declares input '" + v.name + "' twice");
      defined.insert(v.name);
    }
    for (const auto& init : g.initializers) {
      if (!inits.emplace(init.name, &init).second) return invalid_model(where + " has two initializers named '" + init.name + "'");
      defined.insert(init.name);
      for (const auto& v : g.inputs) {
        if (v.name != init.name || !v.type.is_tensor() || v.type.elem == DType::kUndefined) continue;
        if (v.type.elem != init.tensor.dtype())
          return invalid_model(where + ": input '" + v.name + "' is declared " + std::string(dtype_name(v.type.elem)) +
                               " but its initializer is " + std::string(dtype_name(init.tensor.dtype())));
      }
    }
    // Names produced anywhere in this graph, to tell "defined later" (order/cycle) from "never".
    NameSet produced_here;
    for (const auto& n : g.nodes)
      for (const auto& o : n.outputs)
        if (!o.empty()) produced_here.insert(o);

    auto visible = [&](const std::string& name) {
      if (defined.count(name)) return true;
      for (const NameSet* s : outer)
        if (s->count(name)) return true;
      return false;
    };
    for (const auto& n : g.nodes) {
      for (const auto& in : n.inputs) {
        if (in.empty() || visible(in)) continue;
        if (produced_here.count(in))
          return invalid_model(node_label(n) + " reads '" + in + "', which is produced later: the graph has a cycle");
        return invalid_model(node_label(n) + " reads '" + in + "', which no node, input or initializer defines");
      }
      for (const auto& a : n.attrs) {
        std::vector<const Graph*> subs;
        if (a.g) subs.push_back(a.g.get());
        for (const auto& sg : a.graphs) subs.push_back(sg.get());
        for (const Graph* sg : subs) {
          outer.push_back(&defined);
          Status s = graph(*sg, outer, depth + 1);
          outer.pop_back();
          if (!s.ok()) return s.with_context(node_label(n) + " attribute '" + a.name + "'");
        }
      }
      if (n.op_type == "Conv" || n.op_type == "ConvTranspose") {
        if (n.domain.empty()) HONE_RETURN_IF_ERROR(check_conv(g, n, inits));
      }
      for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        if (!defined.insert(o).second) return invalid_model(node_label(n) + " produces '" + o + "', which is already defined");
      }
    }
    NameSet outs;
    for (const auto& v : g.outputs) {
      if (!outs.insert(v.name).second) return invalid_model(where + " lists output '" + v.name + "' twice");
      if (!visible(v.name)) return invalid_model(where + " output '" + v.name + "' is not produced by any node");
    }
    return Status::Ok();
  }
};

Status sort_graph(Graph& g) {
  // Kahn's algorithm restricted to edges inside this graph; anything else counts as available.
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer.emplace(o, i);
  // Subgraphs may read values of this graph implicitly: count those as inputs of the node too.
  auto deps = [&](const Node& n) {
    std::vector<size_t> d;
    auto add = [&](const std::string& name) {
      auto it = producer.find(name);
      if (it != producer.end()) d.push_back(it->second);
    };
    for (const auto& in : n.inputs) add(in);
    for (const auto& a : n.attrs) {
      std::vector<const Graph*> subs;
      if (a.g) subs.push_back(a.g.get());
      for (const auto& sg : a.graphs) subs.push_back(sg.get());
      for (const Graph* sg : subs)
        for_each_graph(*sg, [&](const Graph& x, int) {
          for (const auto& sn : x.nodes)
            for (const auto& in : sn.inputs) add(in);
        });
    }
    return d;
  };
  bool sorted = true;
  std::vector<std::vector<size_t>> edges(g.nodes.size());
  std::vector<size_t> indegree(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (size_t p : deps(g.nodes[i])) {
      if (p == i) continue;  // reading its own output: reported by the verifier
      if (p > i) sorted = false;
      edges[p].push_back(i);
      ++indegree[i];
    }
  if (sorted) return Status::Ok();
  // Lowest index first: nodes keep their file order wherever the dependencies allow.
  std::vector<size_t> order;
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (indegree[i] == 0) ready.push(i);
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t j : edges[i])
      if (--indegree[j] == 0) ready.push(j);
  }
  if (order.size() != g.nodes.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (indegree[i] != 0) return invalid_model(node_label(g.nodes[i]) + " is part of a cycle");
  }
  std::vector<Node> nodes;
  nodes.reserve(order.size());
  for (size_t i : order) nodes.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(nodes);
  return Status::Ok();
}

}  // namespace

Status verify_graph(const Graph& g) {
  std::vector<const NameSet*> outer;
  return Verifier().graph(g, outer, 0);
}

Status verify(const Model& m) { return verify_graph(m.graph); }

Status sort_topologically(Model& m) {
  Status s;
  for_each_graph(m.graph, [&](Graph& g, int) {
    if (s.ok()) s = sort_graph(g);
  });
  return s;
}

}  // namespace hone::ir
