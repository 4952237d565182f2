// The ops hone promises to run (the 109-op list of the runtime issue): each must have a
// registration in the default ONNX domain. docs/ops.md lists every registration with its opset
// ranges and conformance results (tools/gen_ops_doc.py, `make ops-doc`).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/op_registry.h"

namespace hone::rt {
namespace {

const char* const kPromisedOps[] = {
    "Abs", "Acos", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip",
    "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "CumSum", "DepthToSpace", "Div",
    "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements",
    "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GRU",
    "HardSigmoid", "HardSwish", "Identity", "If", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Less",
    "LessOrEqual", "Log", "LogSoftmax", "Loop", "LSTM", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mod", "Mul",
    "Neg", "Not", "Or", "Pad", "Pow", "PRelu", "Range", "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean",
    "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "ScatterElements",
    "ScatterND", "Selu", "Shape", "Sigmoid", "Sign", "Sin", "Size", "Slice", "Softmax", "Softplus", "SpaceToDepth",
    "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "TopK", "Transpose", "Trilu", "Unsqueeze", "Where",
    "Xor", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
    "QLinearConv", "QLinearMatMul",
};

TEST(OpCoverage, ListHas109Ops) { EXPECT_EQ(std::size(kPromisedOps), 109u); }

TEST(OpCoverage, EveryPromisedOpIsRegistered) {
  std::vector<std::string> missing;
  for (const char* op : kPromisedOps) {
    bool found = false;
    for (const auto& r : OpRegistry::global().all()) found |= r.domain.empty() && r.op_type == op;
    if (!found) missing.push_back(op);
  }
  std::string list;
  for (const auto& m : missing) list += (list.empty() ? "" : " ") + m;
  EXPECT_TRUE(missing.empty()) << missing.size() << " promised op(s) not registered: " << list;
}

// Every registration has a sane opset range and a factory (a typo'd range would silently
// make an op unreachable).
TEST(OpCoverage, RegistrationsAreWellFormed) {
  for (const auto& r : OpRegistry::global().all()) {
    EXPECT_FALSE(r.op_type.empty());
    EXPECT_GE(r.since_version, 1) << r.op_type;
    EXPECT_LE(r.since_version, r.until_version) << r.op_type;
    EXPECT_TRUE(static_cast<bool>(r.factory)) << r.op_type;
  }
}

}  // namespace
}  // namespace hone::rt
