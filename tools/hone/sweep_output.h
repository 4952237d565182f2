// Output shared by `hone demo` and `hone report`: the variant table, its JSON, and a progress line.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "eval/report.h"

namespace hone::cli {

// The aligned table of one model's variants (deltas and ratios against fp32), the variants that
// were not measured with why, and the best trade-off.
std::string sweep_table(const eval::ModelReport& m);

// {name, model, data, metric, samples, calibration, variants: [{name, command, eval_command,
//  accuracy|top5|perplexity, delta, latency_ms, speedup, bytes, size_ratio, sqnr_db, note} |
//  {name, command, skipped}], best, best_rule, seconds}
nlohmann::json sweep_json(const eval::ModelReport& m);

// "\r<what> [#####     ] done/total  elapsed, ETA left" (quant/progress.h) on stderr, at most every
// 100 ms, only when stderr is a terminal and `quiet` is off: a log file or a pipe gets nothing.
// Elapsed time and ETA count from the first update of a stage (a new `what`, or done going back).
class ProgressLine {
 public:
  explicit ProgressLine(bool quiet = false);
  ~ProgressLine() { clear(); }
  void update(const std::string& what, int64_t done, int64_t total);
  void clear();

 private:
  bool on_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::string stage_;
  int64_t stage_done_ = 0;
  int64_t stage_first_done_ = 0;  // done at the stage's first report (steps before it are untimed)
  std::chrono::steady_clock::time_point stage_start_{};
};

}  // namespace hone::cli
