// Data-movement ops beyond the conformance cases: large tensors (Transpose's tiled path, the
// parallel paths of Slice/Tile/Concat) against naive index arithmetic on one and two threads,
// Pad's reflect across several bounces, and bad indices/shapes that must be run-time errors
// naming the node rather than crashes.
#include <gtest/gtest.h>

#include <limits>

#include "runtime/session_impl.h"

namespace hone {
namespace {

ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}

// Runs a single-node (opset 17) model whose inputs are x0, x1, ... fed by `tensors`.
Result<Tensor> run_node(const std::string& op, const std::vector<Tensor>& tensors, std::vector<ir::Attribute> attrs = {},
                        int threads = 1) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 17});
  ir::Node n;
  n.op_type = op;
  n.name = "n_" + op;
  for (size_t i = 0; i < tensors.size(); ++i) {
    n.inputs.push_back("x" + std::to_string(i));
    m.graph.inputs.push_back({n.inputs.back(), {}, {}});
  }
  n.outputs = {"y"};
  n.attrs = std::move(attrs);
  m.graph.outputs.push_back({"y", {}, {}});
  m.graph.nodes.push_back(std::move(n));
  SessionOptions options;
  options.threads = threads;
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), options));
  HONE_ASSIGN_OR_RETURN(auto out, s.run(tensors));
  return out.at(0);
}

Tensor iota(Shape shape) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

Tensor int64s(Shape shape, std::vector<int64_t> v) {
  Tensor t = Tensor::create(DType::kInt64, std::move(shape)).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
  return t;
}

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) idx[d] = flat % shape[d], flat /= shape[d];
  return idx;
}

int64_t ravel(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
  return flat;
}

void expect_runtime_error(const Result<Tensor>& r, const std::string& op) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kRuntimeError) << r.status().message();
  EXPECT_NE(r.status().message().find("n_" + op), std::string::npos) << r.status().message();
}

TEST(ShapeOps, TransposeMatchesNaiveOnLargeTensors) {
  const Shape in_shape{2, 48, 40, 36};
  const Tensor x = iota(in_shape);
  const std::vector<std::vector<int64_t>> perms = {{0, 2, 1, 3}, {0, 1, 3, 2}, {3, 2, 1, 0}, {0, 3, 1, 2}, {2, 0, 3, 1}};
  for (int threads : {1, 2}) {
    for (const auto& perm : perms) {
      auto y = run_node("Transpose", {x}, {ints_attr("perm", perm)}, threads);
      ASSERT_TRUE(y.ok()) << y.status().message();
      Shape out_shape;
      for (int64_t p : perm) out_shape.push_back(in_shape[static_cast<size_t>(p)]);
      ASSERT_EQ(y->shape(), out_shape);
      for (int64_t i = 0; i < y->numel(); ++i) {
        const auto out_idx = unravel(i, out_shape);
        std::vector<int64_t> in_idx(in_shape.size());
        for (size_t d = 0; d < perm.size(); ++d) in_idx[static_cast<size_t>(perm[d])] = out_idx[d];
        ASSERT_EQ(y->data<float>()[i], x.data<float>()[ravel(in_idx, in_shape)]) << "perm element " << i;
      }
    }
  }
}

// Permutations that only move axes of size 1 come out as views of the input (no copy); the
// values must be those of a real transpose all the same, and a perm that reorders two larger
// axes among unit ones must still copy.
TEST(ShapeOps, TransposeOfUnitAxesMatchesNaive) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{1, 6, 5}, {1, 0, 2}}, {{2, 1, 3}, {1, 0, 2}}, {{4, 1, 1, 3}, {2, 0, 3, 1}}, {{1, 3, 1, 4}, {3, 2, 1, 0}},
      {{2, 3, 1}, {2, 1, 0}}};
  for (const auto& [in_shape, perm] : cases) {
    const Tensor x = iota(in_shape);
    auto y = run_node("Transpose", {x}, {ints_attr("perm", perm)}, 1);
    ASSERT_TRUE(y.ok()) << y.status().message();
    Shape out_shape;
    for (int64_t p : perm) out_shape.push_back(in_shape[static_cast<size_t>(p)]);
    ASSERT_EQ(y->shape(), out_shape);
    for (int64_t i = 0; i < y->numel(); ++i) {
      const auto out_idx = unravel(i, out_shape);
      std::vector<int64_t> in_idx(in_shape.size());
      for (size_t d = 0; d < perm.size(); ++d) in_idx[static_cast<size_t>(perm[d])] = out_idx[d];
      ASSERT_EQ(y->data<float>()[i], x.data<float>()[ravel(in_idx, in_shape)]) << "element " << i;
    }
  }
}

