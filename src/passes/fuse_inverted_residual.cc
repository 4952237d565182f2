// fuse_inverted_residual: MobileNet-v2's inverted-residual block, three fp32 hone.NhwcConv nodes
//   expand 1x1 (+ Relu/Clip) -> depthwise 3x3 stride 1|2 pad 1 (+ Relu/Clip) -> project 1x1
//   (+ the residual Sum layout_nhwc folded in, + Relu/Clip)
// each value between them read only by the next, becomes one hone.NhwcInvertedResidual node
// (runtime/ops/nhwc_inverted_residual.cc), whose kernel keeps the 6x-expanded rows in cache
// instead of writing the expanded tensor to memory and reading it back. A depthwise + project
// pair with no expand conv before it (MobileNet-v2's first block) fuses the same way.
//
// Only where the fused kernel beats oneDNN's three convolutions (kernels/x86/inverted_residual.h,
// inverted_residual_fusion_pays; docs/kernels_fp32.md has the measurements) and only on CPUs with
// its AVX-512 path. Runs after layout_nhwc, which makes the hone.NhwcConv nodes and folds the
// residual Add into the projection.
#include "kernels/x86/inverted_residual.h"
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// A geometry attribute absent (ONNX's default) or of `count` values all equal to `want`.
bool attr_all(const ir::Node& n, const char* name, size_t count, int64_t want) {
  if (!n.attr(name)) return true;
  const std::vector<int64_t> v = n.attr_ints(name);
  if (v.size() != count) return false;
  for (int64_t x : v)
    if (x != want) return false;
  return true;
}

// No activation, Relu or Clip: the clamps the fused kernel applies.
bool clamp_activation(const ir::Node& n) {
  const std::string act = n.attr_string("activation", "");
  return act.empty() || act == "Relu" || act == "Clip";
}

// An fp32 hone.NhwcConv with constant weights W of `w_shape`, a constant fp32 bias [W[0]] or
// none, explicit pads, dilation 1, a clamp activation, and a Sum input only when `sum_ok`.
bool nhwc_conv_with(const ir::Graph& g, const ir::Node& n, const Shape& w_shape, bool sum_ok) {
  if (n.domain != kInternalDomain || n.op_type != "NhwcConv" || n.outputs.size() != 1 || n.inputs.size() < 2 ||
      n.inputs.size() > (sum_ok ? 4u : 3u) || n.inputs[0].empty() || !clamp_activation(n))
    return false;
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (!(auto_pad == "NOTSET" || auto_pad.empty()) || !attr_all(n, "dilations", 2, 1)) return false;
  const Tensor* w = constant_value(g, n.inputs[1]);
  if (!w || w->dtype() != DType::kFloat32 || w->shape() != w_shape) return false;
  if (!n.input(2).empty()) {
    const Tensor* b = constant_value(g, n.inputs[2]);
    if (!b || b->dtype() != DType::kFloat32 || b->shape() != Shape{w_shape[0]}) return false;
  }
  if (n.attr("kernel_shape") && n.attr_ints("kernel_shape") != std::vector<int64_t>{w_shape[2], w_shape[3]})
    return false;
  return true;
}

// A 1x1 conv, one group, stride 1, no pads; its W's shape, or an empty shape.
Shape pointwise_weights(const ir::Graph& g, const ir::Node& n, bool sum_ok) {
  if (n.domain != kInternalDomain || n.op_type != "NhwcConv" || n.inputs.size() < 2) return {};
  const Tensor* w = constant_value(g, n.inputs[1]);
  if (!w || w->rank() != 4) return {};
  const Shape s = w->shape();
  if (s[2] != 1 || s[3] != 1 || !nhwc_conv_with(g, n, s, sum_ok)) return {};
  if (n.attr_int("group", 1) != 1 || !attr_all(n, "strides", 2, 1) || !attr_all(n, "pads", 4, 0)) return {};
  return s;
}

// The depthwise 3x3 on `channels` channels with pads 1: its stride (1 or 2), or 0.
int64_t depthwise_stride(const ir::Graph& g, const ir::Node& n, int64_t channels) {
  if (!nhwc_conv_with(g, n, {channels, 1, 3, 3}, false) || n.attr_int("group", 1) != channels) return 0;
  if (!n.attr("pads") || !attr_all(n, "pads", 4, 1)) return 0;
  for (int64_t s : {1, 2})
    if (attr_all(n, "strides", 2, s)) return s;
  return 0;
}

void copy_activation(const ir::Node& from, const std::string& prefix, ir::Node& to) {
  for (const auto& a : from.attrs)
    if (a.name.rfind("activation", 0) == 0) {
      ir::Attribute renamed = a;
      renamed.name = prefix + a.name;
      to.attrs.push_back(std::move(renamed));
    }
}

