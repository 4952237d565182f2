// fuse_qdq_ops, the second stage of pass fuse_qdq (level 2; after its Conv / MatMul -> Q forms): the remaining static QDQ forms of a CNN / transformer
// become integer ops, so no DequantizeLinear-to-float detour is left around them:
//
//   DQ(a), DQ(b) -> Add (-> Relu) -> Q(sy, zy)   =>  com.microsoft.QLinearAdd(a, sa, za, b, sb, zb, sy, zy)
//     (a Relu only when zy is the type's minimum: QuantizeLinear's saturation then does its work)
//   DQ(x) -> MaxPool -> Q                         =>  MaxPool(x) on the bytes, then hone.QLookup when
//     (sy, zy) differ from (sx, zx): requantization is monotonic, so it commutes with max and the
//     result is the chain's bytes exactly
//   DQ(x) -> GlobalAveragePool (-> Flatten) -> Q  =>  com.microsoft.QLinearGlobalAveragePool (-> Flatten)
//   DQ(x) -> MatMul / Gemm <- DQ(W int8 const), float output (no QuantizeLinear fused it)
//                                                 =>  com.microsoft.MatMulIntegerToFloat(x, W, sx, sw, zx, zw, bias)
//     (Gemm: transA 0, alpha 1; transB 1 transposes W here; a bias DQ(int32) or float const [N])
//
// Every scale and zero point must be a constant, per tensor for activations. The DQ nodes stay
// for their other readers; dead_code removes those left unread. Tolerances: QLinearAdd and the
// MaxPool form give the chain's bytes; the average pool and MatMulIntegerToFloat compute exact
// integer sums where the chain sums floats, so outputs agree within a rounding tie (average pool:
// one quantization step) or float rounding (MatMulIntegerToFloat), as docs/int8.md says.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "passes/fusion_util.h"
#include "passes/passes.h"

namespace hone::passes {

namespace {

constexpr const char* kMicrosoftDomain = "com.microsoft";

// A per-tensor quantization: scale and zero point constants (the zero point present).
struct QParams {
  std::string scale, zero_point;
  float s = 0;
  int32_t z = 0;
  DType type = DType::kUInt8;
};

std::optional<QParams> per_tensor(const ir::Graph& g, const ir::Node& q_or_dq) {
  const Tensor* s = q_or_dq.input(1).empty() ? nullptr : constant_value(g, q_or_dq.input(1));
  const Tensor* z = q_or_dq.input(2).empty() ? nullptr : constant_value(g, q_or_dq.input(2));
  if (!s || s->dtype() != DType::kFloat32 || s->numel() != 1 || !z || z->numel() != 1) return std::nullopt;
  if (z->dtype() != DType::kUInt8 && z->dtype() != DType::kInt8) return std::nullopt;
  QParams p;
  p.scale = q_or_dq.input(1);
  p.zero_point = q_or_dq.input(2);
  p.s = s->data<float>()[0];
  if (!std::isfinite(p.s) || !(p.s > 0)) return std::nullopt;
  p.type = z->dtype();
  p.z = p.type == DType::kUInt8 ? int32_t{z->data<uint8_t>()[0]} : int32_t{z->data<int8_t>()[0]};
  return p;
}

void declare_domain(ir::Model& m, const char* domain) {
  for (const auto& o : m.opsets)
    if (o.domain == domain) return;
  m.opsets.push_back({domain, 1});
}

// The QuantizeLinear table of the requantization DQ(sx, zx) -> Q(sy, zy): the chain's own float
// arithmetic for each of the 256 bytes.
Tensor requantize_table(const QParams& x, const QParams& y) {
  Tensor t = Tensor::create(y.type, {256}).value();
  const float lo = y.type == DType::kInt8 ? -128.0f : 0.0f, hi = y.type == DType::kInt8 ? 127.0f : 255.0f;
  for (int v = 0; v < 256; ++v) {
    const int32_t xv = x.type == DType::kInt8 ? int32_t{static_cast<int8_t>(static_cast<uint8_t>(v))} : v;
    const float f = static_cast<float>(xv - x.z) * x.s;
    float r = std::nearbyint(f / y.s) + static_cast<float>(y.z);
    r = r < lo ? lo : r > hi ? hi : r;
    if (y.type == DType::kInt8)
      t.data<int8_t>()[v] = static_cast<int8_t>(r);
    else
      t.data<uint8_t>()[v] = static_cast<uint8_t>(r);
  }
  return t;
}

struct Rewrite {
  ir::Graph& g;
  fusion::GraphIndex ix;
  std::vector<bool> remove;
  std::vector<std::vector<ir::Node>> insert_at;  // new nodes placed where node i stood
  std::vector<ir::Initializer> inits;
  bool microsoft = false, internal = false;

