// Graph-editing helpers shared by the quantization modes (internal to src/quant).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "ir/graph.h"
#include "quant/quantize.h"

namespace hone::quant::detail {

// Unique names for new values, initializers and nodes: every name already in the model (all
// graphs, so a new value never shadows an outer-scope name a subgraph reads) is taken.
class NameGen {
 public:
  explicit NameGen(const ir::Model& m);
  // base if free, else base_1, base_2 ...; the result is reserved.
  std::string make(const std::string& base);

 private:
  std::set<std::string> used_;
};

// How many times a value is read: node inputs in every graph (subgraphs included) plus graph
// outputs of the main graph.
std::map<std::string, int> count_uses(const ir::Model& m);

// Element types of a model's values: the declared ones and, for the values the model does not
// declare (exporters rarely declare intermediates), ONNX's type inference on a copy. Without the
// inferred ones, integer shape arithmetic (Shape -> Gather -> Div -> Mul in every exported
// attention block, an int64 MatMul) looks like float work to quantize.
class ValueTypes {
 public:
  ValueTypes() = default;  // declared types only
  // Infers on a copy of `m` (it shares the weights' storage); `m` itself, and so the output
  // model's value_info, is not changed. A model inference cannot type keeps its declared types.
  explicit ValueTypes(const ir::Model& m);
  // Known (inferred, else declared in `g`) and not float32.
  bool known_non_float(const ir::Graph& g, const std::string& name) const;
  // Every output known and not float32: integer (or bool) arithmetic. Not a float node left in
  // float, so not a candidate at all and not listed in the report.
  bool non_float_node(const ir::Graph& g, const ir::Node& n) const;

 private:
  std::map<std::string, DType> inferred_;  // node outputs of the main graph
};

// A constant float initializer of the main graph (not also a graph input, which a user could
// override at run time). nullptr otherwise.
const ir::Initializer* constant_float(const ir::Graph& g, const std::string& name);

// "fc1", or "MatMul#3" for a node without a name: how reports and rules name nodes.
std::string node_label(const ir::Node& n, size_t index);

// Whether a candidate node is selected by --ops / --exclude: empty reason when it is.
// `ops` empty means `default_ops`.
std::string selection_reason(const ir::Node& n, size_t index, const QuantizeOptions& o,
                             const std::vector<std::string>& default_ops);

// Raises / adds an opset import. For the default domain, fails when the model's opset is below
// `min_ok` (raising an old opset can change the meaning of other ops, so hone refuses instead).
Status require_opset(ir::Model& m, const std::string& domain, int64_t min_ok, int64_t add_version);

// Removes initializers that nothing reads any more (after their node was replaced).
void drop_unused_initializers(ir::Model& m, const std::set<std::string>& candidates);

Tensor scalar_or_vector_f32(const std::vector<float>& v, bool as_scalar);
ir::Node make_node(std::string op, std::vector<std::string> in, std::vector<std::string> out, std::string name,
                   std::string domain = {});
ir::Attribute int_attr(const std::string& name, int64_t v);

// Fills a QuantizeReport skip entry / quantized count (report may be null).
void report_skip(QuantizeReport* r, const std::string& node, const std::string& reason);
void report_quantized(QuantizeReport* r, const std::string& op_type);

// Options shared by the rules file of every mode, stored as strings.
std::string join(const std::vector<std::string>& v);

}  // namespace hone::quant::detail
