// fold_constants: evaluates nodes whose inputs are all constants (initializers, Constant nodes,
// earlier folded nodes) once, with the runtime's own kernels, and replaces them by initializers.
// Shape and Size of a graph input with a fully static declared shape are constants too (the
// session refuses inputs of another shape), which folds the shape arithmetic exporters emit
// around Reshape; so are Shape and Size of any other value whose shape ONNX shape inference
// proves static (PyTorch's chunk of a packed QKV projection computes its Slice bounds from
// Shape(qkv): once they are constants, fuse_attention can read Q, K and V in place).
//
// Skipped: random ops (their value must differ between runs), Dropout (eliminate_identity's
// business; in training mode it is random), nodes with subgraphs, ops outside the default
// domain, nodes producing a graph output (an initializer as a graph output would change the
// interface), nodes the runtime cannot evaluate (the session reports that later, as without
// folding), and results that would make the model much bigger: more than kMaxGrowthBytes beyond
// the size of the node's inputs (ConstantOfShape, Expand and Tile can blow up a few bytes).
#include <map>
#include <set>

#include "onnx/shape_inference.h"
#include "passes/passes.h"
#include "runtime/session_impl.h"

namespace hone::passes {

namespace {

constexpr size_t kMaxGrowthBytes = size_t{16} << 20;

bool foldable_op(const ir::Node& n) {
  static const std::set<std::string> kNever = {"RandomNormal",     "RandomUniform", "RandomNormalLike",
                                               "RandomUniformLike", "Multinomial",  "Bernoulli", "Dropout"};
  if (!ir::canonical_domain(n.domain).empty() || kNever.count(n.op_type)) return false;
  for (const auto& a : n.attrs)
    if (a.g || !a.graphs.empty()) return false;
  return true;
}

bool is_shape_op(const ir::Node& n) { return is_onnx_op(n, "Shape") || is_onnx_op(n, "Size"); }

// The static shapes ONNX shape inference finds for the values that Shape/Size nodes read when they
// are not graph inputs. Inference runs on a copy (tensors share their buffers; inference reads
// only small initializers) so the model keeps the value_info it came with; no facts when it fails.
std::map<std::string, Shape> inferred_shapes_read_by_shape_ops(const ir::Model& m) {
  std::map<std::string, Shape> facts;
  std::set<std::string> wanted;
  for (const auto& n : m.graph.nodes)
    if (is_shape_op(n) && !n.input(0).empty() && !is_graph_input(m.graph, n.input(0))) wanted.insert(n.input(0));
  if (wanted.empty()) return facts;
  ir::Model copy = m;
  if (!onnxio::infer_shapes(copy).ok()) return facts;
  for (const auto& name : wanted) {
    const ir::TypeInfo* type = copy.graph.find_type(name);
    if (!type || !type->is_tensor()) continue;
    if (std::optional<Shape> shape = type->static_shape()) facts[name] = *shape;
  }
  return facts;
}

// Shape / Size of a graph input whose declared shape is fully known, or of a value in `inferred`.
std::optional<Tensor> static_shape_value(const ir::Graph& g, const ir::Node& n,
                                         const std::map<std::string, Shape>& inferred) {
  if (!is_shape_op(n)) return std::nullopt;
  std::optional<Shape> shape;
  if (is_graph_input(g, n.input(0))) {
    const ir::TypeInfo* type = g.find_type(n.input(0));
    if (!type || !type->is_tensor()) return std::nullopt;
    shape = type->static_shape();
  } else if (auto it = inferred.find(n.input(0)); it != inferred.end()) {
    shape = it->second;
  }
  if (!shape) return std::nullopt;
  const auto rank = static_cast<int64_t>(shape->size());
  if (n.op_type == "Size") {
    int64_t numel = 1;
    for (int64_t d : *shape) numel *= d;
    auto t = Tensor::create(DType::kInt64, {});
    if (!t.ok()) return std::nullopt;
    t->data<int64_t>()[0] = numel;
    return std::move(t).value();
  }
  // Opset 15's start/end slice the shape, clamped like Python slicing (as the kernel does).
  int64_t start = n.attr_int("start", 0), end = n.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  auto t = Tensor::create(DType::kInt64, {std::max<int64_t>(end - start, 0)});
  if (!t.ok()) return std::nullopt;
  for (int64_t i = 0; i < t->numel(); ++i) t->data<int64_t>()[i] = (*shape)[static_cast<size_t>(start + i)];
  return std::move(t).value();
}

// Runs one node on constant inputs through a one-node session; nullopt when it cannot run.
std::optional<std::vector<Tensor>> evaluate(const ir::Model& m, const ir::Node& n) {
  ir::Model tiny;
  tiny.ir_version = m.ir_version;
  tiny.opsets = m.opsets;
  size_t input_bytes = 0;
  for (const auto& in : n.inputs) {
    if (in.empty() || tiny.graph.find_initializer(in)) continue;
    const Tensor* t = constant_value(m.graph, in);
    input_bytes += t->nbytes();
    tiny.graph.initializers.push_back({in, *t, {}, std::nullopt});
  }
  for (const auto& out : n.outputs)
    if (!out.empty()) tiny.graph.outputs.push_back({out, {}, {}});
  tiny.graph.nodes.push_back(n);
  auto session = create_session(std::move(tiny));
  if (!session.ok()) return std::nullopt;
  auto outputs = session->run(std::vector<Tensor>{});
  if (!outputs.ok()) return std::nullopt;
  size_t output_bytes = 0;
  for (const auto& t : *outputs) output_bytes += t.nbytes();
  if (output_bytes > input_bytes + kMaxGrowthBytes) return std::nullopt;
  return std::move(outputs).value();
}

}  // namespace

Status fold_constants(ir::Model& m) {
  ir::Graph& g = m.graph;
  const std::map<std::string, Shape> inferred = inferred_shapes_read_by_shape_ops(m);
  std::vector<bool> remove(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    if (!foldable_op(n)) continue;
    bool produces = false, graph_output = false;
    for (const auto& o : n.outputs) {
      produces |= !o.empty();
      graph_output |= !o.empty() && is_graph_output(g, o);
    }
    if (!produces || graph_output) continue;

    std::vector<Tensor> values;
    if (auto shape = static_shape_value(g, n, inferred)) {
      values.push_back(std::move(*shape));
    } else {
      bool all_constant = true;
      for (const auto& in : n.inputs) all_constant &= in.empty() || constant_value(g, in) != nullptr;
      if (!all_constant) continue;
      auto evaluated = evaluate(m, n);
      if (!evaluated) continue;
      values = std::move(*evaluated);
    }
    size_t k = 0;
    for (const auto& o : n.outputs) {
      if (o.empty()) continue;
      erase_value_info(g, o);
      g.initializers.push_back({o, std::move(values[k++]), {}, std::nullopt});
    }
    remove[i] = true;
  }
  erase_nodes(g, remove);
  return Status::Ok();
}

}  // namespace hone::passes
