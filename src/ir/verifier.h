// Structural checks on an ir::Model. Import runs them on every file; tests run them after every
// pass, so a pass that breaks the graph is caught where it happened.
#pragma once

#include "hone/status.hpp"
#include "ir/graph.h"

namespace hone::ir {

// Every node input is defined before use (graph input, initializer, earlier node output or a
// value of an enclosing graph); every value is produced once; graph outputs exist; initializer
// types agree with declared input types; attributes that restate a tensor's shape agree with it
// (Conv's kernel_shape and group against its weight, ...).
Status verify(const Model& m);
Status verify_graph(const Graph& g);

// Reorders nodes so that producers precede consumers (ONNX requires it; some exporters do not
// comply). Keeps the original order where it is already valid. Fails on a cycle.
Status sort_topologically(Model& m);

}  // namespace hone::ir
