#include "quant/quant_graph.h"

#include <algorithm>

#include "onnx/shape_inference.h"

namespace hone::quant::detail {

NameGen::NameGen(const ir::Model& m) {
  ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
    for (const auto& v : g.inputs) used_.insert(v.name);
    for (const auto& v : g.outputs) used_.insert(v.name);
    for (const auto& v : g.value_info) used_.insert(v.name);
    for (const auto& i : g.initializers) used_.insert(i.name);
    for (const auto& n : g.nodes) {
      used_.insert(n.name);
      for (const auto& s : n.inputs) used_.insert(s);
      for (const auto& s : n.outputs) used_.insert(s);
    }
  });
}

std::string NameGen::make(const std::string& base) {
  std::string name = base;
  for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
  used_.insert(name);
  return name;
}

std::map<std::string, int> count_uses(const ir::Model& m) {
  std::map<std::string, int> uses;
  ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
    for (const auto& n : g.nodes)
      for (const auto& s : n.inputs)
        if (!s.empty()) ++uses[s];
    // Subgraph outputs may name outer values directly.
    for (const auto& o : g.outputs) ++uses[o.name];
  });
  return uses;
}

ValueTypes::ValueTypes(const ir::Model& m) {
  ir::Model typed = m;
  if (!onnxio::infer_shapes(typed).ok()) return;
  for (const ir::Node& n : typed.graph.nodes)
    for (const std::string& o : n.outputs) {
      const ir::TypeInfo* t = o.empty() ? nullptr : typed.graph.find_type(o);
      if (t && t->is_tensor() && t->elem != DType::kUndefined) inferred_[o] = t->elem;
    }
}

bool ValueTypes::known_non_float(const ir::Graph& g, const std::string& name) const {
  if (auto it = inferred_.find(name); it != inferred_.end()) return it->second != DType::kFloat32;
  const ir::TypeInfo* t = g.find_type(name);
  return t && t->is_tensor() && t->elem != DType::kUndefined && t->elem != DType::kFloat32;
}

bool ValueTypes::non_float_node(const ir::Graph& g, const ir::Node& n) const {
  bool any = false;
  for (const std::string& o : n.outputs) {
    if (o.empty()) continue;
    if (!known_non_float(g, o)) return false;
    any = true;
  }
  return any;
}

const ir::Initializer* constant_float(const ir::Graph& g, const std::string& name) {
  if (name.empty()) return nullptr;
  const ir::Initializer* init = g.find_initializer(name);
  if (!init || init->tensor.dtype() != DType::kFloat32) return nullptr;
  for (const auto& in : g.inputs)
    if (in.name == name) return nullptr;
  return init;
}

std::string node_label(const ir::Node& n, size_t index) {
  return n.name.empty() ? n.op_type + "#" + std::to_string(index) : n.name;
}

std::string selection_reason(const ir::Node& n, size_t index, const QuantizeOptions& o,
                             const std::vector<std::string>& default_ops) {
  const auto& ops = o.ops.empty() ? default_ops : o.ops;
  if (!n.domain.empty() && n.domain != "ai.onnx") return "not a default-domain op";
  if (std::find(ops.begin(), ops.end(), n.op_type) == ops.end()) return "op type not selected";
  for (const auto& e : o.exclude)
    if (e == n.op_type || (!n.name.empty() && e == n.name) || e == node_label(n, index)) return "excluded";
  return {};
}

Status require_opset(ir::Model& m, const std::string& domain, int64_t min_ok, int64_t add_version) {
  for (auto& op : m.opsets) {
    if (ir::canonical_domain(op.domain) != ir::canonical_domain(domain)) continue;
    if (op.version < min_ok)
      return unsupported("the model imports " + (domain.empty() ? std::string("ai.onnx") : domain) + " opset " +
                         std::to_string(op.version) + "; quantization needs opset >= " + std::to_string(min_ok) +
                         " (convert the model first, e.g. onnx.version_converter)");
    return Status::Ok();
  }
  m.opsets.push_back({domain, add_version});
  return Status::Ok();
}

void drop_unused_initializers(ir::Model& m, const std::set<std::string>& candidates) {
  if (candidates.empty()) return;
  auto uses = count_uses(m);
  auto& inits = m.graph.initializers;
  inits.erase(std::remove_if(inits.begin(), inits.end(),
                             [&](const ir::Initializer& i) { return candidates.count(i.name) && uses[i.name] == 0; }),
              inits.end());
  // A value_info entry for a removed initializer would describe nothing.
  auto& vi = m.graph.value_info;
  vi.erase(std::remove_if(vi.begin(), vi.end(),
                          [&](const ir::ValueInfo& v) { return candidates.count(v.name) && uses[v.name] == 0 && !m.graph.find_initializer(v.name); }),
           vi.end());
}

Tensor scalar_or_vector_f32(const std::vector<float>& v, bool as_scalar) {
  Shape s = as_scalar ? Shape{} : Shape{static_cast<int64_t>(v.size())};
  Tensor t = Tensor::create(DType::kFloat32, s).value();
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

ir::Node make_node(std::string op, std::vector<std::string> in, std::vector<std::string> out, std::string name,
                   std::string domain) {
  ir::Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.name = std::move(name);
  n.domain = std::move(domain);
  return n;
}

ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

void report_skip(QuantizeReport* r, const std::string& node, const std::string& reason) {
  if (r) r->skipped.push_back({node, reason});
}
void report_quantized(QuantizeReport* r, const std::string& op_type) {
  if (r) ++r->quantized[op_type];
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace hone::quant::detail
