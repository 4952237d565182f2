// The memory planner: the layout never lets two buffers live at the same step share bytes, the
// arena is smaller than the intermediates it holds, and runs in the arena (second run of a
// signature) give exactly what the recording run and a session without the arena give — also when
// a value aliases the arena in a way the recording run did not see, and after a shape change.
#include "runtime/memory_planner.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <random>
#include <thread>

#include "runtime/session_impl.h"

namespace hone {
namespace {

using rt::BufferLifetime;

TEST(MemoryPlanner, NeverOverlapsBuffersLiveAtTheSameStep) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 60);
    std::vector<BufferLifetime> buffers;
    size_t sum = 0;
    for (int i = 0; i < n; ++i) {
      int64_t first = rng() % 40, len = rng() % 10;
      size_t bytes = 1 + rng() % (trial % 2 ? 100 : 100000);
      buffers.push_back({bytes, first, first + len});
      sum += (bytes + 63) / 64 * 64;
    }
    rt::ArenaLayout layout = rt::plan_arena(buffers);
    ASSERT_EQ(layout.offsets.size(), buffers.size());
    EXPECT_LE(layout.arena_bytes, sum);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(layout.offsets[i] % rt::kArenaAlignment, 0u);
      EXPECT_LE(layout.offsets[i] + buffers[i].bytes, layout.arena_bytes);
      for (int j = i + 1; j < n; ++j) {
        bool same_time = buffers[i].first <= buffers[j].last && buffers[j].first <= buffers[i].last;
        bool same_bytes = layout.offsets[i] < layout.offsets[j] + buffers[j].bytes &&
                          layout.offsets[j] < layout.offsets[i] + buffers[i].bytes;
        ASSERT_FALSE(same_time && same_bytes) << "trial " << trial << ": buffers " << i << " and " << j;
      }
    }
  }
}

TEST(MemoryPlanner, ReusesTheSpaceOfDeadBuffers) {
  // A chain: each buffer dies when the next one is made, so two slots suffice.
  std::vector<BufferLifetime> chain;
  for (int64_t i = 0; i < 10; ++i) chain.push_back({1000, i, i + 1});
  EXPECT_EQ(rt::plan_arena(chain).arena_bytes, 2 * 1024u);
}

// ---- Models ----

ir::ValueInfo value(const std::string& name) { return ir::ValueInfo{name, {}, {}}; }

ir::Node node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
              std::vector<ir::Attribute> attrs = {}) {
  ir::Node n;
  n.name = outputs[0] + "_" + op;
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  return n;
}

ir::Attribute graph_attr(const std::string& name, std::shared_ptr<ir::Graph> g) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kGraph;
  a.g = std::move(g);
  return a;
}

Tensor random_floats(Shape shape, unsigned seed) {
  Tensor t = Tensor::create(DType::kFloat32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

Tensor int64s(std::vector<int64_t> v) {
  Tensor t = Tensor::create(DType::kInt64, {static_cast<int64_t>(v.size())}).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
  return t;
}

Tensor scalar_of(DType dtype, int64_t v) {
  Tensor t = Tensor::create(dtype, {}).value();
  if (dtype == DType::kBool)
    t.data<uint8_t>()[0] = static_cast<uint8_t>(v);
  else
    t.data<int64_t>()[0] = v;
  return t;
}

struct Graph {
  std::vector<ir::ValueInfo> inputs, outputs;
  std::vector<ir::Initializer> weights;
  std::vector<ir::Node> nodes;
};

Session session_of(const Graph& g, bool use_arena, int threads = 1) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets.push_back({"", 17});
  m.graph.name = "main";
  m.graph.inputs = g.inputs;
  for (const auto& w : g.weights) m.graph.inputs.push_back(value(w.name));
  m.graph.outputs = g.outputs;
  m.graph.initializers = g.weights;
  m.graph.nodes = g.nodes;
  SessionOptions options;
  options.threads = threads;
  options.use_arena = use_arena;
  auto s = create_session(std::move(m), options);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s).value();
}

std::vector<Tensor> run(Session& s, const std::vector<Tensor>& inputs) {
  auto r = s.run(inputs);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : std::vector<Tensor>{};
}

void expect_bit_equal(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i].bit_equal(want[i])) << what << ": output " << i;
}

