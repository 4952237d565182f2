#include "eval/layer_compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "runtime/session_impl.h"

namespace hone::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Values that can be graph outputs of a Session: tensors, or values of undeclared type (which
// the runtime produces as tensors too). Sequences, maps and optionals cannot be compared here.
bool maybe_tensor(const ir::Graph& g, const std::string& name) {
  const ir::TypeInfo* t = g.find_type(name);
  return !t || t->kind == ir::TypeInfo::Kind::kTensor || t->kind == ir::TypeInfo::Kind::kUnknown;
}

std::unordered_map<std::string, const ir::Node*> producers(const ir::Graph& g) {
  std::unordered_map<std::string, const ir::Node*> p;
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) p[o] = &n;
  return p;
}

// The model with `values` added as graph outputs (those that are not outputs already).
ir::Model with_outputs(const ir::Model& m, const std::vector<std::string>& values) {
  ir::Model out = m;
  std::set<std::string> have;
  for (const auto& o : out.graph.outputs) have.insert(o.name);
  for (const auto& v : values) {
    if (have.count(v)) continue;
    ir::ValueInfo vi;
    vi.name = v;
    if (const ir::TypeInfo* t = m.graph.find_type(v)) vi.type = *t;
    out.graph.outputs.push_back(std::move(vi));
  }
  return out;
}

std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + "[" + (t.rank() ? shape_to_string(t.shape()) : "") + "]";
}

bool numeric(DType t) {
  const DTypeInfo& i = dtype_info(t);
  return i.is_float || i.is_integer || t == DType::kBool;
}

// Element-wise arithmetic and data movement: they pass their inputs' error on rather than make
// their own. Seen through them, an input's error is the largest along the chain: the scores behind
// `scores + mask` keep their error although the exact, huge mask makes the sum's relative error
// tiny — so the Softmax after it does not look like the layer that hurts.
bool pass_through(const std::string& op, const std::string& domain) {
  static const std::set<std::string> kOps = {"Add",   "Sub",     "Mul",     "Div",     "Neg",   "Reshape", "Transpose",
                                             "Squeeze", "Unsqueeze", "Flatten", "Identity", "Cast", "Expand", "Concat",
                                             "Slice", "Split",   "Gather",  "Where",   "Pad",   "Tile"};
  return domain.empty() && kOps.count(op) > 0;
}

}  // namespace

std::string quantized_view(const ir::Graph& cand, const std::string& value) {
  // QuantizeLinear(value) -> q, then DequantizeLinear(q) -> dq: consumers read dq.
  for (const auto& q : cand.nodes) {
    if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.input(0) != value || q.outputs.empty()) continue;
    for (const auto& dq : cand.nodes)
      if (dq.op_type == "DequantizeLinear" && dq.domain.empty() && dq.input(0) == q.outputs[0] && !dq.outputs.empty() &&
          !dq.outputs[0].empty())
        return dq.outputs[0];
  }
  return value;
}

const LayerError* LayerReport::find(const std::string& value) const {
  for (const auto& l : layers)
    if (l.value == value) return &l;
  return nullptr;
}

std::vector<std::string> shared_values(const ir::Graph& ref, const ir::Graph& cand) {
  auto cand_producers = producers(cand);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& n : ref.nodes)
    for (const auto& o : n.outputs) {
      if (o.empty() || !cand_producers.count(o) || !seen.insert(o).second) continue;
      if (maybe_tensor(ref, o) && maybe_tensor(cand, o)) out.push_back(o);
    }
  return out;
}

