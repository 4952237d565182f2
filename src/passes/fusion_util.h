// Pattern-matching helpers of the fp32 fusion passes (fuse_layernorm, fuse_gelu,
// fuse_matmul_bias, fuse_conv_activation, fuse_attention): who produces and who reads each
// value, scalar constants, and the "hone" internal domain the fused nodes live in. Internal to
// src/passes.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "passes/passes.h"

namespace hone::passes::fusion {

// The internal op domain: nodes of it exist only inside a Session (passes of level 2 make them;
// quantize, which runs level 1, never exports them).
inline constexpr const char* kInternalDomain = "hone";

struct GraphIndex {
  std::unordered_map<std::string, size_t> producer;                // value -> index of the node writing it
  std::unordered_map<std::string, std::vector<size_t>> consumers;  // value -> nodes reading it (once per input slot)
  std::unordered_map<std::string, int> uses;                       // as passes::use_counts
};

inline GraphIndex index_graph(const ir::Graph& g) {
  GraphIndex ix;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) ix.producer[o] = i;
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) ix.consumers[in].push_back(i);
  }
  ix.uses = use_counts(g);
  return ix;
}

// The node that reads `value` when exactly one node input in the graph does (and it is not a
// graph output nor read inside a subgraph); nullopt otherwise.
inline std::optional<size_t> sole_consumer(const ir::Graph& g, const GraphIndex& ix, const std::string& value) {
  auto u = ix.uses.find(value);
  auto c = ix.consumers.find(value);
  if (u == ix.uses.end() || u->second != 1 || c == ix.consumers.end() || c->second.size() != 1) return std::nullopt;
  if (is_graph_output(g, value)) return std::nullopt;
  return c->second.front();
}

// The producing node when it is an ONNX op of type `op`.
inline const ir::Node* produced_by(const ir::Graph& g, const GraphIndex& ix, const std::string& value, const char* op) {
  auto p = ix.producer.find(value);
  if (p == ix.producer.end()) return nullptr;
  const ir::Node& n = g.nodes[p->second];
  return is_onnx_op(n, op) ? &n : nullptr;
}

// The value of a constant (initializer) holding one float32/float64 element.
inline std::optional<double> scalar_constant(const ir::Graph& g, const std::string& name) {
  const Tensor* t = constant_value(g, name);
  if (!t || t->numel() != 1) return std::nullopt;
  if (t->dtype() == DType::kFloat32) return static_cast<double>(t->data<float>()[0]);
  if (t->dtype() == DType::kFloat64) return t->data<double>()[0];
  return std::nullopt;
}

// The value of an initializer holding one int64/int32 element as a rank-0 tensor (a Gather's
// index that removes its axis).
inline std::optional<int64_t> scalar_int_constant(const ir::Graph& g, const std::string& name) {
  const Tensor* t = constant_value(g, name);
  if (!t || t->rank() != 0) return std::nullopt;
  if (t->dtype() == DType::kInt64) return t->data<int64_t>()[0];
  if (t->dtype() == DType::kInt32) return t->data<int32_t>()[0];
  return std::nullopt;
}

inline bool near(std::optional<double> v, double want, double rel = 1e-4) {
  return v && std::fabs(*v - want) <= rel * std::fabs(want);
}

// For a commutative binary node reading `known`: its other input ("" when neither input is it).
inline std::string other_input(const ir::Node& n, const std::string& known) {
  if (n.inputs.size() != 2) return "";
  if (n.inputs[0] == known) return n.inputs[1];
  if (n.inputs[1] == known) return n.inputs[0];
  return "";
}

// Declares the internal domain in the model's opset imports (the executor finds kernels by it).
inline void declare_internal_domain(ir::Model& m) {
  for (const auto& o : m.opsets)
    if (o.domain == kInternalDomain) return;
  m.opsets.push_back({kInternalDomain, 1});
}

inline ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}
inline ir::Attribute float_attr(const std::string& name, float v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kFloat;
  a.f = v;
  return a;
}
inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}
inline ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

// Drops the declared types of values the fusion removed.
inline void forget_values(ir::Graph& g, const std::vector<std::string>& values) {
  for (const auto& v : values) erase_value_info(g, v);
}

// Two-node fusion: `fused` takes the place and the outputs of node c, the sole consumer of node
// i's single output; node i is marked for removal and the value between them is forgotten.
inline void fuse_into_consumer(ir::Graph& g, std::vector<bool>& remove, size_t i, size_t c, ir::Node fused) {
  fused.outputs = g.nodes[c].outputs;
  const std::string dropped = g.nodes[i].outputs[0];
  remove[i] = true;
  g.nodes[c] = std::move(fused);
  forget_values(g, {dropped});
}

// The opset of the default ONNX domain.
inline int64_t onnx_opset(const ir::Model& m) {
  for (const auto& o : m.opsets)
    if (ir::canonical_domain(o.domain).empty()) return o.version;
  return 0;
}

// An activation node that hone.FusedConv / hone.FusedMatMul can absorb, as the attributes they
// read (runtime/ops/fused_activation.h); empty when `n` is none.
inline std::vector<ir::Attribute> activation_attrs(const ir::Graph& g, const ir::Node& n) {
  const std::string dom = ir::canonical_domain(n.domain);
  if (dom.empty() && n.op_type == "Relu") return {string_attr("activation", "Relu")};
  if (dom.empty() && n.op_type == "LeakyRelu")
    return {string_attr("activation", "LeakyRelu"), float_attr("activation_alpha", n.attr_float("alpha", 0.01f))};
  if (dom.empty() && n.op_type == "Sigmoid") return {string_attr("activation", "Sigmoid")};
  if (dom.empty() && n.op_type == "Tanh") return {string_attr("activation", "Tanh")};
  if ((dom.empty() && n.op_type == "Gelu") || (dom == kInternalDomain && n.op_type == "Gelu")) {
    const std::string approx = n.attr_string("approximate", "none");
    if (approx == "none") return {string_attr("activation", "Gelu")};
    if (approx == "tanh") return {string_attr("activation", "GeluTanh")};
    return {};
  }
  if (dom.empty() && n.op_type == "Clip") {
    float lo = -INFINITY, hi = INFINITY;
    if (n.attr("min") || n.attr("max")) {  // opset < 11: attributes
      lo = n.attr_float("min", lo);
      hi = n.attr_float("max", hi);
    } else {
      for (size_t k = 1; k < 3; ++k) {
        if (n.input(k).empty()) continue;
        const Tensor* t = constant_value(g, n.input(k));
        if (!t || t->numel() != 1 || t->dtype() != DType::kFloat32) return {};
        (k == 1 ? lo : hi) = t->data<float>()[0];
      }
    }
    // oneDNN's clip is min(max(x, lo), hi) like ONNX's; infinite bounds pass through it.
    return {string_attr("activation", "Clip"), float_attr("activation_alpha", lo), float_attr("activation_beta", hi)};
  }
  return {};
}

}  // namespace hone::passes::fusion
