#include "onnx/export.h"

#include <onnx/onnx_pb.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/file_util.h"
#include "onnx/limits.h"
#include "onnx/tensor_proto.h"
#include "onnx/to_proto.h"

namespace hone::onnxio {
namespace {

void export_type(const ir::TypeInfo& t, onnx::TypeProto* p) {
  if (!t.opaque.empty()) {
    p->ParseFromString(t.opaque);
    return;
  }
  if (!t.denotation.empty()) p->set_denotation(t.denotation);
  auto fill = [&](auto* tt) {
    if (t.elem != DType::kUndefined) tt->set_elem_type(static_cast<int32_t>(t.elem));
    if (!t.has_shape) return;
    auto* shape = tt->mutable_shape();
    for (const auto& d : t.dims) {
      auto* dp = shape->add_dim();
      if (d.known()) dp->set_dim_value(d.value);
      else if (!d.param.empty()) dp->set_dim_param(d.param);
    }
  };
  switch (t.kind) {
    case ir::TypeInfo::Kind::kTensor: fill(p->mutable_tensor_type()); break;
    case ir::TypeInfo::Kind::kSparseTensor: fill(p->mutable_sparse_tensor_type()); break;
    default: break;
  }
}

void export_value_info(const ir::ValueInfo& v, onnx::ValueInfoProto* p) {
  p->set_name(v.name);
  if (!v.doc_string.empty()) p->set_doc_string(v.doc_string);
  if (v.type.kind != ir::TypeInfo::Kind::kUnknown) export_type(v.type, p->mutable_type());
}

}  // namespace

void graph_to_proto(const ir::Graph& g, onnx::GraphProto* p, const TensorWriter& write_tensor) {
  p->set_name(g.name);
  if (!g.doc_string.empty()) p->set_doc_string(g.doc_string);
  for (const auto& init : g.initializers) {
    auto* t = p->add_initializer();
    write_tensor(init.tensor, t);
    t->set_name(init.name);
    if (!init.doc_string.empty()) t->set_doc_string(init.doc_string);
  }
  for (const auto& s : g.opaque_sparse_initializers) p->add_sparse_initializer()->ParseFromString(s);
  for (const auto& a : g.opaque_quantization_annotation) p->add_quantization_annotation()->ParseFromString(a);
  for (const auto& v : g.inputs) export_value_info(v, p->add_input());
  for (const auto& v : g.outputs) export_value_info(v, p->add_output());
  for (const auto& v : g.value_info) export_value_info(v, p->add_value_info());
  for (const auto& n : g.nodes) {
    auto* np = p->add_node();
    if (!n.name.empty()) np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    if (!n.doc_string.empty()) np->set_doc_string(n.doc_string);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& a : n.attrs) {
      using AP = onnx::AttributeProto;
      auto* ap = np->add_attribute();
      ap->set_name(a.name);
      if (!a.doc_string.empty()) ap->set_doc_string(a.doc_string);
      if (!a.ref_attr_name.empty()) ap->set_ref_attr_name(a.ref_attr_name);
      switch (a.type) {
        case ir::AttrType::kFloat: ap->set_type(AP::FLOAT); ap->set_f(a.f); break;
        case ir::AttrType::kInt: ap->set_type(AP::INT); ap->set_i(a.i); break;
        case ir::AttrType::kString: ap->set_type(AP::STRING); ap->set_s(a.s); break;
        case ir::AttrType::kTensor: ap->set_type(AP::TENSOR); tensor_to_proto(a.t, ap->mutable_t()); break;
        case ir::AttrType::kGraph: ap->set_type(AP::GRAPH); graph_to_proto(*a.g, ap->mutable_g(), write_tensor); break;
        case ir::AttrType::kFloats: ap->set_type(AP::FLOATS); for (float f : a.floats) ap->add_floats(f); break;
        case ir::AttrType::kInts: ap->set_type(AP::INTS); for (int64_t i : a.ints) ap->add_ints(i); break;
        case ir::AttrType::kStrings: ap->set_type(AP::STRINGS); for (const auto& s : a.strings) ap->add_strings(s); break;
        case ir::AttrType::kTensors:
          ap->set_type(AP::TENSORS);
          for (const auto& t : a.tensors) tensor_to_proto(t, ap->add_tensors());
          break;
        case ir::AttrType::kGraphs:
          ap->set_type(AP::GRAPHS);
          for (const auto& sg : a.graphs) graph_to_proto(*sg, ap->add_graphs(), write_tensor);
          break;
        case ir::AttrType::kSparseTensor: ap->set_type(AP::SPARSE_TENSOR); ap->mutable_sparse_tensor()->ParseFromString(a.opaque.at(0)); break;
        case ir::AttrType::kSparseTensors:
          ap->set_type(AP::SPARSE_TENSORS);
          for (const auto& s : a.opaque) ap->add_sparse_tensors()->ParseFromString(s);
          break;
        case ir::AttrType::kTypeProto: ap->set_type(AP::TYPE_PROTO); ap->mutable_tp()->ParseFromString(a.opaque.at(0)); break;
        case ir::AttrType::kTypeProtos:
          ap->set_type(AP::TYPE_PROTOS);
          for (const auto& s : a.opaque) ap->add_type_protos()->ParseFromString(s);
          break;
        case ir::AttrType::kUndefined: break;
      }
    }
  }
}