TEST(ShapeOps, SliceWithExtremeBoundsAndNegativeSteps) {
  const Shape in_shape{64, 50, 30};
  const Tensor x = iota(in_shape);
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  auto y = run_node("Slice", {x, int64s({3}, {big, 1, -5}), int64s({3}, {small, big, 2}), int64s({3}, {0, 1, 2}),
                              int64s({3}, {-3, 2, -1})},
                    {}, 2);
  ASSERT_TRUE(y.ok()) << y.status().message();
  // axis 0: 63, 60, ..., 0 (22); axis 1: 1, 3, ..., 49 (25); axis 2: 25 down to 3 (23).
  ASSERT_EQ(y->shape(), (Shape{22, 25, 23}));
  for (int64_t i = 0; i < y->numel(); ++i) {
    const auto o = unravel(i, y->shape());
    const std::vector<int64_t> src{63 - 3 * o[0], 1 + 2 * o[1], 25 - o[2]};
    ASSERT_EQ(y->data<float>()[i], x.data<float>()[ravel(src, in_shape)]);
  }
}

TEST(ShapeOps, TileAndConcatMatchNaiveAboveParallelThreshold) {
  const Tensor x = iota({30, 20, 7});
  auto tiled = run_node("Tile", {x, int64s({3}, {2, 3, 4})}, {}, 2);
  ASSERT_TRUE(tiled.ok()) << tiled.status().message();
  ASSERT_EQ(tiled->shape(), (Shape{60, 60, 28}));
  for (int64_t i = 0; i < tiled->numel(); ++i) {
    const auto o = unravel(i, tiled->shape());
    ASSERT_EQ(tiled->data<float>()[i], x.data<float>()[ravel({o[0] % 30, o[1] % 20, o[2] % 7}, x.shape())]);
  }
  ir::Attribute axis;
  axis.name = "axis";
  axis.type = ir::AttrType::kInt;
  axis.i = 1;
  auto cat = run_node("Concat", {*tiled, x}, {axis}, 2);
  EXPECT_FALSE(cat.ok());  // dims differ off the axis
  auto cat2 = run_node("Concat", {*tiled, *tiled}, {axis}, 2);
  ASSERT_TRUE(cat2.ok()) << cat2.status().message();
  for (int64_t i = 0; i < cat2->numel(); ++i) {
    auto o = unravel(i, cat2->shape());
    o[1] %= 60;
    ASSERT_EQ(cat2->data<float>()[i], tiled->data<float>()[ravel(o, tiled->shape())]);
  }
}

TEST(ShapeOps, PadReflectBouncesMoreThanOnce) {
  Tensor x = iota({3});
  auto y = run_node("Pad", {x, int64s({2}, {4, 5})}, {string_attr("mode", "reflect")});
  ASSERT_TRUE(y.ok()) << y.status().message();
  const std::vector<float> want{0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1};  // numpy.pad(range(3), (4, 5), "reflect")
  ASSERT_EQ(y->numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y->data<float>()[i], want[i]) << i;
}

TEST(ShapeOps, BadIndicesAndShapesAreRuntimeErrors) {
  const Tensor x = iota({4, 5});
  expect_runtime_error(run_node("Gather", {x, int64s({2}, {1, 4})}), "Gather");
  expect_runtime_error(run_node("Gather", {x, int64s({1}, {-5})}), "Gather");
  expect_runtime_error(run_node("GatherElements", {x, int64s({1, 1}, {7})}), "GatherElements");
  expect_runtime_error(run_node("GatherND", {x, int64s({1, 2}, {3, 5})}), "GatherND");
  expect_runtime_error(run_node("ScatterElements", {x, int64s({1, 1}, {-9}), iota({1, 1})}), "ScatterElements");
  expect_runtime_error(run_node("ScatterND", {x, int64s({1, 1}, {4}), iota({1, 5})}), "ScatterND");
  expect_runtime_error(run_node("Reshape", {x, int64s({2}, {3, -1})}), "Reshape");
  expect_runtime_error(run_node("Reshape", {x, int64s({2}, {-1, -1})}), "Reshape");
  expect_runtime_error(run_node("Reshape", {x, int64s({3}, {0, 0, 0})}), "Reshape");
  expect_runtime_error(run_node("Expand", {x, int64s({2}, {3, 5})}), "Expand");
  expect_runtime_error(run_node("Tile", {x, int64s({1}, {2})}), "Tile");
  expect_runtime_error(run_node("Squeeze", {x, int64s({1}, {0})}), "Squeeze");

  auto wrapped = run_node("Gather", {x, int64s({2}, {-1, 0})});
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().message();
  EXPECT_EQ(wrapped->data<float>()[0], 15.f);  // row 3
  EXPECT_EQ(wrapped->data<float>()[5], 0.f);   // row 0
}

}  // namespace
}  // namespace hone
