// Control flow: If, Loop and Scan. Their bodies are graph attributes run through
// KernelContext::run_subgraph, which lets a body read the values of the graphs around it.
// Sequence and optional values are not modelled by hone's runtime, so only tensor-valued
// branches, loop-carried values and scan outputs are supported.
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

// A condition (If's input, Loop's cond): a bool tensor of one element.
Result<bool> read_condition(const Tensor& t, const std::string& what) {
  if (t.dtype() != DType::kBool)
    return runtime_error(what + " must be a bool tensor, got " + std::string(dtype_name(t.dtype())));
  if (t.numel() != 1) return runtime_error(what + " must have one element, got shape " + shape_to_string(t.shape()));
  return t.data<uint8_t>()[0] != 0;
}

Result<Tensor> scalar_int64(int64_t v) {
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(DType::kInt64, {}));
  t.data<int64_t>()[0] = v;
  return t;
}

Result<Tensor> scalar_bool(bool v) {
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(DType::kBool, {}));
  t.data<uint8_t>()[0] = v ? 1 : 0;
  return t;
}

const ir::Graph* graph_attr(const ir::Node& node, const std::string& name) {
  const ir::Attribute* a = node.attr(name);
  return a && a->g ? a->g.get() : nullptr;
}

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// Copies `count` elements; strings are stored out of line and copied one by one.
void copy_elements(Tensor& dst, int64_t dst_offset, const Tensor& src, int64_t src_offset, int64_t count) {
  if (count <= 0) return;
  if (src.dtype() == DType::kString) {
    for (int64_t i = 0; i < count; ++i)
      dst.strings()[static_cast<size_t>(dst_offset + i)] = src.strings()[static_cast<size_t>(src_offset + i)];
    return;
  }
  const size_t esize = dtype_size(src.dtype());
  std::memcpy(static_cast<char*>(dst.raw()) + static_cast<size_t>(dst_offset) * esize,
              static_cast<const char*>(src.raw()) + static_cast<size_t>(src_offset) * esize,
              static_cast<size_t>(count) * esize);
}

// Index `index` of `t` along `axis` (a tensor of rank one less).
Result<Tensor> slice_along(const Tensor& t, size_t axis, int64_t index) {
  Shape slice_shape = t.shape();
  const int64_t length = slice_shape[axis];
  slice_shape.erase(slice_shape.begin() + static_cast<std::ptrdiff_t>(axis));
  HONE_ASSIGN_OR_RETURN(Tensor slice, Tensor::create(t.dtype(), slice_shape));
  const int64_t outer = product(t.shape(), 0, axis);
  const int64_t inner = product(t.shape(), axis + 1, t.shape().size());
  for (int64_t o = 0; o < outer; ++o) copy_elements(slice, o * inner, t, (o * length + index) * inner, inner);
  return slice;
}

