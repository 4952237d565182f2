#include "onnx/import.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <filesystem>

#include "core/file_util.h"
#include "ir/verifier.h"
#include "onnx/limits.h"
#include "onnx/tensor_proto.h"

namespace hone::onnxio {
namespace {

template <class Message>
bool parse_bounded(std::string_view bytes, Message* m) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetRecursionLimit(kMaxProtoRecursion);
  return m->ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
}

Result<ir::TypeInfo> import_type(const onnx::TypeProto& t, const std::string& value) {
  ir::TypeInfo r;
  r.denotation = t.denotation();
  auto import_shape = [&](int32_t elem, bool has_shape, const onnx::TensorShapeProto& shape) -> Status {
    if (elem != 0) {
      auto d = dtype_from_onnx(elem);
      if (!d) return invalid_model("value '" + value + "' has unsupported element type " + std::to_string(elem));
      r.elem = *d;
    }
    r.has_shape = has_shape;
    if (shape.dim_size() > kMaxRank)
      return invalid_model("value '" + value + "' has rank " + std::to_string(shape.dim_size()) + ", above the limit of " +
                           std::to_string(kMaxRank));
    for (const auto& d : shape.dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0)
          return invalid_model("value '" + value + "' has negative dimension " + std::to_string(d.dim_value()));
        r.dims.push_back(ir::Dim::of(d.dim_value()));
      } else {
        r.dims.push_back(ir::Dim::symbol(d.dim_param()));
      }
    }
    return Status::Ok();
  };
  switch (t.value_case()) {
    case onnx::TypeProto::kTensorType:
      r.kind = ir::TypeInfo::Kind::kTensor;
      HONE_RETURN_IF_ERROR(import_shape(t.tensor_type().elem_type(), t.tensor_type().has_shape(), t.tensor_type().shape()));
      break;
    case onnx::TypeProto::kSparseTensorType:
      r.kind = ir::TypeInfo::Kind::kSparseTensor;
      HONE_RETURN_IF_ERROR(import_shape(t.sparse_tensor_type().elem_type(), t.sparse_tensor_type().has_shape(),
                                        t.sparse_tensor_type().shape()));
      break;
    case onnx::TypeProto::kSequenceType: r.kind = ir::TypeInfo::Kind::kSequence; r.opaque = t.SerializeAsString(); break;
    case onnx::TypeProto::kOptionalType: r.kind = ir::TypeInfo::Kind::kOptional; r.opaque = t.SerializeAsString(); break;
    case onnx::TypeProto::kMapType: r.kind = ir::TypeInfo::Kind::kMap; r.opaque = t.SerializeAsString(); break;
    case onnx::TypeProto::VALUE_NOT_SET: r.kind = ir::TypeInfo::Kind::kUnknown; break;
    default: r.kind = ir::TypeInfo::Kind::kOther; r.opaque = t.SerializeAsString(); break;
  }
  return r;
}

Result<ir::ValueInfo> import_value_info(const onnx::ValueInfoProto& v) {
  ir::ValueInfo r;
  r.name = v.name();
  r.doc_string = v.doc_string();
  if (v.has_type()) {
    HONE_ASSIGN_OR_RETURN(r.type, import_type(v.type(), v.name()));
  }
  return r;
}

class Importer {
 public:
  explicit Importer(const std::string& model_dir) : ext_(model_dir) {}

  Result<ir::Graph> graph(const onnx::GraphProto& g, int depth) {
    if (depth > kMaxGraphDepth)
      return invalid_model("subgraphs nest deeper than the limit of " + std::to_string(kMaxGraphDepth));
    ir::Graph r;
    r.name = g.name();
    r.doc_string = g.doc_string();
    const std::string where = depth ? "subgraph '" + g.name() + "'" : std::string("graph");
    for (const auto& t : g.initializer()) {
      ir::Initializer init;
      init.name = t.name();
      init.doc_string = t.doc_string();
      if (init.name.empty()) return invalid_model(where + " has an initializer without a name");
      auto tensor = tensor_from_proto(t, &ext_, &init.external);
      if (!tensor.ok()) return tensor.status().with_context("initializer '" + t.name() + "'");
      init.tensor = std::move(tensor).value();
      r.initializers.push_back(std::move(init));
    }
    for (const auto& s : g.sparse_initializer()) r.opaque_sparse_initializers.push_back(s.SerializeAsString());
    for (const auto& a : g.quantization_annotation()) r.opaque_quantization_annotation.push_back(a.SerializeAsString());
    for (const auto& v : g.input()) {
      HONE_ASSIGN_OR_RETURN(auto vi, import_value_info(v));
      r.inputs.push_back(std::move(vi));
    }
    for (const auto& v : g.output()) {
      HONE_ASSIGN_OR_RETURN(auto vi, import_value_info(v));
      r.outputs.push_back(std::move(vi));
    }
    for (const auto& v : g.value_info()) {
      HONE_ASSIGN_OR_RETURN(auto vi, import_value_info(v));
      r.value_info.push_back(std::move(vi));
    }
    r.nodes.reserve(static_cast<size_t>(g.node_size()));
    for (const auto& n : g.node()) {
      auto node = this->node(n, depth);
      if (!node.ok()) {
        std::string label = n.name().empty() ? n.op_type() : n.name();
        return node.status().with_context("node '" + label + "'");
      }
      r.nodes.push_back(std::move(node).value());
    }
    return r;
  }