void model_to_proto(const ir::Model& m, onnx::ModelProto* p, const TensorWriter& write_tensor) {
  p->set_ir_version(m.ir_version);
  for (const auto& o : m.opsets) {
    auto* op = p->add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  if (!m.producer_name.empty()) p->set_producer_name(m.producer_name);
  if (!m.producer_version.empty()) p->set_producer_version(m.producer_version);
  if (!m.domain.empty()) p->set_domain(m.domain);
  if (m.model_version) p->set_model_version(m.model_version);
  if (!m.doc_string.empty()) p->set_doc_string(m.doc_string);
  for (const auto& [k, v] : m.metadata) {
    auto* kv = p->add_metadata_props();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& f : m.opaque_functions) p->add_functions()->ParseFromString(f);
  for (const auto& t : m.opaque_training_info) p->add_training_info()->ParseFromString(t);
  graph_to_proto(m.graph, p->mutable_graph(), write_tensor);
}

Result<std::string> serialize_model(const ir::Model& m) {
  onnx::ModelProto p;
  model_to_proto(m, &p, tensor_to_proto);
  if (p.ByteSizeLong() > kMaxModelFileBytes)
    return invalid_argument("model is larger than protobuf's 2 GiB limit; save it with external data");
  return p.SerializeAsString();
}

namespace {

uint64_t total_initializer_bytes(const ir::Model& m) {
  uint64_t total = 0;
  ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
    for (const auto& i : g.initializers) total += i.tensor.nbytes();
  });
  return total;
}

// 16 hex digits of a 64-bit hash of every initializer that goes to the external data file (dtype,
// shape and bytes, in graph order). Not cryptographic: it only has to tell two saves apart.
std::string external_content_tag(const ir::Model& m, uint64_t threshold) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  auto mix = [&h](uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
  };
  ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
    for (const auto& i : g.initializers) {
      const Tensor& t = i.tensor;
      if (t.dtype() == DType::kString || t.nbytes() < threshold) continue;
      mix(static_cast<uint64_t>(t.dtype()));
      for (int64_t d : t.shape()) mix(static_cast<uint64_t>(d));
      const auto* b = static_cast<const unsigned char*>(t.raw());
      size_t n = t.nbytes(), k = 0;
      for (; k + 8 <= n; k += 8) {
        uint64_t w;
        std::memcpy(&w, b + k, 8);
        mix(w);
      }
      uint64_t tail = 0;
      for (size_t j = 0; k + j < n; ++j) tail |= static_cast<uint64_t>(b[k + j]) << (8 * j);
      mix(tail ^ n);
    }
  });
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool is_content_data_name(const std::string& name, const std::string& model_file) {
  // "<model_file>.<16 hex>.data"
  if (name.size() != model_file.size() + 1 + 16 + 5 || name.compare(0, model_file.size(), model_file) != 0) return false;
  if (name[model_file.size()] != '.' || name.compare(name.size() - 5, 5, ".data") != 0) return false;
  for (size_t i = model_file.size() + 1; i < model_file.size() + 17; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

// After a save, data files an earlier save of this output wrote ("<model>.<hex>.data", a name only
// hone's writer uses) are no longer referenced: remove them. Never a file the input model reads.
// Best effort: a failure leaves an unused file behind, never a broken model.
void remove_stale_data_files(const ir::Model& m, const std::filesystem::path& dir, const std::string& model_file,
                             const std::string& keep) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == keep || !is_content_data_name(name, model_file)) continue;
    bool input_file = false;
    if (!m.source_dir.empty())
      ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
        for (const auto& i : g.initializers)
          if (i.external && same_file(it->path().string(), (fs::path(m.source_dir) / i.external->location).string()))
            input_file = true;
      });
    if (!input_file) {
      std::error_code rm_ec;
      fs::remove(it->path(), rm_ec);
    }
  }
}

}  // namespace

