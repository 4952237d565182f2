// hone's intermediate representation: the only thing passes and the runtime see.
//
// It mirrors ONNX closely enough that import -> export is lossless, but it is plain C++ structs:
// no protobuf outside src/onnx/. Values are identified by name (as in ONNX); a graph owns its
// nodes in topological order, its initializers and the declared types of its values.
// Things hone never interprets (sparse initializers, model-local functions, type_proto
// attributes, non-tensor type details) travel as opaque serialized protobuf bytes so that
// they survive a round trip untouched.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hone/tensor.hpp"

namespace hone::ir {

struct Graph;

// One dimension: a known size, a symbolic name (dim_param), or unknown (neither).
struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string param;   // symbolic name, e.g. "batch"
  bool known() const { return value >= 0; }
  static Dim of(int64_t v) { return Dim{v, {}}; }
  static Dim symbol(std::string p) { return Dim{-1, std::move(p)}; }
  bool operator==(const Dim&) const = default;
};

struct TypeInfo {
  enum class Kind { kUnknown, kTensor, kSequence, kOptional, kMap, kSparseTensor, kOther };
  Kind kind = Kind::kUnknown;
  DType elem = DType::kUndefined;  // tensor element type (kTensor / kSparseTensor)
  bool has_shape = false;          // false: rank unknown
  std::vector<Dim> dims;
  std::string denotation;
  std::string opaque;  // serialized TypeProto for kinds hone does not model (round trip only)

  bool is_tensor() const { return kind == Kind::kTensor; }
  // Known static shape, or nullopt if any dim is symbolic or the rank unknown.
  std::optional<Shape> static_shape() const;
  std::string to_string() const;  // "float[batch,3,224,224]"
};

struct ValueInfo {
  std::string name;
  TypeInfo type;
  std::string doc_string;
};

enum class AttrType { kUndefined, kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings,
                      kTensors, kGraphs, kSparseTensor, kSparseTensors, kTypeProto, kTypeProtos };
const char* attr_type_name(AttrType t);

struct Attribute {
  std::string name;
  AttrType type = AttrType::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;  // bytes, not necessarily UTF-8
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
  std::vector<std::string> opaque;  // serialized sparse tensors / type protos
  std::string ref_attr_name;        // inside function bodies
  std::string doc_string;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" is the default ONNX domain ("ai.onnx")
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  std::vector<Attribute> attrs;
  std::string doc_string;

  const Attribute* attr(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  float attr_float(const std::string& name, float fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name) const;
  // "Conv", or "com.microsoft.Gelu" outside the default domain: how messages name an op.
  std::string qualified_op() const;
  // Input i, or "" when absent.
  const std::string& input(size_t i) const;
};

// Where an initializer's bytes came from when they were stored outside the model file.
struct ExternalSource {
  std::string location;  // as written in the model (relative to its folder)
  int64_t offset = 0;
  int64_t length = 0;
};

struct Initializer {
  std::string name;
  Tensor tensor;
  std::string doc_string;
  std::optional<ExternalSource> external;
};

struct Graph {
  std::string name;
  std::string doc_string;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> value_info;
  std::vector<Initializer> initializers;
  std::vector<Node> nodes;
  std::vector<std::string> opaque_sparse_initializers;  // serialized SparseTensorProto
  std::vector<std::string> opaque_quantization_annotation;  // serialized TensorAnnotation

  const Initializer* find_initializer(const std::string& name) const;
  Initializer* find_initializer(const std::string& name);
  // Declared type of a value: graph input/output, value_info or initializer; nullptr if none.
  const TypeInfo* find_type(const std::string& name) const;
  // Replaces or adds the declared type of an intermediate value.
  void set_value_type(const std::string& name, TypeInfo type);
  // Inputs that are not initializers (what a user feeds).
  std::vector<const ValueInfo*> real_inputs() const;
};

struct OpsetImport {
  std::string domain;
  int64_t version = 0;
};

struct Model {
  int64_t ir_version = 0;
  std::vector<OpsetImport> opsets;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata;
  Graph graph;
  std::vector<std::string> opaque_functions;      // serialized FunctionProto
  std::vector<std::string> opaque_training_info;  // serialized TrainingInfoProto

  // Folder the model was loaded from (external data resolves against it); empty if in memory.
  std::string source_dir;

  // Opset version imported for a domain ("" and "ai.onnx" are the same); 0 when not imported.
  int64_t opset(const std::string& domain) const;
};

// Canonical domain name: "ai.onnx" -> "".
std::string canonical_domain(const std::string& domain);

// Calls f(graph, depth) on g and every subgraph below it (If/Loop/Scan bodies), depth-first.
template <class F>
void for_each_graph(Graph& g, F&& f, int depth = 0);
template <class F>
void for_each_graph(const Graph& g, F&& f, int depth = 0);

}  // namespace hone::ir

#include "ir/graph_inl.h"