  explicit Rewrite(ir::Graph& graph)
      : g(graph), ix(fusion::index_graph(graph)), remove(graph.nodes.size(), false), insert_at(graph.nodes.size()) {}

  const ir::Node* dq_of(const std::string& v) const { return fusion::produced_by(g, ix, v, "DequantizeLinear"); }

  // The QuantizeLinear that alone reads v, skipping a Relu that the zero point makes redundant.
  std::optional<size_t> quantize_after(const std::string& v, std::optional<size_t>* relu = nullptr) {
    auto c = fusion::sole_consumer(g, ix, v);
    if (!c || remove[*c]) return std::nullopt;
    if (relu && is_onnx_op(g.nodes[*c], "Relu")) {
      *relu = c;
      c = fusion::sole_consumer(g, ix, g.nodes[*c].outputs[0]);
      if (!c || remove[*c]) return std::nullopt;
    }
    const ir::Node& q = g.nodes[*c];
    if (!is_onnx_op(q, "QuantizeLinear") || q.outputs.size() != 1) return std::nullopt;
    return c;
  }

  std::string add_init(const std::string& base, Tensor t) {
    std::string name = unique_name(g, base);
    for (int k = 1; std::any_of(inits.begin(), inits.end(), [&](const ir::Initializer& i) { return i.name == name; });
         ++k)
      name = unique_name(g, base + "_" + std::to_string(k));
    inits.push_back({name, std::move(t), {}, std::nullopt});
    return name;
  }

  void apply() {
    for (auto& i : inits) g.initializers.push_back(std::move(i));
    std::vector<ir::Node> out;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (!remove[i]) out.push_back(std::move(g.nodes[i]));
      for (auto& n : insert_at[i]) out.push_back(std::move(n));
    }
    g.nodes = std::move(out);
  }

  // DQ(a), DQ(b) -> Add (-> Relu) -> Q.
  void add(size_t i) {
    const ir::Node& op = g.nodes[i];
    if (op.inputs.size() != 2 || op.outputs.size() != 1) return;
    const ir::Node* da = dq_of(op.input(0));
    const ir::Node* db = dq_of(op.input(1));
    if (!da || !db) return;
    std::optional<size_t> relu;
    auto qi = quantize_after(op.outputs[0], &relu);
    if (!qi) return;
    const ir::Node& q = g.nodes[*qi];
    auto pa = per_tensor(g, *da), pb = per_tensor(g, *db), py = per_tensor(g, q);
    if (!pa || !pb || !py || pa->type != py->type || pb->type != py->type) return;
    if (relu && py->z != (py->type == DType::kUInt8 ? 0 : -128)) return;
    ir::Node f;
    f.name = op.name.empty() ? q.outputs[0] + "_qadd" : op.name;
    f.op_type = "QLinearAdd";
    f.domain = kMicrosoftDomain;
    f.inputs = {da->input(0), pa->scale, pa->zero_point, db->input(0), pb->scale, pb->zero_point, py->scale, py->zero_point};
    f.outputs = {q.outputs[0]};
    remove[i] = remove[*qi] = true;
    erase_value_info(g, op.outputs[0]);
    if (relu) {
      remove[*relu] = true;
      erase_value_info(g, g.nodes[*relu].outputs[0]);
    }
    insert_at[*qi].push_back(std::move(f));
    microsoft = true;
  }

