// report.html: one self-contained page (no network, no external scripts or styles) that shows what
// quantization did to one or more models — the numbers of every variant in a table, and charts as
// inline SVG:
//   - the task metric (accuracy or perplexity) against latency, with the Pareto front marked;
//   - model size per variant (bars);
//   - per-layer sensitivity of one quantized variant (SQNR per layer), or, when no per-layer
//     comparison was made, the output SQNR of every variant with a note saying why;
//   - weight and activation histograms with the clipping ranges the quantizer chose.
// Under each variant the page prints the exact `hone` command that reproduces it.
//
// The page is written from the plain structs below (filled by eval/sweep.h), so the HTML has no
// knowledge of models, sessions or quantizers. Every chart carries data attributes that say what it
// should show — `data-chart` (pareto | size | sensitivity | histogram), `data-points` (points or
// bars drawn; the per-variant charts draw one per table row) — and a small inline script measures
// each chart once the page is laid out and writes `data-measured="WIDTHxHEIGHT:N"` (N = drawn marks
// with a non-zero box) onto it, so a headless browser's DOM dump proves that every chart drew.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "hone/status.hpp"

namespace hone::eval {

struct ReportVariant {
  std::string name;            // "fp32", "dynamic-int8", "static-int8-entropy", "int4-rtn" ...
  std::string command;         // the hone command that makes it (fp32: the eval command)
  std::string eval_command;    // the hone command that measures it
  std::string file;            // the model file measured
  bool ok = true;              // false: not measured; `skipped` says why
  std::string skipped;
  double metric = std::numeric_limits<double>::quiet_NaN();  // accuracy in [0, 1] or perplexity
  // Against fp32: accuracy in percentage points (negative = worse), perplexity in percent
  // (positive = worse).
  double delta = 0;
  double latency_ms = std::numeric_limits<double>::quiet_NaN();  // median, batch 1
  uint64_t bytes = 0;          // size of the model file written
  double sqnr_db = std::numeric_limits<double>::quiet_NaN();  // first output vs fp32's, dB
  std::string note;            // e.g. "3 nodes quantized (Conv 2, Gemm 1)"
};

struct HistogramClip {
  std::string label;  // "minmax", "entropy", "int8 weights" ...
  double lo = 0, hi = 0;
};

struct ReportHistogram {
  std::string title;        // "activation x (input of conv1)"
  std::string kind;         // "weight" | "activation"
  double lo = 0, hi = 0;    // range of the bins
  std::vector<double> counts;
  std::vector<HistogramClip> clips;
};

struct LayerSensitivity {
  std::string value;   // compared value (a node's output)
  std::string op;      // op type of the float node
  double sqnr_db = 0;  // that value in the quantized model vs the float model
  double added_error = 0;  // relative RMS error the layer adds (layer_compare.h)
};

struct ModelReport {
  std::string name;         // "digits_cnn"
  std::string model_path;
  std::string data_path;
  std::string calib_note;   // which data calibrated the static variants
  std::string metric;       // "accuracy" | "top5" | "perplexity"
  bool higher_is_better = true;
  int64_t eval_samples = 0;
  std::vector<ReportVariant> variants;  // [0] is fp32
  int best = -1;             // index into variants, -1 when none qualifies
  std::string best_rule;     // "fastest within 1 point of fp32 accuracy"
  std::string sensitivity_variant;       // the variant the per-layer comparison is of ("" if none)
  std::vector<LayerSensitivity> layers;  // graph order
  std::string sensitivity_note;          // why per-layer data is missing, or how it was made
  std::vector<ReportHistogram> histograms;
  double seconds = 0;        // wall time of the sweep
};

struct Report {
  std::string title = "hone report";
  std::string subtitle;      // machine, threads, date ...
  std::vector<ModelReport> models;
};

// Indices of the variants on the Pareto front of (latency lower, metric better): measured variants
// that no other measured variant beats on both (ties on both keep both). Sorted by latency.
std::vector<size_t> pareto_front(const ModelReport& m);

// The whole page.
std::string report_html(const Report& report);
// Written atomically.
Status write_report_html(const std::string& path, const Report& report);

}  // namespace hone::eval
