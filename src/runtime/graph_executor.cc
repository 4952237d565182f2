#include "runtime/graph_executor.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "core/checked_math.h"
#include "runtime/op_registry.h"
#include "runtime/profiler.h"

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

// What a recording run learns about the buffers kernels allocate.
struct GraphExecutor::Recording {
  explicit Recording(size_t num_slots)
      : root_of(num_slots, -1),
        start_of(num_slots, nullptr),
        bytes(num_slots, 0),
        last(num_slots, -1),
        escapes(num_slots, 0) {}

  struct Buffer {
    const uint8_t* end;
    size_t root;
    Tensor hold;  // so that the address cannot be reused by a later allocation while tracked
    int users;    // live slots sharing it
  };
  std::map<const uint8_t*, Buffer> live;  // buffers still in use, by start address
  std::vector<int64_t> root_of;           // per slot: the slot whose allocation it shares, -1: none
  std::vector<const uint8_t*> start_of;   // per root
  std::vector<size_t> bytes;              // per root
  std::vector<int64_t> last;              // per root: last step using it through any slot
  std::vector<char> escapes;              // per root: some slot sharing it is a graph output

  // The live buffer containing p, or nullptr.
  Buffer* find(const void* p) {
    auto* b = static_cast<const uint8_t*>(p);
    auto it = live.upper_bound(b);
    if (it == live.begin()) return nullptr;
    --it;
    return b < it->second.end ? &it->second : nullptr;
  }
  void release(size_t slot) {
    if (root_of[slot] < 0) return;
    auto it = live.find(start_of[static_cast<size_t>(root_of[slot])]);
    if (it != live.end() && --it->second.users == 0) live.erase(it);
  }
};

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
  // Release plan: a value dies after its last reader unless it is constant or a graph output; a
  // value nobody reads dies right after the step producing it.
  const size_t num_slots = ex->constants_.size();
  last_use.resize(num_slots, -1);
  ex->def_step_.assign(num_slots, -1);
  ex->is_output_.assign(num_slots, 0);
  for (size_t k = 0; k < ex->steps_.size(); ++k)
    for (int64_t s : ex->steps_[k].outputs)
      if (s >= 0) ex->def_step_[static_cast<size_t>(s)] = static_cast<int64_t>(k);
  for (int64_t s : ex->output_slots_) ex->is_output_[static_cast<size_t>(s)] = 1;
  ex->last_read_.assign(num_slots, -1);
  for (size_t s = 0; s < num_slots; ++s) {
    ex->last_read_[s] = std::max(last_use[s], ex->def_step_[s]);
    if (ex->last_read_[s] < 0 || ex->is_output_[s] || ex->constants_[s].defined()) continue;
    ex->steps_[static_cast<size_t>(ex->last_read_[s])].release.push_back(s);
  }
  ex->heap_buffers_ = OutputBufferPool::create(num_slots);
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
  // Memory: the plan of this signature, or a recording run that makes one.
  std::unique_ptr<Recording> rec;
  std::vector<std::pair<DType, Shape>> sig;
  active_plan_ = nullptr;
  if (config_.use_arena) {
    sig = signature(slots);
    auto it = std::find_if(plans_.begin(), plans_.end(), [&](const auto& p) { return p->signature == sig; });
    if (it == plans_.end()) {
      rec = std::make_unique<Recording>(slots.size());
    } else {
      std::rotate(plans_.begin(), it, it + 1);
      // Out of memory for the arena: this run simply stays on the heap.
      if (arena_.reserve(plans_.front()->arena_bytes)) active_plan_ = plans_.front().get();
    }
  }
  struct EndRun {
    GraphExecutor& ex;
    ~EndRun() {
      ex.active_plan_ = nullptr;
      ex.current_step_ = nullptr;
    }
  } end_run{*this};

  Scope scope{&ids_, &slots, outer};
  const Scope* saved = current_scope_;
  current_scope_ = &scope;
  struct Restore {
    const Scope*& ref;
    const Scope* value;
    ~Restore() { ref = value; }
  } restore{current_scope_, saved};

  std::vector<const Tensor*> in;
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& step = steps_[k];
    const int64_t index = static_cast<int64_t>(k);
    in.clear();
    for (int64_t s : step.inputs) in.push_back(s >= 0 ? &slots[static_cast<size_t>(s)] : nullptr);
    for (size_t i = 0; i < in.size(); ++i)
      if (in[i] && !in[i]->defined()) in[i] = nullptr;  // an optional output that was not produced
    std::vector<Tensor> out(step.outputs.size());
    current_step_ = &step;
    given_.assign(step.outputs.size(), nullptr);
    KernelContext ctx(*step.node, in, &out, this, config_.threads);
    Status st = profiled(*step.node, [&] { return step.kernel->run(ctx); });
    current_step_ = nullptr;
    if (!st.ok()) {
      if (st.message().rfind("node '", 0) == 0) return st;
      return Status(st.code(), node_label(*step.node) + ": " + st.message());
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (step.outputs[i] < 0) continue;
      if (!out[i].defined() && i == 0)
        return runtime_error(node_label(*step.node) + ": produced no output '" + step.node->outputs[i] + "'");
      const size_t v = static_cast<size_t>(step.outputs[i]);
      // An output in the arena that the planner did not hand out shares a buffer; keep it there
      // only while the plan keeps that buffer intact for as long as the output is used.
      if (active_plan_ && out[i].defined() && arena_.contains(out[i].raw()) && given_[i] != out[i].raw() &&
          !alias_is_safe(*active_plan_, index, v, out[i]))
        out[i] = out[i].clone();
      slots[v] = std::move(out[i]);
    }
    if (rec) record_step(*rec, step, slots);
    for (size_t s : step.release) {
      if (rec) rec->release(s);
      slots[s] = Tensor();
    }
  }
  std::vector<Tensor> result;
  for (int64_t s : output_slots_) {
    if (!slots[static_cast<size_t>(s)].defined())
      return runtime_error("graph output '" + graph_.outputs[result.size()].name + "' was not produced");
    result.push_back(slots[static_cast<size_t>(s)]);
  }
  if (rec) {
    if (plans_.size() == kMaxPlans) plans_.pop_back();
    plans_.insert(plans_.begin(), finish_recording(*rec, std::move(sig)));
  }
  return result;
}

