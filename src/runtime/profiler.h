// Per-node timing for `hone bench --profile`.
//
// The executor wraps each kernel run in rt::profiled(node, fn). With no Profiler installed on the
// calling thread that costs one thread-local load per node, so it stays in the normal run path.
// While one is installed (ProfilerInstall), each node's wall time is added to it. Nodes that run
// inside another node's subgraph (If, Loop, Scan bodies) are not recorded on their own: their time
// is part of the enclosing node's, so that the recorded times add up to the run's time.
// Nodes are timed on the thread that runs the graph: an executor that ran nodes on other threads
// would have to install the profiler there too.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "hone/status.hpp"
#include "ir/graph.h"

namespace hone::rt {

class Profiler {
 public:
  struct NodeTime {
    std::string label;  // node name, or its first output when unnamed
    std::string op;     // qualified op type ("Conv", "com.microsoft.QGemm")
    double ms = 0;      // summed over every call
    int64_t calls = 0;
  };

  void add(const ir::Node& node, double ms);
  // One entry per node, in the order nodes first ran.
  const std::vector<NodeTime>& nodes() const { return nodes_; }

 private:
  std::unordered_map<const ir::Node*, size_t> index_;
  std::vector<NodeTime> nodes_;
};

namespace detail {
inline thread_local Profiler* active_profiler = nullptr;
inline thread_local int profiled_depth = 0;  // > 0 while a recorded node runs
}  // namespace detail

// Installs `p` on the calling thread until destroyed (restoring what was there before).
class ProfilerInstall {
 public:
  explicit ProfilerInstall(Profiler* p) : saved_(detail::active_profiler) { detail::active_profiler = p; }
  ~ProfilerInstall() { detail::active_profiler = saved_; }
  ProfilerInstall(const ProfilerInstall&) = delete;
  ProfilerInstall& operator=(const ProfilerInstall&) = delete;

 private:
  Profiler* saved_;
};

// Runs `run` (returning Status) and, when a profiler is installed, records its wall time for `node`.
template <class F>
Status profiled(const ir::Node& node, F&& run) {
  Profiler* p = detail::active_profiler;
  if (!p || detail::profiled_depth > 0) return run();
  struct Depth {
    Depth() { ++detail::profiled_depth; }
    ~Depth() { --detail::profiled_depth; }
  } depth;
  const auto t0 = std::chrono::steady_clock::now();
  Status st = run();
  p->add(node, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return st;
}

}  // namespace hone::rt