// Run 1 (recording), run 2 and 3 (arena) and a session without the arena agree bit for bit.
void expect_arena_changes_nothing(const Graph& g, const std::vector<std::vector<Tensor>>& input_sets) {
  Session heap = session_of(g, false);
  Session arena = session_of(g, true);
  for (const auto& inputs : input_sets) {
    std::vector<Tensor> want = run(heap, inputs);
    expect_bit_equal(run(arena, inputs), want, "run 1");
    expect_bit_equal(run(arena, inputs), want, "run 2");
    expect_bit_equal(run(arena, inputs), want, "run 3");
  }
  EXPECT_EQ(heap.arena_bytes(), 0u);
}

Graph relu_chain(int length) {
  Graph g;
  g.inputs = {value("x")};
  std::string prev = "x";
  for (int i = 0; i < length; ++i) {
    std::string out = i + 1 == length ? "y" : "r" + std::to_string(i);
    g.nodes.push_back(node("Relu", {prev}, {out}));
    prev = out;
  }
  g.outputs = {value("y")};
  return g;
}

TEST(MemoryPlanner, ChainNeedsTwoBuffersNotOnePerValue) {
  Graph g = relu_chain(8);
  Session s = session_of(g, true);
  Tensor x = random_floats({64, 64}, 1);
  std::vector<Tensor> first = run(s, {x});
  const size_t one = 64 * 64 * sizeof(float);
  EXPECT_EQ(s.arena_bytes(), 2 * one);  // 7 intermediates of `one` bytes each
  expect_bit_equal(run(s, {x}), first, "arena run");
  expect_arena_changes_nothing(g, {{x}});
}

// Graph outputs come from runtime/output_buffer_pool.h: the block of an output the caller dropped
// serves the next run's output, one still held is left alone (its values stay), and an output
// held past its session stays readable.
TEST(MemoryPlanner, DroppedOutputsServeTheNextRun) {
  Graph g = relu_chain(3);
  Tensor x = random_floats({64, 64}, 11), x2 = random_floats({64, 64}, 12);
  auto s = std::make_unique<Session>(session_of(g, true));
  const void* first = nullptr;
  std::vector<Tensor> want;
  {
    std::vector<Tensor> out = run(*s, {x});
    first = out[0].raw();
    want = {out[0].clone()};
  }
  std::vector<Tensor> out = run(*s, {x});
  EXPECT_EQ(out[0].raw(), first);  // the dropped block again (malloc often returns it too: the pool's own tests pin reuse)
  expect_bit_equal(out, want, "reused block");
  std::vector<Tensor> held = run(*s, {x2});  // `out` is still held: another block
  EXPECT_NE(held[0].raw(), out[0].raw());
  expect_bit_equal(out, want, "held output after another run");
  s.reset();
  Session heap = session_of(g, false);
  expect_bit_equal(held, run(heap, {x2}), "output held past its session");
}

TEST(MemoryPlanner, MatMulAddReshapeWithAnAliasOutlivingItsSource) {
  // h's buffer is shared by hr (Reshape) which is read last: h's bytes must stay put until then.
  Graph g;
  g.inputs = {value("x")};
  g.weights = {{"w", random_floats({32, 32}, 2), {}, {}},
               {"b", random_floats({32}, 3), {}, {}},
               {"shape", int64s({4, 8, 32}), {}, {}},
               {"shape2", int64s({32, 32}), {}, {}}};
  g.nodes = {node("MatMul", {"x", "w"}, {"m"}),   node("Add", {"m", "b"}, {"a"}),
             node("Relu", {"a"}, {"h"}),          node("Reshape", {"h", "shape"}, {"hr"}),
             node("MatMul", {"h", "w"}, {"m2"}),  node("Relu", {"m2"}, {"r2"}),
             node("MatMul", {"r2", "w"}, {"m3"}), node("Reshape", {"m3", "shape"}, {"m3r"}),
             node("Add", {"m3r", "hr"}, {"s"}),   node("Reshape", {"s", "shape2"}, {"y"})};
  g.outputs = {value("y")};
  expect_arena_changes_nothing(g, {{random_floats({32, 32}, 4)}, {random_floats({32, 32}, 5)}});
}

TEST(MemoryPlanner, ConvNetwork) {
  Graph g;
  g.inputs = {value("x")};
  g.weights = {{"w1", random_floats({8, 3, 3, 3}, 6), {}, {}}, {"w2", random_floats({8, 8, 3, 3}, 7), {}, {}}};
  ir::Attribute pads;
  pads.name = "pads";
  pads.type = ir::AttrType::kInts;
  pads.ints = {1, 1, 1, 1};
  g.nodes = {node("Conv", {"x", "w1"}, {"c1"}, {pads}), node("Relu", {"c1"}, {"r1"}),
             node("Conv", {"r1", "w2"}, {"c2"}, {pads}), node("Add", {"c2", "r1"}, {"s"}), node("Relu", {"s"}, {"y"})};
  g.outputs = {value("y")};
  expect_arena_changes_nothing(g, {{random_floats({1, 3, 16, 16}, 8)}});
}

