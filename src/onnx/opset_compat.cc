#include "onnx/opset_compat.h"

#include <onnx/defs/schema.h>

#include <map>
#include <set>

namespace hone::onnxio {

namespace {

// Ops whose schema changes from opset `first` up to 13 only widened type lists (bfloat16, int8
// ...), allowed negative axes or added attributes whose defaults keep the old behaviour: a model
// importing opset >= first means the same at 13. Anything not here (Softmax's axis semantics,
// Squeeze/Unsqueeze/Split axes moving to inputs, Clip's bounds moving to inputs at 11, Dropout's
// ratio input at 12, Pad at 11 ...) is reported as changed. Taken from ONNX's Changelog.md.
const std::map<std::string, int64_t>& type_only_changes() {
  static const std::map<std::string, int64_t> kOps = {
      {"Add", 7},
      {"Sub", 7},
      {"Mul", 7},
      {"Div", 7},
      {"Relu", 6},
      {"Sigmoid", 6},
      {"Tanh", 6},
      {"Exp", 6},
      {"Log", 6},
      {"Sqrt", 6},
      {"Neg", 6},
      {"Abs", 6},
      {"Reciprocal", 6},
      {"Floor", 6},
      {"Ceil", 6},
      {"MatMul", 9},
      {"Gemm", 9},
      {"Conv", 1},
      {"MaxPool", 8},
      {"AveragePool", 7},
      {"Concat", 4},
      {"Flatten", 9},
      {"Reshape", 5},
      {"Transpose", 1},
      {"Clip", 11},
      {"Identity", 1},
      {"Shape", 1},
      {"Gather", 1},
      {"Cast", 9},
      {"Sum", 8},
      {"Max", 8},
      {"Min", 8},
      {"Mean", 8},
      {"Pow", 7},
      {"Erf", 9},
      {"ReduceMean", 1},
      {"ReduceMax", 1},
      {"ReduceMin", 1},
      {"Equal", 7},
      {"Less", 9},
      {"Greater", 9},
      {"Pad", 11},
      {"LeakyRelu", 6},
      {"Expand", 8},
      {"Slice", 10},
      {"Tile", 6},
      {"ConstantOfShape", 9},
      {"Constant", 9},
      {"HardSigmoid", 6},
      {"PRelu", 9},
      {"GlobalMaxPool", 1},
      {"LRN", 1},
      {"Range", 11},
      {"Where", 9},
      {"Not", 1},
  };
  return kOps;
}

}  // namespace

std::vector<std::string> ops_changed_between(const ir::Model& m, int64_t from, int64_t to) {
  std::set<std::string> ops, changed;
  ir::for_each_graph(m.graph, [&](const ir::Graph& g, int) {
    for (const auto& n : g.nodes)
      if (ir::canonical_domain(n.domain).empty()) ops.insert(n.op_type);
  });
  for (const std::string& op : ops) {
    const auto* a = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(from), "");
    const auto* b = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(to), "");
    if (!a || !b) {
      changed.insert(op);
      continue;
    }
    if (a->SinceVersion() == b->SinceVersion()) continue;
    auto it = type_only_changes().find(op);
    if (to <= 13 && it != type_only_changes().end() && from >= it->second) continue;
    changed.insert(op);
  }
  return {changed.begin(), changed.end()};
}

}  // namespace hone::onnxio
