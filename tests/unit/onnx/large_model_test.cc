// A model past protobuf's 2 GiB limit loads when its weights are external: the model file stays
// small and the weights are read from the data file. The data file is sparse (ftruncate), so the
// test costs memory for the tensor (~2.1 GiB) but no disk writes.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <fstream>

#include "../test_models.h"
#include "onnx/import.h"

namespace hone::onnxio {
namespace {

TEST(LargeModel, WeightsPastTwoGiBLoadFromExternalData) {
  testing_models::ScratchDir dir;
  const int64_t elements = (int64_t{1} << 29) + 1000;  // 2 GiB + 4000 bytes of float
  const int64_t bytes = elements * 4;
  {
    std::ofstream data(dir / "big.bin", std::ios::binary);
    ASSERT_TRUE(data.good());
  }
  ASSERT_EQ(::truncate((dir / "big.bin").c_str(), bytes), 0);

  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("large");
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(elements);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* kv = w->add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add("location", "big.bin");
  add("offset", "0");
  add("length", std::to_string(bytes));
  auto* n = g->add_node();
  n->set_op_type("Identity");
  n->add_input("w");
  n->add_output("y");
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  {
    std::ofstream f(dir / "model.onnx", std::ios::binary);
    ASSERT_TRUE(m.SerializeToOstream(&f));
  }

  auto loaded = load_model(dir / "model.onnx");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const auto* init = loaded->graph.find_initializer("w");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->tensor.numel(), elements);
  EXPECT_GT(init->tensor.nbytes(), (size_t{2} << 30));
  ASSERT_TRUE(init->external.has_value());
  EXPECT_EQ(init->external->length, bytes);
  EXPECT_EQ(init->tensor.data<float>()[elements - 1], 0.0f);  // the sparse file reads as zeros
}

}  // namespace
}  // namespace hone::onnxio
