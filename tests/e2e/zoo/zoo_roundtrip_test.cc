// ONNX I/O round trip over one zoo model (tests/e2e/zoo/zoo_check.py runs this per model).
//
//   HONE_ZOO_MODEL=path/NAME.onnx HONE_ZOO_TEST_DIR=path/NAME HONE_ZOO_ROUNDTRIP_OUT=out.onnx
//     hone_zoo_roundtrip_test
//
// Loads the model with hone's importer, checks its conformance-layout test data loads and fits
// the declared input/output types, saves it with hone's exporter to HONE_ZOO_ROUNDTRIP_OUT,
// reloads that file and checks that nothing changed: same graph, bit-identical initializers,
// and serialization is a fixed point. zoo_check.py then compares the written file with the
// original through the onnx Python package (an independent reader). Skips without the model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "ir/graph.h"
#include "onnx/export.h"
#include "onnx/import.h"

namespace hone {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Checks a sample tensor against a declared type: same dtype, rank and every known dim.
void expect_fits(const Tensor& t, const ir::TypeInfo& type, const std::string& what) {
  ASSERT_TRUE(type.is_tensor()) << what;
  EXPECT_EQ(t.dtype(), type.elem) << what << ": declared " << type.to_string();
  ASSERT_TRUE(type.has_shape) << what;
  ASSERT_EQ(static_cast<size_t>(t.rank()), type.dims.size()) << what << ": declared " << type.to_string();
  for (size_t i = 0; i < type.dims.size(); ++i)
    if (type.dims[i].known()) {
      EXPECT_EQ(t.dim(static_cast<int64_t>(i)), type.dims[i].value) << what << " dim " << i;
    }
}

void expect_same_values(const std::vector<ir::ValueInfo>& a, const std::vector<ir::ValueInfo>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name) << what << " " << i;
    EXPECT_EQ(a[i].type.to_string(), b[i].type.to_string()) << what << " " << a[i].name;
  }
}

void expect_same_model(const ir::Model& a, const ir::Model& b) {
  EXPECT_EQ(a.ir_version, b.ir_version);
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.producer_version, b.producer_version);
  ASSERT_EQ(a.opsets.size(), b.opsets.size());
  for (size_t i = 0; i < a.opsets.size(); ++i) {
    EXPECT_EQ(ir::canonical_domain(a.opsets[i].domain), ir::canonical_domain(b.opsets[i].domain));
    EXPECT_EQ(a.opsets[i].version, b.opsets[i].version);
  }
  EXPECT_EQ(a.metadata, b.metadata);

  const ir::Graph& ga = a.graph;
  const ir::Graph& gb = b.graph;
  expect_same_values(ga.inputs, gb.inputs, "graph input");
  expect_same_values(ga.outputs, gb.outputs, "graph output");
  expect_same_values(ga.value_info, gb.value_info, "value_info");

  ASSERT_EQ(ga.nodes.size(), gb.nodes.size());
  for (size_t i = 0; i < ga.nodes.size(); ++i) {
    const ir::Node& x = ga.nodes[i];
    const ir::Node& y = gb.nodes[i];
    SCOPED_TRACE("node " + std::to_string(i) + " " + x.name + " (" + x.qualified_op() + ")");
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.qualified_op(), y.qualified_op());
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.outputs, y.outputs);
    ASSERT_EQ(x.attrs.size(), y.attrs.size());
    for (size_t k = 0; k < x.attrs.size(); ++k) {
      const ir::Attribute& p = x.attrs[k];
      const ir::Attribute& q = y.attrs[k];
      EXPECT_EQ(p.name, q.name);
      EXPECT_EQ(p.type, q.type) << p.name;
      EXPECT_EQ(p.i, q.i) << p.name;
      EXPECT_EQ(p.ints, q.ints) << p.name;
      EXPECT_EQ(p.s, q.s) << p.name;
      EXPECT_EQ(p.strings, q.strings) << p.name;
      // Floats compared as bits: a round trip must not even flip a NaN payload.
      EXPECT_EQ(std::memcmp(&p.f, &q.f, sizeof p.f), 0) << p.name;
      ASSERT_EQ(p.floats.size(), q.floats.size()) << p.name;
      if (!p.floats.empty()) {
        EXPECT_EQ(std::memcmp(p.floats.data(), q.floats.data(), p.floats.size() * sizeof(float)), 0) << p.name;
      }
      if (p.t.defined() || q.t.defined()) {
        EXPECT_TRUE(p.t.bit_equal(q.t)) << p.name;
      }
    }
  }

  ASSERT_EQ(ga.initializers.size(), gb.initializers.size());
  for (size_t i = 0; i < ga.initializers.size(); ++i) {
    const ir::Initializer& x = ga.initializers[i];
    const ir::Initializer& y = gb.initializers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.tensor.dtype(), y.tensor.dtype()) << x.name;
    EXPECT_EQ(x.tensor.shape(), y.tensor.shape()) << x.name;
    EXPECT_TRUE(x.tensor.bit_equal(y.tensor)) << x.name << ": initializer bytes changed";
  }
}

