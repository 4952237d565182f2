// fuse_dynamic_quant_activation (level 2, session only; after fuse_dynamic_quant_producer): the
// GELU after an int8 GEMM, and the activation quantization fused into that GELU, moved into the
// GEMM itself.
//
//   y = hone.DynQuantMatMul(...)                      (no residual input; y read by nothing else)
//   (g, gq, gs, gzp) = hone.GeluDynQuant(y)   or   g = hone.Gelu(y)
//
// becomes (g, gq, gs, gzp) = hone.DynQuantMatMul(...) (or g = ...) with attributes
// activation = "Gelu" and the GELU's approximate. BERT's feed-forward block is this pattern:
// linear1 -> GELU -> linear2, where linear2 reads gq. The op applies the GELU and scans the range
// on the part of the output each thread has just computed, then quantizes that part (runtime/ops/
// qlinear_fused.cc), instead of a separate op reading 128 x 3072 floats back across cores. The
// results are the unfused ops' to the last bit: the GELU's own kernel, the same range and rounding.
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

bool is_hone_op(const ir::Node& n, const char* op) { return n.domain == kInternalDomain && n.op_type == op; }

}  // namespace

Status fuse_dynamic_quant_activation(ir::Model& m) {
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& gemm = g.nodes[i];
    if (!is_hone_op(gemm, "DynQuantMatMul") || remove[i] || gemm.outputs.size() != 1 || gemm.outputs[0].empty())
      continue;
    if (!gemm.input(8).empty() || gemm.attr("activation")) continue;  // a residual is added before any activation
    auto c = sole_consumer(g, ix, gemm.outputs[0]);
    if (!c || remove[*c]) continue;
    const ir::Node& act = g.nodes[*c];
    const bool quantizes = is_hone_op(act, "GeluDynQuant");
    if (!quantizes && !is_hone_op(act, "Gelu")) continue;
    if (act.inputs.size() != 1 || act.outputs.size() != (quantizes ? 4u : 1u)) continue;
    const std::string approximate = act.attr_string("approximate", "none");
    if (approximate != "none" && approximate != "tanh") continue;
    ir::Node fused = gemm;
    fused.attrs.push_back(string_attr("activation", "Gelu"));
    fused.attrs.push_back(string_attr("approximate", approximate));
    fuse_into_consumer(g, remove, i, *c, std::move(fused));
    changed = true;
  }
  if (changed) erase_nodes(g, remove);
  return Status::Ok();
}

}  // namespace hone::passes
