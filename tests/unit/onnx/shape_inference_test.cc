// infer_shapes fills in intermediate and output types and keeps symbolic dims symbolic.
#include "onnx/shape_inference.h"

#include <gtest/gtest.h>

#include "../test_models.h"

namespace hone::onnxio {
namespace {

TEST(ShapeInference, KeepsSymbolicDims) {
  ir::Model m = testing_models::add_mul_model(8);
  m.graph.outputs[0].type = {};  // undeclared: inference has to fill it in
  ASSERT_TRUE(infer_shapes(m).ok());
  for (const char* name : {"T", "Y"}) {
    SCOPED_TRACE(name);
    const ir::TypeInfo* t = m.graph.find_type(name);
    ASSERT_NE(t, nullptr) << "no type inferred";
    EXPECT_EQ(t->elem, DType::kFloat32);
    ASSERT_TRUE(t->has_shape);
    ASSERT_EQ(t->dims.size(), 2u);
    EXPECT_FALSE(t->dims[0].known());
    EXPECT_EQ(t->dims[0].param, "batch");
    EXPECT_EQ(t->dims[1], ir::Dim::of(8));
    EXPECT_FALSE(t->static_shape().has_value());
    EXPECT_EQ(t->to_string(), "float[batch,8]");
  }
}

TEST(ShapeInference, ConcreteDimsPropagate) {
  ir::Model m = testing_models::add_mul_model(8);
  m.graph.inputs[0].type.dims[0] = ir::Dim::of(2);
  m.graph.outputs[0].type = {};
  ASSERT_TRUE(infer_shapes(m).ok());
  const ir::TypeInfo* y = m.graph.find_type("Y");
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->static_shape(), (Shape{2, 8}));
}

TEST(ShapeInference, ContradictionIsAnErrorNotACrash) {
  ir::Model m = testing_models::add_mul_model(8);
  // Y is float[batch, 8]; declaring it float[batch, 5] contradicts what inference finds.
  m.graph.outputs[0].type.dims[1] = ir::Dim::of(5);
  Status s = infer_shapes(m);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << "one line: " << s.message();
}

}  // namespace
}  // namespace hone::onnxio
