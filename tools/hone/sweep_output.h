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

// "\r<what> [#####     ] done/total" on stderr, at most every 100 ms, only when stderr is a terminal.
class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine() { clear(); }
  void update(const std::string& what, int64_t done, int64_t total);
  void clear();

 private:
  bool on_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace hone::cli