Result<LayerReport> compare_layers(const ir::Model& ref, const ir::Model& cand, int64_t samples, const SampleFn& sample,
                                   const LayerCompareOptions& options) {
  const std::vector<std::string> values = shared_values(ref.graph, cand.graph);
  std::vector<std::string> cand_values;  // what the candidate's consumers of each value read
  for (const auto& v : values) cand_values.push_back(quantized_view(cand.graph, v));
  SessionOptions so;
  so.threads = options.threads;
  auto ref_session = create_session(with_outputs(ref, values), so);
  if (!ref_session.ok()) return ref_session.status().with_context("reference model");
  auto cand_session = create_session(with_outputs(cand, cand_values), so);
  if (!cand_session.ok()) return cand_session.status().with_context("candidate model");

  // The candidate's inputs in the reference's order (same names required).
  const auto& ref_in = ref_session->inputs();
  const auto& cand_in = cand_session->inputs();
  std::vector<size_t> cand_order;
  bool same = ref_in.size() == cand_in.size();
  for (size_t i = 0; same && i < cand_in.size(); ++i) {
    auto it = std::find_if(ref_in.begin(), ref_in.end(), [&](const IoInfo& r) { return r.name == cand_in[i].name; });
    if (it == ref_in.end()) same = false;
    else cand_order.push_back(static_cast<size_t>(it - ref_in.begin()));
  }
  if (!same) return invalid_argument("the reference and the candidate take different inputs");

  auto index_of = [](const Session& s) {
    std::unordered_map<std::string, size_t> idx;
    for (size_t i = 0; i < s.outputs().size(); ++i) idx[s.outputs()[i].name] = i;
    return idx;
  };
  const auto ref_idx = index_of(*ref_session), cand_idx = index_of(*cand_session);

  // One accumulator per value; nullopt once a value proved not comparable (its reason in `why`).
  std::vector<std::optional<ErrorAccumulator>> acc(values.size(), ErrorAccumulator{});
  std::vector<std::string> why(values.size());
  for (int64_t s = 0; s < samples; ++s) {
    HONE_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, sample(s));
    if (inputs.size() != ref_in.size())
      return invalid_argument("sample " + std::to_string(s) + " has " + std::to_string(inputs.size()) +
                              " inputs, the models take " + std::to_string(ref_in.size()));
    std::vector<Tensor> cand_inputs;
    for (size_t k : cand_order) cand_inputs.push_back(inputs[k]);
    auto r = ref_session->run(inputs);
    if (!r.ok()) return r.status().with_context("reference model, sample " + std::to_string(s));
    auto c = cand_session->run(cand_inputs);
    if (!c.ok()) return c.status().with_context("candidate model, sample " + std::to_string(s));
    for (size_t v = 0; v < values.size(); ++v) {
      if (!acc[v]) continue;
      const Tensor& rt = (*r)[ref_idx.at(values[v])];
      const Tensor& ct = (*c)[cand_idx.at(cand_values[v])];
      if (!numeric(rt.dtype()) || !numeric(ct.dtype()) || rt.shape() != ct.shape()) {
        why[v] = describe(rt) + " vs " + describe(ct);
        acc[v].reset();
        continue;
      }
      if (Status st = acc[v]->add(rt, ct); !st.ok()) {
        why[v] = st.message();
        acc[v].reset();
      }
    }
  }

  LayerReport report;
  report.samples = samples;
  const auto ref_producers = producers(ref.graph), cand_producers = producers(cand.graph);
  std::set<std::string> ref_outputs;
  for (const auto& o : ref.graph.outputs) ref_outputs.insert(o.name);
  std::unordered_map<std::string, size_t> layer_of;
  std::vector<double> upstream_error;  // per layer: its error, or its inputs' if it only passes them on
  for (size_t v = 0; v < values.size(); ++v) {
    if (!acc[v]) {
      report.skipped.emplace_back(values[v], why[v]);
      continue;
    }
    LayerError l;
    l.value = values[v];
    l.cand_value = cand_values[v];
    const ir::Node* rn = ref_producers.at(values[v]);
    l.node = rn->name;
    l.ref_op = rn->qualified_op();
    l.cand_op = cand_producers.at(values[v])->qualified_op();
    l.is_output = ref_outputs.count(values[v]) > 0;
    l.metrics = acc[v]->result();
    // Inputs: compared values produced earlier (graph order makes them already present). Their
    // error is seen through pass-through nodes (upstream_error).
    for (const auto& in : rn->inputs) {
      auto it = layer_of.find(in);
      if (in.empty() || it == layer_of.end()) continue;
      if (std::find(l.inputs.begin(), l.inputs.end(), in) != l.inputs.end()) continue;
      l.inputs.push_back(in);
      l.input_rel_rms_error = std::max(l.input_rel_rms_error, upstream_error[it->second]);
    }
    l.input_sqnr_db = l.input_rel_rms_error > 0 ? -20.0 * std::log10(l.input_rel_rms_error) : kInf;
    const double out_err = l.metrics.rel_rms_error;
    l.added_error = out_err == l.input_rel_rms_error ? 0.0 : out_err - l.input_rel_rms_error;  // inf - inf stays 0
    upstream_error.push_back(pass_through(rn->op_type, rn->domain) ? std::max(out_err, l.input_rel_rms_error) : out_err);
    layer_of[l.value] = report.layers.size();
    report.layers.push_back(std::move(l));
  }
  report.ranking.resize(report.layers.size());
  for (size_t i = 0; i < report.ranking.size(); ++i) report.ranking[i] = i;
  std::stable_sort(report.ranking.begin(), report.ranking.end(), [&](size_t a, size_t b) {
    return report.layers[a].added_error > report.layers[b].added_error;
  });
  return report;
}

}  // namespace hone::eval
