// rt::Profiler and rt::profiled: what the executor reports per node for `hone bench --profile`.
#include "runtime/profiler.h"

#include <gtest/gtest.h>

namespace hone::rt {
namespace {

ir::Node node(const std::string& name, const std::string& op, const std::string& output) {
  ir::Node n;
  n.name = name;
  n.op_type = op;
  n.outputs = {output};
  return n;
}

TEST(Profiler, RecordsNothingWithoutAnInstalledProfiler) {
  Profiler p;
  ir::Node a = node("a", "Relu", "y");
  int ran = 0;
  EXPECT_TRUE(profiled(a, [&] { ++ran; return Status::Ok(); }).ok());
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(p.nodes().empty());
}

TEST(Profiler, SumsCallsPerNodeAndPassesStatusThrough) {
  Profiler p;
  ir::Node a = node("a", "Relu", "y"), b = node("", "Conv", "conv_out");
  {
    ProfilerInstall install(&p);
    EXPECT_TRUE(profiled(a, [] { return Status::Ok(); }).ok());
    EXPECT_TRUE(profiled(a, [] { return Status::Ok(); }).ok());
    Status st = profiled(b, [] { return runtime_error("boom"); });
    EXPECT_EQ(st.message(), "boom");
  }
  ASSERT_EQ(p.nodes().size(), 2u);
  EXPECT_EQ(p.nodes()[0].label, "a");
  EXPECT_EQ(p.nodes()[0].op, "Relu");
  EXPECT_EQ(p.nodes()[0].calls, 2);
  EXPECT_GE(p.nodes()[0].ms, 0.0);
  EXPECT_EQ(p.nodes()[1].label, "conv_out");  // unnamed: its first output
  EXPECT_EQ(p.nodes()[1].calls, 1);

  // Uninstalled again: later runs are not recorded.
  EXPECT_TRUE(profiled(a, [] { return Status::Ok(); }).ok());
  EXPECT_EQ(p.nodes()[0].calls, 2);
}

TEST(Profiler, NodesInsideAnotherNodeCountAsPartOfIt) {
  Profiler p;
  ir::Node loop = node("loop", "Loop", "v"), body = node("body_add", "Add", "s");
  ProfilerInstall install(&p);
  EXPECT_TRUE(profiled(loop, [&] {
                for (int i = 0; i < 3; ++i) EXPECT_TRUE(profiled(body, [] { return Status::Ok(); }).ok());
                return Status::Ok();
              }).ok());
  ASSERT_EQ(p.nodes().size(), 1u);
  EXPECT_EQ(p.nodes()[0].label, "loop");
}

}  // namespace
}  // namespace hone::rt
