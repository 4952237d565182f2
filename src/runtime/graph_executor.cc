#include "runtime/graph_executor.h"

#include <unordered_set>

#include "runtime/op_registry.h"

namespace hone::rt {

const Tensor* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent) {
    auto it = s->ids->find(name);
    if (it != s->ids->end() && (*s->slots)[it->second].defined()) return &(*s->slots)[it->second];
  }
  return nullptr;
}

namespace {

// Names a subgraph (and its own subgraphs) reads without defining: they come from outside.
void collect_outer_reads(const ir::Graph& g, std::unordered_set<std::string>& out) {
  std::unordered_set<std::string> defined;
  for (const auto& v : g.inputs) defined.insert(v.name);
  for (const auto& i : g.initializers) defined.insert(i.name);
  for (const auto& n : g.nodes) {
    for (const auto& in : n.inputs)
      if (!in.empty() && !defined.count(in)) out.insert(in);
    for (const auto& a : n.attrs) {
      std::unordered_set<std::string> inner;
      if (a.g) collect_outer_reads(*a.g, inner);
      for (const auto& sg : a.graphs) collect_outer_reads(*sg, inner);
      for (const auto& name : inner)
        if (!defined.count(name)) out.insert(name);
    }
    for (const auto& o : n.outputs) defined.insert(o);
  }
  for (const auto& v : g.outputs)
    if (!defined.count(v.name)) out.insert(v.name);
}

}  // namespace

Result<std::unique_ptr<GraphExecutor>> GraphExecutor::create(const ir::Graph& g, const std::map<std::string, int64_t>& opsets,
                                                             const ExecutorConfig& config,
                                                             const std::vector<std::string>& outer_names) {
  std::unique_ptr<GraphExecutor> ex(new GraphExecutor(g));
  ex->config_ = config;
  auto slot = [&](const std::string& name) {
    auto [it, inserted] = ex->ids_.emplace(name, ex->ids_.size());
    if (inserted) ex->constants_.emplace_back();
    return it->second;
  };
  for (const auto& init : g.initializers) ex->constants_[slot(init.name)] = init.tensor;
  for (const auto& v : g.inputs) {
    if (g.find_initializer(v.name)) continue;  // an initializer that may be overridden: treat as constant
    ex->input_slots_.push_back(slot(v.name));
    ex->input_names_.push_back(v.name);
  }
  std::unordered_set<std::string> outer(outer_names.begin(), outer_names.end());
  std::unordered_set<std::string> local;
  for (const auto& [name, _] : ex->ids_) local.insert(name);
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) local.insert(o);
  // Values read from enclosing graphs get a local slot filled at the start of each run.
  auto outer_slot = [&](const std::string& name) -> Result<size_t> {
    if (!ex->ids_.count(name)) {
      if (!outer.count(name)) return invalid_model("value '" + name + "' is not defined");
      size_t s = slot(name);
      ex->outer_slots_.emplace_back(s, name);
      return s;
    }
    return ex->ids_.at(name);
  };

  // Names visible to subgraphs of this graph: everything here plus everything outside.
  std::vector<std::string> visible(outer_names.begin(), outer_names.end());
  visible.insert(visible.end(), local.begin(), local.end());

  std::vector<int64_t> last_use;
  for (const auto& n : g.nodes) {
    Step step;
    step.node = &n;
    for (const auto& in : n.inputs) {
      if (in.empty()) {
        step.inputs.push_back(-1);
        continue;
      }
      if (!ex->ids_.count(in) && local.count(in))
        return invalid_model(node_label(n) + " reads '" + in + "' before it is produced");
      HONE_ASSIGN_OR_RETURN(size_t s, outer_slot(in));
      step.inputs.push_back(static_cast<int64_t>(s));
    }
    // Subgraphs: build their executors now; their reads of our values extend those values' lives.
    std::unordered_set<std::string> implicit;
    for (const auto& a : n.attrs) {
      if (!a.g) continue;
      HONE_ASSIGN_OR_RETURN(auto sub, GraphExecutor::create(*a.g, opsets, config, visible));
      collect_outer_reads(*a.g, implicit);
      step.subgraphs[a.name] = std::move(sub);
    }
    std::vector<size_t> implicit_slots;
    for (const auto& name : implicit) {
      if (ex->ids_.count(name)) implicit_slots.push_back(ex->ids_.at(name));
      else if (outer.count(name)) {
        HONE_ASSIGN_OR_RETURN(size_t s, outer_slot(name));
        implicit_slots.push_back(s);
      }
    }
    for (const auto& o : n.outputs) step.outputs.push_back(o.empty() ? -1 : static_cast<int64_t>(slot(o)));

    auto it = opsets.find(n.domain);
    int64_t opset = it == opsets.end() ? 0 : it->second;
    const OpRegistration* reg = OpRegistry::global().find(n.domain, n.op_type, opset);
    if (!reg)
      return unsupported(node_label(n) + ": hone cannot run op '" + n.qualified_op() + "' at opset " + std::to_string(opset));
    KernelCreateContext cctx(n, opset, g);
    auto kernel = reg->factory(cctx);
    if (!kernel.ok()) return kernel.status();
    step.kernel = std::move(kernel).value();

    const int64_t index = static_cast<int64_t>(ex->steps_.size());
    last_use.resize(ex->constants_.size(), -1);
    for (int64_t s : step.inputs)
      if (s >= 0) last_use[static_cast<size_t>(s)] = index;
    for (size_t s : implicit_slots) last_use[s] = index;
    ex->steps_.push_back(std::move(step));
  }
  for (const auto& v : g.outputs) {
    HONE_ASSIGN_OR_RETURN(size_t s, outer_slot(v.name));
    ex->output_slots_.push_back(static_cast<int64_t>(s));
  }
  // Release plan: a value dies after its last reader unless it is constant or a graph output.
  last_use.resize(ex->constants_.size(), -1);
  std::unordered_set<int64_t> keep(ex->output_slots_.begin(), ex->output_slots_.end());
  for (size_t s = 0; s < last_use.size(); ++s) {
    if (last_use[s] < 0 || keep.count(static_cast<int64_t>(s)) || ex->constants_[s].defined()) continue;
    ex->steps_[static_cast<size_t>(last_use[s])].release.push_back(s);
  }
  return ex;
}