// ---- Memory planning ----

std::vector<std::pair<DType, Shape>> GraphExecutor::signature(const std::vector<Tensor>& slots) const {
  std::vector<std::pair<DType, Shape>> sig;
  for (size_t s : input_slots_) sig.emplace_back(slots[s].dtype(), slots[s].shape());
  for (const auto& [s, _] : outer_slots_) sig.emplace_back(slots[s].dtype(), slots[s].shape());
  return sig;
}

void GraphExecutor::record_step(Recording& rec, const Step& step, const std::vector<Tensor>& slots) const {
  auto trackable = [&](int64_t s) {
    if (s < 0) return false;
    const Tensor& t = slots[static_cast<size_t>(s)];
    return t.defined() && t.dtype() != DType::kString && t.nbytes() > 0;
  };
  // Fresh allocations first, so that an output sharing a sibling's buffer is seen as its alias.
  for (size_t i = 0; i < step.outputs.size(); ++i) {
    const int64_t s = step.outputs[i];
    if (!trackable(s) || given_[i] != slots[static_cast<size_t>(s)].raw()) continue;
    const size_t v = static_cast<size_t>(s);
    const Tensor& t = slots[v];
    auto* start = static_cast<const uint8_t*>(t.raw());
    rec.root_of[v] = s;
    rec.start_of[v] = start;
    rec.bytes[v] = t.nbytes();
    rec.last[v] = last_read_[v];
    rec.escapes[v] = is_output_[v];
    rec.live[start] = {start + t.nbytes(), v, t, 1};
  }
  for (size_t i = 0; i < step.outputs.size(); ++i) {
    const int64_t s = step.outputs[i];
    if (!trackable(s) || given_[i] == slots[static_cast<size_t>(s)].raw()) continue;
    const size_t v = static_cast<size_t>(s);
    Recording::Buffer* b = rec.find(slots[v].raw());
    if (!b) continue;  // shares an input, a constant or a subgraph's output: not ours to place
    rec.root_of[v] = static_cast<int64_t>(b->root);
    ++b->users;
    rec.last[b->root] = std::max(rec.last[b->root], last_read_[v]);
    rec.escapes[b->root] |= is_output_[v];
  }
}

std::unique_ptr<GraphExecutor::Plan> GraphExecutor::finish_recording(const Recording& rec,
                                                                     std::vector<std::pair<DType, Shape>> sig) const {
  auto plan = std::make_unique<Plan>();
  plan->signature = std::move(sig);
  plan->offset.assign(rec.root_of.size(), -1);
  plan->bytes.assign(rec.root_of.size(), 0);
  plan->last.assign(rec.root_of.size(), -1);
  std::vector<BufferLifetime> buffers;
  for (size_t v = 0; v < rec.root_of.size(); ++v) {
    if (rec.root_of[v] != static_cast<int64_t>(v) || rec.escapes[v]) continue;
    plan->placed.push_back(v);
    buffers.push_back({rec.bytes[v], def_step_[v], rec.last[v]});
  }
  ArenaLayout layout = plan_arena(buffers);
  for (size_t j = 0; j < plan->placed.size(); ++j) {
    const size_t v = plan->placed[j];
    plan->offset[v] = static_cast<int64_t>(layout.offsets[j]);
    plan->bytes[v] = buffers[j].bytes;
    plan->last[v] = buffers[j].last;
    plan->buffer_bytes += buffers[j].bytes;
  }
  plan->arena_bytes = layout.arena_bytes;
  return plan;
}

