// fuse_dynamic_quant_matmul (level 2, session only): ONNX Runtime's dynamic-int8 MatMul chain
//
//   (xq, xs, xzp) = DynamicQuantizeLinear(x)
//   i = MatMulInteger(xq, W, xzp, wzp?)      W: constant int8 [K, N]; wzp: constant int8, 1 or N values
//   f = Cast(i, to=FLOAT)
//   s = Mul(xs, ws)  (either order)          ws: constant float, 1 or N values
//   y = Mul(f, s)    (either order)
//   y = Add(y, bias) (optional, either order) bias: constant float [N]
//   y = Add(y, r)    (optional, either order) r: a residual (skip connection): no constant, and
//                                             no other fused chain's output
//
// becomes one node y = hone.DynQuantMatMul(x, W, wzp, ws, bias, , , , r), which quantizes x and
// runs the int8 GEMM with the scale, bias and residual as its epilogue
// (src/runtime/ops/qlinear_fused.cc): no int32 or float intermediates, one pass over x, and a
// transformer's residual Add costs no pass of its own. The fused op computes the chain's exact
// operations in their order, so outputs do not change. Intermediates read by anything else (or graph outputs) stop the match at
// that point; a DynamicQuantizeLinear or scale Mul still read elsewhere stays. Nodes of the
// internal domain "hone" exist only inside a Session: this pass must never run before an export.
#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>

#include "passes/fusion_util.h"

namespace hone::passes {

namespace {

bool is_const_of(const ir::Graph& g, const std::string& name, DType dtype) {
  const Tensor* t = constant_value(g, name);
  return t && t->dtype() == dtype;
}

// 1 value, or n values along one axis (rank <= 1, or [1, n]).
bool per_column(const Tensor& t, int64_t n) {
  if (t.numel() == 1) return true;
  if (t.numel() != n) return false;
  return t.rank() == 1 || (t.rank() == 2 && t.dim(0) == 1);
}

// The input of `n` that is not `known` when n has exactly two inputs, one of them `known`.
const std::string* other_input(const ir::Node& n, const std::string& known) {
  if (n.inputs.size() != 2) return nullptr;
  if (n.inputs[0] == known) return &n.inputs[1];
  if (n.inputs[1] == known) return &n.inputs[0];
  return nullptr;
}

}  // namespace

void ensure_hone_opset(ir::Model& m) {
  for (const auto& o : m.opsets)
    if (o.domain == kHoneDomain) return;
  m.opsets.push_back({kHoneDomain, 1});
}

Status fuse_dynamic_quant_matmul(ir::Model& m) {
  ir::Graph& g = m.graph;
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer[o] = i;
  auto uses = use_counts(g);
  // The single reader of a value that is no graph output, or nullptr.
  std::unordered_map<std::string, std::vector<size_t>> readers;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) readers[in].push_back(i);
  auto only_reader = [&](const std::string& v) -> ir::Node* {
    if (uses[v] != 1 || is_graph_output(g, v)) return nullptr;
    auto it = readers.find(v);
    return it == readers.end() || it->second.size() != 1 ? nullptr : &g.nodes[it->second[0]];
  };
  auto index_of = [&](const ir::Node* n) { return static_cast<size_t>(n - g.nodes.data()); };

