// ONNX file -> ir::Model. The only door through which model files enter hone.
#pragma once

#include <string>
#include <string_view>

#include "hone/status.hpp"
#include "hone/tensor.hpp"
#include "ir/graph.h"

namespace hone::onnxio {

struct LoadOptions {
  bool verify = true;  // run ir::verify and the op-schema check after import
};

// Loads a model file; external data resolves against the file's folder.
Result<ir::Model> load_model(const std::string& path, const LoadOptions& options = {});
// Parses serialized ModelProto bytes; `model_dir` is where external data lives ("" for none).
Result<ir::Model> parse_model(std::string_view bytes, const std::string& model_dir, const LoadOptions& options = {});
// Reads a standalone serialized TensorProto (the conformance suite's input_N.pb / output_N.pb).
Result<Tensor> load_tensor_file(const std::string& path);

}  // namespace hone::onnxio