// Per-iteration tensors stacked along a new axis `axis`; slot i of `parts` goes to index i.
// All parts must agree in dtype and shape. `empty_type` gives the dtype and shape of an element
// when there are no parts (zero iterations).
Result<Tensor> stack_along(const std::vector<Tensor>& parts, int64_t axis, const ir::TypeInfo* empty_type,
                           const std::string& what) {
  if (parts.empty()) {
    DType dtype = empty_type && empty_type->elem != DType::kUndefined ? empty_type->elem : DType::kFloat32;
    Shape shape;
    if (empty_type && empty_type->has_shape)
      for (const auto& d : empty_type->dims) shape.push_back(d.known() ? d.value : 0);
    if (axis < 0 || axis > static_cast<int64_t>(shape.size())) axis = 0;
    shape.insert(shape.begin() + axis, 0);
    return Tensor::create(dtype, shape);
  }
  const Tensor& first = parts[0];
  const int64_t rank = first.rank() + 1;
  if (axis < -rank || axis >= rank)
    return runtime_error(what + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  for (const Tensor& p : parts) {
    if (p.dtype() != first.dtype() || p.shape() != first.shape())
      return runtime_error(what + " changes between iterations: " + std::string(dtype_name(first.dtype())) + "[" +
                           shape_to_string(first.shape()) + "] then " + std::string(dtype_name(p.dtype())) + "[" +
                           shape_to_string(p.shape()) + "]");
  }
  Shape shape = first.shape();
  const int64_t count = static_cast<int64_t>(parts.size());
  shape.insert(shape.begin() + axis, count);
  HONE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(first.dtype(), shape));
  const int64_t outer = product(first.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = product(first.shape(), static_cast<size_t>(axis), first.shape().size());
  for (int64_t i = 0; i < count; ++i)
    for (int64_t o = 0; o < outer; ++o) copy_elements(out, (o * count + i) * inner, parts[static_cast<size_t>(i)], o * inner, inner);
  return out;
}

const ir::TypeInfo* output_type(const ir::Graph& g, size_t i) {
  return i < g.outputs.size() ? &g.outputs[i].type : nullptr;
}

// ---- If ----

Status run_if(KernelContext& ctx) {
  if (!ctx.has_input(0)) return ctx.error("input 'cond' is missing");
  auto cond = read_condition(*ctx.input(0), "input 'cond'");
  if (!cond.ok()) return ctx.error(cond.status().message());
  const char* branch = *cond ? "then_branch" : "else_branch";
  if (!graph_attr(ctx.node(), branch)) return ctx.error(std::string("graph attribute '") + branch + "' is missing");
  HONE_ASSIGN_OR_RETURN(std::vector<Tensor> outs, ctx.run_subgraph(branch, {}));
  if (outs.size() != ctx.num_outputs())
    return ctx.error(std::string(branch) + " produces " + std::to_string(outs.size()) + " outputs, the node has " +
                     std::to_string(ctx.num_outputs()));
  for (size_t i = 0; i < outs.size(); ++i) HONE_RETURN_IF_ERROR(ctx.set_output(i, std::move(outs[i])));
  return Status::Ok();
}

// ---- Loop ----
// Inputs: M (trip count, optional), cond (optional), N loop-carried values.
// Body: (iteration, cond, N values) -> (cond, N values, K scan slices).
// Outputs: the N final values, then the K scan outputs stacked along a new axis 0.

Status run_loop(KernelContext& ctx) {
  const ir::Graph* body = graph_attr(ctx.node(), "body");
  if (!body) return ctx.error("graph attribute 'body' is missing");
  if (ctx.num_inputs() < 2) return ctx.error("expects at least 2 inputs (M, cond), got " + std::to_string(ctx.num_inputs()));
  const size_t num_carried = ctx.num_inputs() - 2;
  if (ctx.num_outputs() < num_carried)
    return ctx.error("has " + std::to_string(num_carried) + " loop-carried inputs but only " +
                     std::to_string(ctx.num_outputs()) + " outputs");
  const size_t num_scans = ctx.num_outputs() - num_carried;
  if (body->inputs.size() != 2 + num_carried)
    return ctx.error("body takes " + std::to_string(body->inputs.size()) + " inputs, expected " +
                     std::to_string(2 + num_carried) + " (iteration, cond, loop-carried values)");
  if (body->outputs.size() != 1 + num_carried + num_scans)
    return ctx.error("body produces " + std::to_string(body->outputs.size()) + " outputs, expected " +
                     std::to_string(1 + num_carried + num_scans) + " (cond, loop-carried values, scan outputs)");

  int64_t trip_count = std::numeric_limits<int64_t>::max();
  if (ctx.has_input(0)) {
    const Tensor& m = *ctx.input(0);
    if (m.numel() != 1) return ctx.error("input 'M' must have one element, got shape " + shape_to_string(m.shape()));
    auto v = read_ints(m);
    if (!v.ok()) return ctx.error("input 'M': " + v.status().message());
    trip_count = (*v)[0];
  }
  const bool uses_condition = ctx.has_input(1);
  if (!ctx.has_input(0) && !uses_condition)
    return ctx.error("has neither a trip count nor a condition: it would never end");
  bool keep_going = true;
  if (uses_condition) {
    auto c = read_condition(*ctx.input(1), "input 'cond'");
    if (!c.ok()) return ctx.error(c.status().message());
    keep_going = *c;
  }

  std::vector<Tensor> carried(num_carried);
  for (size_t i = 0; i < num_carried; ++i) {
    if (!ctx.has_input(2 + i)) return ctx.error("loop-carried input " + std::to_string(i) + " is missing");
    carried[i] = *ctx.input(2 + i);
  }
  std::vector<std::vector<Tensor>> scans(num_scans);
  std::vector<Tensor> body_inputs(2 + num_carried);
  for (int64_t iteration = 0; iteration < trip_count && keep_going; ++iteration) {
    HONE_ASSIGN_OR_RETURN(body_inputs[0], scalar_int64(iteration));
    HONE_ASSIGN_OR_RETURN(body_inputs[1], scalar_bool(keep_going));
    for (size_t i = 0; i < num_carried; ++i) body_inputs[2 + i] = std::move(carried[i]);
    HONE_ASSIGN_OR_RETURN(std::vector<Tensor> outs, ctx.run_subgraph("body", body_inputs));
    if (outs.size() != 1 + num_carried + num_scans)
      return ctx.error("body produced " + std::to_string(outs.size()) + " outputs, expected " +
                       std::to_string(1 + num_carried + num_scans));
    if (uses_condition) {  // without a cond input the body's condition is ignored (ONNX: a for loop)
      auto c = read_condition(outs[0], "body output 'cond'");
      if (!c.ok()) return ctx.error(c.status().message());
      keep_going = *c;
    }
    for (size_t i = 0; i < num_carried; ++i) carried[i] = std::move(outs[1 + i]);
    for (size_t k = 0; k < num_scans; ++k) scans[k].push_back(std::move(outs[1 + num_carried + k]));
  }

  for (size_t i = 0; i < num_carried; ++i) HONE_RETURN_IF_ERROR(ctx.set_output(i, std::move(carried[i])));
  for (size_t k = 0; k < num_scans; ++k) {
    if (!ctx.wants_output(num_carried + k)) continue;
    auto stacked = stack_along(scans[k], 0, output_type(*body, 1 + num_carried + k), "scan output " + std::to_string(k));
    if (!stacked.ok()) return ctx.error(stacked.status().message());
    HONE_RETURN_IF_ERROR(ctx.set_output(num_carried + k, std::move(stacked).value()));
  }
  return Status::Ok();
}

// ---- Scan ----
// Scan 9+: inputs are N states then M scan inputs, sliced along scan_input_axes; the body maps
// (N states, M slices) -> (N states, K slices); outputs are the N final states, then the K slices
// stacked along scan_output_axes. Directions reverse the order in which slices are read/written.

struct ScanConfig {
  size_t num_states = 0;
  size_t num_scan_inputs = 0;
  size_t num_scan_outputs = 0;
  std::vector<int64_t> input_axes, input_directions, output_axes, output_directions;
};

// Runs `length` iterations. Returns the final states and, per scan output, its slices in
// output order (already reversed for reverse output directions).
struct ScanResult {
  std::vector<Tensor> states;
  std::vector<std::vector<Tensor>> outputs;
};

Result<ScanResult> scan_iterations(KernelContext& ctx, const ScanConfig& cfg, std::vector<Tensor> states,
                                   const std::vector<Tensor>& scan_inputs, const std::vector<size_t>& input_axes,
                                   int64_t length) {
  ScanResult r;
  r.outputs.assign(cfg.num_scan_outputs, std::vector<Tensor>(static_cast<size_t>(length)));
  std::vector<Tensor> body_inputs(cfg.num_states + cfg.num_scan_inputs);
  for (int64_t t = 0; t < length; ++t) {
    for (size_t i = 0; i < cfg.num_states; ++i) body_inputs[i] = std::move(states[i]);
    for (size_t j = 0; j < cfg.num_scan_inputs; ++j) {
      const int64_t index = cfg.input_directions[j] ? length - 1 - t : t;
      HONE_ASSIGN_OR_RETURN(body_inputs[cfg.num_states + j], slice_along(scan_inputs[j], input_axes[j], index));
    }
    HONE_ASSIGN_OR_RETURN(std::vector<Tensor> outs, ctx.run_subgraph("body", body_inputs));
    if (outs.size() != cfg.num_states + cfg.num_scan_outputs)
      return ctx.error("body produced " + std::to_string(outs.size()) + " outputs, expected " +
                       std::to_string(cfg.num_states + cfg.num_scan_outputs));
    for (size_t i = 0; i < cfg.num_states; ++i) states[i] = std::move(outs[i]);
    for (size_t k = 0; k < cfg.num_scan_outputs; ++k) {
      const int64_t index = cfg.output_directions[k] ? length - 1 - t : t;
      r.outputs[k][static_cast<size_t>(index)] = std::move(outs[cfg.num_states + k]);
    }
  }
  r.states = std::move(states);
  return r;
}

// Reads a per-input attribute list (axes or directions): `count` entries, `fallback` when absent.
Result<std::vector<int64_t>> per_input_ints(const ir::Node& node, const std::string& name, size_t count) {
  if (!node.attr(name)) return std::vector<int64_t>(count, 0);
  std::vector<int64_t> v = node.attr_ints(name);
  if (v.size() != count)
    return runtime_error("attribute '" + name + "' has " + std::to_string(v.size()) + " entries, expected " +
                         std::to_string(count));
  return v;
}

Status check_directions(const std::vector<int64_t>& dirs, const std::string& name) {
  for (int64_t d : dirs)
    if (d != 0 && d != 1) return runtime_error("attribute '" + name + "' must hold 0 or 1, got " + std::to_string(d));
  return Status::Ok();
}

// Number of scan inputs; the rest of `num_inputs` (after `leading` inputs) are states.
Result<ScanConfig> scan_config(KernelContext& ctx, size_t leading, bool has_axes) {
  const ir::Node& node = ctx.node();
  ScanConfig cfg;
  const ir::Attribute* n = node.attr("num_scan_inputs");
  if (!n) return runtime_error("attribute 'num_scan_inputs' is missing");
  if (n->i < 1 || static_cast<size_t>(n->i) + leading > ctx.num_inputs())
    return runtime_error("num_scan_inputs " + std::to_string(n->i) + " does not fit " +
                         std::to_string(ctx.num_inputs()) + " inputs");
  cfg.num_scan_inputs = static_cast<size_t>(n->i);
  cfg.num_states = ctx.num_inputs() - leading - cfg.num_scan_inputs;
  if (ctx.num_outputs() < cfg.num_states)
    return runtime_error("has " + std::to_string(cfg.num_states) + " state inputs but only " +
                         std::to_string(ctx.num_outputs()) + " outputs");
  cfg.num_scan_outputs = ctx.num_outputs() - cfg.num_states;
  if (has_axes) {
    HONE_ASSIGN_OR_RETURN(cfg.input_axes, per_input_ints(node, "scan_input_axes", cfg.num_scan_inputs));
    HONE_ASSIGN_OR_RETURN(cfg.input_directions, per_input_ints(node, "scan_input_directions", cfg.num_scan_inputs));
    HONE_ASSIGN_OR_RETURN(cfg.output_axes, per_input_ints(node, "scan_output_axes", cfg.num_scan_outputs));
    HONE_ASSIGN_OR_RETURN(cfg.output_directions, per_input_ints(node, "scan_output_directions", cfg.num_scan_outputs));
    HONE_RETURN_IF_ERROR(check_directions(cfg.input_directions, "scan_input_directions"));
    HONE_RETURN_IF_ERROR(check_directions(cfg.output_directions, "scan_output_directions"));
  } else {
    cfg.input_axes.assign(cfg.num_scan_inputs, 0);
    HONE_ASSIGN_OR_RETURN(cfg.input_directions, per_input_ints(node, "directions", cfg.num_scan_inputs));
    HONE_RETURN_IF_ERROR(check_directions(cfg.input_directions, "directions"));
    cfg.output_axes.assign(cfg.num_scan_outputs, 0);
    cfg.output_directions.assign(cfg.num_scan_outputs, 0);
  }
  const ir::Graph* body = graph_attr(node, "body");
  if (!body) return runtime_error("graph attribute 'body' is missing");
  if (body->inputs.size() != cfg.num_states + cfg.num_scan_inputs)
    return runtime_error("body takes " + std::to_string(body->inputs.size()) + " inputs, expected " +
                         std::to_string(cfg.num_states + cfg.num_scan_inputs));
  if (body->outputs.size() != cfg.num_states + cfg.num_scan_outputs)
    return runtime_error("body produces " + std::to_string(body->outputs.size()) + " outputs, expected " +
                         std::to_string(cfg.num_states + cfg.num_scan_outputs));
  return cfg;
}

// The common length of the scan inputs along their axes (normalized into `axes`).
Result<int64_t> scan_length(const std::vector<Tensor>& scan_inputs, const std::vector<int64_t>& raw_axes,
                            std::vector<size_t>& axes) {
  int64_t length = -1;
  axes.clear();
  for (size_t j = 0; j < scan_inputs.size(); ++j) {
    HONE_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(raw_axes[j], scan_inputs[j].rank()));
    axes.push_back(static_cast<size_t>(axis));
    const int64_t len = scan_inputs[j].dim(axis);
    if (length >= 0 && len != length)
      return runtime_error("scan inputs disagree on the sequence length: " + std::to_string(length) + " and " +
                           std::to_string(len));
    length = len;
  }
  return length;
}

