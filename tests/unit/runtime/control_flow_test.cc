// If, Loop and Scan on small hand-built graphs. The bodies use no other ops (they pass values
// through, read their inputs or outer-scope values) so that these tests depend only on the
// control-flow kernels and the executor's handling of subgraphs.
#include <gtest/gtest.h>

#include <memory>

#include "runtime/session_impl.h"

namespace hone {
namespace {

ir::ValueInfo value(const std::string& name) { return ir::ValueInfo{name, {}, {}}; }

ir::ValueInfo typed_value(const std::string& name, DType dtype, std::vector<int64_t> dims) {
  ir::ValueInfo v{name, {}, {}};
  v.type.kind = ir::TypeInfo::Kind::kTensor;
  v.type.elem = dtype;
  v.type.has_shape = true;
  for (int64_t d : dims) v.type.dims.push_back(ir::Dim::of(d));
  return v;
}

std::shared_ptr<ir::Graph> graph(const std::string& name, std::vector<ir::ValueInfo> inputs,
                                 std::vector<ir::ValueInfo> outputs, std::vector<ir::Node> nodes = {}) {
  auto g = std::make_shared<ir::Graph>();
  g->name = name;
  g->inputs = std::move(inputs);
  g->outputs = std::move(outputs);
  g->nodes = std::move(nodes);
  return g;
}

ir::Attribute graph_attr(const std::string& name, std::shared_ptr<ir::Graph> g) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kGraph;
  a.g = std::move(g);
  return a;
}

ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

ir::Node node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
              std::vector<ir::Attribute> attrs) {
  ir::Node n;
  n.name = op + "_node";
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  return n;
}

Result<Session> session_of(std::shared_ptr<ir::Graph> main_graph, int64_t opset = 16) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", opset});
  m.graph = *main_graph;
  return create_session(std::move(m), {});
}

Tensor int64s(std::vector<int64_t> v, Shape shape) {
  Tensor t = Tensor::create(DType::kInt64, std::move(shape)).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
  return t;
}
Tensor int64_scalar(int64_t v) { return int64s({v}, {}); }
Tensor bool_scalar(bool v) {
  Tensor t = Tensor::create(DType::kBool, {}).value();
  t.data<uint8_t>()[0] = v ? 1 : 0;
  return t;
}

std::vector<int64_t> values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kInt64);
  return std::vector<int64_t>(t.data<int64_t>(), t.data<int64_t>() + t.numel());
}

TEST(ControlFlow, IfRunsTheSelectedBranchOnOuterValues) {
  auto then_branch = graph("then", {}, {value("a")});
  auto else_branch = graph("else", {}, {value("b")});
  auto g = graph("main", {value("cond"), value("a"), value("b")}, {value("out")},
                 {node("If", {"cond"}, {"out"}, {graph_attr("then_branch", then_branch), graph_attr("else_branch", else_branch)})});
  auto s = session_of(g);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto yes = s->run(std::vector<Tensor>{bool_scalar(true), int64_scalar(1), int64_scalar(2)});
  ASSERT_TRUE(yes.ok()) << yes.status().message();
  EXPECT_EQ(values((*yes)[0]), std::vector<int64_t>{1});
  auto no = s->run(std::vector<Tensor>{bool_scalar(false), int64_scalar(1), int64_scalar(2)});
  ASSERT_TRUE(no.ok()) << no.status().message();
  EXPECT_EQ(values((*no)[0]), std::vector<int64_t>{2});
}

