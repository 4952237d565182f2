// What an op implementation sees. Lifecycle (XNNPACK's): a Kernel is created once per node when the
// Session is created (pack weights, read attributes), then run() is called for every inference
// with the tensors of that run. Kernels compute their own output shapes from their inputs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "hone/tensor.hpp"
#include "ir/graph.h"

namespace hone::rt {

class GraphExecutor;

// Run-time view of one node's inputs and outputs.
class KernelContext {
 public:
  KernelContext(const ir::Node& node, std::vector<const Tensor*> inputs, std::vector<Tensor>* outputs,
                GraphExecutor* executor, int threads)
      : node_(node), inputs_(std::move(inputs)), outputs_(outputs), executor_(executor), threads_(threads) {}

  const ir::Node& node() const { return node_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_->size(); }
  // nullptr when the input is omitted ("" in the model) or past the end.
  const Tensor* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  bool has_input(size_t i) const { return input(i) != nullptr; }
  // Whether output i is consumed or is a graph output (omitted outputs need not be computed).
  bool wants_output(size_t i) const { return i < node_.outputs.size() && !node_.outputs[i].empty(); }

  // Allocates output i (zero-filled) and returns it.
  Result<Tensor*> allocate_output(size_t i, DType dtype, const Shape& shape);
  // As allocate_output, but the arena bytes are left as they are: for kernels that write every
  // element of the output (GEMMs, convolutions, elementwise maps), where zero-filling first would
  // only add a pass over memory. The heap fallback (graph outputs, unplanned runs) is left
  // unfilled too.
  Result<Tensor*> allocate_output_overwritten(size_t i, DType dtype, const Shape& shape);
  // Makes output i share the buffer of an existing tensor (Reshape, Identity, Squeeze ...).
  Status set_output(size_t i, Tensor t);

  int threads() const { return threads_; }
  // A run-time error naming this node: "node 'conv1' (Conv): <msg>".
  Status error(const std::string& msg) const;

  // Runs the subgraph held by graph attribute `attr` with the given inputs; values of the
  // enclosing graphs are visible to it. Returns the subgraph's outputs in order.
  Result<std::vector<Tensor>> run_subgraph(const std::string& attr, const std::vector<Tensor>& inputs);

 private:
  const ir::Node& node_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor>* outputs_;
  GraphExecutor* executor_;
  int threads_;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(KernelContext& ctx) = 0;
};

// What a kernel factory sees at session creation.
class KernelCreateContext {
 public:
  KernelCreateContext(const ir::Node& node, int64_t opset, const ir::Graph& graph)
      : node_(node), opset_(opset), graph_(graph) {}
  const ir::Node& node() const { return node_; }
  int64_t opset() const { return opset_; }  // opset of the node's domain
  // The initializer feeding input i, when that input is a constant of this graph (weights).
  const Tensor* constant_input(size_t i) const;
  const ir::TypeInfo* input_type(size_t i) const { return graph_.find_type(node_.input(i)); }
  Status error(const std::string& msg) const;

 private:
  const ir::Node& node_;
  int64_t opset_;
  const ir::Graph& graph_;
};

// Plain function kernels: ops with nothing to prepare.
using KernelFn = Status (*)(KernelContext&);

class FunctionKernel final : public Kernel {
 public:
  explicit FunctionKernel(KernelFn fn) : fn_(fn) {}
  Status run(KernelContext& ctx) override { return fn_(ctx); }

 private:
  KernelFn fn_;
};

std::string node_label(const ir::Node& n);  // "node 'conv1' (Conv)"

}  // namespace hone::rt
