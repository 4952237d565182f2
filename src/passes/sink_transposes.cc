// sink_transposes: moves Transpose nodes down through layout-agnostic ops and cancels inverse
// pairs. Op(Transpose_P(a), Transpose_P(b)) becomes Transpose_P(Op(a, b)) when Op works element
// by element (Relu, Clip, Add, hone.FusedAdd ...): constant operands are permuted once (padded to
// the rank first, as broadcasting would); then Transpose_Q(Transpose_P(x)) becomes x when Q undoes
// P (an Identity where x' is a graph output), or one Transpose otherwise, and Transposes nobody
// reads are dropped.
//
// layout_nhwc relies on it: it wraps every NHWC op in Transpose(0,2,3,1) ... Transpose(0,3,1,2)
// and this pass removes the pairs between neighbouring NHWC ops, through the activations and
// residual Adds between them, so that only the model's boundary transposes remain.
#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_set>

#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// The ops a transpose can move through: they compute each output element from the elements at
// the same index of their inputs. `broadcasting`: constant operands of any rank broadcast (and
// are permuted along); otherwise only scalar constants (Clip's bounds) may be extra inputs.
// Another pass can make its internal elementwise ops movable by adding rows here.
struct LayoutAgnosticOp {
  const char* domain;
  const char* op_type;
  bool broadcasting;
};
constexpr LayoutAgnosticOp kLayoutAgnosticOps[] = {
    {"", "Relu", false},        {"", "LeakyRelu", false}, {"", "Clip", false},     {"", "Sigmoid", false},
    {"", "HardSigmoid", false}, {"", "HardSwish", false}, {"", "Tanh", false},     {"", "Elu", false},
    {"", "Selu", false},        {"", "Softplus", false},  {"", "Exp", false},      {"", "Neg", false},
    {"", "Abs", false},         {"", "Sqrt", false},      {"", "Erf", false},      {"", "Gelu", false},
    {"hone", "Gelu", false},    {"", "Add", true},        {"", "Sub", true},       {"", "Mul", true},
    {"", "Div", true},          {"", "Pow", true},        {"", "PRelu", true},     {"hone", "FusedAdd", true},
    // int8 (fuse_qdq): per-tensor Q/DQ have only scalar extra inputs; QLinearAdd's scales and zero
    // points are scalars; QLookup's [256] table is indexed by value, not position, and permuting
    // a tensor with one non-1 dim keeps its bytes, so "broadcasting" leaves the table as it is.
    {"", "QuantizeLinear", false}, {"", "DequantizeLinear", false}, {"com.microsoft", "QLinearAdd", false},
    {"hone", "QLookup", true},
};

const LayoutAgnosticOp* layout_agnostic(const ir::Node& n) {
  const std::string dom = ir::canonical_domain(n.domain);
  for (const auto& op : kLayoutAgnosticOps)
    if (n.op_type == op.op_type && dom == op.domain) return &op;
  return nullptr;
}

struct TransposeOf {
  std::string source;
  std::vector<int64_t> perm;
};

std::optional<std::vector<int64_t>> perm_of(const ir::Node& t) {
  if (!is_onnx_op(t, "Transpose") || t.inputs.size() != 1 || t.outputs.size() != 1 || !t.attr("perm")) return std::nullopt;
  std::vector<int64_t> perm = t.attr_ints("perm");
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[static_cast<size_t>(p)]) return std::nullopt;
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