  // DQ(x) -> MaxPool -> Q: the pool on the bytes, then a requantization lookup if needed.
  void max_pool(size_t i, int64_t opset) {
    ir::Node& op = g.nodes[i];
    if (opset < 12 || op.outputs.size() != 1 || op.inputs.size() != 1) return;  // uint8 MaxPool: opset 12
    const ir::Node* dx = dq_of(op.input(0));
    if (!dx) return;
    auto qi = quantize_after(op.outputs[0]);
    if (!qi) return;
    const ir::Node& q = g.nodes[*qi];
    auto px = per_tensor(g, *dx), py = per_tensor(g, q);
    if (!px || !py) return;
    ir::Node pool = op;
    pool.inputs = {dx->input(0)};
    const bool same = px->type == py->type && px->s == py->s && px->z == py->z;
    erase_value_info(g, op.outputs[0]);
    if (same) {
      pool.outputs = {q.outputs[0]};
      insert_at[*qi].push_back(std::move(pool));
    } else {
      pool.outputs = {unique_name(g, q.outputs[0] + "_pooled")};
      ir::Node lookup;
      lookup.name = q.outputs[0] + "_requantize";
      lookup.op_type = "QLookup";
      lookup.domain = kHoneDomain;
      lookup.inputs = {pool.outputs[0], add_init(q.outputs[0] + "_table", requantize_table(*px, *py))};
      lookup.outputs = {q.outputs[0]};
      insert_at[*qi].push_back(std::move(pool));
      insert_at[*qi].push_back(std::move(lookup));
      internal = true;
    }
    remove[i] = remove[*qi] = true;
  }

  // DQ(x) -> GlobalAveragePool (-> Flatten) -> Q.
  void global_average_pool(size_t i) {
    const ir::Node& op = g.nodes[i];
    if (op.outputs.size() != 1 || op.inputs.size() != 1) return;
    const ir::Node* dx = dq_of(op.input(0));
    if (!dx) return;
    std::optional<size_t> flatten;
    auto c = fusion::sole_consumer(g, ix, op.outputs[0]);
    if (c && !remove[*c] && is_onnx_op(g.nodes[*c], "Flatten") && g.nodes[*c].outputs.size() == 1) flatten = c;
    auto qi = quantize_after(flatten ? g.nodes[*flatten].outputs[0] : op.outputs[0]);
    if (!qi) return;
    const ir::Node& q = g.nodes[*qi];
    auto px = per_tensor(g, *dx), py = per_tensor(g, q);
    if (!px || !py || px->type != py->type) return;
    ir::Node f;
    f.name = op.name.empty() ? q.outputs[0] + "_qgap" : op.name;
    f.op_type = "QLinearGlobalAveragePool";
    f.domain = kMicrosoftDomain;
    f.inputs = {dx->input(0), px->scale, px->zero_point, py->scale, py->zero_point};
    f.attrs.push_back(fusion::int_attr("channels_last", 0));
    remove[i] = remove[*qi] = true;
    if (flatten) {
      f.outputs = {unique_name(g, q.outputs[0] + "_pooled")};
      ir::Node fl = g.nodes[*flatten];
      fl.inputs = {f.outputs[0]};
      fl.outputs = {q.outputs[0]};
      erase_value_info(g, op.outputs[0]);
      erase_value_info(g, g.nodes[*flatten].outputs[0]);
      remove[*flatten] = true;
      insert_at[*qi].push_back(std::move(f));
      insert_at[*qi].push_back(std::move(fl));
    } else {
      f.outputs = {q.outputs[0]};
      erase_value_info(g, op.outputs[0]);
      insert_at[*qi].push_back(std::move(f));
    }
    microsoft = true;
  }