Status run_scan9(KernelContext& ctx) {
  auto cfg_or = scan_config(ctx, 0, true);
  if (!cfg_or.ok()) return ctx.error(cfg_or.status().message());
  const ScanConfig& cfg = *cfg_or;
  std::vector<Tensor> states(cfg.num_states), scan_inputs(cfg.num_scan_inputs);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error("input " + std::to_string(i) + " is missing");
    (i < cfg.num_states ? states[i] : scan_inputs[i - cfg.num_states]) = *ctx.input(i);
  }
  std::vector<size_t> axes;
  auto length = scan_length(scan_inputs, cfg.input_axes, axes);
  if (!length.ok()) return ctx.error(length.status().message());
  HONE_ASSIGN_OR_RETURN(ScanResult r, scan_iterations(ctx, cfg, std::move(states), scan_inputs, axes, *length));
  for (size_t i = 0; i < cfg.num_states; ++i) HONE_RETURN_IF_ERROR(ctx.set_output(i, std::move(r.states[i])));
  const ir::Graph& body = *graph_attr(ctx.node(), "body");
  for (size_t k = 0; k < cfg.num_scan_outputs; ++k) {
    auto stacked = stack_along(r.outputs[k], cfg.output_axes[k], output_type(body, cfg.num_states + k),
                               "scan output " + std::to_string(k));
    if (!stacked.ok()) return ctx.error(stacked.status().message());
    HONE_RETURN_IF_ERROR(ctx.set_output(cfg.num_states + k, std::move(stacked).value()));
  }
  return Status::Ok();
}

