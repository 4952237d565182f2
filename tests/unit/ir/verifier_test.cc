// ir::verify and ir::sort_topologically on hand-built graphs: what a valid graph looks like, and
// the defects the verifier exists for (cycle, dangling input, value produced twice).
#include "ir/verifier.h"

#include <gtest/gtest.h>

#include "../test_models.h"

namespace hone::ir {
namespace {

using testing_models::node;

// X -> Relu -> A -> Relu -> Y, written in the order given.
Model chain(std::vector<Node> nodes) {
  Model m;
  m.opsets.push_back({"", 13});
  m.graph.inputs.push_back({"X", testing_models::tensor_type(DType::kFloat32, {Dim::of(4)}), {}});
  m.graph.outputs.push_back({"Y", {}, {}});
  m.graph.nodes = std::move(nodes);
  return m;
}

void expect_error(const Status& s, const std::string& fragment) {
  ASSERT_FALSE(s.ok()) << "expected an error containing '" << fragment << "'";
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(Verifier, AcceptsValidGraph) {
  Model m = chain({node("Relu", {"X"}, {"A"}), node("Relu", {"A"}, {"Y"})});
  EXPECT_TRUE(verify(m).ok()) << verify(m).message();
}

TEST(Verifier, SortsNodesThatAreOutOfOrder) {
  Model m = chain({node("Relu", {"A"}, {"Y"}, "second"), node("Relu", {"X"}, {"A"}, "first")});
  EXPECT_FALSE(verify(m).ok()) << "a consumer before its producer is not valid as is";
  ASSERT_TRUE(sort_topologically(m).ok());
  EXPECT_EQ(m.graph.nodes[0].name, "first");
  EXPECT_EQ(m.graph.nodes[1].name, "second");
  EXPECT_TRUE(verify(m).ok()) << verify(m).message();
}

TEST(Verifier, RejectsCycle) {
  Model m = chain({node("Add", {"X", "B"}, {"A"}, "a"), node("Relu", {"A"}, {"B"}, "b"), node("Relu", {"A"}, {"Y"})});
  expect_error(sort_topologically(m), "cycle");
  expect_error(verify(m), "cycle");
}

TEST(Verifier, RejectsNodeReadingItsOwnOutput) {
  Model m = chain({node("Add", {"X", "Y"}, {"Y"})});
  ASSERT_TRUE(sort_topologically(m).ok());
  expect_error(verify(m), "cycle");
}

TEST(Verifier, RejectsDanglingInput) {
  Model m = chain({node("Add", {"X", "ghost"}, {"Y"})});
  ASSERT_TRUE(sort_topologically(m).ok());
  expect_error(verify(m), "reads 'ghost', which no node, input or initializer defines");
}

TEST(Verifier, AcceptsOmittedOptionalInput) {
  Model m = chain({node("Clip", {"X", "", ""}, {"Y"})});
  EXPECT_TRUE(verify(m).ok()) << verify(m).message();
}

TEST(Verifier, RejectsValueProducedTwice) {
  Model m = chain({node("Relu", {"X"}, {"Y"}), node("Sigmoid", {"X"}, {"Y"})});
  expect_error(verify(m), "produces 'Y', which is already defined");
  Model shadow = chain({node("Relu", {"X"}, {"X"}), node("Relu", {"X"}, {"Y"})});
  expect_error(verify(shadow), "produces 'X', which is already defined");
}

TEST(Verifier, RejectsGraphOutputListedTwice) {
  Model m = chain({node("Relu", {"X"}, {"Y"})});
  m.graph.outputs.push_back({"Y", {}, {}});
  expect_error(verify(m), "lists output 'Y' twice");
}

TEST(Verifier, RejectsOutputNobodyProduces) {
  Model m = chain({node("Relu", {"X"}, {"A"})});
  expect_error(verify(m), "output 'Y' is not produced");
}

TEST(Verifier, SubgraphSeesOuterValuesDefinedBeforeIt) {
  auto branch = [](const std::string& reads) {
    auto g = std::make_shared<Graph>();
    g->name = "branch";
    g->nodes.push_back(node("Relu", {reads}, {"Z"}));
    g->outputs.push_back({"Z", {}, {}});
    return g;
  };
  auto if_node = [&](const std::string& reads) {
    Node n = node("If", {"C"}, {"Y"});
    for (const char* name : {"then_branch", "else_branch"}) {
      Attribute a;
      a.name = name;
      a.type = AttrType::kGraph;
      a.g = branch(reads);
      n.attrs.push_back(std::move(a));
    }
    return n;
  };
  Model ok = chain({node("Relu", {"X"}, {"A"}), if_node("A")});
  ok.graph.inputs.push_back({"C", testing_models::tensor_type(DType::kBool, {}), {}});
  EXPECT_TRUE(verify(ok).ok()) << verify(ok).message();
  Model bad = chain({node("Relu", {"X"}, {"A"}), if_node("nowhere")});
  bad.graph.inputs.push_back({"C", testing_models::tensor_type(DType::kBool, {}), {}});
  expect_error(verify(bad), "reads 'nowhere'");
}

TEST(Verifier, ConvGroupOverflowIsAMismatchNotUndefinedBehaviour) {
  // A weight with zero output channels passes "divisible by group" for any group; the expected
  // input channel count C_in/group * group then overflows int64.
  Model m;
  m.opsets.push_back({"", 13});
  m.graph.inputs.push_back({"X", testing_models::tensor_type(DType::kFloat32, {Dim::of(1), Dim::of(3), Dim::of(5), Dim::of(5)}), {}});
  m.graph.outputs.push_back({"Y", {}, {}});
  m.graph.initializers.push_back({"W", Tensor::create(DType::kFloat32, {0, 4, 3, 3}).value(), {}, std::nullopt});
  Node conv = node("Conv", {"X", "W"}, {"Y"});
  Attribute group;
  group.name = "group";
  group.type = AttrType::kInt;
  group.i = int64_t{1} << 62;
  conv.attrs.push_back(group);
  m.graph.nodes.push_back(conv);
  expect_error(verify(m), "expects more than 2^63");
}

}  // namespace
}  // namespace hone::ir
