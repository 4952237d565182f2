// hoist_gather (level 2): a Gather that picks one slice of a tensor made row by row moves above
// the ops that make it, so that they compute that slice only:
//
//   y = Gather(LayerNorm(Add(MatMul(x, W) + b, r)), i, axis = 1)      (i a constant scalar)
//   ->  y = LayerNorm(Add(MatMul(Gather(x, i, 1), W) + b, Gather(r, i, 1)))
//
// A BERT classifier reads only the [CLS] row of the last layer (Gather(h, 0, axis 1)); the last
// feed-forward block, its residual Add and its LayerNorm then run on 1 row instead of 128. The
// Gather moves through, on a path whose every value nothing else reads:
//   - elementwise ops (Add, Mul, Erf, Cast, Where ...): each operand that spans the gathered axis
//     is gathered too (index 0 where it broadcasts along it), the others stay as they are;
//   - LayerNormalization normalizing over axes after the gathered one, and ReduceMean / Sum /
//     Max / Min with keepdims over constant axes without it (a LayerNorm exported before opset
//     17 as ReduceMean, Sub, Pow, ... );
//   - MatMul / MatMulInteger with a 2-D B and an A of rank >= 3, gathered on a batch or row axis
//     (MatMulInteger's A zero point must be one value: a per-row one would need gathering).
// Values read by several nodes move when every reader moved and asked for the same slice (a GELU
// reads its input twice). It stops at anything else, at a value read elsewhere and at
// DynamicQuantizeLinear, whose scale comes from every row: there a new Gather node cuts the slice
// (a constant is cut at once, into a new initializer). Every op computes what it computed before
// on the rows that reach the output: the results are the same, to the last bit but for float
// MatMuls, where the kernel oneDNN picks for fewer rows may sum in another order.
// Shapes come from ONNX shape inference on a copy: a Gather whose path has a shape it cannot
// prove stays where it is.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "passes/fusion_util.h"
#include "passes/shape_facts.h"

namespace hone::passes {

namespace {

bool is_elementwise(const ir::Node& n) {
  static const std::set<std::string> kOps = {"Add",  "Sub",     "Mul",  "Div",     "Pow",        "Max",  "Min",
                                             "Cast", "Erf",     "Relu", "Tanh",    "Sigmoid",    "Sqrt", "Exp",
                                             "Neg",  "Abs",     "Clip", "Where",   "Reciprocal", "Elu",  "LeakyRelu",
                                             "Softplus", "Gelu"};
  return n.domain.empty() && kOps.count(n.op_type) > 0;
}

bool is_reduce(const ir::Node& n) {
  return is_onnx_op(n, "ReduceMean") || is_onnx_op(n, "ReduceSum") || is_onnx_op(n, "ReduceMax") ||
         is_onnx_op(n, "ReduceMin");
}

// A Reduce*'s axes made non-negative: the attribute, or the constant input 1 (opset 18; ReduceSum
// from 13); nullopt when they are not known or out of range, empty when absent (every axis).
std::optional<std::vector<int64_t>> reduce_axes(const ir::Node& n, int64_t rank, const ir::Graph& g) {
  std::vector<int64_t> axes;
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Tensor* t = constant_value(g, n.inputs[1]);
    if (!t || t->dtype() != DType::kInt64 || t->rank() != 1) return std::nullopt;
    axes.assign(t->data<int64_t>(), t->data<int64_t>() + t->numel());
  } else {
    axes = n.attr_ints("axes");
  }
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank) return std::nullopt;
    if (a < 0) a += rank;
  }
  return axes;
}

// Gather(t, index, axis) of a tensor of fixed-size elements.
Tensor slice_of(const Tensor& t, int64_t axis, int64_t index) {
  Shape shape = t.shape();
  const int64_t dim = shape[static_cast<size_t>(axis)];
  int64_t outer = 1, inner = static_cast<int64_t>(dtype_size(t.dtype()));
  for (int64_t d = 0; d < axis; ++d) outer *= shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  shape.erase(shape.begin() + axis);
  Tensor out = Tensor::create(t.dtype(), shape).value();
  const auto* from = static_cast<const uint8_t*>(t.raw());
  auto* to = static_cast<uint8_t*>(out.raw());
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(to + o * inner, from + (o * dim + index) * inner, static_cast<size_t>(inner));
  return out;
}