bool GraphExecutor::alias_is_safe(const Plan& plan, int64_t index, size_t slot, const Tensor& t) const {
  if (is_output_[slot]) return false;
  auto* p = static_cast<const uint8_t*>(t.raw());
  for (size_t r : plan.placed) {
    const uint8_t* start = arena_.data() + plan.offset[r];
    if (p < start || p >= start + plan.bytes[r] || def_step_[r] > index || plan.last[r] < index) continue;
    return p + t.nbytes() <= start + plan.bytes[r] && last_read_[slot] <= plan.last[r];
  }
  return false;
}

Result<Tensor> GraphExecutor::allocate(size_t i, DType dtype, const Shape& shape, bool zero_fill) {
  const Plan* plan = active_plan_;
  const int64_t s = current_step_ && i < current_step_->outputs.size() ? current_step_->outputs[i] : -1;
  if (plan && s >= 0 && plan->offset[static_cast<size_t>(s)] >= 0 && dtype != DType::kString && dtype_size(dtype) > 0) {
    const size_t v = static_cast<size_t>(s);
    auto n = shape_numel(shape);
    // Larger than planned (a data-dependent shape): the heap below.
    if (n.ok() && *n > 0 && static_cast<size_t>(*n) <= plan->bytes[v] / dtype_size(dtype)) {
      uint8_t* p = arena_.data() + plan->offset[v];
      // Most kernels rely on zero-filled outputs, as Tensor::create gives them.
      if (zero_fill) std::memset(p, 0, static_cast<size_t>(*n) * dtype_size(dtype));
      given_[i] = p;
      return Tensor::view(dtype, shape, p, arena_.owner());
    }
  }
  if (dtype != DType::kString && dtype_size(dtype) > 0) {
    // Heap memory from the slot's pool (the block the caller dropped after the previous run, when
    // it did): a large output, mapped fresh by the allocator every run, cost a page fault per 4
    // KiB. A kernel that writes every element gets it as unfilled as the arena's: graph outputs
    // always land here, and zero-filling a large one (a conv's feature map) was a whole extra pass
    // over it on every run.
    HONE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape));
    const auto bytes = checked_mul(n, static_cast<int64_t>(dtype_size(dtype)));
    if (!bytes || *bytes > (int64_t{1} << 46))
      return out_of_memory("tensor of shape " + shape_to_string(shape) + " is too large");
    const size_t alloc = std::max<size_t>(64, static_cast<size_t>(*bytes));
    // Graph outputs only: the first run of a signature puts every intermediate on the heap, and
    // keeping a block per intermediate after it would hold far more than the arena.
    const bool pooled = s >= 0 && is_output_[static_cast<size_t>(s)];
    std::shared_ptr<void> block = heap_buffers_->get(pooled ? static_cast<size_t>(s) : SIZE_MAX, alloc);
    if (!block) return out_of_memory("cannot allocate " + std::to_string(*bytes) + " bytes for a tensor");
    void* p = block.get();
    if (zero_fill) std::memset(p, 0, alloc);
    if (i < given_.size()) given_[i] = p;
    return Tensor::view(dtype, shape, p, std::move(block));
  }
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dtype, shape));  // strings
  if (i < given_.size()) given_[i] = t.raw();
  return t;
}

size_t GraphExecutor::arena_bytes() const {
  size_t total = plans_.empty() ? 0 : plans_.front()->arena_bytes;
  for (const auto& step : steps_)
    for (const auto& [_, sub] : step.subgraphs) total += sub->arena_bytes();
  return total;
}

size_t GraphExecutor::planned_buffer_bytes() const {
  size_t total = plans_.empty() ? 0 : plans_.front()->buffer_bytes;
  for (const auto& step : steps_)
    for (const auto& [_, sub] : step.subgraphs) total += sub->planned_buffer_bytes();
  return total;
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
  auto t = executor_->allocate(i, dtype, shape, /*zero_fill=*/true);
  if (!t.ok()) return error(t.status().message());
  (*outputs_)[i] = std::move(t).value();
  return &(*outputs_)[i];
}

Result<Tensor*> KernelContext::allocate_output_overwritten(size_t i, DType dtype, const Shape& shape) {
  if (i >= outputs_->size()) return error("output " + std::to_string(i) + " does not exist");
  auto t = executor_->allocate(i, dtype, shape, /*zero_fill=*/false);
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
