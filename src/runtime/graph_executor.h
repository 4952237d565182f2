// Runs one graph (the model's, or an If/Loop/Scan body): nodes in order, each through the
// kernel bound to it at creation; intermediate tensors are released after their last use.
//
// Memory: kernels compute their output shapes at run time, so the executor plans from observed
// sizes. The first run with a given signature (dtypes and shapes of the inputs and of the outer
// values a subgraph reads) allocates on the heap and records, for every buffer a kernel allocated,
// its size and how long it stays in use — the last use of any value sharing it (Reshape and
// friends alias their input). Buffers that reach a graph output stay on the heap. The planner then
// places the others in one arena (memory_planner.h); later runs with that signature get their
// outputs there. A kernel asking for more than was planned (data-dependent shapes) gets heap
// memory, and a value that aliases the arena in a way the plan did not foresee (an If taking the
// other branch) is copied out, so the arena never changes what a run computes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/memory_planner.h"
#include "runtime/output_buffer_pool.h"

namespace hone::rt {

struct ExecutorConfig {
  int threads = 1;
  bool use_arena = true;  // false: every output on the heap (the reference the arena is tested against)
};

// Values visible while a graph runs: its own slots, then those of the graphs around it.
struct Scope {
  const std::unordered_map<std::string, size_t>* ids = nullptr;
  const std::vector<Tensor>* slots = nullptr;
  const Scope* parent = nullptr;
  const Tensor* find(const std::string& name) const;
};

class GraphExecutor {
 public:
  // `opsets`: domain -> version imported by the model. `outer_names`: values the enclosing
  // graphs define (a subgraph may read them).
  static Result<std::unique_ptr<GraphExecutor>> create(const ir::Graph& g, const std::map<std::string, int64_t>& opsets,
                                                       const ExecutorConfig& config,
                                                       const std::vector<std::string>& outer_names = {});

  // Runs with the graph's non-initializer inputs in declaration order.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs, const Scope* outer = nullptr);

  const ir::Graph& graph() const { return graph_; }
  const std::vector<std::string>& input_names() const { return input_names_; }

  // Used by KernelContext::run_subgraph.
  Result<std::vector<Tensor>> run_subgraph(const ir::Node& node, const std::string& attr, const std::vector<Tensor>& inputs);
  // Used by KernelContext::allocate_output*: output `i` of the step being run, zero-filled unless
  // the kernel promised to write every element.
  Result<Tensor> allocate(size_t i, DType dtype, const Shape& shape, bool zero_fill);

  // Arena of the most recent signature, this graph's and its subgraphs' together; 0 until a run
  // has recorded a plan.
  size_t arena_bytes() const;
  // What the arena holds, summed buffer by buffer as if none shared space.
  size_t planned_buffer_bytes() const;

 private:
  struct Step {
    const ir::Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<int64_t> inputs;    // slot ids; -1 for an omitted input
    std::vector<int64_t> outputs;   // slot ids; -1 for an omitted output
    std::vector<size_t> release;    // slots whose last reader is this step
    std::map<std::string, std::unique_ptr<GraphExecutor>> subgraphs;  // by attribute name
  };

  // Where each intermediate goes for one signature.
  struct Plan {
    std::vector<std::pair<DType, Shape>> signature;
    std::vector<int64_t> offset;  // per slot: arena offset of a buffer allocated for it, -1: heap
    std::vector<size_t> bytes;    // per slot with an offset: planned size
    std::vector<int64_t> last;    // per slot with an offset: last step that uses its bytes
    std::vector<size_t> placed;   // slots with an offset
    size_t arena_bytes = 0;
    size_t buffer_bytes = 0;
  };
  struct Recording;

  explicit GraphExecutor(const ir::Graph& g) : graph_(g) {}
  std::vector<std::pair<DType, Shape>> signature(const std::vector<Tensor>& slots) const;
  void record_step(Recording& rec, const Step& step, const std::vector<Tensor>& slots) const;
  std::unique_ptr<Plan> finish_recording(const Recording& rec, std::vector<std::pair<DType, Shape>> sig) const;
  bool alias_is_safe(const Plan& plan, int64_t index, size_t slot, const Tensor& t) const;

  const ir::Graph& graph_;
  ExecutorConfig config_;
  std::unordered_map<std::string, size_t> ids_;
  std::vector<Tensor> constants_;       // initializer values by slot (undefined elsewhere)
  std::vector<size_t> input_slots_;
  std::vector<std::string> input_names_;
  std::vector<std::pair<size_t, std::string>> outer_slots_;  // slots filled from enclosing scopes
  std::vector<int64_t> output_slots_;
  std::vector<Step> steps_;
  std::vector<int64_t> def_step_;   // per slot: step producing it, -1 for inputs and constants
  std::vector<int64_t> last_read_;  // per slot: last step reading it (its def step when none does)
  std::vector<char> is_output_;     // per slot
  // The scope of the run in progress, so that subgraphs started by a kernel can see it.
  const Scope* current_scope_ = nullptr;

  static constexpr size_t kMaxPlans = 4;  // signatures remembered (a model alternating shapes)
  std::vector<std::unique_ptr<Plan>> plans_;  // most recently used first
  Arena arena_;
  // The step in progress and the memory handed to its outputs (arena or fresh heap).
  const Plan* active_plan_ = nullptr;  // null when recording or without an arena
  const Step* current_step_ = nullptr;
  std::vector<const void*> given_;
  // Heap blocks of unfilled outputs the arena does not hold, reused across runs.
  std::shared_ptr<OutputBufferPool> heap_buffers_;
};

}  // namespace hone::rt
