// Text table and JSON of a variant sweep (sweep_output.h).
#include "sweep_output.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "cli_common.h"
#include "quant/progress.h"

namespace hone::cli {
namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

std::string sweep_table(const eval::ModelReport& m) {
  const bool ppl = m.metric == "perplexity";
  Table t({"variant", m.metric, "delta", "latency ms", "speed-up", "size", "size x", "SQNR dB", ""});
  const eval::ReportVariant& base = m.variants.front();
  for (size_t i = 0; i < m.variants.size(); ++i) {
    const eval::ReportVariant& v = m.variants[i];
    if (!v.ok) continue;
    t.add({v.name, ppl ? fmt("%.3f", v.metric) : fmt("%.2f %%", v.metric * 100),
           i == 0 ? "" : ppl ? fmt("%+.2f %%", v.delta) : fmt("%+.2f pt", v.delta), fmt("%.3f", v.latency_ms),
           base.ok && v.latency_ms > 0 ? fmt("%.2fx", base.latency_ms / v.latency_ms) : "",
           human_bytes(static_cast<double>(v.bytes)),
           base.bytes ? fmt("%.2fx", static_cast<double>(v.bytes) / static_cast<double>(base.bytes)) : "",
           i == 0 ? "" : std::isfinite(v.sqnr_db) ? fmt("%.1f", v.sqnr_db) : "exact",
           static_cast<int>(i) == m.best ? "<- best" : ""});
  }
  std::string s = m.name + " (" + m.model_path + ", " + std::to_string(m.eval_samples) + " samples of " + m.data_path +
                  ", batch 1)\n" + t.str();
  for (const auto& v : m.variants)
    if (!v.ok) s += "  not measured: " + v.name + ": " + v.skipped + "\n";
  s += "  best trade-off (" + m.best_rule + "): " +
       (m.best >= 0 ? m.variants[static_cast<size_t>(m.best)].name : std::string("none qualifies")) + "\n";
  if (m.best >= 0) s += "    " + m.variants[static_cast<size_t>(m.best)].command + "\n";
  return s;
}

nlohmann::json sweep_json(const eval::ModelReport& m) {
  nlohmann::json j;
  j["name"] = m.name;
  j["model"] = m.model_path;
  j["data"] = m.data_path;
  j["metric"] = m.metric;
  j["samples"] = m.eval_samples;
  j["calibration"] = m.calib_note;
  const eval::ReportVariant& base = m.variants.front();
  auto vs = nlohmann::json::array();
  for (size_t i = 0; i < m.variants.size(); ++i) {
    const eval::ReportVariant& v = m.variants[i];
    nlohmann::json o;
    o["name"] = v.name;
    o["command"] = v.command;
    if (!v.ok) {
      o["skipped"] = v.skipped;
      vs.push_back(o);
      continue;
    }
    o["eval_command"] = v.eval_command;
    o["file"] = v.file;
    o[m.metric] = v.metric;
    o["delta"] = v.delta;
    o["delta_unit"] = m.metric == "perplexity" ? "percent" : "points";
    o["latency_ms"] = v.latency_ms;
    o["speedup"] = base.ok && v.latency_ms > 0 ? base.latency_ms / v.latency_ms : 0.0;
    o["bytes"] = v.bytes;
    o["size_ratio"] = base.bytes ? static_cast<double>(v.bytes) / static_cast<double>(base.bytes) : 0.0;
    // JSON has no infinity: an exact match (and fp32 itself) is null.
    o["sqnr_db"] = std::isfinite(v.sqnr_db) ? nlohmann::json(v.sqnr_db) : nlohmann::json(nullptr);
    o["note"] = v.note;
    vs.push_back(o);
  }
  j["variants"] = vs;
  j["best"] = m.best >= 0 ? nlohmann::json(m.variants[static_cast<size_t>(m.best)].name) : nlohmann::json(nullptr);
  j["best_rule"] = m.best_rule;
  j["per_layer_variant"] = m.sensitivity_variant;
  j["seconds"] = m.seconds;
  return j;
}

ProgressLine::ProgressLine(bool quiet) : on_(!quiet && isatty(STDERR_FILENO) == 1) {}

void ProgressLine::update(const std::string& what, int64_t done, int64_t total) {
  if (!on_) return;
  auto now = std::chrono::steady_clock::now();
  if (what != stage_ || done < stage_done_) {
    stage_ = what;
    stage_start_ = now;
    stage_first_done_ = done;
  }
  stage_done_ = done;
  if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - stage_start_).count();
  std::fprintf(stderr, "\r\033[K%s", quant::format_progress(what, done, total, elapsed, 20, stage_first_done_).c_str());
  drawn_ = true;
}

void ProgressLine::clear() {
  if (on_ && drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace hone::cli
