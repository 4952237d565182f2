#include "ir/flops.h"

#include <unordered_map>

namespace hone::ir {
namespace {

using TypeMap = std::unordered_map<std::string, const TypeInfo*>;

std::optional<Shape> shape_of(const Graph& g, const TypeMap& types, const std::string& name) {
  if (const Initializer* i = g.find_initializer(name)) return i->tensor.shape();
  auto it = types.find(name);
  if (it == types.end()) return std::nullopt;
  return it->second->static_shape();
}

double product(const Shape& s, size_t from = 0, size_t to = SIZE_MAX) {
  double p = 1;
  for (size_t i = from; i < s.size() && i < to; ++i) p *= static_cast<double>(s[i]);
  return p;
}

// nullopt when the shapes needed are unknown.
std::optional<double> node_flops(const Graph& g, const TypeMap& types, const Node& n) {
  const std::string& op = n.op_type;
  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") {
    size_t w_idx = op == "QLinearConv" ? 3 : 1;
    auto w = shape_of(g, types, n.input(w_idx));
    auto y = shape_of(g, types, n.outputs.empty() ? std::string() : n.outputs[0]);
    if (!w || !y || w->size() < 3 || y->size() != w->size()) return std::nullopt;
    // y: N x Cout x spatial; each output element costs Cin/group x kernel MACs = w[1] x kernel.
    return 2.0 * product(*y) * product(*w, 1);
  }
  if (op == "ConvTranspose") {
    auto x = shape_of(g, types, n.input(0));
    auto w = shape_of(g, types, n.input(1));
    if (!x || !w || w->size() < 3 || x->size() != w->size()) return std::nullopt;
    // Each input element scatters into Cout/group x kernel outputs = w[1] x kernel.
    return 2.0 * product(*x) * product(*w, 1);
  }
  if (op == "Gemm") {
    auto a = shape_of(g, types, n.input(0));
    auto b = shape_of(g, types, n.input(1));
    if (!a || !b || a->size() != 2 || b->size() != 2) return std::nullopt;
    double m = static_cast<double>(n.attr_int("transA", 0) ? (*a)[1] : (*a)[0]);
    double k = static_cast<double>(n.attr_int("transA", 0) ? (*a)[0] : (*a)[1]);
    double nn = static_cast<double>(n.attr_int("transB", 0) ? (*b)[0] : (*b)[1]);
    return 2.0 * m * k * nn;
  }
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul" || op == "MatMulNBits") {
    size_t a_idx = 0;
    auto a = shape_of(g, types, n.input(a_idx));
    auto y = shape_of(g, types, n.outputs.empty() ? std::string() : n.outputs[0]);
    if (!a || !y || a->empty() || y->empty()) return std::nullopt;
    double k = static_cast<double>(a->back());
    return 2.0 * product(*y) * k;
  }
  return std::nullopt;
}

bool counted_op(const std::string& op) {
  return op == "Conv" || op == "ConvInteger" || op == "QLinearConv" || op == "ConvTranspose" || op == "Gemm" ||
         op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul" || op == "MatMulNBits";
}

}  // namespace

FlopEstimate estimate_flops(const Graph& g) {
  TypeMap types;
  for (const auto* list : {&g.inputs, &g.outputs, &g.value_info})
    for (const auto& v : *list) types.emplace(v.name, &v.type);
  FlopEstimate r;
  for (const auto& n : g.nodes) {
    if (!counted_op(n.op_type)) continue;
    auto f = node_flops(g, types, n);
    if (!f) {
      ++r.unknown_nodes;
      continue;
    }
    ++r.counted_nodes;
    r.total += *f;
    r.by_op[n.op_type] += *f;
  }
  return r;
}

}  // namespace hone::ir