 private:
  Result<ir::Node> node(const onnx::NodeProto& n, int depth) {
    ir::Node r;
    r.name = n.name();
    r.op_type = n.op_type();
    r.domain = ir::canonical_domain(n.domain());
    r.doc_string = n.doc_string();
    if (r.op_type.empty()) return invalid_model("node has no op_type");
    r.inputs.assign(n.input().begin(), n.input().end());
    r.outputs.assign(n.output().begin(), n.output().end());
    for (const auto& a : n.attribute()) {
      auto attr = attribute(a, depth);
      if (!attr.ok()) return attr.status().with_context("attribute '" + a.name() + "'");
      r.attrs.push_back(std::move(attr).value());
    }
    return r;
  }

  Result<ir::Attribute> attribute(const onnx::AttributeProto& a, int depth) {
    using AP = onnx::AttributeProto;
    ir::Attribute r;
    r.name = a.name();
    r.doc_string = a.doc_string();
    r.ref_attr_name = a.ref_attr_name();
    AP::AttributeType type = a.type();
    if (type == AP::UNDEFINED) {  // very old files leave `type` unset: infer it from the field in use
      if (a.has_f()) type = AP::FLOAT;
      else if (a.has_i()) type = AP::INT;
      else if (a.has_s()) type = AP::STRING;
      else if (a.has_t()) type = AP::TENSOR;
      else if (a.has_g()) type = AP::GRAPH;
      else if (a.floats_size()) type = AP::FLOATS;
      else if (a.ints_size()) type = AP::INTS;
      else if (a.strings_size()) type = AP::STRINGS;
      else if (a.tensors_size()) type = AP::TENSORS;
      else if (a.graphs_size()) type = AP::GRAPHS;
      else if (a.ref_attr_name().empty()) return invalid_model("attribute has no type and no value");
    }
    switch (type) {
      case AP::FLOAT: r.type = ir::AttrType::kFloat; r.f = a.f(); break;
      case AP::INT: r.type = ir::AttrType::kInt; r.i = a.i(); break;
      case AP::STRING: r.type = ir::AttrType::kString; r.s = a.s(); break;
      case AP::TENSOR: {
        r.type = ir::AttrType::kTensor;
        HONE_ASSIGN_OR_RETURN(r.t, tensor_from_proto(a.t(), &ext_));
        break;
      }
      case AP::GRAPH: {
        r.type = ir::AttrType::kGraph;
        HONE_ASSIGN_OR_RETURN(ir::Graph g, graph(a.g(), depth + 1));
        r.g = std::make_shared<ir::Graph>(std::move(g));
        break;
      }
      case AP::FLOATS: r.type = ir::AttrType::kFloats; r.floats.assign(a.floats().begin(), a.floats().end()); break;
      case AP::INTS: r.type = ir::AttrType::kInts; r.ints.assign(a.ints().begin(), a.ints().end()); break;
      case AP::STRINGS: r.type = ir::AttrType::kStrings; r.strings.assign(a.strings().begin(), a.strings().end()); break;
      case AP::TENSORS:
        r.type = ir::AttrType::kTensors;
        for (const auto& t : a.tensors()) {
          HONE_ASSIGN_OR_RETURN(Tensor x, tensor_from_proto(t, &ext_));
          r.tensors.push_back(std::move(x));
        }
        break;
      case AP::GRAPHS:
        r.type = ir::AttrType::kGraphs;
        for (const auto& g : a.graphs()) {
          HONE_ASSIGN_OR_RETURN(ir::Graph x, graph(g, depth + 1));
          r.graphs.push_back(std::make_shared<ir::Graph>(std::move(x)));
        }
        break;
      case AP::SPARSE_TENSOR: r.type = ir::AttrType::kSparseTensor; r.opaque.push_back(a.sparse_tensor().SerializeAsString()); break;
      case AP::SPARSE_TENSORS:
        r.type = ir::AttrType::kSparseTensors;
        for (const auto& s : a.sparse_tensors()) r.opaque.push_back(s.SerializeAsString());
        break;
      case AP::TYPE_PROTO: r.type = ir::AttrType::kTypeProto; r.opaque.push_back(a.tp().SerializeAsString()); break;
      case AP::TYPE_PROTOS:
        r.type = ir::AttrType::kTypeProtos;
        for (const auto& t : a.type_protos()) r.opaque.push_back(t.SerializeAsString());
        break;
      case AP::UNDEFINED: r.type = ir::AttrType::kUndefined; break;  // a pure reference inside a function
      default: return invalid_model("unknown attribute type " + std::to_string(static_cast<int>(type)));
    }
    return r;
  }

