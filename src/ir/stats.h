// What `hone inspect` and the report say about a model: op counts, parameters, external files.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ir/graph.h"

namespace hone::ir {

struct ParamStats {
  int64_t tensors = 0;
  int64_t elements = 0;
  uint64_t bytes = 0;
};

struct ModelStats {
  int64_t nodes = 0;                           // all graphs, subgraphs included
  std::map<std::string, int64_t> op_counts;   // qualified op -> count
  std::map<std::string, ParamStats> params;   // dtype name -> initializer totals
  ParamStats params_total;
  std::map<std::string, uint64_t> external_files;  // location -> bytes referenced
  int max_depth = 0;                                // deepest subgraph nesting
};

ModelStats compute_stats(const Model& m);

}  // namespace hone::ir