// Scan 8: a leading batch axis on every state and scan input (scan inputs are
// [batch, sequence, ...]) and an optional first input sequence_lens [batch]; each batch entry is
// scanned on its own over its first sequence_lens[b] steps; scan outputs are zero past them.
Status run_scan8(KernelContext& ctx) {
  auto cfg_or = scan_config(ctx, 1, false);
  if (!cfg_or.ok()) return ctx.error(cfg_or.status().message());
  const ScanConfig& cfg = *cfg_or;
  std::vector<Tensor> states(cfg.num_states), scan_inputs(cfg.num_scan_inputs);
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error("input " + std::to_string(i) + " is missing");
    const Tensor& t = *ctx.input(i);
    const size_t min_rank = i - 1 < cfg.num_states ? 1 : 2;
    if (t.rank() < static_cast<int64_t>(min_rank))
      return ctx.error("input " + std::to_string(i) + " must have rank >= " + std::to_string(min_rank) +
                       " (batch axis first), got shape " + shape_to_string(t.shape()));
    (i - 1 < cfg.num_states ? states[i - 1] : scan_inputs[i - 1 - cfg.num_states]) = t;
  }
  const Tensor& reference = cfg.num_states ? states[0] : scan_inputs[0];
  const int64_t batch = reference.dim(0);
  if (batch == 0) return ctx.error("batch size 0 is not supported");
  for (const auto* group : {&states, &scan_inputs})
    for (const Tensor& t : *group)
      if (t.dim(0) != batch) return ctx.error("inputs disagree on the batch size: " + std::to_string(batch) + " and " + std::to_string(t.dim(0)));
  const int64_t max_length = scan_inputs[0].dim(1);
  for (const Tensor& t : scan_inputs)
    if (t.dim(1) != max_length) return ctx.error("scan inputs disagree on the sequence length");
  std::vector<int64_t> lengths(static_cast<size_t>(batch), max_length);
  if (ctx.has_input(0)) {
    auto v = read_ints(*ctx.input(0));
    if (!v.ok()) return ctx.error("input 'sequence_lens': " + v.status().message());
    if (static_cast<int64_t>(v->size()) != batch)
      return ctx.error("input 'sequence_lens' has " + std::to_string(v->size()) + " entries, batch is " + std::to_string(batch));
    for (int64_t len : *v)
      if (len < 0 || len > max_length)
        return ctx.error("sequence length " + std::to_string(len) + " is outside [0, " + std::to_string(max_length) + "]");
    lengths = std::move(v).value();
  }

  // Per batch entry: final states and padded scan outputs, stacked along the batch axis at the end.
  std::vector<std::vector<Tensor>> final_states(cfg.num_states), scan_outputs(cfg.num_scan_outputs);
  const std::vector<size_t> axes(cfg.num_scan_inputs, 0);
  const ir::Graph& body = *graph_attr(ctx.node(), "body");
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> batch_states(cfg.num_states), batch_inputs(cfg.num_scan_inputs);
    for (size_t i = 0; i < cfg.num_states; ++i) {
      HONE_ASSIGN_OR_RETURN(batch_states[i], slice_along(states[i], 0, b));
    }
    for (size_t j = 0; j < cfg.num_scan_inputs; ++j) {
      HONE_ASSIGN_OR_RETURN(Tensor whole, slice_along(scan_inputs[j], 0, b));
      if (lengths[static_cast<size_t>(b)] == max_length) {
        batch_inputs[j] = std::move(whole);
        continue;
      }
      // Only the first sequence_lens[b] steps exist; reverse scans start from the last of them.
      Shape shape = whole.shape();
      shape[0] = lengths[static_cast<size_t>(b)];
      HONE_ASSIGN_OR_RETURN(batch_inputs[j], Tensor::create(whole.dtype(), shape));
      copy_elements(batch_inputs[j], 0, whole, 0, batch_inputs[j].numel());
    }
    HONE_ASSIGN_OR_RETURN(ScanResult r, scan_iterations(ctx, cfg, std::move(batch_states), batch_inputs, axes,
                                                        lengths[static_cast<size_t>(b)]));
    for (size_t i = 0; i < cfg.num_states; ++i) final_states[i].push_back(std::move(r.states[i]));
    for (size_t k = 0; k < cfg.num_scan_outputs; ++k) {
      auto stacked = stack_along(r.outputs[k], 0, output_type(body, cfg.num_states + k), "scan output " + std::to_string(k));
      if (!stacked.ok()) return ctx.error(stacked.status().message());
      Tensor padded = std::move(stacked).value();
      if (padded.dim(0) != max_length) {
        Shape shape = padded.shape();
        shape[0] = max_length;
        HONE_ASSIGN_OR_RETURN(Tensor full, Tensor::create(padded.dtype(), shape));
        copy_elements(full, 0, padded, 0, padded.numel());
        padded = std::move(full);
      }
      scan_outputs[k].push_back(std::move(padded));
    }
  }
  for (size_t i = 0; i < cfg.num_states; ++i) {
    auto stacked = stack_along(final_states[i], 0, nullptr, "state " + std::to_string(i));
    if (!stacked.ok()) return ctx.error(stacked.status().message());
    HONE_RETURN_IF_ERROR(ctx.set_output(i, std::move(stacked).value()));
  }
  for (size_t k = 0; k < cfg.num_scan_outputs; ++k) {
    auto stacked = stack_along(scan_outputs[k], 0, nullptr, "scan output " + std::to_string(k));
    if (!stacked.ok()) return ctx.error(stacked.status().message());
    HONE_RETURN_IF_ERROR(ctx.set_output(cfg.num_states + k, std::move(stacked).value()));
  }
  return Status::Ok();
}

}  // namespace

// Versions 11/13/16 only widened the accepted types (sequences, optionals); for tensors every
// version behaves the same.
HONE_REGISTER_FN("", If, 1, kMaxOpset, run_if);
HONE_REGISTER_FN("", Loop, 1, kMaxOpset, run_loop);
HONE_REGISTER_FN("", Scan, 8, 8, run_scan8);
HONE_REGISTER_FN("", Scan, 9, kMaxOpset, run_scan9);

}  // namespace hone::rt
