// fuse_qdq (level 2): static QDQ chains around Conv and MatMul become ONNX's integer ops, which
// run on oneDNN's int8 kernels (src/runtime/ops/conv_integer.cc, quantize.cc):
//
//   DQ(xq, sx, zx) ─► Conv ◄─ DQ(Wq int8 const, sw, zw) ; bias ◄─ DQ(int32 const, sx*sw) | float const
//                      └─► QuantizeLinear(sy, zy) ─► yq
//   becomes yq = QLinearConv(xq, sx, zx, Wq, sw, zw, sy, zy, bias_int32)
//
//   DQ(xq, sx, zx) ─► MatMul ◄─ DQ(Wq int8 const [K, N], sw (1 or N, axis 1), zw) ─► Q(sy, zy) ─► yq
//   becomes yq = QLinearMatMul(xq, sx, zx, Wq, sw, zw, sy, zy)
//
// This is the form hone's own static quantizer writes (src/quant/quantize_static.cc) and ONNX
// Runtime's QDQ quantizer writes. Only when the Conv/MatMul output feeds nothing but the
// QuantizeLinear, every scale and zero point is a constant (activations per tensor), and a float
// bias fits int32 once divided by sx * sw. A Relu between the op and the QuantizeLinear is
// absorbed when the output zero point is the type's minimum (saturation does its work). The integer op computes the exact int32 sums and
// requantizes once, where the QDQ graph computes in float on dequantized values and rounds the
// same way: outputs agree to one quantization step (float sums round differently near ties), the
// tolerance documented in docs/int8.md. The DequantizeLinear nodes stay for their other readers;
// dead_code removes those left unread. DQ -> Relu/Clip/LeakyRelu -> Q becomes a 256-entry table
// lookup on the 8-bit values (hone.QLookup, below). Then the forms of fuse_qdq_ops.cc: residual
// Adds, pools, and MatMul / Gemm with a float output. A Clip between the op and its Q is not
// fused yet.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>

#include "passes/passes.h"

