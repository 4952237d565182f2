// Static int8 quantization in QDQ form (docs/calibration.md "QDQ placement"): the float graph stays,
// with QuantizeLinear -> DequantizeLinear pairs on the float activations that quantized nodes read
// and int8 weights behind DequantizeLinear. ONNX Runtime fuses DQ -> op -> Q into its integer
// kernels; any runtime that knows the two ops runs it as is.
//
//   x ─► Q(x_scale, x_zp) ─► DQ ─► Conv ◄─ DQ(w_quantized int8, w_scale, 0) ; bias ◄─ DQ(int32, x_scale*w_scale)
//
// Choices, following ONNX Runtime's QDQ quantizer so that its fusions apply:
//  - one Q/DQ pair per activation tensor, read by every quantized consumer; consumers kept in float
//    (excluded nodes, graph outputs) read the original float value;
//  - every node keeps its output names: float and quantized models compare value by value;
//  - weights: int8 symmetric (zero point 0), per output channel with `per_channel` (Conv axis 0,
//    MatMul [K, N] axis 1, Gemm axis 0 with transB) else per tensor;
//  - Conv/Gemm bias: int32 with scale x_scale * w_scale and zero point 0 behind DequantizeLinear
//    (left float when a value would not fit int32, or Gemm has alpha/beta != 1);
//  - activations: asymmetric uint8 (symmetric int8 with `symmetric_activations`), per tensor, range
//    from calibration (calibrate.h) or from a rules file.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "onnx/opset_compat.h"
#include "quant/calibrate.h"
#include "quant/quant_graph.h"
#include "quant/quant_math.h"
#include "quant/quantize.h"

