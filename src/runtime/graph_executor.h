// Runs one graph (the model's, or an If/Loop/Scan body): nodes in order, each through the
// kernel bound to it at creation; intermediate tensors are released after their last use.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/kernel.h"

namespace hone::rt {

struct ExecutorConfig {
  int threads = 1;
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

 private:
  struct Step {
    const ir::Node* node;
    std::unique_ptr<Kernel> kernel;
    std::vector<int64_t> inputs;    // slot ids; -1 for an omitted input
    std::vector<int64_t> outputs;   // slot ids; -1 for an omitted output
    std::vector<size_t> release;    // slots whose last reader is this step
    std::map<std::string, std::unique_ptr<GraphExecutor>> subgraphs;  // by attribute name
  };

  explicit GraphExecutor(const ir::Graph& g) : graph_(g) {}

  const ir::Graph& graph_;
  ExecutorConfig config_;
  std::unordered_map<std::string, size_t> ids_;
  std::vector<Tensor> constants_;       // initializer values by slot (undefined elsewhere)
  std::vector<size_t> input_slots_;
  std::vector<std::string> input_names_;
  std::vector<std::pair<size_t, std::string>> outer_slots_;  // slots filled from enclosing scopes
  std::vector<int64_t> output_slots_;
  std::vector<Step> steps_;
  // The scope of the run in progress, so that subgraphs started by a kernel can see it.
  const Scope* current_scope_ = nullptr;
};

}  // namespace hone::rt
