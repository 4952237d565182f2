// sink_views_below_add: an Add that reads a value y through a chain of views that keep element
// order — Reshape, and Transpose that moves only dims of size 1 (it is a Reshape then) — gets y
// itself:
//
//   Add(view(...view(y)), r)  ->  Reshape(Add(y, Reshape(r, shape(y))), shape(Add))
//
// when every shape involved is static and r has the Add's shape (no broadcast: r's elements then
// line up with y's one for one in memory order, so the result is the same bit for bit). The Add
// then meets y's producer, and a fusion that takes a residual Add into it sees it: PyTorch's
// nn.MultiheadAttention writes its output projection as Gemm [S, D] -> Reshape [S, 1, D] ->
// Transpose(1, 0, 2) -> [1, S, D] before the skip connection's Add (batch 1), which kept that Add
// out of the int8 GEMM's epilogue (fuse_dynamic_quant_matmul) and cost one more pass over the
// layer's activations. The Reshapes are views in hone's runtime (no copy).
//
// Only y made by MatMul, Gemm, Add or Mul (the ends of a linear layer, float or ONNX Runtime's
// dynamic-int8 chain), and only chains whose views nothing else reads (they go). Shapes come from
// ONNX shape inference on a copy, so this pass runs before the fusions into hone's own ops.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "passes/fusion_util.h"
#include "passes/shape_facts.h"

namespace hone::passes {

namespace {

// Whether Transpose(perm) of a tensor of this shape keeps the memory order: the dims that are
// not 1 stay in their order.
bool keeps_order(const Shape& in, const std::vector<int64_t>& perm) {
  if (perm.size() != in.size()) return false;
  int64_t last = -1;
  for (int64_t from : perm) {
    if (from < 0 || from >= static_cast<int64_t>(in.size())) return false;
    if (in[static_cast<size_t>(from)] == 1) continue;
    if (from < last) return false;
    last = from;
  }
  return true;
}

Tensor shape_tensor(const Shape& s) {
  Tensor t = Tensor::create(DType::kInt64, Shape{static_cast<int64_t>(s.size())}).value();
  for (size_t i = 0; i < s.size(); ++i) t.data<int64_t>()[i] = s[i];
  return t;
}

bool is_linear_end(const ir::Node& n) {
  return is_onnx_op(n, "MatMul") || is_onnx_op(n, "Gemm") || is_onnx_op(n, "Add") || is_onnx_op(n, "Mul");
}

}  // namespace

Status sink_views_below_add(ir::Model& m) {
  ir::Graph& g = m.graph;
  const fusion::GraphIndex ix = fusion::index_graph(g);
  // Cheap test first: shape inference runs only when some Add reads a Reshape or Transpose.
  auto view_node = [&](const std::string& v) -> const ir::Node* {
    if (const ir::Node* n = fusion::produced_by(g, ix, v, "Reshape")) return n;
    return fusion::produced_by(g, ix, v, "Transpose");
  };
  bool candidate = false;
  for (const auto& n : g.nodes)
    if (is_onnx_op(n, "Add") && n.inputs.size() == 2)
      candidate |= view_node(n.inputs[0]) != nullptr || view_node(n.inputs[1]) != nullptr;
  if (!candidate) return Status::Ok();
  const ShapeFacts shapes(m);

  struct Rewrite {
    size_t add;
    int side;  // which input of the Add is the view chain
    std::string root;
    std::vector<size_t> chain;
  };
  std::vector<Rewrite> rewrites;
  std::vector<bool> taken(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& add = g.nodes[i];
    if (!is_onnx_op(add, "Add") || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    const std::optional<Shape> out = shapes.of(add.outputs[0]);
    if (!out) continue;
    for (int side = 0; side < 2; ++side) {
      const std::string& r = add.inputs[static_cast<size_t>(1 - side)];
      if (shapes.of(r) != out) continue;
      // Walk down the views while each is read by the next one only.
      std::string v = add.inputs[static_cast<size_t>(side)];
      std::vector<size_t> chain;
      while (const ir::Node* view = view_node(v)) {
        const size_t at = ix.producer.at(v);
        if (taken[at] || !fusion::sole_consumer(g, ix, v)) break;
        if (is_onnx_op(*view, "Transpose")) {
          const std::optional<Shape> in = shapes.of(view->input(0));
          if (!in || !keeps_order(*in, view->attr_ints("perm"))) break;
        }
        chain.push_back(at);
        v = view->input(0);
      }
      if (chain.empty()) continue;
      auto p = ix.producer.find(v);
      const std::optional<Shape> root = shapes.of(v);
      // A dim of 0 would mean "copy the input's dim" in the new Reshapes (allowzero = 0).
      auto has_zero = [](const Shape& s) { return std::find(s.begin(), s.end(), 0) != s.end(); };
      if (p == ix.producer.end() || !is_linear_end(g.nodes[p->second]) || !root || has_zero(*root) || has_zero(*out))
        continue;
      for (size_t c : chain) taken[c] = true;
      rewrites.push_back({i, side, v, std::move(chain)});
      break;
    }
  }
  if (rewrites.empty()) return Status::Ok();

  std::vector<bool> remove(g.nodes.size(), false);
  std::unordered_map<size_t, std::vector<ir::Node>> replacement;  // Add's index -> its new nodes
  for (const Rewrite& w : rewrites) {
    const ir::Node& add = g.nodes[w.add];
    const std::string r = add.inputs[static_cast<size_t>(1 - w.side)];
    const std::string out = add.outputs[0];
    const std::string root_shape = unique_name(g, w.root + "_shape");
    g.initializers.push_back({root_shape, shape_tensor(*shapes.of(w.root)), {}, std::nullopt});
    const std::string out_shape = unique_name(g, out + "_shape");
    g.initializers.push_back({out_shape, shape_tensor(*shapes.of(out)), {}, std::nullopt});
    ir::Node reshape_r;
    reshape_r.name = unique_name(g, add.name + "_residual_reshape");
    reshape_r.op_type = "Reshape";
    reshape_r.inputs = {r, root_shape};
    reshape_r.outputs = {unique_name(g, r + "_as_" + w.root)};
    ir::Node sum = add;
    sum.inputs[static_cast<size_t>(w.side)] = w.root;
    sum.inputs[static_cast<size_t>(1 - w.side)] = reshape_r.outputs[0];
    sum.outputs = {unique_name(g, out + "_unviewed")};
    ir::Node reshape_out;
    reshape_out.name = unique_name(g, add.name + "_output_reshape");
    reshape_out.op_type = "Reshape";
    reshape_out.inputs = {sum.outputs[0], out_shape};
    reshape_out.outputs = {out};
    replacement[w.add] = {std::move(reshape_r), std::move(sum), std::move(reshape_out)};
    remove[w.add] = true;
    for (size_t c : w.chain) {
      remove[c] = true;
      erase_value_info(g, g.nodes[c].outputs[0]);
    }
  }
  std::vector<ir::Node> nodes;
  nodes.reserve(g.nodes.size() + 2 * rewrites.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (auto it = replacement.find(i); it != replacement.end())
      for (auto& n : it->second) nodes.push_back(std::move(n));
    else if (!remove[i])
      nodes.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(nodes);
  return Status::Ok();
}

}  // namespace hone::passes
