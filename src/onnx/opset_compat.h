// Whether raising a model's default-domain opset import keeps the meaning of its ops: an op means
// the same at two opset versions when ONNX resolves both to the same schema (same since_version).
// Quantization needs opset 13 (per-channel DequantizeLinear); raising an older model is only safe
// when no op it uses changed in between, which libonnx's schema registry can tell.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace hone::onnxio {

// Default-domain op types (main graph and subgraphs) whose schema differs between opset `from`
// and opset `to` (or that have no schema at either), sorted and unique, leaving out changes
// known to only widen types or add defaulted attributes (a table in the .cc, valid up to 13).
// Empty: raising is safe.
std::vector<std::string> ops_changed_between(const ir::Model& m, int64_t from, int64_t to);

}  // namespace hone::onnxio
