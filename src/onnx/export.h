// ir::Model -> ONNX file. Lossless for what import read: same nodes, bit-identical initializers,
// same opsets and metadata.
#pragma once

#include <cstdint>
#include <string>

#include "hone/status.hpp"
#include "ir/graph.h"

namespace hone::onnxio {

struct SaveOptions {
  // Initializers of at least this many bytes go to an external data file beside the model
  // ("<model file name>.<16 hex digits of a content hash>.data") when external data is used. External data is used when
  // `external_data` is set, or when the model would not fit protobuf's 2 GiB limit.
  bool external_data = false;
  uint64_t external_threshold_bytes = 1024;
};

// Serializes to ONNX bytes in memory (no external data; fails past 2 GiB).
Result<std::string> serialize_model(const ir::Model& m);
// Writes the model (and its external data file, if any) atomically. Refuses to write over the
// model's own source file or its external data files.
Status save_model(const ir::Model& m, const std::string& path, const SaveOptions& options = {});

}  // namespace hone::onnxio