// One slice to take: target = Gather(value, index, axis).
struct Slice {
  std::string value, target;
  int64_t axis = 0, index = 0;
};

class Hoister {
 public:
  Hoister(ir::Graph& g, const ShapeFacts& shapes) : g_(g), shapes_(shapes), ix_(fusion::index_graph(g)) {}

  // Moves the Gather g_.nodes[at] up as far as it goes; false (graph unchanged) when its input's
  // producer cannot take it.
  bool hoist(size_t at) {
    const ir::Node& gather = g_.nodes[at];
    if (gather.inputs.size() != 2 || gather.outputs.size() != 1) return false;
    const std::optional<int64_t> index = fusion::scalar_int_constant(g_, gather.inputs[1]);
    const std::optional<Shape> shape = shapes_.of(gather.inputs[0]);
    if (!index || !shape || shape->empty()) return false;
    const int64_t rank = static_cast<int64_t>(shape->size());
    int64_t axis = gather.attr_int("axis", 0);
    if (axis < -rank || axis >= rank) return false;
    if (axis < 0) axis += rank;
    const int64_t dim = (*shape)[static_cast<size_t>(axis)];
    if (*index < -dim || *index >= dim) return false;  // the Gather reports it at run time
    const Slice first{gather.inputs[0], gather.outputs[0], axis, *index < 0 ? *index + dim : *index};
    if (!fusion::sole_consumer(g_, ix_, first.value) || !take(first, /*dry_run=*/true)) return false;

    // Values are settled from the last producer up (nodes are in topological order), so that
    // every reader of a value has asked for its slice before the value is looked at: a value
    // whose readers all moved, all asking for the same slice, moves too; any other is cut.
    request(first, at);
    while (!pending_.empty()) {
      auto last = std::prev(pending_.end());
      const Key key = last->first;
      const Request r = last->second;
      pending_.erase(last);
      const Slice s{std::get<1>(key), r.target, std::get<2>(key), std::get<3>(key)};
      const auto uses = ix_.uses.find(s.value);
      const bool all_readers = uses != ix_.uses.end() && uses->second == r.readers && !is_graph_output(g_, s.value);
      if (!all_readers || !take(s, /*dry_run=*/false)) cut(s, r.first_reader);
    }
    std::vector<ir::Node> nodes;
    nodes.reserve(g_.nodes.size() + cuts_.size());
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      if (auto it = cuts_.find(i); it != cuts_.end())
        for (auto& n : it->second) nodes.push_back(std::move(n));
      if (i != at) nodes.push_back(std::move(g_.nodes[i]));
    }
    g_.nodes = std::move(nodes);
    return true;
  }

 private:
  // (producer's index, or -1 for a graph input or initializer; value; axis; index)
  using Key = std::tuple<int64_t, std::string, int64_t, int64_t>;
  struct Request {
    std::string target;
    int readers = 0;
    size_t first_reader = 0;  // index of the first node that reads target
  };

  // Node `reader` (moved) reads s.value's slice: s.target when it is the first to ask, else the
  // name the first one got, which is returned.
  std::string request(const Slice& s, size_t reader) {
    auto p = ix_.producer.find(s.value);
    const Key key{p == ix_.producer.end() ? -1 : static_cast<int64_t>(p->second), s.value, s.axis, s.index};
    Request& r = pending_[key];
    if (r.readers++ == 0) {
      r.target = s.target.empty() ? fresh_name(s.value + "_slice") : s.target;
      r.first_reader = reader;
    }
    r.first_reader = std::min(r.first_reader, reader);
    return r.target;
  }

  // Rewrites the producer of s.value to compute s.target directly and requests the slices of its
  // inputs; false when it cannot (nothing changed). dry_run: only whether it could.
  bool take(const Slice& s, bool dry_run) {
    auto p = ix_.producer.find(s.value);
    if (p == ix_.producer.end()) return false;
    ir::Node& n = g_.nodes[p->second];
    for (size_t o = 1; o < n.outputs.size(); ++o)
      if (!n.outputs[o].empty()) return false;
    const std::optional<Shape> out = shapes_.of(s.value);
    if (!out || n.outputs[0] != s.value) return false;
    const int64_t rank = static_cast<int64_t>(out->size());
    // For each input: the slice it needs (nullopt: read as it is).
    std::vector<std::optional<Slice>> slices(n.inputs.size());
    auto gathered = [&](size_t i, int64_t axis, int64_t index) { slices[i] = Slice{n.inputs[i], "", axis, index}; };
    std::vector<int64_t> moved_axes;  // a Reduce*'s axes, normalized (it moves: renumbered below)
    if (is_elementwise(n)) {
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (n.inputs[i].empty()) continue;
        const std::optional<Shape> in = shapes_.of(n.inputs[i]);
        if (!in || static_cast<int64_t>(in->size()) > rank) return false;
        const int64_t axis = s.axis - (rank - static_cast<int64_t>(in->size()));
        if (axis < 0) continue;  // broadcast over the trailing dims only: still lines up
        const int64_t d = (*in)[static_cast<size_t>(axis)];
        if (d == 1)
          gathered(i, axis, 0);
        else if (d == (*out)[static_cast<size_t>(s.axis)])
          gathered(i, axis, s.index);
        else
          return false;
      }
    } else if (is_onnx_op(n, "LayerNormalization")) {
      int64_t first = n.attr_int("axis", -1);
      if (first < -rank || first >= rank) return false;
      if (first < 0) first += rank;
      if (s.axis >= first) return false;
      for (size_t i = 1; i < n.inputs.size(); ++i) {
        const std::optional<Shape> in = n.inputs[i].empty() ? Shape{} : shapes_.of(n.inputs[i]);
        if (!in || static_cast<int64_t>(in->size()) > rank - first) return false;
      }
      gathered(0, s.axis, s.index);
    } else if (is_reduce(n)) {
      // keepdims = 1 over constant axes without the gathered one: every other axis keeps its
      // place, those after the gathered one move down by one.
      if (n.attr_int("keepdims", 1) != 1) return false;
      const std::optional<std::vector<int64_t>> axes = reduce_axes(n, rank, g_);
      if (!axes || axes->empty() || std::count(axes->begin(), axes->end(), s.axis)) return false;
      if (!dry_run) moved_axes = *axes;
      gathered(0, s.axis, s.index);
    } else if (is_onnx_op(n, "MatMul") || is_onnx_op(n, "MatMulInteger")) {
      const std::optional<Shape> a = shapes_.of(n.input(0)), b = shapes_.of(n.input(1));
      if (!a || !b || b->size() != 2 || static_cast<int64_t>(a->size()) != rank || rank < 3 || s.axis >= rank - 1)
        return false;
      if (is_onnx_op(n, "MatMulInteger") && !n.input(2).empty()) {
        const std::optional<Shape> zp = shapes_.of(n.input(2));
        if (!zp) return false;
        const auto count = shape_numel(*zp);
        if (!count.ok() || *count != 1) return false;
      }
      gathered(0, s.axis, s.index);
    } else {
      return false;
    }
    if (dry_run) return true;

    for (size_t i = 0; i < slices.size(); ++i)
      if (slices[i]) n.inputs[i] = request(*slices[i], p->second);
    erase_value_info(g_, s.value);
    n.outputs[0] = s.target;
    if (is_onnx_op(n, "LayerNormalization")) {
      for (auto& attr : n.attrs)
        if (attr.name == "axis" && attr.i > 0) --attr.i;  // one dim fewer before it
    }
    if (is_reduce(n)) {
      for (int64_t& a : moved_axes)
        if (a > s.axis) --a;
      if (n.inputs.size() > 1 && !n.inputs[1].empty()) {  // opset 18 (ReduceSum 13): axes as an input
        Tensor t = Tensor::create(DType::kInt64, Shape{static_cast<int64_t>(moved_axes.size())}).value();
        std::copy(moved_axes.begin(), moved_axes.end(), t.data<int64_t>());
        n.inputs[1] = fresh_name(n.inputs[1] + "_moved");
        g_.initializers.push_back({n.inputs[1], std::move(t), {}, std::nullopt});
      } else {
        for (auto& attr : n.attrs)
          if (attr.name == "axes") attr.ints = moved_axes;
      }
    }
    return true;
  }

  // s.target = Gather(s.value, s.index, s.axis): a new initializer when s.value is a constant
  // (of fixed-size elements), else a new node before `reader`, the first node that reads s.target.
  void cut(const Slice& s, size_t reader) {
    if (const Tensor* c = constant_value(g_, s.value); c && dtype_size(c->dtype()) > 0) {
      g_.initializers.push_back({s.target, slice_of(*c, s.axis, s.index), {}, std::nullopt});
      return;
    }
    ir::Node gather;
    gather.name = s.target;
    gather.op_type = "Gather";
    gather.inputs = {s.value, index_constant(s.index)};
    gather.outputs = {s.target};
    gather.attrs.push_back(fusion::int_attr("axis", s.axis));
    cuts_[reader].push_back(std::move(gather));
  }

  std::string index_constant(int64_t index) {
    auto it = indices_.find(index);
    if (it != indices_.end()) return it->second;
    const std::string name = fresh_name("hoisted_gather_index_" + std::to_string(index));
    Tensor t = Tensor::create(DType::kInt64, Shape{}).value();
    t.data<int64_t>()[0] = index;
    g_.initializers.push_back({name, std::move(t), {}, std::nullopt});
    return indices_[index] = name;
  }

  std::string fresh_name(const std::string& base) {
    std::string name = unique_name(g_, base);
    for (int k = 1; named_.count(name); ++k) name = unique_name(g_, base + "_" + std::to_string(k));
    named_.insert(name);
    return name;
  }

  ir::Graph& g_;
  const ShapeFacts& shapes_;
  const fusion::GraphIndex ix_;
  std::map<Key, Request> pending_;                 // slices asked for and not settled yet
  std::map<size_t, std::vector<ir::Node>> cuts_;  // new Gathers, by the index of the node they precede
  std::map<int64_t, std::string> indices_;
  std::set<std::string> named_;
};

}  // namespace