// expand (may be null) + depthwise + project as one node, in the project's place.
ir::Node fused_node(const ir::Node* expand, const ir::Node& dw, const ir::Node& project, int64_t stride) {
  ir::Node f;
  f.name = project.name;
  f.op_type = "NhwcInvertedResidual";
  f.domain = kInternalDomain;
  f.inputs = {expand ? expand->inputs[0] : dw.inputs[0],
              expand ? expand->inputs[1] : "",
              expand ? expand->input(2) : "",
              dw.inputs[1],
              dw.input(2),
              project.inputs[1],
              project.input(2),
              project.input(3)};
  while (f.inputs.back().empty()) f.inputs.pop_back();
  if (expand) copy_activation(*expand, "expand_", f);
  copy_activation(dw, "dw_", f);
  copy_activation(project, "", f);
  f.attrs.push_back(ints_attr("strides", {stride, stride}));
  f.outputs = project.outputs;
  return f;
}

}  // namespace

Status fuse_inverted_residual(ir::Model& m) {
  if (!kernels::x86::isa_available(kernels::x86::Isa::kAvx512)) return Status::Ok();
  ir::Graph& g = m.graph;
  const GraphIndex ix = index_graph(g);
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  // The depthwise + project pair behind node d (a depthwise conv): the project's index and the
  // stride, or nullopt.
  auto block_tail = [&](size_t d, int64_t channels) -> std::optional<std::pair<size_t, int64_t>> {
    const int64_t stride = depthwise_stride(g, g.nodes[d], channels);
    if (!stride) return std::nullopt;
    auto p = sole_consumer(g, ix, g.nodes[d].outputs[0]);
    if (!p || remove[*p] || g.nodes[*p].inputs[0] != g.nodes[d].outputs[0]) return std::nullopt;
    const Shape pw = pointwise_weights(g, g.nodes[*p], /*sum_ok=*/true);
    if (pw.empty() || pw[1] != channels) return std::nullopt;
    return std::make_pair(*p, stride);
  };
  // Whole blocks first: expand -> depthwise -> project.
  for (size_t e = 0; e < g.nodes.size(); ++e) {
    if (remove[e]) continue;
    const Shape we = pointwise_weights(g, g.nodes[e], /*sum_ok=*/false);
    if (we.empty()) continue;
    auto d = sole_consumer(g, ix, g.nodes[e].outputs[0]);
    if (!d || remove[*d] || g.nodes[*d].inputs[0] != g.nodes[e].outputs[0]) continue;
    auto tail = block_tail(*d, we[0]);
    if (!tail) continue;
    const auto [p, stride] = *tail;
    const int64_t c_out = constant_value(g, g.nodes[p].inputs[1])->dim(0);
    if (!kernels::x86::inverted_residual_fusion_pays(we[1], we[0], c_out)) continue;
    const std::vector<std::string> dropped = {g.nodes[e].outputs[0], g.nodes[*d].outputs[0]};
    ir::Node fused = fused_node(&g.nodes[e], g.nodes[*d], g.nodes[p], stride);
    remove[e] = remove[*d] = true;
    g.nodes[p] = std::move(fused);
    forget_values(g, dropped);
    changed = true;
  }
  // Then blocks without an expand conv: depthwise -> project. Not after a 1x1 conv that only the
  // depthwise reads: that whole block was refused above (weights too large) and stays as it is.
  for (size_t d = 0; d < g.nodes.size(); ++d) {
    const ir::Node& n = g.nodes[d];
    if (remove[d] || n.domain != kInternalDomain || n.op_type != "NhwcConv" || n.inputs.size() < 2) continue;
    auto producer = ix.producer.find(n.inputs[0]);
    if (producer != ix.producer.end() && !remove[producer->second] &&
        !pointwise_weights(g, g.nodes[producer->second], /*sum_ok=*/false).empty() &&
        sole_consumer(g, ix, n.inputs[0]) == d)
      continue;
    const Tensor* w = constant_value(g, n.inputs[1]);
    if (!w || w->rank() != 4) continue;
    const int64_t channels = w->dim(0);
    auto tail = block_tail(d, channels);
    if (!tail) continue;
    const auto [p, stride] = *tail;
    const int64_t c_out = constant_value(g, g.nodes[p].inputs[1])->dim(0);
    if (!kernels::x86::inverted_residual_fusion_pays(0, channels, c_out)) continue;
    const std::vector<std::string> dropped = {n.outputs[0]};
    ir::Node fused = fused_node(nullptr, n, g.nodes[p], stride);
    remove[d] = true;
    g.nodes[p] = std::move(fused);
    forget_values(g, dropped);
    changed = true;
  }
  if (changed) {
    erase_nodes(g, remove);
    declare_internal_domain(m);
  }
  return Status::Ok();
}

}  // namespace hone::passes
