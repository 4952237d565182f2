// hone bench MODEL [--shape NAME=DIMS]... [--threads N] [--iters N] [--warmup N] [--level N] [--disable-pass NAME]...
//                  [--json] [--profile]
// Latency of a model in hone's runtime: median, p90 and p99 over timed runs, throughput, memory.
//
// Every timed run does the whole job on fresh data: a few distinct random input sets are made up
// front and cycled through, so that nothing can be answered from a cache and branch predictors or
// data-dependent paths do not see the same values every time.
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli_common.h"
#include "eval/random_inputs.h"
#include "ir/stats.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/profiler.h"
#include "runtime/session_impl.h"

namespace hone::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Distinct random input sets cycled through the runs: enough that consecutive runs never see the
// same data, few enough that they stay small next to the model.
constexpr int kInputSets = 4;
// Without --iters: run for about this long, but at least kMinIters and at most kMaxIters times.
constexpr double kAutoSeconds = 5.0;
constexpr int kMinIters = 10;
constexpr int kMaxIters = 1000;

struct BenchArgs {
  std::string model;
  std::vector<std::string> shapes;
  int threads = 0;
  int iters = 0;  // 0: by time (kAutoSeconds)
  int warmup = 3;
  int level = 2;  // as `hone run`: what is timed is what run executes
  std::vector<std::string> disabled_passes;
  bool json = false;
  bool profile = false;
};

// Linear interpolation between closest ranks (numpy's default), so p90 >= median always.
double percentile(const std::vector<double>& sorted, double p) {
  double pos = p / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// "[#######       ] 45/100" on stderr, redrawn at most every 100 ms; only on a terminal.
class Progress {
 public:
  Progress(const char* what, int total) : what_(what), total_(total), on_(isatty(STDERR_FILENO) == 1) {}
  void update(int done, bool force = false) {
    if (!on_) return;
    auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr int kWidth = 30;
    int filled = total_ > 0 ? std::min(kWidth, done * kWidth / total_) : 0;
    std::fprintf(stderr, "\r%-7s [%s%s] %d/%d", what_, std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), ' ').c_str(), done, total_);
  }
  void done() {
    if (on_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  const char* what_;
  int total_;
  bool on_;
  Clock::time_point last_{};
};

struct OpTime {
  std::string op;
  int64_t nodes = 0;
  double ms = 0;
};

int run_bench(const BenchArgs& a) {
  auto overrides = parse_shape_overrides(a.shapes);
  if (!overrides.ok()) return fail("bench", overrides.status());
  auto model = onnxio::load_model(a.model);
  if (!model.ok()) return fail("bench", model.status());

  uint64_t model_bytes = 0;
  {
    std::error_code ec;
    model_bytes = fs::file_size(a.model, ec);
    if (ec) return fail("bench", io_error(a.model + ": " + ec.message()));
    for (const auto& [_, bytes] : ir::compute_stats(*model).external_files) model_bytes += bytes;
  }
  passes::PassOptions pass_options;
  pass_options.level = a.level;
  pass_options.disabled = {a.disabled_passes.begin(), a.disabled_passes.end()};
  if (Status st = passes::optimize(*model, pass_options); !st.ok()) return fail("bench", st.with_context(a.model));

  SessionOptions options;
  options.threads = a.threads;
  auto session = create_session(std::move(model).value(), options);
  if (!session.ok()) return fail("bench", session.status().with_context(a.model));

  for (const auto& [name, _] : *overrides) {
    bool known = false;
    for (const auto& in : session->inputs()) known |= in.name == name;
    if (!known) return fail("bench", invalid_argument("--shape names '" + name + "', which is not an input of the model"));
  }
  std::vector<std::vector<Tensor>> pool;
  for (int k = 0; k < kInputSets; ++k) {
    // random_inputs seeds input i with seed + i: sets kInputSets apart never share a seed.
    auto inputs = eval::random_inputs(session->inputs(), *overrides, static_cast<uint64_t>(k) * 1000);
    if (!inputs.ok()) return fail("bench", inputs.status());
    pool.push_back(std::move(inputs).value());
  }
  // Throughput counts samples: the first dim of the first input is taken as the batch.
  int64_t batch = 1;
  if (!pool[0].empty() && pool[0][0].rank() > 0) batch = std::max<int64_t>(1, pool[0][0].shape()[0]);

  size_t next_set = 0;
  auto run_once = [&]() -> Result<double> {
    const std::vector<Tensor>& inputs = pool[next_set++ % pool.size()];
    auto t0 = Clock::now();
    auto out = session->run(inputs);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!out.ok()) return out.status();
    return ms;
  };

  Progress warm_bar("warmup", a.warmup);
  for (int i = 0; i < a.warmup; ++i) {
    auto ms = run_once();
    if (!ms.ok()) return fail("bench", ms.status());
    warm_bar.update(i + 1);
  }
  warm_bar.done();

  rt::Profiler profiler;
  std::vector<double> times;
  {
    rt::ProfilerInstall install(a.profile ? &profiler : nullptr);
    const int planned = a.iters > 0 ? a.iters : kMaxIters;
    Progress bar("bench", planned);
    const auto start = Clock::now();
    for (int i = 0; i < planned; ++i) {
      if (a.iters == 0 && i >= kMinIters && std::chrono::duration<double>(Clock::now() - start).count() >= kAutoSeconds)
        break;
      auto ms = run_once();
      if (!ms.ok()) return fail("bench", ms.status());
      times.push_back(*ms);
      bar.update(i + 1);
    }
    bar.done();
  }

  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = percentile(sorted, 50), p90 = percentile(sorted, 90), p99 = percentile(sorted, 99);
  const double throughput = 1000.0 / median * static_cast<double>(batch);
  const double rss = peak_rss_mib();
  const int iters = static_cast<int>(times.size());

  // Profile: per-iteration times, by op type and for the slowest nodes.
  std::vector<rt::Profiler::NodeTime> nodes = profiler.nodes();
  std::sort(nodes.begin(), nodes.end(), [](const auto& x, const auto& y) { return x.ms > y.ms; });
  std::vector<OpTime> ops;
  double profiled_ms = 0;
  for (const auto& n : nodes) {
    profiled_ms += n.ms / iters;
    auto it = std::find_if(ops.begin(), ops.end(), [&](const OpTime& o) { return o.op == n.op; });
    if (it == ops.end()) it = ops.insert(ops.end(), OpTime{n.op, 0, 0});
    it->nodes += 1;
    it->ms += n.ms / iters;
  }
  std::sort(ops.begin(), ops.end(), [](const OpTime& x, const OpTime& y) { return x.ms > y.ms; });
  const size_t top = std::min<size_t>(10, nodes.size());
  auto share = [&](double ms) { return profiled_ms > 0 ? 100.0 * ms / profiled_ms : 0.0; };

  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["threads"] = session->threads();
    j["iters"] = iters;
    j["median_ms"] = median;
    j["p90_ms"] = p90;
    j["p99_ms"] = p99;
    j["throughput_per_s"] = throughput;
    j["peak_rss_mb"] = rss;
    j["model_bytes"] = model_bytes;
    j["arena_bytes"] = session->arena_bytes();
    if (a.profile) {
      auto by_op = nlohmann::json::array();
      for (const auto& o : ops) by_op.push_back({{"op", o.op}, {"nodes", o.nodes}, {"ms", o.ms}, {"percent", share(o.ms)}});
      auto top_nodes = nlohmann::json::array();
      for (size_t i = 0; i < top; ++i)
        top_nodes.push_back({{"node", nodes[i].label}, {"op", nodes[i].op}, {"ms", nodes[i].ms / iters},
                             {"percent", share(nodes[i].ms / iters)}});
      j["profile"] = {{"ms_per_iter", profiled_ms}, {"by_op", by_op}, {"top_nodes", top_nodes}};
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }

  auto fmt = [](const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return std::string(b);
  };
  std::printf("model       %s (%s)\n", a.model.c_str(), human_bytes(static_cast<double>(model_bytes)).c_str());
  std::printf("threads     %d\n", session->threads());
  std::printf("runs        %d timed after %d warmup, on %d random input sets in turn\n", iters, a.warmup, kInputSets);
  std::printf("latency     median %.3f ms   p90 %.3f ms   p99 %.3f ms\n", median, p90, p99);
  std::printf("throughput  %s/s (batch %lld)\n", human_count(throughput).c_str(), static_cast<long long>(batch));
  std::printf("peak RSS    %.1f MiB\n", rss);
  std::printf("arena       %s (intermediate values)\n", human_bytes(static_cast<double>(session->arena_bytes())).c_str());
  if (a.profile && nodes.empty()) std::printf("\nprofile: no node was timed\n");
  if (a.profile && !nodes.empty()) {
    std::printf("\ntime per op type (per run; nodes timed one by one add up to %.3f ms):\n", profiled_ms);
    Table by_op({"op", "nodes", "ms", "%"});
    for (const auto& o : ops) by_op.add({o.op, std::to_string(o.nodes), fmt("%.3f", o.ms), fmt("%.1f", share(o.ms))});
    std::printf("%s", by_op.str().c_str());
    std::printf("\nslowest %zu nodes (per run):\n", top);
    Table slow({"node", "op", "ms", "%"});
    for (size_t i = 0; i < top; ++i)
      slow.add({nodes[i].label, nodes[i].op, fmt("%.3f", nodes[i].ms / iters), fmt("%.1f", share(nodes[i].ms / iters))});
    std::printf("%s", slow.str().c_str());
  }
  return 0;
}

}  // namespace

