// Estimated arithmetic cost of a graph, from the value types recorded in it (run shape inference
// first). One multiply-add counts as two FLOPs, as every published figure does.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ir/graph.h"

namespace hone::ir {

struct FlopEstimate {
  double total = 0;
  std::map<std::string, double> by_op;  // op type -> FLOPs
  int64_t counted_nodes = 0;
  int64_t unknown_nodes = 0;  // nodes of a counted op type whose shapes were not known
};

// Counts Conv, ConvTranspose, Gemm, MatMul (and their quantized forms) in the top-level graph.
FlopEstimate estimate_flops(const Graph& g);

}  // namespace hone::ir
