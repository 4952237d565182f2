// Static shape and type inference, through ONNX's own implementation (libonnx).
#pragma once

#include "hone/status.hpp"
#include "ir/graph.h"

namespace hone::onnxio {

// Infers the type of every intermediate value it can and records it in each graph's
// value_info (subgraphs included); undeclared graph output types are filled in too. Symbolic
// dims stay symbolic. Ops ONNX has no schema for (contrib domains) are skipped, not errors.
Status infer_shapes(ir::Model& m);

}  // namespace hone::onnxio
