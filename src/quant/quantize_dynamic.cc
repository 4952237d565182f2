// Dynamic int8 quantization (docs/formats.md "Dynamic"): weights of MatMul / Gemm (and Conv when
// asked) become int8 initializers; activations are quantized at run time per tensor to uint8.
// The graph written is exactly the form ONNX Runtime's quantize_dynamic writes:
//
//   x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zp)
//   MatMulInteger(x_q, W_q int8, x_zp, W_zp) -> int32 -> Cast(float)
//   Mul(x_scale, W_scale) -> s;  Mul(int_as_float, s) [-> Add(bias)] -> the float node's output name
//
// (ConvInteger in place of MatMulInteger for Conv, its per-channel scales shaped [1, M, 1, ...].)
// The replaced node's output keeps its name, so float and quantized models compare value by value.
#include <algorithm>

#include "quant/quant_graph.h"
#include "quant/quant_math.h"
#include "quant/quantize.h"

namespace hone::quant {

namespace {

using detail::make_node;

constexpr int64_t kMinOpset = 11;  // DynamicQuantizeLinear

struct QuantActivation {
  std::string q, scale, zp;
};

struct QuantWeight {
  std::string q, scale, zp;
  bool transposed = false;
  int64_t channels = 0;  // number of scales
};

// Copies a float [rows, cols] matrix transposed.
std::vector<float> transpose(const float* w, int64_t rows, int64_t cols) {
  std::vector<float> t(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[static_cast<size_t>(c * rows + r)] = w[r * cols + c];
  return t;
}

class DynamicQuantizer {
 public:
  DynamicQuantizer(ir::Model& m, const QuantizeOptions& o, const Rules* in, Rules* out)
      : m_(m), o_(o), in_(in), out_(out), names_(m) {}

  Status run() {
    static const std::vector<std::string> kDefault = {"MatMul", "Gemm"};
    for (const auto& op : o_.ops)
      if (op != "MatMul" && op != "Gemm" && op != "Conv")
        return invalid_argument("--ops " + op + ": dynamic mode quantizes MatMul, Gemm and Conv");
    if (o_.mode != Mode::kDynamic) return invalid_argument("quantize_dynamic called for another mode");
    HONE_RETURN_IF_ERROR(detail::require_opset(m_, "", kMinOpset, 13));
    if (out_) {
      out_->mode = "dynamic";
      out_->options["per_channel"] = o_.per_channel ? "true" : "false";
      out_->options["ops"] = detail::join(o_.ops.empty() ? kDefault : o_.ops);
      out_->options["exclude"] = detail::join(o_.exclude);
    }
    ir::Graph& g = m_.graph;
    types_ = detail::ValueTypes(m_);  // before any edit: inference sees the model as given
    std::vector<ir::Node> old = std::move(g.nodes);
    g.nodes.clear();
    for (size_t i = 0; i < old.size(); ++i) {
      const ir::Node& n = old[i];
      // An integer MatMul/Gemm (int32/int64 shape arithmetic; its types are often known only
      // after inference) is no float node left in float: not a candidate, not in the report.
      const bool candidate = (n.domain.empty() || n.domain == "ai.onnx") &&
                             (n.op_type == "MatMul" || n.op_type == "Gemm" || n.op_type == "Conv") &&
                             !types_.non_float_node(g, n);
      if (!candidate) {
        g.nodes.push_back(n);
        continue;
      }
      const std::string label = detail::node_label(n, i);
      std::string why = detail::selection_reason(n, i, o_, kDefault);
      if (why == "op type not selected") {
        g.nodes.push_back(n);
        continue;
      }
      if (why.empty()) {
        auto st = n.op_type == "Conv" ? conv(n, label) : matmul(n, label);
        if (!st.ok()) return st.status().with_context(label);
        why = *st;
      }
      if (!why.empty()) {
        detail::report_skip(o_.report, label, why);
        g.nodes.push_back(n);
      } else {
        detail::report_quantized(o_.report, n.op_type);
      }
    }
    detail::drop_unused_initializers(m_, replaced_);
    return Status::Ok();
  }

 private:
  // Why a node's second input is not a weight this mode quantizes. A value computed at run time
  // (attention's Q x K^T and P x V in a transformer) is named as such: ONNX Runtime's
  // quantize_dynamic leaves those MatMuls in float too, and "not a constant" alone read like a
  // defect of the model.
  std::string not_a_constant_weight(const std::string& name) const {
    if (const ir::Initializer* init = m_.graph.find_initializer(name)) {
      if (init->tensor.dtype() != DType::kFloat32) return "weight is a constant but not float32";
      return "weight is an initializer that is also a graph input (a caller may replace it)";
    }
    return "both operands are computed at run time (an activation x activation product, e.g. "
           "attention's Q x K^T): only products with a constant float weight are quantized";
  }

  // Returns "" when the node was replaced, a reason when it stays float, an error for bad rules.
  Result<std::string> matmul(const ir::Node& n, const std::string& label) {
    const bool gemm = n.op_type == "Gemm";
    if (n.inputs.size() < 2 || n.outputs.empty() || n.outputs[0].empty()) return std::string("malformed node");
    const ir::Initializer* w = detail::constant_float(m_.graph, n.inputs[1]);
    if (!w) return not_a_constant_weight(n.inputs[1]);
    if (w->tensor.rank() != 2) return std::string("weight is not 2-D");
    bool trans_b = false;
    std::string bias;
    if (gemm) {
      if (n.attr_int("transA", 0) != 0) return std::string("Gemm with transA");
      if (n.attr_float("alpha", 1.0f) != 1.0f) return std::string("Gemm with alpha != 1");
      bias = n.input(2);
      if (!bias.empty() && n.attr_float("beta", 1.0f) != 1.0f) return std::string("Gemm with beta != 1");
      trans_b = n.attr_int("transB", 0) != 0;
    }
    if (types_.known_non_float(m_.graph, n.inputs[0])) return std::string("input is not float");
    const int64_t K = trans_b ? w->tensor.dim(1) : w->tensor.dim(0);
    const int64_t N = trans_b ? w->tensor.dim(0) : w->tensor.dim(1);
    const std::string w_name = w->name;
    HONE_ASSIGN_OR_RETURN(std::string why, weight(*w, K, N, trans_b, /*conv=*/false));
    if (!why.empty()) return why;
    const QuantWeight qw = weights_[w_name];
    const QuantActivation qa = activation(n.inputs[0]);
    const std::string& y = n.outputs[0];
    const std::string base = n.name.empty() ? y : n.name;
    const std::string mmi = names_.make(y + "_output_quantized");
    m_.graph.nodes.push_back(make_node("MatMulInteger", {qa.q, qw.q, qa.zp, qw.zp}, {mmi}, names_.make(base + "_quant")));
    emit_rescale(mmi, qa, qw.scale, bias, y, base);
    (void)label;
    return std::string();
  }

  Result<std::string> conv(const ir::Node& n, const std::string& label) {
    if (n.inputs.size() < 2 || n.outputs.empty() || n.outputs[0].empty()) return std::string("malformed node");
    const ir::Initializer* w = detail::constant_float(m_.graph, n.inputs[1]);
    if (!w) return not_a_constant_weight(n.inputs[1]);
    if (w->tensor.rank() < 3) return std::string("weight rank < 3");
    if (types_.known_non_float(m_.graph, n.inputs[0])) return std::string("input is not float");
    std::string bias = n.input(2);
    const ir::Initializer* b = nullptr;
    if (!bias.empty()) {
      b = detail::constant_float(m_.graph, bias);
      if (!b || b->tensor.numel() != w->tensor.dim(0)) return std::string("bias is not a constant float [M] initializer");
    }
    const std::string w_name = w->name;
    const Tensor w_tensor = w->tensor;
    const Tensor b_tensor = b ? b->tensor : Tensor();
    HONE_ASSIGN_OR_RETURN(std::string why, weight(*w, 0, 0, false, /*conv=*/true));
    if (!why.empty()) return why;
    const QuantWeight qw = weights_[w_name];
    const QuantActivation qa = activation(n.inputs[0]);
    const std::string& y = n.outputs[0];
    const std::string base = n.name.empty() ? y : n.name;
    const std::string ci = names_.make(y + "_output_quantized");
    ir::Node c = make_node("ConvInteger", {qa.q, qw.q, qa.zp, qw.zp}, {ci}, names_.make(base + "_quant"));
    for (const auto& a : n.attrs)
      if (a.name == "auto_pad" || a.name == "dilations" || a.name == "group" || a.name == "kernel_shape" ||
          a.name == "pads" || a.name == "strides")
        c.attrs.push_back(a);
    m_.graph.nodes.push_back(std::move(c));
    // The bias broadcasts over [N, M, spatial...]: stored again as [1, M, 1, ...].
    std::string bias_r;
    if (b_tensor.defined()) {
      bias_r = names_.make(bias + "_reshaped");
      Shape s(static_cast<size_t>(w_tensor.rank()), 1);
      s[1] = w_tensor.dim(0);
      m_.graph.initializers.push_back({bias_r, b_tensor.clone().reshaped(s).value(), {}, std::nullopt});
      replaced_.insert(bias);
    }
    emit_rescale(ci, qa, qw.scale, bias_r, y, base);
    (void)label;
    return std::string();
  }

  // Cast(int32 -> float) * (x_scale * w_scale) [+ bias] -> y.
  void emit_rescale(const std::string& int_out, const QuantActivation& qa, const std::string& w_scale,
                    const std::string& bias, const std::string& y, const std::string& base) {
    ir::Graph& g = m_.graph;
    const std::string cast = names_.make(y + "_output_quantized_cast");
    ir::Node c = make_node("Cast", {int_out}, {cast}, names_.make(base + "_cast"));
    c.attrs.push_back(detail::int_attr("to", static_cast<int64_t>(DType::kFloat32)));
    g.nodes.push_back(std::move(c));
    const std::string scales = names_.make(base + "_scales_mul");
    g.nodes.push_back(make_node("Mul", {qa.scale, w_scale}, {scales}, names_.make(base + "_scales_mul_node")));
    if (bias.empty()) {
      g.nodes.push_back(make_node("Mul", {cast, scales}, {y}, names_.make(base + "_output_scale_mul")));
      return;
    }
    const std::string scaled = names_.make(y + "_output_scaled");
    g.nodes.push_back(make_node("Mul", {cast, scales}, {scaled}, names_.make(base + "_output_scale_mul")));
    g.nodes.push_back(make_node("Add", {scaled, bias}, {y}, names_.make(base + "_bias_add")));
  }

  QuantActivation activation(const std::string& x) {
    if (auto it = acts_.find(x); it != acts_.end()) return it->second;
    QuantActivation a{names_.make(x + "_quantized"), names_.make(x + "_scale"), names_.make(x + "_zero_point")};
    m_.graph.nodes.push_back(make_node("DynamicQuantizeLinear", {x}, {a.q, a.scale, a.zp}, names_.make(x + "_QuantizeLinear")));
    acts_[x] = a;
    return a;
  }

  // Quantizes a weight once (cached by name). MatMul/Gemm: stored [K, N] (transposed from a
  // Gemm transB weight), channels along N (axis 1). Conv: stored as is, channels along axis 0.
  // Takes a copy: adding initializers below moves the vector the caller's reference points into.
  Result<std::string> weight(ir::Initializer w, int64_t K, int64_t N, bool transposed, bool conv) {
    if (auto it = weights_.find(w.name); it != weights_.end())
      return it->second.transposed == transposed ? std::string() : std::string("weight shared with another layout");
    std::vector<float> data;
    const float* src = w.tensor.data<float>();
    Shape shape = w.tensor.shape();
    if (transposed) {
      data = transpose(src, N, K);
      src = data.data();
      shape = {K, N};
    }
    const int64_t axis_if_channel = conv ? 0 : 1;
    const int64_t channels = shape[static_cast<size_t>(axis_if_channel)];
    QuantParams p;
    int64_t axis = -1;
    if (in_) {
      const TensorRule* r = in_->find(w.name);
      if (!r) return std::string("no rule for weight '" + w.name + "'");
      if (r->role != "weight" || r->dtype != "int8")
        return invalid_argument("rules: '" + w.name + "': dynamic mode needs an int8 weight rule");
      axis = r->axis;
      if (axis != -1 && axis != axis_if_channel)
        return invalid_argument("rules: '" + w.name + "': axis " + std::to_string(axis) + " (expected -1 or " +
                                std::to_string(axis_if_channel) + ")");
      const size_t want = axis < 0 ? 1 : static_cast<size_t>(channels);
      if (r->scales.size() != want)
        return invalid_argument("rules: '" + w.name + "': " + std::to_string(r->scales.size()) + " scales, expected " +
                                std::to_string(want));
      p.scales = r->scales;
      p.zero_points = r->zero_points;
    } else if (o_.per_channel) {
      axis = axis_if_channel;
      HONE_ASSIGN_OR_RETURN(p, params_per_channel(src, shape, axis, QType::kInt8, true, w.name));
    } else {
      HONE_ASSIGN_OR_RETURN(p, params_per_tensor(src, w.tensor.numel(), QType::kInt8, true, w.name));
    }
    std::vector<int32_t> q;
    HONE_RETURN_IF_ERROR(quantize_tensor(src, shape, axis, p, QType::kInt8, &q));
    HONE_ASSIGN_OR_RETURN(Tensor wq, Tensor::create(DType::kInt8, shape));
    for (size_t i = 0; i < q.size(); ++i) wq.data<int8_t>()[i] = static_cast<int8_t>(q[i]);
    const bool scalar = axis < 0;
    Tensor scale = detail::scalar_or_vector_f32(p.scales, scalar);
    if (conv && !scalar) {  // broadcast against [N, M, spatial...]
      Shape s(shape.size(), 1);
      s[1] = channels;
      scale = scale.reshaped(s).value();
    }
    // ONNX Runtime's ConvInteger takes only a per-tensor weight zero point; symmetric weights have
    // zero point 0 in every channel, so one scalar says the same (the scales stay per channel).
    const bool zp_scalar = scalar || (conv && std::all_of(p.zero_points.begin(), p.zero_points.end(),
                                                         [&](int32_t z) { return z == p.zero_points[0]; }));
    HONE_ASSIGN_OR_RETURN(Tensor zp, Tensor::create(DType::kInt8, zp_scalar ? Shape{} : Shape{channels}));
    for (int64_t i = 0; i < zp.numel(); ++i) zp.data<int8_t>()[i] = static_cast<int8_t>(p.zero_points[static_cast<size_t>(i)]);
    QuantWeight qw{names_.make(w.name + "_quantized"), names_.make(w.name + "_scale"), names_.make(w.name + "_zero_point"),
                   transposed, channels};
    m_.graph.initializers.push_back({qw.q, wq, {}, std::nullopt});
    m_.graph.initializers.push_back({qw.scale, scale, {}, std::nullopt});
    m_.graph.initializers.push_back({qw.zp, zp, {}, std::nullopt});
    weights_[w.name] = qw;
    replaced_.insert(w.name);
    if (out_) {
      TensorRule r;
      r.tensor = w.name;
      r.role = "weight";
      r.dtype = "int8";
      r.bits = 8;
      r.scheme = "symmetric";
      r.axis = axis;
      r.scales = p.scales;
      r.zero_points = p.zero_points;
      r.method = in_ && in_->find(w.name) ? in_->find(w.name)->method : "absmax";
      out_->tensors.push_back(std::move(r));
    }
    return std::string();
  }

  ir::Model& m_;
  const QuantizeOptions& o_;
  const Rules* in_;
  Rules* out_;
  detail::NameGen names_;
  detail::ValueTypes types_;  // of the model as given, set by run()
  std::map<std::string, QuantActivation> acts_;
  std::map<std::string, QuantWeight> weights_;
  std::set<std::string> replaced_;
};

}  // namespace

Result<ir::Model> quantize_dynamic(const ir::Model& model, const QuantizeOptions& options, const Rules* rules_in,
                                   Rules* rules_out) {
  ir::Model m = model;
  DynamicQuantizer q(m, options, rules_in, rules_out);
  HONE_RETURN_IF_ERROR(q.run());
  return m;
}

}  // namespace hone::quant