  std::vector<bool> remove(g.nodes.size(), false);
  std::vector<std::pair<size_t, ir::Node>> fused;  // (position, node)
  std::set<size_t> scale_muls, quantizers;          // may die with the chains they fed
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& mmi = g.nodes[i];
    if (!is_onnx_op(mmi, "MatMulInteger") || mmi.inputs.size() < 3 || mmi.outputs.size() != 1) continue;
    // xq may reach the MatMulInteger through a Gather of one slice (hoist_gather cut the rows
    // there: the quantization still sees all of them): the fused node then selects that slice.
    std::string xq = mmi.input(0);
    const ir::Node* select = nullptr;
    std::optional<int64_t> select_index;
    if (auto p = producer.find(xq); p != producer.end() && is_onnx_op(g.nodes[p->second], "Gather")) {
      const ir::Node& gather = g.nodes[p->second];
      if (gather.inputs.size() == 2) select_index = fusion::scalar_int_constant(g, gather.inputs[1]);
      if (!select_index || !only_reader(xq)) continue;
      select = &gather;
      xq = gather.inputs[0];
    }
    auto dq_it = producer.find(xq);
    if (dq_it == producer.end()) continue;
    const ir::Node& dql = g.nodes[dq_it->second];
    if (!is_onnx_op(dql, "DynamicQuantizeLinear") || dql.outputs.size() < 3 || dql.outputs[0] != xq ||
        dql.outputs[2].empty() || dql.outputs[2] != mmi.input(2) || dql.outputs[1].empty())
      continue;
    const Tensor* w = constant_value(g, mmi.input(1));
    if (!w || w->dtype() != DType::kInt8 || w->rank() != 2) continue;
    const int64_t n = w->dim(1);
    const std::string wzp = mmi.input(3);
    if (!wzp.empty() && (!is_const_of(g, wzp, DType::kInt8) || !per_column(*constant_value(g, wzp), n))) continue;
    ir::Node* cast = only_reader(mmi.outputs[0]);
    if (!cast || !is_onnx_op(*cast, "Cast") || cast->attr_int("to", 0) != static_cast<int64_t>(DType::kFloat32)) continue;
    ir::Node* mul = only_reader(cast->outputs[0]);
    if (!mul || !is_onnx_op(*mul, "Mul")) continue;
    const std::string* s = other_input(*mul, cast->outputs[0]);
    if (!s) continue;
    auto s_it = producer.find(*s);
    if (s_it == producer.end()) continue;
    const ir::Node& scale_mul = g.nodes[s_it->second];
    if (!is_onnx_op(scale_mul, "Mul")) continue;
    const std::string* ws = other_input(scale_mul, dql.outputs[1]);
    if (!ws || !is_const_of(g, *ws, DType::kFloat32) || !per_column(*constant_value(g, *ws), n)) continue;
    // A [1, N] scale or zero point broadcasts over a 2-D output only; keep the ranks of the
    // original chain by accepting 1-D (or scalar) parameters for the fused node.
    if (constant_value(g, *ws)->rank() > 1 || (!wzp.empty() && constant_value(g, wzp)->rank() > 1)) continue;
    ir::Node* last = mul;
    std::string bias;
    if (ir::Node* add = only_reader(mul->outputs[0]); add && is_onnx_op(*add, "Add")) {
      const std::string* b = other_input(*add, mul->outputs[0]);
      const Tensor* bt = b ? constant_value(g, *b) : nullptr;
      if (bt && bt->dtype() == DType::kFloat32 && bt->rank() == 1 && bt->dim(0) == n) {
        bias = *b;
        last = add;
      }
    }
    ir::Node f;
    f.name = mmi.name.empty() ? last->outputs[0] + "_dynq" : mmi.name;
    f.op_type = "DynQuantMatMul";
    f.domain = kHoneDomain;
    f.inputs = {dql.input(0), mmi.input(1), wzp, *ws, bias};
    f.outputs = {last->outputs[0]};
    if (select) {
      f.attrs.push_back(fusion::int_attr("select_axis", select->attr_int("axis", 0)));
      f.attrs.push_back(fusion::int_attr("select_index", *select_index));
      remove[index_of(select)] = true;
      erase_value_info(g, select->outputs[0]);
    }
    for (ir::Node* dead : {&g.nodes[i], cast, mul, last}) {
      remove[index_of(dead)] = true;
      for (const auto& o : dead->outputs)
        if (o != last->outputs[0]) erase_value_info(g, o);
    }
    // The fused node reads x where the last node of the chain stood: everything it reads is
    // defined before the DynamicQuantizeLinear, so order is kept.
    fused.emplace_back(index_of(last), std::move(f));
    // The DynamicQuantizeLinear and the scale Mul go when nothing else reads them any more.
    --uses[dql.outputs[0]];
    --uses[dql.outputs[2]];
    --uses[*s];
    scale_muls.insert(s_it->second);
    quantizers.insert(dq_it->second);
  }
  if (fused.empty()) return Status::Ok();
  // Residual Adds: y = Add(chain, r) with r no constant and no other chain's output (Add(q, k)
  // of two GEMMs stays an Add: neither has a better claim). The fused node moves to the Add's
  // place, where r is defined.
  std::set<std::string> chain_outputs;
  for (const auto& [pos, f] : fused) chain_outputs.insert(f.outputs[0]);
  for (auto& [pos, f] : fused) {
    ir::Node* add = only_reader(f.outputs[0]);
    if (!add || !is_onnx_op(*add, "Add") || remove[index_of(add)] || add->outputs.size() != 1) continue;
    const std::string* r = other_input(*add, f.outputs[0]);
    if (!r || r->empty() || *r == f.outputs[0] || constant_value(g, *r) || chain_outputs.count(*r)) continue;
    f.inputs.resize(8);
    f.inputs.push_back(*r);
    erase_value_info(g, f.outputs[0]);
    f.outputs = {add->outputs[0]};
    remove[index_of(add)] = true;
    pos = index_of(add);
  }
  // Scale Muls first: one that died releases its read of the DynamicQuantizeLinear's scale.
  auto dead = [&](const ir::Node& n) {
    for (const auto& o : n.outputs)
      if (!o.empty() && (uses[o] > 0 || is_graph_output(g, o))) return false;
    return true;
  };
  for (size_t i : scale_muls) {
    if (remove[i] || !dead(g.nodes[i])) continue;
    remove[i] = true;
    for (const auto& in : g.nodes[i].inputs) --uses[in];
    erase_value_info(g, g.nodes[i].outputs[0]);
  }
  for (size_t i : quantizers) {
    if (remove[i] || !dead(g.nodes[i])) continue;
    remove[i] = true;
    for (const auto& o : g.nodes[i].outputs) erase_value_info(g, o);
  }
  std::vector<ir::Node> out;
  out.reserve(g.nodes.size());
  size_t next = 0;
  std::sort(fused.begin(), fused.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!remove[i]) out.push_back(std::move(g.nodes[i]));
    while (next < fused.size() && fused[next].first == i) out.push_back(std::move(fused[next++].second));
  }
  g.nodes = std::move(out);
  ensure_hone_opset(m);
  return Status::Ok();
}

}  // namespace hone::passes
