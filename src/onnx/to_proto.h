// IR -> protobuf conversion shared by export and shape inference. src/onnx/ only.
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>

#include "ir/graph.h"

namespace hone::onnxio {

// How an initializer's data is written: inline, to an external file, or shape-only.
using TensorWriter = std::function<void(const Tensor&, onnx::TensorProto*)>;

void graph_to_proto(const ir::Graph& g, onnx::GraphProto* p, const TensorWriter& write_tensor);
void model_to_proto(const ir::Model& m, onnx::ModelProto* p, const TensorWriter& write_tensor);

}  // namespace hone::onnxio
