// TensorProto <-> hone::Tensor. Only src/onnx/ includes this (it exposes protobuf types).
#pragma once

#include <onnx/onnx_pb.h>

#include <optional>

#include "hone/tensor.hpp"
#include "ir/graph.h"
#include "onnx/external_data.h"

namespace hone::onnxio {

// Converts and validates: the dtype is one hone knows, dims are non-negative, their product does
// not overflow, and the stored data (raw, typed or external) holds exactly that many elements.
// Nothing is allocated before the size has been checked against the bytes actually present.
// `ext` reads external data (nullptr: external data is an error); `source` receives where it was.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, ExternalDataReader* ext,
                                 std::optional<ir::ExternalSource>* source = nullptr);

// Writes dims, data_type and the data (raw_data for numbers, string_data for strings).
void tensor_to_proto(const Tensor& t, onnx::TensorProto* p);

}  // namespace hone::onnxio