TEST(MemoryPlanner, IfAliasingTheArenaUnforeseenIsCopiedOut) {
  // Recorded with cond = false, where the If's output is a fresh buffer; with cond = true it is t
  // itself, read after t's planned lifetime — by then m may occupy t's bytes.
  auto then_g = std::make_shared<ir::Graph>();
  then_g->name = "then";
  then_g->outputs = {value("t_out")};
  then_g->nodes = {node("Identity", {"t"}, {"t_out"})};
  auto else_g = std::make_shared<ir::Graph>();
  else_g->name = "else";
  else_g->outputs = {value("n_out")};
  else_g->nodes = {node("Neg", {"t"}, {"n_out"})};
  ir::Attribute then_a = graph_attr("then_branch", then_g), else_a = graph_attr("else_branch", else_g);
  Graph g;
  g.inputs = {value("x"), value("cond")};
  g.weights = {{"w", random_floats({16, 16}, 9), {}, {}}};
  g.nodes = {node("Relu", {"x"}, {"t"}), node("If", {"cond"}, {"o"}, {then_a, else_a}),
             node("MatMul", {"o", "w"}, {"m"}), node("Add", {"m", "o"}, {"y"})};
  g.outputs = {value("y")};
  Tensor x = random_floats({16, 16}, 10);
  Session heap = session_of(g, false), arena = session_of(g, true);
  for (int cond : {0, 1, 0, 1}) {
    std::vector<Tensor> in = {x, scalar_of(DType::kBool, cond)};
    expect_bit_equal(run(arena, in), run(heap, in), "cond " + std::to_string(cond));
  }
}

TEST(MemoryPlanner, LoopBodiesGetTheirOwnArena) {
  // v = Relu(v * v + v) a few times; the body's intermediates live in the body's arena.
  auto body = std::make_shared<ir::Graph>();
  body->name = "body";
  body->inputs = {value("i"), value("c_in"), value("v_in")};
  body->outputs = {value("c_in_out"), value("v_out")};
  body->nodes = {node("Identity", {"c_in"}, {"c_in_out"}),
                 node("Mul", {"v_in", "v_in"}, {"sq"}),
                 node("Add", {"sq", "v_in"}, {"s"}),
                 node("Neg", {"s"}, {"n"}),
                 node("Neg", {"n"}, {"p"}),
                 node("Relu", {"p"}, {"v_out"})};
  Graph g;
  g.inputs = {value("x"), value("trip"), value("cond")};
  g.nodes = {node("Relu", {"x"}, {"r"}), node("Loop", {"trip", "cond", "r"}, {"v"}, {graph_attr("body", body)}),
             node("Neg", {"v"}, {"y"})};
  g.outputs = {value("y")};
  std::vector<Tensor> in = {random_floats({8, 8}, 11), scalar_of(DType::kInt64, 3), scalar_of(DType::kBool, 1)};
  expect_arena_changes_nothing(g, {in});
  Session s = session_of(g, true);
  run(s, in);
  EXPECT_GT(s.arena_bytes(), 0u);
}

TEST(MemoryPlanner, PlansAgainWhenTheInputShapeChanges) {
  Graph g = relu_chain(4);
  Session s = session_of(g, true);
  Session heap = session_of(g, false);
  Tensor small = random_floats({2, 8}, 12), large = random_floats({16, 8}, 13);
  for (const Tensor* x : {&small, &small, &large, &large, &small, &large}) {
    expect_bit_equal(run(s, {*x}), run(heap, {*x}), shape_to_string(x->shape()));
    EXPECT_EQ(s.arena_bytes(), 2 * ((x->nbytes() + 63) / 64 * 64)) << shape_to_string(x->shape());
  }
}

// After a run the OpenMP workers must sleep, not spin: an idle process costs no CPU.
TEST(SessionThreads, AreIdleBetweenRuns) {
  Graph g;
  g.inputs = {value("x")};
  g.weights = {{"w", random_floats({256, 256}, 14), {}, {}}};
  g.nodes = {node("MatMul", {"x", "w"}, {"y"})};
  g.outputs = {value("y")};
  Session s = session_of(g, true, 2);
  run(s, {random_floats({256, 256}, 15)});
  auto cpu_seconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // libgomp's bounded spin ends
  double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LT(cpu_seconds() - before, 0.05);
}

}  // namespace
}  // namespace hone
