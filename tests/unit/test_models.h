// Small hand-built models and a scratch folder shared by the unit tests of src/onnx, src/ir and
// src/core (and the attribute builders of the runtime and pass tests).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace hone::testing_models {

// How many nodes of each op type a graph holds, keyed "domain.op" outside the default domain
// (so a fused hone.NhwcConv is not counted as a Conv): what the pass golden tests assert on.
inline std::map<std::string, int> op_counts(const ir::Model& m) {
  std::map<std::string, int> counts;
  for (const auto& n : m.graph.nodes) ++counts[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
  return counts;
}

// Node attributes, for tests that build graphs by hand.
inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}
inline ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}
inline ir::Attribute float_attr(const std::string& name, float v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kFloat;
  a.f = v;
  return a;
}
inline ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}

// A fresh folder under $TMPDIR, removed with everything in it when the object goes away.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hone-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  // Names in the folder, sorted (to assert that nothing was left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline ir::TypeInfo tensor_type(DType elem, std::vector<ir::Dim> dims) {
  ir::TypeInfo t;
  t.kind = ir::TypeInfo::Kind::kTensor;
  t.elem = elem;
  t.has_shape = true;
  t.dims = std::move(dims);
  return t;
}

inline ir::Node node(std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                     std::string name = {}) {
  ir::Node n;
  n.op_type = std::move(op);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.name = std::move(name);
  return n;
}

// A float tensor filled with 0, 1, 2 ... (so that misplaced bytes show).
inline Tensor iota_tensor(Shape shape) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

// Y = (X + W) * B with X: float[batch, n], W a float[1, n] weight and B a float[1] scalar-ish.
inline ir::Model add_mul_model(int64_t n) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 13});
  m.producer_name = "hone-unit-test";
  m.producer_version = "1";
  m.metadata.emplace_back("purpose", "test");
  ir::Graph& g = m.graph;
  g.name = "add_mul";
  g.inputs.push_back({"X", tensor_type(DType::kFloat32, {ir::Dim::symbol("batch"), ir::Dim::of(n)}), {}});
  g.outputs.push_back({"Y", tensor_type(DType::kFloat32, {ir::Dim::symbol("batch"), ir::Dim::of(n)}), {}});
  g.initializers.push_back({"W", iota_tensor({1, n}), {}, std::nullopt});
  g.initializers.push_back({"B", iota_tensor({1}), {}, std::nullopt});
  g.nodes.push_back(node("Add", {"X", "W"}, {"T"}, "add"));
  g.nodes.push_back(node("Mul", {"T", "B"}, {"Y"}, "mul"));
  return m;
}

}  // namespace hone::testing_models