Command add_bench(CLI::App& root) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* app = root.add_subcommand("bench", "Measure a model's latency, throughput and memory in hone's runtime");
  app->footer(
      "Examples:\n"
      "  hone bench model.onnx                                 # ~5 s of timed runs after 3 warmup runs\n"
      "  hone bench model.onnx --threads 2 --iters 200 --json  # one JSON object for scripts\n"
      "  hone bench model.onnx --shape input=8x3x224x224       # batch 8 for a symbolic batch dim\n"
      "  hone bench model.onnx --profile                       # time per op type and the slowest nodes\n"
      "Exit codes: 0 ok, 2 cannot load model or arguments, 3 failed while running.");
  app->add_option("MODEL", args->model, "ONNX model file")->required();
  app->add_option("--shape", args->shapes, "Shape for a symbolic input, NAME=1x3x224x224 (repeatable)");
  app->add_option("--threads", args->threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  app->add_option("--iters", args->iters, "Timed runs (default: as many as fit in about 5 s, 10 to 1000)")
      ->check(CLI::Range(1, 100000000));
  app->add_option("--warmup", args->warmup, "Untimed runs first (default 3)")->check(CLI::Range(0, 100000000));
  app->add_option("--level", args->level, "Graph optimization level: 0 none, 1 basic, 2 + fusions (default), 3 + aggressive")
      ->check(CLI::Range(0, passes::kMaxLevel));
  app->add_option("--disable-pass", args->disabled_passes, "Skip one optimization pass by name (repeatable)");
  app->add_flag("--json", args->json, "Print one JSON object instead of text");
  app->add_flag("--profile", args->profile, "Also time every node: per op type and the 10 slowest nodes");
  return {app, [args] { return run_bench(*args); }};
}

static const CommandRegistration kBenchRegistration(30, add_bench);

}  // namespace hone::cli
