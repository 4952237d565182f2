// Import -> export -> import over the whole ONNX conformance suite (Debian's libonnx-testdata).
//
// For every model.onnx: hone loads it, serializes it, ONNX's own checker accepts the bytes, and
// re-importing them gives the same model: nodes (op_type, domain, inputs, outputs, attributes,
// subgraphs included), bit-identical initializers, opsets, producer and metadata. A second export
// must give the very same bytes (export is a function of the IR). Every input_N.pb / output_N.pb
// must load with load_tensor_file.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "onnx/export.h"
#include "onnx/import.h"

namespace fs = std::filesystem;

namespace hone {
namespace {

const char* kSuiteRoot = "/usr/share/libonnx-testdata/data";
const char* kSuites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

std::vector<fs::path> conformance_models() {
  std::vector<fs::path> models;
  std::error_code ec;
  for (const char* suite : kSuites)
    for (const auto& e : fs::directory_iterator(fs::path(kSuiteRoot) / suite, ec))
      if (fs::exists(e.path() / "model.onnx")) models.push_back(e.path() / "model.onnx");
  std::sort(models.begin(), models.end());
  return models;
}

// Compares the bit patterns, so that NaN payloads and -0.0 count too.
bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool same_tensors(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  return !a.defined() || a.bit_equal(b);
}

void expect_same_graph(const ir::Graph& a, const ir::Graph& b);

void expect_same_type(const ir::TypeInfo& a, const ir::TypeInfo& b, const std::string& value) {
  SCOPED_TRACE("value " + value);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.elem, b.elem);
  EXPECT_EQ(a.has_shape, b.has_shape);
  EXPECT_EQ(a.dims, b.dims);
  EXPECT_EQ(a.denotation, b.denotation);
  EXPECT_EQ(a.opaque, b.opaque);
}

void expect_same_values(const std::vector<ir::ValueInfo>& a, const std::vector<ir::ValueInfo>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].doc_string, b[i].doc_string);
    expect_same_type(a[i].type, b[i].type, a[i].name);
  }
}

void expect_same_attribute(const ir::Attribute& a, const ir::Attribute& b) {
  SCOPED_TRACE("attribute " + a.name);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(std::memcmp(&a.f, &b.f, sizeof a.f), 0) << a.f << " vs " << b.f;
  EXPECT_EQ(a.i, b.i);
  EXPECT_EQ(a.s, b.s);
  EXPECT_TRUE(same_tensors(a.t, b.t));
  EXPECT_TRUE(same_floats(a.floats, b.floats));
  EXPECT_EQ(a.ints, b.ints);
  EXPECT_EQ(a.strings, b.strings);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) EXPECT_TRUE(same_tensors(a.tensors[i], b.tensors[i])) << "tensor " << i;
  EXPECT_EQ(a.opaque, b.opaque);
  EXPECT_EQ(a.ref_attr_name, b.ref_attr_name);
  EXPECT_EQ(a.doc_string, b.doc_string);
  ASSERT_EQ(a.g != nullptr, b.g != nullptr);
  if (a.g) expect_same_graph(*a.g, *b.g);
  ASSERT_EQ(a.graphs.size(), b.graphs.size());
  for (size_t i = 0; i < a.graphs.size(); ++i) expect_same_graph(*a.graphs[i], *b.graphs[i]);
}

void expect_same_graph(const ir::Graph& a, const ir::Graph& b) {
  SCOPED_TRACE("graph '" + a.name + "'");
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.doc_string, b.doc_string);
  expect_same_values(a.inputs, b.inputs);
  expect_same_values(a.outputs, b.outputs);
  expect_same_values(a.value_info, b.value_info);
  EXPECT_EQ(a.opaque_sparse_initializers, b.opaque_sparse_initializers);
  EXPECT_EQ(a.opaque_quantization_annotation, b.opaque_quantization_annotation);
  ASSERT_EQ(a.initializers.size(), b.initializers.size());
  for (size_t i = 0; i < a.initializers.size(); ++i) {
    SCOPED_TRACE("initializer " + a.initializers[i].name);
    EXPECT_EQ(a.initializers[i].name, b.initializers[i].name);
    EXPECT_EQ(a.initializers[i].doc_string, b.initializers[i].doc_string);
    EXPECT_TRUE(a.initializers[i].tensor.bit_equal(b.initializers[i].tensor));
  }
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const ir::Node& x = a.nodes[i];
    const ir::Node& y = b.nodes[i];
    SCOPED_TRACE("node " + std::to_string(i) + " '" + x.name + "' " + x.qualified_op());
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op_type, y.op_type);
    EXPECT_EQ(x.domain, y.domain);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.outputs, y.outputs);
    EXPECT_EQ(x.doc_string, y.doc_string);
    ASSERT_EQ(x.attrs.size(), y.attrs.size());
    for (size_t k = 0; k < x.attrs.size(); ++k) expect_same_attribute(x.attrs[k], y.attrs[k]);
  }
}

void expect_same_model(const ir::Model& a, const ir::Model& b) {
  EXPECT_EQ(a.ir_version, b.ir_version);
  ASSERT_EQ(a.opsets.size(), b.opsets.size());
  for (size_t i = 0; i < a.opsets.size(); ++i) {
    EXPECT_EQ(a.opsets[i].domain, b.opsets[i].domain);
    EXPECT_EQ(a.opsets[i].version, b.opsets[i].version);
  }
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.producer_version, b.producer_version);
  EXPECT_EQ(a.domain, b.domain);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.doc_string, b.doc_string);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.opaque_functions, b.opaque_functions);
  EXPECT_EQ(a.opaque_training_info, b.opaque_training_info);
  expect_same_graph(a.graph, b.graph);
}

