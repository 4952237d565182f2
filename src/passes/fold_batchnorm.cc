// fold_batchnorm: BatchNormalization (inference) after a Conv or Gemm with constant weights
// becomes part of that Conv's / Gemm's weights and bias:
//   BN(y) = (y - mean) * s + b_bn  with  s = scale / sqrt(var + epsilon)
//   Conv:  W'[m] = W[m] * s[m],  bias'[m] = (bias[m] - mean[m]) * s[m] + b_bn[m]
//   Gemm:  B' = B scaled per output column m,  C'[m] = (beta * C[m] - mean[m]) * s[m] + b_bn[m], beta' = 1
// Only when the Conv/Gemm output feeds nothing but the BatchNormalization (and is no graph
// output), everything is float32, and the parameters are per output channel. New weights get
// new names (the old ones may be shared); dead_code removes the old ones when nothing else reads
// them. The arithmetic is done in double; results agree with the unfused graph to rounding.
#include <cmath>

#include "passes/passes.h"

namespace hone::passes {

namespace {

struct BnParams {
  std::vector<double> s, shift;  // BN(y) = y * s + shift, per channel
};

std::optional<BnParams> bn_params(const ir::Graph& g, const ir::Node& bn, int64_t channels, int64_t opset) {
  if (bn.attr_int("training_mode", 0) != 0 || (opset < 9 && bn.attr_int("spatial", 1) != 1)) return std::nullopt;
  for (size_t k = 1; k < bn.outputs.size(); ++k)
    if (!bn.outputs[k].empty()) return std::nullopt;  // running statistics: training mode only
  const Tensor* p[4];
  for (size_t k = 0; k < 4; ++k) {
    p[k] = constant_value(g, bn.input(k + 1));
    if (!p[k] || p[k]->dtype() != DType::kFloat32 || p[k]->rank() != 1 || p[k]->numel() != channels)
      return std::nullopt;
  }
  const double eps = bn.attr_float("epsilon", 1e-5f);
  BnParams r;
  for (int64_t c = 0; c < channels; ++c) {
    const double scale = p[0]->data<float>()[c], beta = p[1]->data<float>()[c];
    const double mean = p[2]->data<float>()[c], var = p[3]->data<float>()[c];
    const double s = scale / std::sqrt(var + eps);
    r.s.push_back(s);
    r.shift.push_back(beta - mean * s);
  }
  return r;
}

std::string add_initializer(ir::Graph& g, const std::string& base, Tensor t) {
  std::string name = unique_name(g, base);
  g.initializers.push_back({name, std::move(t), {}, std::nullopt});
  return name;
}

// Rewrites a Conv to include the BN; false when the Conv does not qualify.
bool fold_into_conv(ir::Graph& g, ir::Node& conv, const ir::Node& bn, int64_t opset) {
  const Tensor* w = constant_value(g, conv.input(1));
  if (!w || w->dtype() != DType::kFloat32 || w->rank() < 3 || w->dim(0) == 0) return false;
  const int64_t m = w->dim(0);
  const Tensor* bias = conv.input(2).empty() ? nullptr : constant_value(g, conv.input(2));
  if (!conv.input(2).empty() && (!bias || bias->dtype() != DType::kFloat32 || bias->numel() != m)) return false;
  auto p = bn_params(g, bn, m, opset);
  if (!p) return false;
  auto new_w = Tensor::create(DType::kFloat32, w->shape());
  auto new_b = Tensor::create(DType::kFloat32, {m});
  if (!new_w.ok() || !new_b.ok()) return false;
  const int64_t per_channel = w->numel() / m;
  for (int64_t c = 0; c < m; ++c) {
    for (int64_t k = 0; k < per_channel; ++k)
      new_w->data<float>()[c * per_channel + k] = static_cast<float>(w->data<float>()[c * per_channel + k] * p->s[c]);
    const double b = bias ? bias->data<float>()[c] : 0.0;
    new_b->data<float>()[c] = static_cast<float>(b * p->s[c] + p->shift[c]);
  }
  const std::string w_name = add_initializer(g, conv.input(1) + "_bnfold", std::move(new_w).value());
  const std::string b_name = add_initializer(g, (conv.input(2).empty() ? conv.input(1) + "_bias" : conv.input(2)) + "_bnfold",
                                             std::move(new_b).value());
  conv.inputs.resize(3);
  conv.inputs[1] = w_name;
  conv.inputs[2] = b_name;
  return true;
}

bool fold_into_gemm(ir::Graph& g, ir::Node& gemm, const ir::Node& bn, int64_t opset) {
  const Tensor* b = constant_value(g, gemm.input(1));
  if (!b || b->dtype() != DType::kFloat32 || b->rank() != 2) return false;
  const bool trans_b = gemm.attr_int("transB", 0) != 0;
  const int64_t k_dim = trans_b ? b->dim(1) : b->dim(0), m = trans_b ? b->dim(0) : b->dim(1);
  if (m == 0) return false;
  const Tensor* c = gemm.input(2).empty() ? nullptr : constant_value(g, gemm.input(2));
  if (!gemm.input(2).empty()) {
    // C must be per output column (or one scalar): [M], [1, M], [] or [1].
    if (!c || c->dtype() != DType::kFloat32) return false;
    const bool per_column = c->numel() == m && (c->rank() == 1 || (c->rank() == 2 && c->dim(0) == 1));
    if (!per_column && c->numel() != 1) return false;
  }
  auto p = bn_params(g, bn, m, opset);
  if (!p) return false;
  auto new_b = Tensor::create(DType::kFloat32, b->shape());
  auto new_c = Tensor::create(DType::kFloat32, {m});
  if (!new_b.ok() || !new_c.ok()) return false;
  for (int64_t k = 0; k < k_dim; ++k)
    for (int64_t j = 0; j < m; ++j) {
      const int64_t at = trans_b ? j * k_dim + k : k * m + j;
      new_b->data<float>()[at] = static_cast<float>(b->data<float>()[at] * p->s[j]);
    }
  const double beta = gemm.attr_float("beta", 1.f);
  for (int64_t j = 0; j < m; ++j) {
    const double cj = c ? c->data<float>()[c->numel() == 1 ? 0 : j] : 0.0;
    new_c->data<float>()[j] = static_cast<float>(beta * cj * p->s[j] + p->shift[j]);
  }
  const std::string b_name = add_initializer(g, gemm.input(1) + "_bnfold", std::move(new_b).value());
  const std::string c_name = add_initializer(g, (c ? gemm.input(2) : gemm.input(1) + "_bias") + "_bnfold",
                                             std::move(new_c).value());
  gemm.inputs.resize(3);
  gemm.inputs[1] = b_name;
  gemm.inputs[2] = c_name;
  std::erase_if(gemm.attrs, [](const ir::Attribute& a) { return a.name == "beta"; });
  ir::Attribute one;
  one.name = "beta";
  one.type = ir::AttrType::kFloat;
  one.f = 1.f;
  gemm.attrs.push_back(std::move(one));
  return true;
}

}  // namespace

Status fold_batchnorm(ir::Model& m) {
  ir::Graph& g = m.graph;
  const int64_t opset = m.opset("");
  const auto uses = use_counts(g);
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) producer[o] = i;
  std::vector<bool> remove(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& bn = g.nodes[i];
    if (!is_onnx_op(bn, "BatchNormalization") || bn.outputs.empty() || bn.outputs[0].empty()) continue;
    const std::string y = bn.input(0);
    auto it = producer.find(y);
    if (it == producer.end() || uses.at(y) != 1 || is_graph_output(g, y)) continue;
    ir::Node& prev = g.nodes[it->second];
    if (prev.outputs.size() != 1) continue;
    const bool folded = (is_onnx_op(prev, "Conv") && fold_into_conv(g, prev, bn, opset)) ||
                        (is_onnx_op(prev, "Gemm") && fold_into_gemm(g, prev, bn, opset));
    if (!folded) continue;
    prev.outputs[0] = bn.outputs[0];
    erase_value_info(g, y);
    remove[i] = true;
  }
  erase_nodes(g, remove);
  return Status::Ok();
}

}  // namespace hone::passes