namespace hone::passes {

namespace {

bool scalar_const(const ir::Graph& g, const std::string& name, DType dtype) {
  const Tensor* t = constant_value(g, name);
  return t && t->dtype() == dtype && t->numel() == 1;
}

// New initializers wait here until the scan is over: pointers into g.initializers (the scan
// holds several) must stay valid.
struct NewInits {
  std::vector<ir::Initializer> list;
  std::string add(const ir::Graph& g, const std::string& base, Tensor t) {
    std::string name = unique_name(g, base);
    for (int k = 1; std::any_of(list.begin(), list.end(), [&](const ir::Initializer& i) { return i.name == name; }); ++k)
      name = unique_name(g, base + "_" + std::to_string(k));
    list.push_back({name, std::move(t), {}, std::nullopt});
    return name;
  }
  // A constant zero point input, or a new tensor of zeros of `dtype` shaped like `like`.
  std::string zero_point_or_zeros(const ir::Graph& g, const std::string& zp, DType dtype, const Shape& like,
                                  const std::string& base) {
    if (!zp.empty()) return zp;
    auto t = Tensor::create(dtype, like);
    return t.ok() ? add(g, base, std::move(t).value()) : std::string();
  }
};

struct Producers {
  std::unordered_map<std::string, size_t> index;
  const ir::Node* of(const ir::Graph& g, const std::string& v) const {
    auto it = index.find(v);
    return it == index.end() ? nullptr : &g.nodes[it->second];
  }
};

}  // namespace

// The second stage (fuse_qdq_ops.cc): the QDQ forms around Add, MaxPool, GlobalAveragePool and
// float-output MatMul / Gemm, after this file's forms have taken the MatMuls followed by a Q.
Status fuse_qdq_ops(ir::Model& m);

namespace {

Status fuse_qdq_conv_matmul_lookup(ir::Model& m) {
  ir::Graph& g = m.graph;
  Producers prod;
  std::unordered_map<std::string, std::vector<size_t>> readers;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs)
      if (!o.empty()) prod.index[o] = i;
    for (const auto& in : g.nodes[i].inputs)
      if (!in.empty()) readers[in].push_back(i);
  }
  const auto uses = use_counts(g);
  std::vector<bool> remove(g.nodes.size(), false);
  std::vector<std::pair<size_t, ir::Node>> fused;
  NewInits added;
  bool lookups = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& op = g.nodes[i];
    const bool conv = is_onnx_op(op, "Conv"), matmul = is_onnx_op(op, "MatMul");
    if ((!conv && !matmul) || op.outputs.size() != 1 || op.inputs.size() < 2) continue;
    // The only reader of the output: a QuantizeLinear with constant per-tensor parameters.
    auto single_reader = [&](const std::string& v) -> std::optional<size_t> {
      auto u = uses.find(v);
      if (u == uses.end() || u->second != 1 || is_graph_output(g, v) || readers[v].size() != 1) return std::nullopt;
      return readers[v][0];
    };
    auto qi_opt = single_reader(op.outputs[0]);
    if (!qi_opt) continue;
    size_t qi = *qi_opt;
    // A Relu between the op and its QuantizeLinear (ONNX Runtime's QDQ form) is implied when the
    // zero point is the type's minimum: QuantizeLinear's saturation then maps every negative to
    // the zero point, as Relu followed by QuantizeLinear does.
    std::optional<size_t> relu;
    if (is_onnx_op(g.nodes[qi], "Relu") && g.nodes[qi].outputs.size() == 1) {
      relu = qi;
      auto after = single_reader(g.nodes[qi].outputs[0]);
      if (!after) continue;
      qi = *after;
    }
    const std::string& y = relu ? g.nodes[*relu].outputs[0] : op.outputs[0];
    const ir::Node& q = g.nodes[qi];
    if (!is_onnx_op(q, "QuantizeLinear") || q.input(0) != y || q.outputs.size() != 1 || q.input(2).empty()) continue;
    if (!scalar_const(g, q.input(1), DType::kFloat32)) continue;
    const Tensor* zy = constant_value(g, q.input(2));
    if (!zy || zy->numel() != 1 || (zy->dtype() != DType::kUInt8 && zy->dtype() != DType::kInt8)) continue;
    if (relu && !(zy->dtype() == DType::kUInt8 ? zy->data<uint8_t>()[0] == 0 : zy->data<int8_t>()[0] == -128)) continue;
    // x: DequantizeLinear of an 8-bit tensor with per-tensor constants.
    const ir::Node* dqx = prod.of(g, op.input(0));
    if (!dqx || !is_onnx_op(*dqx, "DequantizeLinear") || !scalar_const(g, dqx->input(1), DType::kFloat32)) continue;
    const Tensor* zx = dqx->input(2).empty() ? nullptr : constant_value(g, dqx->input(2));
    if (!dqx->input(2).empty() && (!zx || zx->numel() != 1 || (zx->dtype() != DType::kUInt8 && zx->dtype() != DType::kInt8)))
      continue;
    // W: DequantizeLinear of a constant int8 tensor, per tensor or per output channel.
    const ir::Node* dqw = prod.of(g, op.input(1));
    if (!dqw || !is_onnx_op(*dqw, "DequantizeLinear")) continue;
    const Tensor* wq = constant_value(g, dqw->input(0));
    const Tensor* sw = constant_value(g, dqw->input(1));
    if (!wq || wq->dtype() != DType::kInt8 || !sw || sw->dtype() != DType::kFloat32 || sw->rank() > 1) continue;
    if (conv && wq->rank() < 3) continue;
    if (matmul && wq->rank() != 2) continue;
    const int64_t channels = conv ? wq->dim(0) : wq->dim(1);
    if (sw->numel() != 1) {
      const int64_t axis = dqw->attr_int("axis", 1);
      const int64_t want = conv ? 0 : 1;
      if (sw->numel() != channels || (axis != want && axis != want - wq->rank())) continue;
    }
    const Tensor* zw = dqw->input(2).empty() ? nullptr : constant_value(g, dqw->input(2));
    if (!dqw->input(2).empty() && (!zw || zw->dtype() != DType::kInt8 || zw->numel() != sw->numel())) continue;
    // Conv's bias: int32 with scale sx * sw already, or a float constant quantized here.
    std::string bias;
    if (conv && !op.input(2).empty()) {
      const float sx = constant_value(g, dqx->input(1))->data<float>()[0];
      auto scale_of = [&](int64_t c) { return sx * sw->data<float>()[sw->numel() == 1 ? 0 : c]; };
      const ir::Node* dqb = prod.of(g, op.input(2));
      const Tensor* bf = constant_value(g, op.input(2));
      if (dqb && is_onnx_op(*dqb, "DequantizeLinear")) {
        const Tensor* bq = constant_value(g, dqb->input(0));
        const Tensor* sb = constant_value(g, dqb->input(1));
        const Tensor* zb = dqb->input(2).empty() ? nullptr : constant_value(g, dqb->input(2));
        if (!bq || bq->dtype() != DType::kInt32 || bq->rank() != 1 || bq->dim(0) != channels || !sb ||
            sb->dtype() != DType::kFloat32 || (sb->numel() != 1 && sb->numel() != channels))
          continue;
        bool zero = true, same_scale = true;
        if (!dqb->input(2).empty()) {
          if (!zb || zb->dtype() != DType::kInt32) continue;
          for (int64_t c = 0; c < zb->numel(); ++c) zero &= zb->data<int32_t>()[c] == 0;
        }
        for (int64_t c = 0; c < channels; ++c) {
          const float s = sb->data<float>()[sb->numel() == 1 ? 0 : c], want = scale_of(c);
          same_scale &= std::fabs(s - want) <= 1e-6f * std::fabs(want);
        }
        if (!zero || !same_scale) continue;
        bias = dqb->input(0);
      } else if (bf && bf->dtype() == DType::kFloat32 && bf->rank() == 1 && bf->dim(0) == channels) {
        auto t = Tensor::create(DType::kInt32, {channels});
        if (!t.ok()) continue;
        bool fits = true;
        for (int64_t c = 0; c < channels; ++c) {
          const double v = std::nearbyint(static_cast<double>(bf->data<float>()[c]) / scale_of(c));
          fits &= std::isfinite(v) && std::fabs(v) <= std::numeric_limits<int32_t>::max();
          if (fits) t->data<int32_t>()[c] = static_cast<int32_t>(v);
        }
        if (!fits) continue;
        bias = added.add(g, op.input(2) + "_int32", std::move(t).value());
      } else {
        continue;
      }
    }
    const std::string zx_name = added.zero_point_or_zeros(g, dqx->input(2), DType::kUInt8,
                                                          constant_value(g, dqx->input(1))->shape(), dqx->input(0) + "_zp");
    const std::string zw_name =
        added.zero_point_or_zeros(g, dqw->input(2), DType::kInt8, sw->shape(), dqw->input(0) + "_zp");
    if (zx_name.empty() || zw_name.empty()) continue;
    ir::Node f;
    f.name = op.name.empty() ? q.outputs[0] + "_qlinear" : op.name;
    f.op_type = conv ? "QLinearConv" : "QLinearMatMul";
    f.inputs = {dqx->input(0), dqx->input(1), zx_name, dqw->input(0), dqw->input(1), zw_name, q.input(1), q.input(2)};
    if (!bias.empty()) f.inputs.push_back(bias);
    if (conv) f.attrs = op.attrs;  // auto_pad, dilations, group, kernel_shape, pads, strides
    f.outputs = {q.outputs[0]};
    remove[i] = remove[qi] = true;
    if (relu) {
      remove[*relu] = true;
      erase_value_info(g, op.outputs[0]);
    }
    erase_value_info(g, y);
    fused.emplace_back(qi, std::move(f));
  }
  // Second form: DQ(xq) -> Relu | Clip(constant bounds) | LeakyRelu -> Q, each value read once:
  // an elementwise map of 256 possible inputs, so it becomes a table lookup on the 8-bit values,
  // hone.QLookup(xq, table) (session only). The table is computed here with the chain's own float
  // arithmetic (DequantizeLinear, the activation, QuantizeLinear's division and round half to
  // even), so the lookup gives the chain's bytes exactly.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (remove[i]) continue;
    const ir::Node& act = g.nodes[i];
    const bool relu = is_onnx_op(act, "Relu"), clip = is_onnx_op(act, "Clip"), leaky = is_onnx_op(act, "LeakyRelu");
    if ((!relu && !clip && !leaky) || act.outputs.size() != 1 || act.inputs.empty()) continue;
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (clip) {
      if (m.opset("") < 11) {
        lo = act.attr_float("min", lo);
        hi = act.attr_float("max", hi);
      } else {
        const Tensor* tlo = act.input(1).empty() ? nullptr : constant_value(g, act.input(1));
        const Tensor* thi = act.input(2).empty() ? nullptr : constant_value(g, act.input(2));
        if ((!act.input(1).empty() && (!tlo || tlo->dtype() != DType::kFloat32 || tlo->numel() != 1)) ||
            (!act.input(2).empty() && (!thi || thi->dtype() != DType::kFloat32 || thi->numel() != 1)))
          continue;
        if (tlo) lo = tlo->data<float>()[0];
        if (thi) hi = thi->data<float>()[0];
      }
    }
    const float alpha = leaky ? act.attr_float("alpha", 0.01f) : 0.0f;
    const std::string& y = act.outputs[0];
    auto u = uses.find(y);
    if (u == uses.end() || u->second != 1 || is_graph_output(g, y) || readers[y].size() != 1) continue;
    const size_t qi = readers[y][0];
    if (remove[qi]) continue;
    const ir::Node& q = g.nodes[qi];
    if (!is_onnx_op(q, "QuantizeLinear") || q.input(0) != y || q.outputs.size() != 1 || q.input(2).empty()) continue;
    if (!scalar_const(g, q.input(1), DType::kFloat32)) continue;
    const Tensor* zy = constant_value(g, q.input(2));
    if (!zy || zy->numel() != 1 || (zy->dtype() != DType::kUInt8 && zy->dtype() != DType::kInt8)) continue;
    const ir::Node* dq = prod.of(g, act.input(0));
    if (!dq || !is_onnx_op(*dq, "DequantizeLinear") || !scalar_const(g, dq->input(1), DType::kFloat32)) continue;
    auto dqu = uses.find(act.input(0));
    if (dqu == uses.end() || dqu->second != 1 || is_graph_output(g, act.input(0))) continue;
    const Tensor* zx = dq->input(2).empty() ? nullptr : constant_value(g, dq->input(2));
    if (!dq->input(2).empty() && (!zx || zx->numel() != 1 || (zx->dtype() != DType::kUInt8 && zx->dtype() != DType::kInt8)))
      continue;
    const bool x_signed = zx && zx->dtype() == DType::kInt8;
    const int32_t x_zp = zx ? static_cast<int32_t>(x_signed ? zx->data<int8_t>()[0] : zx->data<uint8_t>()[0]) : 0;
    const float sx = constant_value(g, dq->input(1))->data<float>()[0];
    const float sy = constant_value(g, q.input(1))->data<float>()[0];
    const bool y_signed = zy->dtype() == DType::kInt8;
    const float y_zp = y_signed ? zy->data<int8_t>()[0] : zy->data<uint8_t>()[0];
    auto table = Tensor::create(zy->dtype(), {256});
    if (!table.ok()) continue;
    for (int v = 0; v < 256; ++v) {
      // Entry v serves the stored byte v (an int8 input reads its byte as unsigned).
      const int32_t xv = x_signed ? static_cast<int32_t>(static_cast<int8_t>(static_cast<uint8_t>(v))) : v;
      float f = static_cast<float>(static_cast<int64_t>(xv) - x_zp) * sx;  // DequantizeLinear
      if (relu) f = f < 0.0f ? 0.0f : f;
      if (leaky) f = f < 0.0f ? alpha * f : f;
      if (clip) f = f < lo ? lo : f > hi ? hi : f;
      float r = std::nearbyint(f / sy) + y_zp;  // QuantizeLinear
      const float qlo = y_signed ? -128.0f : 0.0f, qhi = y_signed ? 127.0f : 255.0f;
      r = std::isnan(r) ? y_zp : r < qlo ? qlo : r > qhi ? qhi : r;
      if (y_signed)
        table->data<int8_t>()[v] = static_cast<int8_t>(r);
      else
        table->data<uint8_t>()[v] = static_cast<uint8_t>(r);
    }
    ir::Node f;
    f.name = act.name.empty() ? q.outputs[0] + "_lookup" : act.name;
    f.op_type = "QLookup";
    f.domain = kHoneDomain;
    f.inputs = {dq->input(0), added.add(g, q.outputs[0] + "_table", std::move(table).value())};
    f.outputs = {q.outputs[0]};
    remove[i] = remove[qi] = true;
    erase_value_info(g, y);
    fused.emplace_back(qi, std::move(f));
    lookups = true;
  }
  if (fused.empty()) return Status::Ok();
  for (auto& init : added.list) g.initializers.push_back(std::move(init));
  std::vector<ir::Node> out;
  out.reserve(g.nodes.size());
  std::sort(fused.begin(), fused.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t next = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!remove[i]) out.push_back(std::move(g.nodes[i]));
    while (next < fused.size() && fused[next].first == i) out.push_back(std::move(fused[next++].second));
  }
  g.nodes = std::move(out);
  if (lookups) ensure_hone_opset(m);
  return Status::Ok();
}

}  // namespace

Status fuse_qdq(ir::Model& m) {
  HONE_RETURN_IF_ERROR(fuse_qdq_conv_matmul_lookup(m));
  return fuse_qdq_ops(m);
}

}  // namespace hone::passes