Result<std::vector<Tensor>> GraphExecutor::run(const std::vector<Tensor>& inputs, const Scope* outer) {
  if (inputs.size() != input_slots_.size())
    return runtime_error("graph '" + graph_.name + "' takes " + std::to_string(input_slots_.size()) + " inputs, got " +
                         std::to_string(inputs.size()));
  std::vector<Tensor> slots = constants_;
  for (size_t i = 0; i < inputs.size(); ++i) slots[input_slots_[i]] = inputs[i];
  for (const auto& [s, name] : outer_slots_) {
    const Tensor* t = outer ? outer->find(name) : nullptr;
    if (!t) return runtime_error("value '" + name + "' from an enclosing graph is not available");
    slots[s] = *t;
  }
  Scope scope{&ids_, &slots, outer};
  const Scope* saved = current_scope_;
  current_scope_ = &scope;
  struct Restore {
    const Scope*& ref;
    const Scope* value;
    ~Restore() { ref = value; }
  } restore{current_scope_, saved};

  std::vector<const Tensor*> in;
  for (auto& step : steps_) {
    in.clear();
    for (int64_t s : step.inputs) in.push_back(s >= 0 ? &slots[static_cast<size_t>(s)] : nullptr);
    for (size_t i = 0; i < in.size(); ++i)
      if (in[i] && !in[i]->defined()) in[i] = nullptr;  // an optional output that was not produced
    std::vector<Tensor> out(step.outputs.size());
    KernelContext ctx(*step.node, in, &out, this, config_.threads);
    Status st = step.kernel->run(ctx);
    if (!st.ok()) {
      if (st.message().rfind("node '", 0) == 0) return st;
      return Status(st.code(), node_label(*step.node) + ": " + st.message());
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (step.outputs[i] < 0) continue;
      if (!out[i].defined() && i == 0)
        return runtime_error(node_label(*step.node) + ": produced no output '" + step.node->outputs[i] + "'");
      slots[static_cast<size_t>(step.outputs[i])] = std::move(out[i]);
    }
    for (size_t s : step.release) slots[s] = Tensor();
  }
  std::vector<Tensor> result;
  for (int64_t s : output_slots_) {
    if (!slots[static_cast<size_t>(s)].defined())
      return runtime_error("graph output '" + graph_.outputs[result.size()].name + "' was not produced");
    result.push_back(slots[static_cast<size_t>(s)]);
  }
  return result;
}

Result<std::vector<Tensor>> GraphExecutor::run_subgraph(const ir::Node& node, const std::string& attr,
                                                        const std::vector<Tensor>& inputs) {
  for (auto& step : steps_) {
    if (step.node != &node) continue;
    auto it = step.subgraphs.find(attr);
    if (it == step.subgraphs.end()) return runtime_error(node_label(node) + " has no graph attribute '" + attr + "'");
    return it->second->run(inputs, current_scope_);
  }
  return runtime_error(node_label(node) + " is not part of this graph");
}

// ---- KernelContext / KernelCreateContext ----

Result<Tensor*> KernelContext::allocate_output(size_t i, DType dtype, const Shape& shape) {
  if (i >= outputs_->size()) return error("output " + std::to_string(i) + " does not exist");
  auto t = Tensor::create(dtype, shape);
  if (!t.ok()) return error(t.status().message());
  (*outputs_)[i] = std::move(t).value();
  return &(*outputs_)[i];
}

Status KernelContext::set_output(size_t i, Tensor t) {
  if (i >= outputs_->size()) return error("output " + std::to_string(i) + " does not exist");
  (*outputs_)[i] = std::move(t);
  return Status::Ok();
}

Status KernelContext::error(const std::string& msg) const { return runtime_error(node_label(node_) + ": " + msg); }

Result<std::vector<Tensor>> KernelContext::run_subgraph(const std::string& attr, const std::vector<Tensor>& inputs) {
  return executor_->run_subgraph(node_, attr, inputs);
}

const Tensor* KernelCreateContext::constant_input(size_t i) const {
  const ir::Initializer* init = graph_.find_initializer(node_.input(i));
  return init ? &init->tensor : nullptr;
}

Status KernelCreateContext::error(const std::string& msg) const { return invalid_model(node_label(node_) + ": " + msg); }

std::string node_label(const ir::Node& n) {
  return "node '" + (n.name.empty() ? (n.outputs.empty() ? n.op_type : n.outputs[0]) : n.name) + "' (" + n.qualified_op() + ")";
}

}  // namespace hone::rt