// c (of rank <= perm.size()) padded with leading 1s to the rank, then transposed by the inverse
// of perm: the constant that, transposed by perm, broadcasts as c did.
Result<Tensor> permute_constant(const Tensor& c, const std::vector<int64_t>& perm) {
  const size_t r = perm.size();
  Shape padded(r - c.shape().size(), 1);
  padded.insert(padded.end(), c.shape().begin(), c.shape().end());
  std::vector<int64_t> inverse(r);
  for (size_t i = 0; i < r; ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  Shape out_shape(r);
  for (size_t i = 0; i < r; ++i) out_shape[i] = padded[static_cast<size_t>(inverse[i])];
  HONE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(c.dtype(), out_shape));
  std::vector<int64_t> in_strides(r, 1);
  for (size_t d = r; d-- > 1;) in_strides[d - 1] = in_strides[d] * padded[d];
  const size_t es = dtype_size(c.dtype());
  const auto* src = static_cast<const unsigned char*>(c.raw());
  auto* dst = static_cast<unsigned char*>(out.raw());
  std::vector<int64_t> idx(r, 0);
  for (int64_t e = 0; e < out.numel(); ++e) {
    int64_t off = 0;
    for (size_t i = 0; i < r; ++i) off += idx[i] * in_strides[static_cast<size_t>(inverse[i])];
    std::memcpy(dst + static_cast<size_t>(e) * es, src + static_cast<size_t>(off) * es, es);
    for (size_t i = r; i-- > 0;) {
      if (++idx[i] < out_shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

// New value names: unique in the graph and among the names made in this run.
class NameMaker {
 public:
  explicit NameMaker(const ir::Graph& g) : g_(g) {}
  std::string make(const std::string& base) {
    std::string name = unique_name(g_, base);
    for (int k = 1; made_.count(name); ++k) name = unique_name(g_, base + "_" + std::to_string(k));
    made_.insert(name);
    return name;
  }

 private:
  const ir::Graph& g_;
  std::unordered_set<std::string> made_;
};

ir::Node make_transpose(const std::string& in, const std::string& out, std::vector<int64_t> perm) {
  ir::Node t;
  t.name = out + "_transpose";
  t.op_type = "Transpose";
  t.inputs = {in};
  t.outputs = {out};
  t.attrs.push_back(ints_attr("perm", std::move(perm)));
  return t;
}

// Whether moving a transpose below `node` pays: the transposes it reads that would die (all their
// readers are elementwise ops or transposes, none a graph output or a subgraph read) against the
// one it adds after itself, which costs nothing when every reader of its output is a transpose
// that undoes it (the pair cancels). Moving on a tie lets later nodes (a residual Add whose
// other input is still on its way down) meet their inputs in one layout.
bool worth_sinking(const ir::Graph& g, const GraphIndex& ix, const ir::Node& node,
                   const std::unordered_map<std::string, TransposeOf>& transposed, const std::vector<int64_t>& perm) {
  auto readers_are = [&](const std::string& v, auto pred) {
    auto c = ix.consumers.find(v);
    const size_t direct = c == ix.consumers.end() ? 0 : c->second.size();
    auto u = ix.uses.find(v);
    if (u == ix.uses.end() || static_cast<size_t>(u->second) != direct || is_graph_output(g, v)) return false;
    for (size_t r : c->second)
      if (!pred(g.nodes[r])) return false;
    return true;
  };
  int removed = 0;
  std::unordered_set<std::string> seen;
  for (const auto& in : node.inputs)
    if (transposed.count(in) && seen.insert(in).second &&
        readers_are(in, [](const ir::Node& r) { return layout_agnostic(r) || is_onnx_op(r, "Transpose"); }))
      ++removed;
  int added = 1;
  auto undoes = [&](const ir::Node& r) {
    auto q = perm_of(r);
    if (!q || q->size() != perm.size()) return false;
    for (size_t k = 0; k < q->size(); ++k)
      if (perm[static_cast<size_t>((*q)[k])] != static_cast<int64_t>(k)) return false;
    return true;
  };
  if (readers_are(node.outputs[0], undoes)) added = -static_cast<int>(ix.consumers.at(node.outputs[0]).size());
  return added - removed <= 0;
}

// One sweep of sinking in node order; true when something moved.
Result<bool> sink_once(ir::Graph& g, NameMaker& names, std::unordered_map<std::string, std::string>* moved) {
  std::unordered_map<std::string, TransposeOf> transposed;  // value -> the transpose writing it
  for (const auto& n : g.nodes)
    if (auto p = perm_of(n)) transposed[n.outputs[0]] = {n.inputs[0], *p};
  const GraphIndex ix = index_graph(g);  // readers as the sweep began: only steers worth_sinking
  bool changed = false;
  std::vector<ir::Node> out;
  out.reserve(g.nodes.size());
  std::vector<ir::Initializer> new_constants;
  for (const auto& node : g.nodes) {  // copied, not moved: worth_sinking reads any node
    const LayoutAgnosticOp* op = layout_agnostic(node);
    if (!op || node.outputs.size() != 1 || node.outputs[0].empty()) {
      out.push_back(node);
      continue;
    }
    // All inputs: the same transpose, or constants that can follow it.
    const std::vector<int64_t>* perm = nullptr;
    bool ok = true;
    for (const auto& in : node.inputs) {
      auto t = transposed.find(in);
      if (t == transposed.end()) continue;
      if (perm && *perm != t->second.perm) ok = false;
      perm = &t->second.perm;
    }
    if (!perm || !ok) {
      out.push_back(node);
      continue;
    }
    const std::vector<int64_t> p = *perm;
    if (!worth_sinking(g, ix, node, transposed, p)) {
      out.push_back(node);
      continue;
    }
    ir::Node sunk = node;
    for (auto& in : sunk.inputs) {
      if (in.empty()) continue;
      if (auto t = transposed.find(in); t != transposed.end()) {
        in = t->second.source;
        continue;
      }
      const Tensor* c = constant_value(g, in);
      if (!c || c->rank() > static_cast<int64_t>(p.size()) || (!op->broadcasting && c->rank() != 0)) {
        ok = false;
        break;
      }
      if (c->rank() == 0) continue;  // a scalar broadcasts the same in any layout
      HONE_ASSIGN_OR_RETURN(Tensor permuted, permute_constant(*c, p));
      const std::string name = names.make(in + "_permuted");
      new_constants.push_back({name, std::move(permuted), {}, std::nullopt});
      in = name;
    }
    if (!ok) {
      out.push_back(node);
      continue;
    }
    const std::string old_out = node.outputs[0];
    const std::string new_out = names.make(old_out + "_moved");
    sunk.outputs[0] = new_out;
    if (moved) (*moved)[new_out] = old_out;
    out.push_back(std::move(sunk));
    out.push_back(make_transpose(new_out, old_out, p));
    transposed[old_out] = {new_out, p};
    changed = true;
  }
  g.nodes = std::move(out);
  for (auto& c : new_constants) g.initializers.push_back(std::move(c));
  return changed;
}

// Transpose_Q(Transpose_P(x)): readers of the result read x when Q undoes P; otherwise the outer
// transpose reads x with the composed permutation. True when something changed.
bool cancel_pairs(ir::Graph& g) {
  std::unordered_map<std::string, TransposeOf> transposed;
  for (const auto& n : g.nodes)
    if (auto p = perm_of(n)) transposed[n.outputs[0]] = {n.inputs[0], *p};
  bool changed = false;
  // The same transpose of the same value twice (layout_nhwc wraps each reader of a value on its
  // own): readers of the second read the first.
  std::map<std::pair<std::string, std::vector<int64_t>>, std::string> first;
  for (const auto& n : g.nodes) {
    auto p = perm_of(n);
    if (!p) continue;
    auto [it, inserted] = first.emplace(std::make_pair(n.inputs[0], *p), n.outputs[0]);
    if (inserted || it->second == n.outputs[0] || is_graph_output(g, n.outputs[0])) continue;
    rename_uses(g, n.outputs[0], it->second);
    erase_value_info(g, n.outputs[0]);
    changed = true;
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    auto q = perm_of(g.nodes[i]);
    if (!q) continue;
    auto inner = transposed.find(g.nodes[i].inputs[0]);
    if (inner == transposed.end() || inner->second.perm.size() != q->size()) continue;
    std::vector<int64_t> composed(q->size());
    bool identity = true;
    for (size_t k = 0; k < q->size(); ++k) {
      composed[k] = inner->second.perm[static_cast<size_t>((*q)[k])];
      identity = identity && composed[k] == static_cast<int64_t>(k);
    }
    const std::string out = g.nodes[i].outputs[0];
    if (identity && is_graph_output(g, out)) {
      // The output's name must stay: an Identity (which shares the buffer) writes it.
      ir::Node& n = g.nodes[i];
      n.op_type = "Identity";
      n.inputs[0] = inner->second.source;
      n.attrs.clear();
      changed = true;
    } else if (identity) {
      rename_uses(g, out, inner->second.source);
      erase_value_info(g, out);
      changed = true;
    } else {
      g.nodes[i].inputs[0] = inner->second.source;
      g.nodes[i].attrs = {ints_attr("perm", composed)};
      transposed[out] = {inner->second.source, composed};
      changed = true;
    }
  }
  return changed;
}

// Drops Transposes whose output nobody reads (repeatedly: chains of them).
void drop_unread_transposes(ir::Graph& g) {
  for (bool dropped = true; dropped;) {
    dropped = false;
    const auto uses = use_counts(g);
    std::vector<bool> remove(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& n = g.nodes[i];
      if (!is_onnx_op(n, "Transpose") || n.outputs.size() != 1) continue;
      if (!uses.count(n.outputs[0]) && !is_graph_output(g, n.outputs[0])) remove[i] = dropped = true;
    }
    if (dropped) erase_nodes(g, remove);
  }
}

}  // namespace

Status sink_transposes_tracked(ir::Model& m, std::unordered_map<std::string, std::string>* moved) {
  ir::Graph& g = m.graph;
  NameMaker names(g);
  // Each sweep moves every transpose at least one node down or cancels some, so the graph's depth
  // bounds the sweeps; the cap only guards against a cycle this reasoning missed.
  const size_t max_sweeps = g.nodes.size() + 1;
  for (size_t sweep = 0; sweep < max_sweeps; ++sweep) {
    HONE_ASSIGN_OR_RETURN(bool sunk, sink_once(g, names, moved));
    const bool cancelled = cancel_pairs(g);
    drop_unread_transposes(g);
    if (!sunk && !cancelled) break;
  }
  return Status::Ok();
}

Status sink_transposes(ir::Model& m) { return sink_transposes_tracked(m, nullptr); }

}  // namespace hone::passes