  // DQ(x) -> MatMul / Gemm <- DQ(W int8 const) with a float output.
  void matmul_to_float(size_t i, bool gemm) {
    const ir::Node& op = g.nodes[i];
    if (op.outputs.size() != 1 || op.inputs.size() < 2 || (!gemm && op.inputs.size() != 2)) return;
    if (gemm && (op.attr_int("transA", 0) != 0 || op.attr_float("alpha", 1.0f) != 1.0f)) return;
    const ir::Node* dx = dq_of(op.input(0));
    const ir::Node* dw = dq_of(op.input(1));
    if (!dx || !dw) return;
    auto px = per_tensor(g, *dx);
    if (!px) return;
    const Tensor* wq = constant_value(g, dw->input(0));
    const Tensor* sw = dw->input(1).empty() ? nullptr : constant_value(g, dw->input(1));
    const Tensor* zw = dw->input(2).empty() ? nullptr : constant_value(g, dw->input(2));
    if (!wq || wq->dtype() != DType::kInt8 || wq->rank() != 2 || !sw || sw->dtype() != DType::kFloat32 || sw->rank() > 1)
      return;
    if (!dw->input(2).empty() && (!zw || zw->dtype() != DType::kInt8 || zw->numel() != sw->numel())) return;
    const bool trans_b = gemm && op.attr_int("transB", 0) != 0;
    const int64_t n = trans_b ? wq->dim(0) : wq->dim(1), k = trans_b ? wq->dim(1) : wq->dim(0);
    if (sw->numel() != 1) {  // per output column: axis 1 of [K, N], axis 0 of Gemm's transposed [N, K]
      const int64_t axis = dw->attr_int("axis", 1), want = trans_b ? 0 : 1;
      if (sw->numel() != n || (axis != want && axis != want - 2)) return;
    }
    for (int64_t c = 0; c < sw->numel(); ++c)
      if (!std::isfinite(sw->data<float>()[c])) return;
    // Gemm's C: a float constant [N], or DequantizeLinear of one (hone's quantizer: int32, sx * sw).
    std::string bias;
    if (gemm && !op.input(2).empty()) {
      const float beta = op.attr_float("beta", 1.0f);
      auto b = Tensor::create(DType::kFloat32, {n});
      if (!b.ok()) return;
      const ir::Node* db = dq_of(op.input(2));
      const Tensor* bf = constant_value(g, op.input(2));
      if (db) {
        const Tensor* bq = constant_value(g, db->input(0));
        const Tensor* sb = db->input(1).empty() ? nullptr : constant_value(g, db->input(1));
        const Tensor* zb = db->input(2).empty() ? nullptr : constant_value(g, db->input(2));
        if (!bq || bq->dtype() != DType::kInt32 || bq->rank() != 1 || bq->dim(0) != n || !sb ||
            sb->dtype() != DType::kFloat32 || (sb->numel() != 1 && sb->numel() != n))
          return;
        if (zb && (zb->dtype() != DType::kInt32 || (zb->numel() != 1 && zb->numel() != n))) return;
        if (!db->input(2).empty() && !zb) return;
        for (int64_t c = 0; c < n; ++c) {  // DequantizeLinear's own arithmetic
          const int64_t zp = zb ? zb->data<int32_t>()[zb->numel() == 1 ? 0 : c] : 0;
          b->data<float>()[c] = static_cast<float>(int64_t{bq->data<int32_t>()[c]} - zp) *
                                sb->data<float>()[sb->numel() == 1 ? 0 : c];
        }
      } else if (bf && bf->dtype() == DType::kFloat32 && bf->rank() == 1 && bf->dim(0) == n) {
        std::copy(bf->data<float>(), bf->data<float>() + n, b->data<float>());
      } else {
        return;
      }
      if (beta != 1.0f)
        for (int64_t c = 0; c < n; ++c) b->data<float>()[c] *= beta;
      bias = add_init(op.outputs[0] + "_bias", std::move(b).value());
    }
    std::string w_name = dw->input(0);
    if (trans_b) {  // MatMulIntegerToFloat takes B as [K, N]
      Tensor t = Tensor::create(DType::kInt8, {k, n}).value();
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c) t.data<int8_t>()[c * n + r] = wq->data<int8_t>()[r * k + c];
      w_name = add_init(dw->input(0) + "_kn", std::move(t));
    }
    ir::Node f;
    f.name = op.name.empty() ? op.outputs[0] + "_int8" : op.name;
    f.op_type = "MatMulIntegerToFloat";
    f.domain = kMicrosoftDomain;
    f.inputs = {dx->input(0), w_name, px->scale, dw->input(1), px->zero_point, dw->input(2)};
    if (!bias.empty()) f.inputs.push_back(bias);
    f.outputs = op.outputs;
    remove[i] = true;
    insert_at[i].push_back(std::move(f));
    microsoft = true;
  }
};

}  // namespace

Status fuse_qdq_ops(ir::Model& m) {
  Rewrite r(m.graph);
  const int64_t opset = m.opset("");
  for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
    if (r.remove[i]) continue;
    const ir::Node& n = m.graph.nodes[i];
    if (is_onnx_op(n, "Add")) r.add(i);
    else if (is_onnx_op(n, "MaxPool")) r.max_pool(i, opset);
    else if (is_onnx_op(n, "GlobalAveragePool")) r.global_average_pool(i);
    else if (is_onnx_op(n, "MatMul")) r.matmul_to_float(i, false);
    else if (is_onnx_op(n, "Gemm")) r.matmul_to_float(i, true);
  }
  if (!r.microsoft && !r.internal) return Status::Ok();
  r.apply();
  if (r.microsoft) declare_domain(m, kMicrosoftDomain);
  if (r.internal) ensure_hone_opset(m);
  return Status::Ok();
}

}  // namespace hone::passes