namespace hone::quant {

namespace {

using detail::make_node;

const std::vector<std::string> kDefaultOps = {
    "Conv", "MatMul", "Gemm", "Add", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu", "Clip", "Concat"};

// What a quantizable node reads: which inputs are activations (Q/DQ), which is the weight and
// which the bias.
struct NodePlan {
  size_t index = 0;
  std::string label;
  std::vector<size_t> act_inputs;  // input positions that get Q/DQ
  int weight_input = -1;           // constant float weight (int8 + DQ)
  int64_t weight_axis = -1;        // channel axis of the weight when per channel
  int bias_input = -1;             // constant float bias (int32 + DQ) when possible
};

struct ActParams {
  ScaleZp p;
  bool symmetric = false;
  std::string q_name, dq_name;  // filled when emitted
};

struct WeightQ {
  std::string dq_out;
  int64_t axis = -1;
  QuantParams params;
  std::vector<ir::Node> nodes;  // DQ node, emitted before its first consumer
  bool emitted = false;
};

class StaticQuantizer {
 public:
  // `original` is the float model as given: calibration runs it, not the copy being rewritten.
  // With rules, the node selection they were made with (their "ops" / "exclude" options) wins over
  // `o`'s, as docs/formats.md promises: the rules alone decide the output.
  StaticQuantizer(const ir::Model& original, ir::Model& m, const QuantizeOptions& o, const Rules* in, Rules* out)
      : original_(original), m_(m), o_(effective(o, in)), in_(in), out_(out), names_(m) {}

  static QuantizeOptions effective(const QuantizeOptions& o, const Rules* in) {
    QuantizeOptions e = o;
    if (!in) return e;
    auto split = [](const std::string& s) {
      std::vector<std::string> v;
      size_t start = 0;
      while (start <= s.size() && !s.empty()) {
        size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        if (comma > start) v.push_back(s.substr(start, comma - start));
        start = comma + 1;
      }
      return v;
    };
    if (auto it = in->options.find("ops"); it != in->options.end()) e.ops = split(it->second);
    if (auto it = in->options.find("exclude"); it != in->options.end()) e.exclude = split(it->second);
    // Per-channel weights need opset 13 whatever the command line said.
    e.per_channel = false;
    for (const auto& t : in->tensors)
      if (t.role == "weight" && t.axis >= 0) e.per_channel = true;
    return e;
  }

  Status run() {
    if (o_.mode != Mode::kStatic) return invalid_argument("quantize_static called for another mode");
    for (const auto& op : o_.ops)
      if (std::find(kDefaultOps.begin(), kDefaultOps.end(), op) == kDefaultOps.end())
        return invalid_argument("--ops " + op + ": static mode quantizes " + detail::join(kDefaultOps));
    if (!in_ && !o_.calib)
      return invalid_argument("static quantization needs calibration data (--calib) or a rules file (--rules)");
    HONE_RETURN_IF_ERROR(check_opset());
    types_ = detail::ValueTypes(original_);
    if (out_) {
      out_->mode = "static";
      out_->options["method"] = method_name(o_.method);
      if (o_.method == CalibMethod::kPercentile) out_->options["percentile"] = std::to_string(o_.percentile);
      out_->options["symmetric_activations"] = o_.symmetric_activations ? "true" : "false";
      out_->options["per_channel"] = o_.per_channel ? "true" : "false";
      out_->options["ops"] = detail::join(o_.ops.empty() ? kDefaultOps : o_.ops);
      out_->options["exclude"] = detail::join(o_.exclude);
    }
    plan();
    HONE_RETURN_IF_ERROR(decide_activations());
    HONE_RETURN_IF_ERROR(decide_weights());
    rewrite();
    return Status::Ok();
  }

 private:
  bool is_constant(const std::string& name) const {
    return !name.empty() && m_.graph.find_initializer(name) && !graph_inputs_.count(name);
  }
  // Known (declared or inferred: detail::ValueTypes) and not float32.
  bool declared_non_float(const std::string& name) const { return types_.known_non_float(m_.graph, name); }

  // Raises the default-domain opset to 13 when needed and when that changes no op's meaning.
  Status check_opset() {
    const int64_t need = o_.per_channel ? 13 : 10;
    const int64_t have = m_.opset("");
    if (have >= need) return Status::Ok();
    if (have == 0) return detail::require_opset(m_, "", 13, 13);
    std::vector<std::string> changed = onnxio::ops_changed_between(m_, have, 13);
    if (!changed.empty())
      return unsupported("the model imports opset " + std::to_string(have) + "; static quantization needs opset >= " +
                         std::to_string(need) + " and raising it would change the meaning of " + detail::join(changed) +
                         " (convert the model first, e.g. onnx.version_converter)");
    for (auto& op : m_.opsets)
      if (ir::canonical_domain(op.domain).empty()) op.version = 13;
    m_.ir_version = std::max<int64_t>(m_.ir_version, 7);  // opset 13 needs IR version 7
    return Status::Ok();
  }

  // A Relu right after a quantized Conv/MatMul/Gemm/Add, the only reader of its output, gets no Q/DQ
  // on its input: with asymmetric uint8 activations the Relu output's QuantizeLinear (zero point
  // 0, the type's minimum) saturates exactly as the Relu does, so the producer's output needs no
  // quantization step of its own, and the value is rounded once instead of twice. ONNX Runtime's
  // QDQ quantizer removes such a Relu altogether; keeping it leaves the graph exact, and both
  // runtimes fuse DQ -> Conv -> Relu -> Q (and the residual DQ, DQ -> Add -> Relu -> Q) into one
  // integer op.
  bool relu_folds_into_producer(const ir::Node& n) const {
    if (n.op_type != "Relu" || o_.symmetric_activations || n.inputs.size() != 1) return false;
    const std::string& x = n.input(0);
    auto it = producer_.find(x);
    if (it == producer_.end() || !planned_.count(it->second)) return false;
    const std::string& op = m_.graph.nodes[it->second].op_type;
    if (op != "Conv" && op != "MatMul" && op != "Gemm" && op != "Add") return false;
    auto r = readers_.find(x);
    return r != readers_.end() && r->second == 1 && !is_graph_output(x);
  }
  bool is_graph_output(const std::string& name) const {
    for (const auto& o : m_.graph.outputs)
      if (o.name == name) return true;
    return false;
  }

  // Phase 1: which nodes are candidates and which of their inputs are activations / weights.
  void plan() {
    const ir::Graph& g = m_.graph;
    for (const auto* v : g.real_inputs()) graph_inputs_.insert(v->name);
    for (const ir::Node& n : g.nodes)
      for (const std::string& x : n.inputs)
        if (!x.empty()) ++readers_[x];
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& n = g.nodes[i];
      for (const auto& o : n.outputs) producer_[o] = i;
      if (!ir::canonical_domain(n.domain).empty()) continue;
      if (std::find(kDefaultOps.begin(), kDefaultOps.end(), n.op_type) == kDefaultOps.end()) continue;
      if (types_.non_float_node(m_.graph, n)) continue;
      const std::string label = detail::node_label(n, i);
      std::string why = detail::selection_reason(n, i, o_, kDefaultOps);
      if (why == "op type not selected") continue;
      NodePlan p;
      p.index = i;
      p.label = label;
      if (why.empty()) why = plan_node(n, &p);
      if (!why.empty()) {
        detail::report_skip(o_.report, label, why);
        continue;
      }
      planned_[i] = p;
    }
    // Relus that fold into their producer leave the plan once every node is planned: only when a
    // quantized node reads the Relu's output is there a QuantizeLinear to saturate in its place
    // (a Relu feeding only float readers keeps its quantized input, so that its producer still
    // ends in a QuantizeLinear and runs as an integer op).
    std::set<std::string> quantized_reads;
    for (const auto& [i, p] : planned_)
      for (size_t k : p.act_inputs) quantized_reads.insert(g.nodes[i].input(k));
    for (auto it = planned_.begin(); it != planned_.end();) {
      const ir::Node& n = g.nodes[it->first];
      if (relu_folds_into_producer(n) && quantized_reads.count(n.outputs[0]))
        it = planned_.erase(it);
      else
        ++it;
    }
  }

  std::string plan_node(const ir::Node& n, NodePlan* p) {
    const std::string& op = n.op_type;
    if (n.inputs.empty() || n.input(0).empty() || n.outputs.empty() || n.outputs[0].empty()) return "malformed node";
    auto act = [&](size_t k) -> std::string {
      const std::string& x = n.input(k);
      if (declared_non_float(x)) return "input '" + x + "' is not float32";
      p->act_inputs.push_back(k);
      return {};
    };
    if (op == "Conv" || op == "MatMul" || op == "Gemm") {
      if (n.inputs.size() < 2 || n.input(1).empty()) return "malformed node";
      if (is_constant(n.input(0))) return "first input is a constant";
      if (auto w = act(0); !w.empty()) return w;
      const std::string& wn = n.input(1);
      const ir::Initializer* w = detail::constant_float(m_.graph, wn);
      if (op == "Conv") {
        if (!w) return "weight is not a constant float initializer";
        if (w->tensor.rank() < 3) return "weight rank < 3";
        p->weight_input = 1;
        p->weight_axis = 0;
        const std::string& b = n.input(2);
        if (!b.empty()) {
          const ir::Initializer* bi = detail::constant_float(m_.graph, b);
          if (bi && bi->tensor.rank() == 1 && bi->tensor.numel() == w->tensor.dim(0)) p->bias_input = 2;
        }
        return {};
      }
      if (!w) {  // both operands are activations (attention scores ...)
        if (is_constant(wn)) return "second input is a non-float constant";
        return act(1);
      }
      if (w->tensor.rank() < 1) return "weight is a scalar";
      p->weight_input = 1;
      if (op == "MatMul") {
        p->weight_axis = w->tensor.rank() >= 2 ? w->tensor.rank() - 1 : -1;
      } else {
        if (w->tensor.rank() != 2) return "Gemm weight is not 2-D";
        const bool trans_b = n.attr_int("transB", 0) != 0;
        p->weight_axis = trans_b ? 0 : 1;
        const std::string& c = n.input(2);
        const int64_t N = w->tensor.dim(p->weight_axis);
        if (!c.empty() && n.attr_float("alpha", 1.0f) == 1.0f && n.attr_float("beta", 1.0f) == 1.0f) {
          const ir::Initializer* ci = detail::constant_float(m_.graph, c);
          if (ci && ci->tensor.rank() == 1 && ci->tensor.numel() == N) p->bias_input = 2;
        }
      }
      return {};
    }
    if (op == "Relu" || op == "Clip") {
      auto it = producer_.find(n.input(0));
      if (it == producer_.end() || !planned_.count(it->second)) return "does not follow a quantized node";
      return act(0);
    }
    if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") {
      if (op == "MaxPool" && n.outputs.size() > 1 && !n.outputs[1].empty()) return "MaxPool with an Indices output";
      return act(0);
    }
    // Add, Mul, Concat: every non-constant input; constants stay float.
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.input(k).empty() || is_constant(n.input(k))) continue;
      if (auto w = act(k); !w.empty()) return w;
    }
    if (p->act_inputs.empty()) return "no activation input";
    return {};
  }

  // Phase 2: a range, scale and zero point for every activation the planned nodes read.
  Status decide_activations() {
    std::vector<std::string> wanted;
    std::set<std::string> seen;
    for (const auto& [i, p] : planned_)
      for (size_t k : p.act_inputs) {
        const std::string& x = m_.graph.nodes[i].input(k);
        if (seen.insert(x).second) wanted.push_back(x);
      }
    std::map<std::string, std::string> missing;  // tensor -> why it has no parameters
    if (in_) {
      for (const std::string& x : wanted) {
        const TensorRule* r = in_->find(x);
        if (!r || r->role != "activation") {
          missing[x] = "no activation rule for '" + x + "'";
          continue;
        }
        if ((r->dtype != "uint8" && r->dtype != "int8") || r->scales.size() != 1 || r->zero_points.size() != 1 ||
            r->axis != -1)
          return invalid_argument(
              "rules: '" + x +
              "': a static activation rule needs dtype uint8 or int8, axis -1 and one scale and zero point");
        const QRange range = qtype_range(r->dtype == "uint8" ? QType::kUInt8 : QType::kInt8);
        if (r->zero_points[0] < range.qmin || r->zero_points[0] > range.qmax)
          return invalid_argument("rules: '" + x + "': zero point " + std::to_string(r->zero_points[0]) +
                                  " is outside " + r->dtype);
        ActParams a;
        a.p = {r->scales[0], r->zero_points[0]};
        a.symmetric = r->dtype == "int8";
        acts_[x] = a;
        if (out_) out_->tensors.push_back(*r);
      }
    } else {
      CalibrateOptions co;
      co.limit = o_.calib_limit;
      co.threads = o_.threads;
      co.progress = o_.progress;
      // Calibrate the float model as given (before Q/DQ): ranges of the values the nodes read.
      HONE_ASSIGN_OR_RETURN(CalibrationResult cal, calibrate(original_, wanted, *o_.calib, co));
      if (out_) out_->options["calib_samples"] = std::to_string(cal.samples);
      for (const auto& [x, why] : cal.skipped) missing[x] = "'" + x + "' has no calibration range (" + why + ")";
      for (const std::string& x : wanted) {
        auto it = cal.stats.find(x);
        if (it == cal.stats.end()) continue;
        auto range = compute_range(it->second, o_.method, o_.percentile, o_.symmetric_activations);
        if (!range.ok()) return range.status().with_context("calibration of '" + x + "'");
        ActParams a;
        a.symmetric = o_.symmetric_activations;
        if (a.symmetric) {
          HONE_ASSIGN_OR_RETURN(a.p,
                                scale_symmetric(std::max(std::fabs(range->lo), std::fabs(range->hi)), QType::kInt8));
        } else {
          HONE_ASSIGN_OR_RETURN(a.p, scale_asymmetric(range->lo, range->hi, QType::kUInt8));
        }
        acts_[x] = a;
        if (out_) {
          TensorRule r;
          r.tensor = x;
          r.role = "activation";
          r.dtype = a.symmetric ? "int8" : "uint8";
          r.bits = 8;
          r.scheme = a.symmetric ? "symmetric" : "asymmetric";
          r.axis = -1;
          r.scales = {a.p.scale};
          r.zero_points = {a.p.zero_point};
          r.method = method_name(o_.method);
          r.stats = it->second;
          out_->tensors.push_back(std::move(r));
        }
      }
    }
    // Nodes that read an activation without parameters stay float.
    for (auto it = planned_.begin(); it != planned_.end();) {
      std::string why;
      for (size_t k : it->second.act_inputs) {
        auto mi = missing.find(m_.graph.nodes[it->first].input(k));
        if (mi != missing.end()) {
          why = mi->second;
          break;
        }
      }
      if (why.empty()) {
        ++it;
        continue;
      }
      detail::report_skip(o_.report, it->second.label, why);
      it = planned_.erase(it);
    }
    return Status::Ok();
  }

  // Phase 3: int8 weights (and int32 biases) of the nodes still planned.
  Status decide_weights() {
    for (auto it = planned_.begin(); it != planned_.end();) {
      NodePlan& p = it->second;
      if (p.weight_input < 0) {
        ++it;
        continue;
      }
      const ir::Node& n = m_.graph.nodes[p.index];
      HONE_ASSIGN_OR_RETURN(std::string why, weight(n.input(static_cast<size_t>(p.weight_input)), p.weight_axis));
      if (!why.empty()) {
        detail::report_skip(o_.report, p.label, why);
        it = planned_.erase(it);
        continue;
      }
      ++it;
    }
    return Status::Ok();
  }

  Result<std::string> weight(const std::string& name, int64_t channel_axis) {
    if (auto it = weights_.find(name); it != weights_.end()) {
      // A weight read by two nodes with different channel axes cannot share one DQ.
      if (o_.per_channel && it->second.axis != -1 && it->second.axis != channel_axis)
        return std::string("weight '" + name + "' is shared with a node that needs another channel axis");
      return std::string();
    }
    const Tensor w = m_.graph.find_initializer(name)->tensor;
    const std::vector<int64_t> shape = w.shape();
    QuantParams p;
    int64_t axis = -1;
    if (in_) {
      const TensorRule* r = in_->find(name);
      if (!r || r->role != "weight") return std::string("no weight rule for '" + name + "'");
      if (r->dtype != "int8") return invalid_argument("rules: '" + name + "': static mode needs an int8 weight rule");
      axis = r->axis;
      if (axis != -1 && axis != channel_axis)
        return invalid_argument("rules: '" + name + "': axis " + std::to_string(axis) + " (expected -1 or " +
                                std::to_string(channel_axis) + ")");
      const size_t want = axis < 0 ? 1 : static_cast<size_t>(shape[static_cast<size_t>(axis)]);
      if (r->scales.size() != want || r->zero_points.size() != want)
        return invalid_argument("rules: '" + name + "': " + std::to_string(r->scales.size()) + " scales, expected " +
                                std::to_string(want));
      for (int32_t z : r->zero_points)
        if (z < -128 || z > 127) return invalid_argument("rules: '" + name + "': zero point outside int8");
      p.scales = r->scales;
      p.zero_points = r->zero_points;
      if (out_) out_->tensors.push_back(*r);
    } else {
      if (o_.per_channel && channel_axis >= 0) {
        axis = channel_axis;
        HONE_ASSIGN_OR_RETURN(p, params_per_channel(w.data<float>(), shape, axis, QType::kInt8, true, name));
      } else {
        HONE_ASSIGN_OR_RETURN(p, params_per_tensor(w.data<float>(), w.numel(), QType::kInt8, true, name));
      }
      if (out_) {
        TensorRule r;
        r.tensor = name;
        r.role = "weight";
        r.dtype = "int8";
        r.bits = 8;
        r.scheme = "symmetric";
        r.axis = axis;
        r.scales = p.scales;
        r.zero_points = p.zero_points;
        r.method = "absmax";
        out_->tensors.push_back(std::move(r));
      }
    }
    std::vector<int32_t> q;
    HONE_RETURN_IF_ERROR(quantize_tensor(w.data<float>(), shape, axis, p, QType::kInt8, &q));
    HONE_ASSIGN_OR_RETURN(Tensor wq, Tensor::create(DType::kInt8, shape));
    for (size_t i = 0; i < q.size(); ++i) wq.data<int8_t>()[i] = static_cast<int8_t>(q[i]);
    const bool scalar = axis < 0;
    HONE_ASSIGN_OR_RETURN(
        Tensor zp, Tensor::create(DType::kInt8, scalar ? Shape{} : Shape{static_cast<int64_t>(p.zero_points.size())}));
    for (size_t i = 0; i < p.zero_points.size(); ++i) zp.data<int8_t>()[i] = static_cast<int8_t>(p.zero_points[i]);
    WeightQ wq_info;
    wq_info.axis = axis;
    wq_info.params = p;
    const std::string qn = names_.make(name + "_quantized"), sn = names_.make(name + "_scale"),
                      zn = names_.make(name + "_zero_point");
    wq_info.dq_out = names_.make(name + "_DequantizeLinear_Output");
    new_inits_.push_back({qn, wq, {}, std::nullopt});
    new_inits_.push_back({sn, detail::scalar_or_vector_f32(p.scales, scalar), {}, std::nullopt});
    new_inits_.push_back({zn, zp, {}, std::nullopt});
    ir::Node dq =
        make_node("DequantizeLinear", {qn, sn, zn}, {wq_info.dq_out}, names_.make(name + "_DequantizeLinear"));
    if (!scalar) dq.attrs.push_back(detail::int_attr("axis", axis));
    wq_info.nodes.push_back(std::move(dq));
    weights_[name] = std::move(wq_info);
    replaced_.insert(name);
    return std::string();
  }

  // int32 bias behind DequantizeLinear, scale x_scale * w_scale (per channel when the weight is).
  // Empty when it would not fit int32 (then the bias stays float).
  std::string bias(const std::string& name, const ActParams& x, const WeightQ& w) {
    const std::string key = name + "\n" + x.dq_name + "\n" + w.dq_out;
    if (auto it = biases_.find(key); it != biases_.end()) return it->second;
    const Tensor b = m_.graph.find_initializer(name)->tensor;
    const int64_t n = b.numel();
    const bool per_channel = w.params.scales.size() > 1;
    std::vector<float> scales(per_channel ? static_cast<size_t>(n) : 1);
    for (size_t c = 0; c < scales.size(); ++c) scales[c] = x.p.scale * w.params.scales[per_channel ? c : 0];
    Tensor q = Tensor::create(DType::kInt32, {n}).value();
    for (int64_t i = 0; i < n; ++i) {
      const float s = scales[per_channel ? static_cast<size_t>(i) : 0];
      const double v = std::nearbyint(static_cast<double>(b.data<float>()[i]) / static_cast<double>(s));
      if (!(s > 0) || !std::isfinite(v) || std::fabs(v) > static_cast<double>(std::numeric_limits<int32_t>::max())) {
        biases_[key] = "";
        return "";
      }
      q.data<int32_t>()[i] = static_cast<int32_t>(v);
    }
    const std::string qn = names_.make(name + "_quantized"), sn = names_.make(name + "_quantized_scale"),
                      zn = names_.make(name + "_quantized_zero_point"),
                      out = names_.make(name + "_DequantizeLinear_Output");
    Tensor zp = Tensor::create(DType::kInt32, per_channel ? Shape{n} : Shape{}).value();
    new_inits_.push_back({qn, q, {}, std::nullopt});
    new_inits_.push_back({sn, detail::scalar_or_vector_f32(scales, !per_channel), {}, std::nullopt});
    new_inits_.push_back({zn, zp, {}, std::nullopt});
    ir::Node dq = make_node("DequantizeLinear", {qn, sn, zn}, {out}, names_.make(name + "_DequantizeLinear"));
    if (per_channel) dq.attrs.push_back(detail::int_attr("axis", 0));
    pending_bias_nodes_.push_back(std::move(dq));
    replaced_.insert(name);
    biases_[key] = out;
    return out;
  }

  // Q -> DQ for activation x (after its producer, or first for graph inputs).
  void emit_qdq(const std::string& x, std::vector<ir::Node>* nodes) {
    ActParams& a = acts_[x];
    const std::string sn = names_.make(x + "_scale"), zn = names_.make(x + "_zero_point");
    a.q_name = names_.make(x + "_QuantizeLinear_Output");
    a.dq_name = names_.make(x + "_DequantizeLinear_Output");
    new_inits_.push_back({sn, detail::scalar_or_vector_f32({a.p.scale}, true), {}, std::nullopt});
    Tensor zp = Tensor::create(a.symmetric ? DType::kInt8 : DType::kUInt8, {}).value();
    if (a.symmetric)
      zp.data<int8_t>()[0] = static_cast<int8_t>(a.p.zero_point);
    else
      zp.data<uint8_t>()[0] = static_cast<uint8_t>(a.p.zero_point);
    new_inits_.push_back({zn, zp, {}, std::nullopt});
    nodes->push_back(make_node("QuantizeLinear", {x, sn, zn}, {a.q_name}, names_.make(x + "_QuantizeLinear")));
    nodes->push_back(
        make_node("DequantizeLinear", {a.q_name, sn, zn}, {a.dq_name}, names_.make(x + "_DequantizeLinear")));
  }

  // Phase 4: the new node list.
  void rewrite() {
    ir::Graph& g = m_.graph;
    std::set<std::string> needed;
    for (const auto& [i, p] : planned_)
      for (size_t k : p.act_inputs) needed.insert(g.nodes[i].input(k));
    std::vector<ir::Node> old = std::move(g.nodes);
    std::vector<ir::Node> nodes;
    nodes.reserve(old.size() * 2);
    std::set<std::string> emitted;
    // Graph inputs first, in declaration order.
    for (const auto* v : g.real_inputs())
      if (needed.count(v->name) && emitted.insert(v->name).second) emit_qdq(v->name, &nodes);
    for (size_t i = 0; i < old.size(); ++i) {
      ir::Node n = std::move(old[i]);
      auto pi = planned_.find(i);
      if (pi != planned_.end()) {
        const NodePlan& p = pi->second;
        if (p.weight_input >= 0) {
          WeightQ& w = weights_[n.inputs[static_cast<size_t>(p.weight_input)]];
          if (!w.emitted) {
            for (auto& dq : w.nodes) nodes.push_back(dq);
            w.emitted = true;
          }
          if (p.bias_input >= 0) {
            const std::string b = bias(n.inputs[static_cast<size_t>(p.bias_input)], acts_[n.input(0)], w);
            for (auto& dq : pending_bias_nodes_) nodes.push_back(std::move(dq));
            pending_bias_nodes_.clear();
            if (!b.empty()) n.inputs[static_cast<size_t>(p.bias_input)] = b;
          }
          n.inputs[static_cast<size_t>(p.weight_input)] = w.dq_out;
        }
        for (size_t k : p.act_inputs) n.inputs[k] = acts_[n.inputs[k]].dq_name;
        detail::report_quantized(o_.report, n.op_type);
      }
      std::vector<std::string> outs = n.outputs;
      nodes.push_back(std::move(n));
      for (const auto& o : outs)
        if (!o.empty() && needed.count(o) && emitted.insert(o).second) emit_qdq(o, &nodes);
    }
    g.nodes = std::move(nodes);
    for (auto& init : new_inits_) g.initializers.push_back(std::move(init));
    detail::drop_unused_initializers(m_, replaced_);
  }

  const ir::Model& original_;
  ir::Model& m_;
  const QuantizeOptions o_;
  const Rules* in_;
  Rules* out_;
  detail::NameGen names_;
  std::set<std::string> graph_inputs_;
  detail::ValueTypes types_;  // of original_, set by run()
  std::map<std::string, size_t> producer_;
  std::map<std::string, int> readers_;  // how many node inputs (in the main graph) read each value
  std::map<size_t, NodePlan> planned_;  // by node index: the rewrite walks nodes in order
  std::map<std::string, ActParams> acts_;
  std::map<std::string, WeightQ> weights_;
  std::map<std::string, std::string> biases_;
  std::vector<ir::Node> pending_bias_nodes_;
  std::vector<ir::Initializer> new_inits_;
  std::set<std::string> replaced_;
};

}  // namespace

Result<ir::Model> quantize_static(const ir::Model& model, const QuantizeOptions& options, const Rules* rules_in,
                                  Rules* rules_out) {
  ir::Model m = model;
  StaticQuantizer q(model, m, options, rules_in, rules_out);
  HONE_RETURN_IF_ERROR(q.run());
  return m;
}

}  // namespace hone::quant
