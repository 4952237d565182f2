// Static shapes of a model's values by name, from ONNX shape inference run on a copy (the passes
// that need shapes run before the fusions into hone's own ops, which libonnx does not know).
// Internal to src/passes.
#pragma once

#include <optional>
#include <string>

#include "onnx/shape_inference.h"
#include "passes/passes.h"

namespace hone::passes {

class ShapeFacts {
 public:
  explicit ShapeFacts(const ir::Model& m) : model_(m) {
    if (!onnxio::infer_shapes(model_).ok()) model_ = ir::Model{};  // no facts: nothing moves
  }
  // The value's static shape (an initializer's, or inference's when every dim is known).
  std::optional<Shape> of(const std::string& name) const {
    if (name.empty()) return std::nullopt;
    if (const Tensor* t = constant_value(model_.graph, name)) return t->shape();
    const ir::TypeInfo* type = model_.graph.find_type(name);
    if (!type || !type->is_tensor()) return std::nullopt;
    return type->static_shape();
  }

 private:
  ir::Model model_;
};

}  // namespace hone::passes
