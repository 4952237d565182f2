#include "onnx/shape_inference.h"

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include "onnx/tensor_proto.h"
#include "onnx/to_proto.h"

namespace hone::onnxio {
namespace {

// Inference needs initializer values only for small shape-like tensors (Reshape's shape, Slice's
// starts ...); large weights go in as dims + type, so inference never copies the weights.
constexpr size_t kInlineBytes = 4096;

void write_for_inference(const Tensor& t, onnx::TensorProto* p) {
  if (t.dtype() == DType::kString || t.nbytes() <= kInlineBytes) {
    tensor_to_proto(t, p);
    return;
  }
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
}

Result<ir::TypeInfo> type_from_proto(const onnx::TypeProto& t) {
  ir::TypeInfo r;
  if (t.value_case() != onnx::TypeProto::kTensorType) {
    r.kind = t.value_case() == onnx::TypeProto::VALUE_NOT_SET ? ir::TypeInfo::Kind::kUnknown : ir::TypeInfo::Kind::kOther;
    if (r.kind != ir::TypeInfo::Kind::kUnknown) r.opaque = t.SerializeAsString();
    return r;
  }
  r.kind = ir::TypeInfo::Kind::kTensor;
  if (auto d = dtype_from_onnx(t.tensor_type().elem_type())) r.elem = *d;
  r.has_shape = t.tensor_type().has_shape();
  for (const auto& d : t.tensor_type().shape().dim()) {
    if (d.has_dim_value() && d.dim_value() >= 0) r.dims.push_back(ir::Dim::of(d.dim_value()));
    else r.dims.push_back(ir::Dim::symbol(d.dim_param()));
  }
  return r;
}

Status copy_back(ir::Graph& g, const onnx::GraphProto& p) {
  for (const auto& v : p.value_info()) {
    HONE_ASSIGN_OR_RETURN(ir::TypeInfo t, type_from_proto(v.type()));
    g.set_value_type(v.name(), std::move(t));
  }
  for (int i = 0; i < p.output_size() && i < static_cast<int>(g.outputs.size()); ++i) {
    auto& out = g.outputs[static_cast<size_t>(i)];
    if (out.type.kind == ir::TypeInfo::Kind::kUnknown || !out.type.has_shape) {
      HONE_ASSIGN_OR_RETURN(ir::TypeInfo t, type_from_proto(p.output(i).type()));
      if (t.kind != ir::TypeInfo::Kind::kUnknown) out.type = std::move(t);
    }
  }
  for (size_t ni = 0; ni < g.nodes.size() && ni < static_cast<size_t>(p.node_size()); ++ni) {
    auto& n = g.nodes[ni];
    const auto& pn = p.node(static_cast<int>(ni));
    for (size_t ai = 0; ai < n.attrs.size() && ai < static_cast<size_t>(pn.attribute_size()); ++ai) {
      auto& a = n.attrs[ai];
      const auto& pa = pn.attribute(static_cast<int>(ai));
      if (a.g && pa.has_g()) HONE_RETURN_IF_ERROR(copy_back(*a.g, pa.g()));
      for (size_t gi = 0; gi < a.graphs.size() && gi < static_cast<size_t>(pa.graphs_size()); ++gi)
        HONE_RETURN_IF_ERROR(copy_back(*a.graphs[gi], pa.graphs(static_cast<int>(gi))));
    }
  }
  return Status::Ok();
}

}  // namespace

Status infer_shapes(ir::Model& m) {
  onnx::ModelProto p;
  model_to_proto(m, &p, write_for_inference);
  try {
    onnx::ShapeInferenceOptions options(/*check_type=*/false, /*strict_mode=*/0, /*data_prop=*/true);
    onnx::shape_inference::InferShapes(p, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return invalid_model("shape inference failed: " + what);
  }
  return copy_back(m.graph, p.graph());
}

}  // namespace hone::onnxio