Status hoist_gather(ir::Model& m) {
  ir::Graph& g = m.graph;
  // Cheap test first: shape inference runs only when some Gather with a constant scalar index
  // reads a value that an op of the kinds above makes.
  auto candidates = [&] {
    const fusion::GraphIndex ix = fusion::index_graph(g);
    std::vector<std::string> outputs;
    for (const auto& n : g.nodes) {
      if (!is_onnx_op(n, "Gather") || n.inputs.size() != 2 || n.outputs.size() != 1 || !fusion::scalar_int_constant(g, n.inputs[1]))
        continue;
      auto p = ix.producer.find(n.inputs[0]);
      if (p == ix.producer.end()) continue;
      const ir::Node& src = g.nodes[p->second];
      if (is_elementwise(src) || is_reduce(src) || is_onnx_op(src, "LayerNormalization") || is_onnx_op(src, "MatMul") ||
          is_onnx_op(src, "MatMulInteger"))
        outputs.push_back(n.outputs[0]);
    }
    return outputs;
  };
  const std::vector<std::string> gathers = candidates();
  if (gathers.empty()) return Status::Ok();
  const ShapeFacts shapes(m);
  for (const std::string& out : gathers) {
    // Each hoist edits the graph: find the Gather again and index the graph as it is now.
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!is_onnx_op(g.nodes[i], "Gather") || g.nodes[i].outputs.size() != 1 || g.nodes[i].outputs[0] != out) continue;
      Hoister(g, shapes).hoist(i);
      break;
    }
  }
  return Status::Ok();
}

}  // namespace hone::passes
