#include "ir/stats.h"

namespace hone::ir {

ModelStats compute_stats(const Model& m) {
  ModelStats s;
  for_each_graph(m.graph, [&](const Graph& g, int depth) {
    if (depth > s.max_depth) s.max_depth = depth;
    for (const auto& n : g.nodes) {
      ++s.nodes;
      ++s.op_counts[n.qualified_op()];
    }
    for (const auto& i : g.initializers) {
      auto& p = s.params[std::string(dtype_name(i.tensor.dtype()))];
      for (ParamStats* t : {&p, &s.params_total}) {
        ++t->tensors;
        t->elements += i.tensor.numel();
        t->bytes += i.tensor.nbytes();
      }
      if (i.external) s.external_files[i.external->location] += static_cast<uint64_t>(i.external->length);
    }
  });
  return s;
}

}  // namespace hone::ir