Status save_model(const ir::Model& m, const std::string& path, const SaveOptions& options) {
  namespace fs = std::filesystem;
  // Never write over what we read: the model itself or any of its external data files.
  if (!m.source_dir.empty()) {
    Status refused;
    ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
      for (const auto& i : g.initializers)
        if (i.external && refused.ok() && same_file(path, (fs::path(m.source_dir) / i.external->location).string()))
          refused = invalid_argument(path + ": is an external data file of the input model; refusing to overwrite it");
    });
    HONE_RETURN_IF_ERROR(refused);
  }
  const bool external = options.external_data || total_initializer_bytes(m) > kMaxModelFileBytes / 2;
  onnx::ModelProto p;
  if (!external) {
    model_to_proto(m, &p, tensor_to_proto);
    if (p.ByteSizeLong() > kMaxModelFileBytes)
      return invalid_argument(path + ": model is larger than protobuf's 2 GiB limit");
    return write_file_atomic(path, p.SerializeAsString());
  }
  // The data file is named after its content ("<model>.<16 hex>.data"), so saving never renames
  // over the data file an existing output points at: the model file's rename is the one commit
  // point. A kill at any moment leaves the old (model, data) pair or the new one, never the old
  // model reading new data. Content naming also keeps the output deterministic.
  const std::string model_file = fs::path(path).filename().string();
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  const std::string data_name = model_file + "." + external_content_tag(m, options.external_threshold_bytes) + ".data";
  const std::string data_path = (dir / data_name).string();
  HONE_ASSIGN_OR_RETURN(AtomicFile data, AtomicFile::open(data_path));
  uint64_t offset = 0;
  Status write_status;
  auto writer = [&](const Tensor& t, onnx::TensorProto* tp) {
    if (t.dtype() == DType::kString || t.nbytes() < options.external_threshold_bytes) {
      tensor_to_proto(t, tp);
      return;
    }
    tp->set_data_type(static_cast<int32_t>(t.dtype()));
    for (int64_t d : t.shape()) tp->add_dims(d);
    // Align each tensor to 64 bytes so that a reader can map the file and use it in place.
    uint64_t pad = (64 - offset % 64) % 64;
    if (pad && write_status.ok()) write_status = data.write(std::string(pad, '\0'));
    offset += pad;
    if (write_status.ok()) write_status = data.write(std::string_view(static_cast<const char*>(t.raw()), t.nbytes()));
    tp->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* kv = tp->add_external_data();
      kv->set_key(k);
      kv->set_value(v);
    };
    add("location", data_name);
    add("offset", std::to_string(offset));
    add("length", std::to_string(t.nbytes()));
    offset += t.nbytes();
  };
  model_to_proto(m, &p, writer);
  HONE_RETURN_IF_ERROR(write_status);
  if (p.ByteSizeLong() > kMaxModelFileBytes) return invalid_argument(path + ": model graph alone passes the 2 GiB limit");
  // Data first, then the model that points at it: a reader never sees a model whose data is missing.
  std::error_code ec;
  const bool data_existed = fs::exists(data_path, ec);  // same content saved before: an older model may read it
  HONE_RETURN_IF_ERROR(data.commit());
  if (Status st = write_file_atomic(path, p.SerializeAsString()); !st.ok()) {
    if (!data_existed) fs::remove(data_path, ec);  // nothing points at it: leave no orphan behind
    return st;
  }
  remove_stale_data_files(m, dir, model_file, data_name);
  return Status::Ok();
}

}  // namespace hone::onnxio
