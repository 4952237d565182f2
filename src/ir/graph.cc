#include "ir/graph.h"

namespace hone::ir {

std::optional<Shape> TypeInfo::static_shape() const {
  if (!has_shape) return std::nullopt;
  Shape s;
  for (const auto& d : dims) {
    if (!d.known()) return std::nullopt;
    s.push_back(d.value);
  }
  return s;
}

std::string TypeInfo::to_string() const {
  switch (kind) {
    case Kind::kUnknown: return "?";
    case Kind::kSequence: return "sequence";
    case Kind::kOptional: return "optional";
    case Kind::kMap: return "map";
    case Kind::kOther: return "other";
    case Kind::kTensor:
    case Kind::kSparseTensor: break;
  }
  std::string s(dtype_name(elem));
  if (kind == Kind::kSparseTensor) s = "sparse " + s;
  if (!has_shape) return s + "[...]";
  s += '[';
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    if (dims[i].known()) s += std::to_string(dims[i].value);
    else s += dims[i].param.empty() ? "?" : dims[i].param;
  }
  return s + ']';
}

const char* attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::kUndefined: return "undefined";
    case AttrType::kFloat: return "float";
    case AttrType::kInt: return "int";
    case AttrType::kString: return "string";
    case AttrType::kTensor: return "tensor";
    case AttrType::kGraph: return "graph";
    case AttrType::kFloats: return "floats";
    case AttrType::kInts: return "ints";
    case AttrType::kStrings: return "strings";
    case AttrType::kTensors: return "tensors";
    case AttrType::kGraphs: return "graphs";
    case AttrType::kSparseTensor: return "sparse_tensor";
    case AttrType::kSparseTensors: return "sparse_tensors";
    case AttrType::kTypeProto: return "type_proto";
    case AttrType::kTypeProtos: return "type_protos";
  }
  return "?";
}

const Attribute* Node::attr(const std::string& n) const {
  for (const auto& a : attrs)
    if (a.name == n) return &a;
  return nullptr;
}

int64_t Node::attr_int(const std::string& n, int64_t fallback) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::kInt ? a->i : fallback;
}

float Node::attr_float(const std::string& n, float fallback) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::kFloat ? a->f : fallback;
}

std::string Node::attr_string(const std::string& n, const std::string& fallback) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::kString ? a->s : fallback;
}

std::vector<int64_t> Node::attr_ints(const std::string& n) const {
  const Attribute* a = attr(n);
  return a && a->type == AttrType::kInts ? a->ints : std::vector<int64_t>{};
}

std::string Node::qualified_op() const { return domain.empty() ? op_type : domain + "." + op_type; }

const std::string& Node::input(size_t i) const {
  static const std::string kEmpty;
  return i < inputs.size() ? inputs[i] : kEmpty;
}

const Initializer* Graph::find_initializer(const std::string& n) const {
  for (const auto& i : initializers)
    if (i.name == n) return &i;
  return nullptr;
}

Initializer* Graph::find_initializer(const std::string& n) {
  for (auto& i : initializers)
    if (i.name == n) return &i;
  return nullptr;
}

const TypeInfo* Graph::find_type(const std::string& n) const {
  for (const auto* list : {&inputs, &outputs, &value_info})
    for (const auto& v : *list)
      if (v.name == n) return &v.type;
  return nullptr;
}

void Graph::set_value_type(const std::string& n, TypeInfo type) {
  for (auto& v : value_info)
    if (v.name == n) {
      v.type = std::move(type);
      return;
    }
  value_info.push_back({n, std::move(type), {}});
}

std::vector<const ValueInfo*> Graph::real_inputs() const {
  std::vector<const ValueInfo*> r;
  for (const auto& v : inputs)
    if (!find_initializer(v.name)) r.push_back(&v);
  return r;
}

int64_t Model::opset(const std::string& d) const {
  std::string want = canonical_domain(d);
  for (const auto& o : opsets)
    if (canonical_domain(o.domain) == want) return o.version;
  return 0;
}

std::string canonical_domain(const std::string& d) { return d == "ai.onnx" ? std::string() : d; }

}  // namespace hone::ir