TEST(ZooRoundTrip, LoadSaveReload) {
  const std::string model_path = env("HONE_ZOO_MODEL");
  const std::string test_dir = env("HONE_ZOO_TEST_DIR");
  const std::string out_path = env("HONE_ZOO_ROUNDTRIP_OUT");
  if (model_path.empty() || !std::filesystem::exists(model_path))
    GTEST_SKIP() << "zoo model not present (HONE_ZOO_MODEL='" << model_path << "'); build the zoo with `make zoo`";
  ASSERT_FALSE(out_path.empty()) << "HONE_ZOO_ROUNDTRIP_OUT is not set";

  auto loaded = onnxio::load_model(model_path);
  ASSERT_TRUE(loaded.ok()) << "load " << model_path << ": " << loaded.status().message();
  const ir::Model& model = *loaded;
  ASSERT_FALSE(model.graph.nodes.empty());
  const auto inputs = model.graph.real_inputs();
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0]->name, "input");
  ASSERT_EQ(model.graph.outputs.size(), 1u);
  EXPECT_EQ(model.graph.outputs[0].name, "output");

  // The sample input and PyTorch's output for it (conformance layout) load and fit the model.
  if (!test_dir.empty()) {
    const std::string data = test_dir + "/test_data_set_0/";
    auto in = onnxio::load_tensor_file(data + "input_0.pb");
    ASSERT_TRUE(in.ok()) << data << "input_0.pb: " << in.status().message();
    expect_fits(*in, inputs[0]->type, "input_0.pb vs declared input");
    auto out = onnxio::load_tensor_file(data + "output_0.pb");
    ASSERT_TRUE(out.ok()) << data << "output_0.pb: " << out.status().message();
    expect_fits(*out, model.graph.outputs[0].type, "output_0.pb vs declared output");
  }

  // Export, reload, compare.
  std::filesystem::create_directories(std::filesystem::path(out_path).parent_path());
  Status saved = onnxio::save_model(model, out_path);
  ASSERT_TRUE(saved.ok()) << "save " << out_path << ": " << saved.message();
  auto reloaded = onnxio::load_model(out_path);
  ASSERT_TRUE(reloaded.ok()) << "reload " << out_path << ": " << reloaded.status().message();
  expect_same_model(model, *reloaded);

  // Serialization is a fixed point: what hone writes, hone reads back and writes identically.
  auto bytes1 = onnxio::serialize_model(model);
  ASSERT_TRUE(bytes1.ok()) << bytes1.status().message();
  auto bytes2 = onnxio::serialize_model(*reloaded);
  ASSERT_TRUE(bytes2.ok()) << bytes2.status().message();
  EXPECT_TRUE(*bytes1 == *bytes2) << "serialize(load(save(m))) differs from serialize(m) ("
                                  << bytes1->size() << " vs " << bytes2->size() << " bytes)";
}

}  // namespace
}  // namespace hone