TEST(ControlFlow, IfRejectsANonBoolCondition) {
  auto branch = graph("b", {}, {value("a")});
  auto g = graph("main", {value("cond"), value("a")}, {value("out")},
                 {node("If", {"cond"}, {"out"}, {graph_attr("then_branch", branch), graph_attr("else_branch", branch)})});
  auto s = session_of(g);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = s->run(std::vector<Tensor>{int64_scalar(1), int64_scalar(1)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bool"), std::string::npos) << r.status().message();
}

// Loop(M, cond, v) whose body passes cond and v through and emits the iteration number (or the
// outer-scope value `body_cond` as its condition when given).
std::shared_ptr<ir::Graph> counting_loop(const std::string& cond_input, const std::string& body_cond = "cond_in") {
  auto body = graph("body", {value("iter"), value("cond_in"), value("v_in")},
                    {value(body_cond), value("v_in"), typed_value("iter", DType::kInt64, {})});
  return graph("main", {value("M"), value("cond"), value("v0"), value("stop")}, {value("v_final"), value("scan")},
               {node("Loop", {"M", cond_input, "v0"}, {"v_final", "scan"}, {graph_attr("body", body)})});
}

TEST(ControlFlow, LoopStacksScanOutputsOverTheTripCount) {
  auto s = session_of(counting_loop(""));
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = s->run(std::vector<Tensor>{int64_scalar(3), bool_scalar(true), int64_scalar(42), bool_scalar(false)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), std::vector<int64_t>{42});
  EXPECT_EQ((*r)[1].shape(), Shape{3});
  EXPECT_EQ(values((*r)[1]), (std::vector<int64_t>{0, 1, 2}));
}

TEST(ControlFlow, LoopWithZeroIterationsGivesEmptyScanOutputsOfTheDeclaredType) {
  auto s = session_of(counting_loop(""));
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = s->run(std::vector<Tensor>{int64_scalar(0), bool_scalar(true), int64_scalar(42), bool_scalar(false)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), std::vector<int64_t>{42});
  EXPECT_EQ((*r)[1].dtype(), DType::kInt64);
  EXPECT_EQ((*r)[1].shape(), Shape{0});
}

TEST(ControlFlow, LoopStopsWhenTheBodyConditionTurnsFalse) {
  auto s = session_of(counting_loop("cond", "stop"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = s->run(std::vector<Tensor>{int64_scalar(5), bool_scalar(true), int64_scalar(42), bool_scalar(false)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[1]), std::vector<int64_t>{0});
  auto never = s->run(std::vector<Tensor>{int64_scalar(5), bool_scalar(false), int64_scalar(42), bool_scalar(false)});
  ASSERT_TRUE(never.ok()) << never.status().message();
  EXPECT_EQ((*never)[1].shape(), Shape{0});
}

TEST(ControlFlow, LoopWithoutTripCountRunsWhileTheConditionHolds) {
  auto body = graph("body", {value("iter"), value("cond_in"), value("v_in")}, {value("stop"), value("v_in"), value("iter")});
  auto g = graph("main", {value("cond"), value("v0"), value("stop")}, {value("v_final"), value("scan")},
                 {node("Loop", {"", "cond", "v0"}, {"v_final", "scan"}, {graph_attr("body", body)})});
  auto s = session_of(g);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = s->run(std::vector<Tensor>{bool_scalar(true), int64_scalar(42), bool_scalar(false)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[1]), std::vector<int64_t>{0});
}

TEST(ControlFlow, LoopWithNeitherTripCountNorConditionIsAnError) {
  auto body = graph("body", {value("iter"), value("cond_in"), value("v_in")}, {value("cond_in"), value("v_in")});
  auto g = graph("main", {value("v0")}, {value("v_final")},
                 {node("Loop", {"", "", "v0"}, {"v_final"}, {graph_attr("body", body)})});
  auto endless = session_of(g);
  ASSERT_TRUE(endless.ok()) << endless.status().message();
  auto r = endless->run(std::vector<Tensor>{int64_scalar(1)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("never end"), std::string::npos) << r.status().message();
}

TEST(ControlFlow, NestedIfReadsTheLoopBodyAndTheMainGraph) {
  // Loop body: If(flag) then -> iter (a body input), else -> x (a main-graph input).
  auto then_branch = graph("then", {}, {value("iter")});
  auto else_branch = graph("else", {}, {value("x")});
  auto body = graph("body", {value("iter"), value("cond_in")}, {value("cond_in"), value("picked")},
                    {node("If", {"flag"}, {"picked"}, {graph_attr("then_branch", then_branch), graph_attr("else_branch", else_branch)})});
  auto g = graph("main", {value("M"), value("flag"), value("x")}, {value("scan")},
                 {node("Loop", {"M", ""}, {"scan"}, {graph_attr("body", body)})});
  auto s = session_of(g);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto iters = s->run(std::vector<Tensor>{int64_scalar(2), bool_scalar(true), int64_scalar(7)});
  ASSERT_TRUE(iters.ok()) << iters.status().message();
  EXPECT_EQ(values((*iters)[0]), (std::vector<int64_t>{0, 1}));
  auto outer = s->run(std::vector<Tensor>{int64_scalar(2), bool_scalar(false), int64_scalar(7)});
  ASSERT_TRUE(outer.ok()) << outer.status().message();
  EXPECT_EQ(values((*outer)[0]), (std::vector<int64_t>{7, 7}));
}

// Scan body (state, x) -> (x, state): the state becomes the current slice and the scan output is
// the previous state, so outputs reveal the order in which slices were visited.
std::shared_ptr<ir::Graph> shifting_scan(std::vector<ir::Attribute> attrs) {
  auto body = graph("body", {value("state"), value("x")}, {value("x"), value("state")});
  attrs.push_back(graph_attr("body", body));
  attrs.push_back(int_attr("num_scan_inputs", 1));
  return graph("main", {value("s0"), value("xs")}, {value("final"), value("ys")},
               {node("Scan", {"s0", "xs"}, {"final", "ys"}, std::move(attrs))});
}

TEST(ControlFlow, ScanVisitsSlicesInOrder) {
  auto s = session_of(shifting_scan({}), 11);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = s->run(std::vector<Tensor>{int64s({9, 9}, {2}), int64s({1, 2, 3, 4, 5, 6}, {3, 2})});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ((*r)[1].shape(), (Shape{3, 2}));
  EXPECT_EQ(values((*r)[1]), (std::vector<int64_t>{9, 9, 1, 2, 3, 4}));
}

TEST(ControlFlow, ScanHonoursAxesAndDirections) {
  auto s = session_of(shifting_scan({ints_attr("scan_input_axes", {1}), ints_attr("scan_input_directions", {1}),
                                     ints_attr("scan_output_axes", {-1}), ints_attr("scan_output_directions", {1})}),
                      11);
  ASSERT_TRUE(s.ok()) << s.status().message();
  // xs is [2, 3]: columns (1,4), (2,5), (3,6) are visited last to first.
  auto r = s->run(std::vector<Tensor>{int64s({9, 9}, {2}), int64s({1, 2, 3, 4, 5, 6}, {2, 3})});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{1, 4}));
  // Visits produce 9,9 | 3,6 | 2,5; written last to first along the last axis.
  EXPECT_EQ((*r)[1].shape(), (Shape{2, 3}));
  EXPECT_EQ(values((*r)[1]), (std::vector<int64_t>{2, 3, 9, 5, 6, 9}));
}

TEST(ControlFlow, ScanRejectsMismatchedSequenceLengths) {
  auto body = graph("body", {value("x"), value("y")}, {value("x"), value("y")});
  auto g = graph("main", {value("xs"), value("ys")}, {value("o1"), value("o2")},
                 {node("Scan", {"xs", "ys"}, {"o1", "o2"}, {graph_attr("body", body), int_attr("num_scan_inputs", 2)})});
  auto s = session_of(g, 11);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = s->run(std::vector<Tensor>{int64s({1, 2, 3}, {3}), int64s({1, 2}, {2})});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sequence length"), std::string::npos) << r.status().message();
}

TEST(ControlFlow, Scan8RunsEachBatchEntryOverItsOwnLength) {
  auto body = graph("body", {value("state"), value("x")}, {value("x"), value("state")});
  auto g = graph("main", {value("lens"), value("s0"), value("xs")}, {value("final"), value("ys")},
                 {node("Scan", {"lens", "s0", "xs"}, {"final", "ys"}, {graph_attr("body", body), int_attr("num_scan_inputs", 1)})});
  auto s = session_of(g, 8);
  ASSERT_TRUE(s.ok()) << s.status().message();
  // Two batch entries of three steps; the second only uses two.
  auto r = s->run(std::vector<Tensor>{int64s({3, 2}, {2}), int64s({8, 9}, {2}), int64s({1, 2, 3, 4, 5, 6}, {2, 3})});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values((*r)[0]), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ((*r)[1].shape(), (Shape{2, 3}));
  EXPECT_EQ(values((*r)[1]), (std::vector<int64_t>{8, 1, 2, 9, 4, 0}));
}

}  // namespace
}  // namespace hone