  ExternalDataReader ext_;
};

// Every op in an ONNX-owned domain must exist in ONNX's schema registry at the imported opset.
// Ops of other domains (com.microsoft, custom) are accepted here; whether hone can run them is
// the runtime's question, asked by `run`, not by `inspect`.
Status check_op_schemas(const ir::Model& m) {
  Status status;
  ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
    if (!status.ok()) return;
    for (const auto& n : g.nodes) {
      if (!n.domain.empty() && n.domain != "ai.onnx.ml" && n.domain != "ai.onnx.preview.training") continue;
      int64_t version = m.opset(n.domain);
      if (version == 0) {
        status = invalid_model("node '" + (n.name.empty() ? n.op_type : n.name) + "' uses domain '" +
                               (n.domain.empty() ? "ai.onnx" : n.domain) + "', which the model does not import (missing opset_import)");
        return;
      }
      const char* domain = n.domain.empty() ? "" : n.domain.c_str();
      if (!onnx::OpSchemaRegistry::Schema(n.op_type, static_cast<int>(version), domain)) {
        status = invalid_model("node '" + (n.name.empty() ? n.op_type : n.name) + "': unknown op '" + n.qualified_op() +
                               "' at opset " + std::to_string(version));
        return;
      }
    }
  });
  return status;
}

}  // namespace

Result<ir::Model> parse_model(std::string_view bytes, const std::string& model_dir, const LoadOptions& options) {
  if (bytes.size() > kMaxModelFileBytes)
    return invalid_model("model is larger than protobuf's 2 GiB limit; store its weights as external data");
  onnx::ModelProto p;
  if (!parse_bounded(bytes, &p))
    return invalid_model("not a valid ONNX model (protobuf parsing failed: truncated, corrupt or nested too deeply)");
  if (!p.has_graph()) return invalid_model("model has no graph");

  ir::Model m;
  m.ir_version = p.ir_version();
  m.producer_name = p.producer_name();
  m.producer_version = p.producer_version();
  m.domain = p.domain();
  m.model_version = p.model_version();
  m.doc_string = p.doc_string();
  m.source_dir = model_dir;
  for (const auto& o : p.opset_import()) {
    if (o.version() <= 0)
      return invalid_model("opset_import for domain '" + o.domain() + "' has version " + std::to_string(o.version()));
    m.opsets.push_back({o.domain(), o.version()});
  }
  for (const auto& kv : p.metadata_props()) m.metadata.emplace_back(kv.key(), kv.value());
  for (const auto& f : p.functions()) m.opaque_functions.push_back(f.SerializeAsString());
  for (const auto& t : p.training_info()) m.opaque_training_info.push_back(t.SerializeAsString());

  Importer importer(model_dir);
  HONE_ASSIGN_OR_RETURN(m.graph, importer.graph(p.graph(), 0));

  if (options.verify) {
    if (m.opset("") == 0 && m.opsets.empty()) return invalid_model("model imports no opset (opset_import is empty)");
    HONE_RETURN_IF_ERROR(ir::sort_topologically(m));
    HONE_RETURN_IF_ERROR(ir::verify(m));
    HONE_RETURN_IF_ERROR(check_op_schemas(m));
  }
  return m;
}

Result<ir::Model> load_model(const std::string& path, const LoadOptions& options) {
  HONE_ASSIGN_OR_RETURN(std::string bytes, read_file(path, kMaxModelFileBytes));
  std::filesystem::path p(path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  auto m = parse_model(bytes, dir, options);
  if (!m.ok()) return m.status().with_context(path);
  return m;
}

Result<Tensor> load_tensor_file(const std::string& path) {
  HONE_ASSIGN_OR_RETURN(std::string bytes, read_file(path, kMaxTensorFileBytes));
  onnx::TensorProto t;
  if (!parse_bounded(bytes, &t)) return invalid_model(path + ": not a serialized ONNX TensorProto");
  std::filesystem::path p(path);
  ExternalDataReader ext(p.has_parent_path() ? p.parent_path().string() : ".");
  auto r = tensor_from_proto(t, &ext);
  if (!r.ok()) return r.status().with_context(path);
  return r;
}

}  // namespace hone::onnxio