// The checker's verdict on serialized bytes: empty when accepted, else its first line.
std::string checker_verdict(const std::string& bytes) {
  onnx::ModelProto p;
  if (!p.ParseFromString(bytes)) return "not a parseable ModelProto";
  try {
    onnx::checker::check_model(p);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return what.substr(0, what.find('\n'));
  }
  return {};
}

// Failed assertions of the running test so far: to tell which models added failures.
int failures_so_far() {
  const auto* result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
  int n = 0;
  for (int i = 0; i < result->total_part_count(); ++i) n += result->GetTestPartResult(i).failed();
  return n;
}

struct RoundTripCounts {
  int loaded = 0, round_tripped = 0, checker_accepted = 0, checker_rejects_original = 0;
};

// One model; ASSERTs end this model's checks only, the loop goes on with the next.
void round_trip_one(const fs::path& path, RoundTripCounts& counts) {
  SCOPED_TRACE(path.string());
  auto first = onnxio::load_model(path.string());
  ASSERT_TRUE(first.ok()) << first.status().message();
  ++counts.loaded;
  auto bytes = onnxio::serialize_model(*first);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();

  // The checker judges the export. A model it already rejects as shipped cannot be expected to
  // pass after a lossless round trip; those are counted and named instead.
  auto original_bytes = read_file(path.string(), uint64_t{1} << 31);
  ASSERT_TRUE(original_bytes.ok());
  const std::string original_verdict = checker_verdict(*original_bytes);
  if (original_verdict.empty()) {
    EXPECT_EQ(checker_verdict(*bytes), "") << "ONNX's checker accepts the original but rejects hone's export";
    ++counts.checker_accepted;
  } else {
    ++counts.checker_rejects_original;
    std::printf("[ note     ] ONNX's checker rejects the original %s too: %s\n", path.c_str(), original_verdict.c_str());
  }

  auto second = onnxio::parse_model(*bytes, path.parent_path().string());
  ASSERT_TRUE(second.ok()) << "re-import failed: " << second.status().message();
  expect_same_model(*first, *second);
  auto again = onnxio::serialize_model(*second);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *bytes) << "exporting the re-imported model gave different bytes";
}

TEST(ConformanceRoundTrip, EveryModelSurvivesExportAndReimport) {
  const auto models = conformance_models();
  if (models.empty()) GTEST_SKIP() << "ONNX conformance suite not found under " << kSuiteRoot << " (libonnx-testdata)";
  RoundTripCounts counts;
  for (const auto& path : models) {
    const int before = failures_so_far();
    round_trip_one(path, counts);
    if (failures_so_far() == before) ++counts.round_tripped;
  }
  std::printf("[ counts   ] %zu models: %d loaded, %d round-tripped; ONNX's checker accepted %d exports, "
              "and rejects %d models as shipped (checker comparison skipped for those)\n",
              models.size(), counts.loaded, counts.round_tripped, counts.checker_accepted,
              counts.checker_rejects_original);
  EXPECT_EQ(counts.round_tripped, static_cast<int>(models.size()));
}

TEST(ConformanceRoundTrip, EveryTensorFileLoads) {
  const auto models = conformance_models();
  if (models.empty()) GTEST_SKIP() << "ONNX conformance suite not found under " << kSuiteRoot << " (libonnx-testdata)";
  int tensor_files = 0, other_files = 0;
  for (const auto& model_path : models) {
    auto model = onnxio::load_model(model_path.string());
    ASSERT_TRUE(model.ok()) << model.status().message();
    const auto inputs = model->graph.real_inputs();
    std::error_code ec;
    for (const auto& set : fs::directory_iterator(model_path.parent_path(), ec)) {
      if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
      for (const auto& f : fs::directory_iterator(set.path(), ec)) {
        SCOPED_TRACE(f.path().string());
        // input_N.pb belongs to the N-th fed input, output_N.pb to the N-th output. Values of
        // sequence or optional type are stored as SequenceProto/OptionalProto, not TensorProto:
        // those are counted, not loaded.
        const std::string name = f.path().stem().string();
        const ir::TypeInfo* type = nullptr;
        size_t index = 0;
        if (std::sscanf(name.c_str(), "input_%zu", &index) == 1 && index < inputs.size()) type = &inputs[index]->type;
        else if (std::sscanf(name.c_str(), "output_%zu", &index) == 1 && index < model->graph.outputs.size())
          type = &model->graph.outputs[index].type;
        if (f.path().extension() != ".pb" || !type) continue;
        if (!type->is_tensor()) {
          ++other_files;
          continue;
        }
        auto t = onnxio::load_tensor_file(f.path().string());
        ASSERT_TRUE(t.ok()) << t.status().message();
        // The suite's bfloat16 Cast/CastLike cases store their bfloat16 data typed as uint16
        // (same bits); every other file must carry the declared type.
        const bool suite_bfloat16_quirk = type->elem == DType::kBFloat16 && t->dtype() == DType::kUInt16;
        if (!suite_bfloat16_quirk) {
          EXPECT_EQ(t->dtype(), type->elem);
        }
        ++tensor_files;
      }
    }
  }
  std::printf("[ counts   ] %d tensor files loaded; %d sequence/optional files not tensors\n", tensor_files, other_files);
  EXPECT_GT(tensor_files, 0);
}

}  // namespace
}  // namespace hone
