// fuse_dynamic_quant_producer (level 2, session only; after fuse_dynamic_quant_matmul): the
// activation quantization of hone.DynQuantMatMul moved into the op that makes the activation.
//
//   y = LayerNormalization(x, scale, b)   (last axis; Scale/B constant float vectors; no Mean/InvStdDev)
//   y = hone.Gelu(x)
//   ... hone.DynQuantMatMul(y, ...)  or  hone.DynQuantMatMul(Transpose(y), ...)
//
// becomes (y, yq, ys, yzp) = hone.LayerNormDynQuant / hone.GeluDynQuant(...), and every
// hone.DynQuantMatMul reading y (directly or through one Transpose) gets (yq, ys, yzp) as its
// inputs 5-7, plus attribute xq_perm = the Transpose's perm in the second form (the op uses the
// bytes when the transpose keeps memory order, as BERT's [1, S, D] -> [S, 1, D] does, and quantizes
// its x itself otherwise: shapes are only known at run time). So y is quantized once, in the
// producer's own pass over it (src/runtime/ops/dynamic_quant_fused.cc), however many GEMMs read
// it; y stays an output for its other readers (LayerNorm's residual Add). The results are the
// unfused chain's to the last bit: same row kernels, same range, same rounding.
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace hone::passes {

namespace {

bool is_float_vector(const ir::Graph& g, const std::string& name) {
  const Tensor* t = constant_value(g, name);
  return t && t->dtype() == DType::kFloat32 && t->rank() == 1;
}

// Whether node n is a producer this pass can fuse (the fused op's conditions, checked statically
// where they can be; shapes are checked by the op at run time).
bool fusable_producer(const ir::Graph& g, const ir::Node& n) {
  if (n.outputs.empty() || n.outputs[0].empty() || n.inputs.empty() || n.inputs[0].empty()) return false;
  if (is_onnx_op(n, "LayerNormalization")) {
    for (size_t i = 1; i < n.outputs.size(); ++i)
      if (!n.outputs[i].empty()) return false;  // Mean / InvStdDev: the fused op does not make them
    if (n.attr_int("axis", -1) != -1 || n.attr_int("stash_type", 1) != 1) return false;
    if (n.inputs.size() < 2 || !is_float_vector(g, n.inputs[1])) return false;
    return n.input(2).empty() || is_float_vector(g, n.input(2));
  }
  if (n.domain == kHoneDomain && n.op_type == "Gelu") {
    const std::string a = n.attr_string("approximate", "none");
    return n.outputs.size() == 1 && (a == "none" || a == "tanh");
  }
  return false;
}

}  // namespace

Status fuse_dynamic_quant_producer(ir::Model& m) {
  ir::Graph& g = m.graph;
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer[o] = i;
  // Per fusable producer: the GEMMs that will read its quantized output, with the perm of the
  // Transpose between them (empty: none).
  std::map<size_t, std::vector<std::pair<size_t, std::vector<int64_t>>>> readers;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& d = g.nodes[i];
    if (d.domain != kHoneDomain || d.op_type != "DynQuantMatMul" || !d.input(5).empty() || d.input(0).empty()) continue;
    auto p = producer.find(d.input(0));
    if (p == producer.end()) continue;
    std::vector<int64_t> perm;
    if (is_onnx_op(g.nodes[p->second], "Transpose")) {
      const ir::Node& t = g.nodes[p->second];
      const ir::Attribute* a = t.attr("perm");
      if (!a || a->ints.empty() || t.input(0).empty()) continue;  // no perm: reversed dims, rank unknown here
      perm = a->ints;
      p = producer.find(t.input(0));
      if (p == producer.end()) continue;
    }
    if (!fusable_producer(g, g.nodes[p->second])) continue;
    readers[p->second].emplace_back(i, std::move(perm));
  }
  if (readers.empty()) return Status::Ok();
  for (auto& [pi, gemms] : readers) {
    ir::Node& n = g.nodes[pi];
    const std::string y = n.outputs[0];
    const std::string yq = unique_name(g, y + "_dynq");
    const std::string ys = unique_name(g, y + "_dynq_scale");
    const std::string yzp = unique_name(g, y + "_dynq_zero_point");
    n.op_type = n.op_type == "Gelu" ? "GeluDynQuant" : "LayerNormDynQuant";
    n.domain = kHoneDomain;
    n.outputs = {y, yq, ys, yzp};
    for (auto& [gi, perm] : gemms) {
      ir::Node& d = g.nodes[gi];
      if (d.inputs.size() < 8) d.inputs.resize(8);  // input 8 (a residual) stays where it is
      d.inputs[5] = yq;
      d.inputs[6] = ys;
      d.inputs[7] = yzp;
      if (!perm.empty()) d.attrs.push_back(fusion::ints_attr("xq_perm", std::move(perm)));
    }
  }
  ensure_hone_opset(m);
  return Status::Ok();
}

}  // namespace hone::passes
