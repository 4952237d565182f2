// hone report MODEL --data DATA [--out DIR] [--calib DATA] [--metric accuracy|top5|perplexity]
//                   [--labels NAME] [--limit N] [--layer-samples N] [--variants A,B] [--threads N]
//                   [--max-drop X] [--json]
// `hone demo`'s variant sweep for the user's own model: every quantization variant written to DIR,
// measured on DATA, one table, and DIR/report.html.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli_common.h"
#include "core/cpu_features.h"
#include "eval/report.h"
#include "eval/sweep.h"
#include "sweep_output.h"

namespace hone::cli {
namespace {

namespace fs = std::filesystem;

struct ReportArgs {
  std::string model;
  std::string data;
  std::string calib;
  std::string out = "hone-report";
  std::string metric;
  std::string labels = "labels";
  int64_t limit = 0;
  int64_t layer_samples = 16;
  std::vector<std::string> variants;
  int threads = 0;
  double max_drop = std::numeric_limits<double>::quiet_NaN();
  bool json = false;
};

int run_report(const ReportArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  if (same_file_as_model(a.out, a.model) || same_file_as_model(a.out, a.data))
    return fail("report", invalid_argument("--out " + a.out + " is an input file"));
  const std::string html = (fs::path(a.out) / "report.html").string();
  if (same_file_as_model(html, a.model) || same_file_as_model(html, a.data))
    return fail("report", invalid_argument(html + " is an input file"));
  ProgressLine bar;
  eval::SweepOptions o;
  o.model_path = a.model;
  o.data_path = a.data;
  o.calib_path = a.calib;
  o.metric = a.metric;
  o.labels = a.labels;
  o.out_dir = a.out;
  o.threads = a.threads;
  o.eval_limit = a.limit;
  o.layer_samples = a.layer_samples;
  o.only = a.variants;
  o.max_drop = a.max_drop;
  o.progress = [&](const std::string& what, int64_t done, int64_t total) { bar.update(what, done, total); };
  auto r = eval::run_sweep(o);
  bar.clear();
  if (!r.ok()) return fail("report", r.status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int threads = a.threads > 0 ? a.threads : cpu_features().physical_cores;
  eval::Report report;
  report.title = "hone report: " + r->name;
  char sub[256];
  std::snprintf(sub, sizeof sub, "%d thread%s, %s; %.1f s", threads, threads == 1 ? "" : "s",
                cpu_features_string().c_str(), seconds);
  report.subtitle = sub;
  report.models.push_back(*r);
  if (Status st = eval::write_report_html(html, report); !st.ok()) return fail("report", st);
  if (a.json) {
    nlohmann::json j;
    j["models"] = nlohmann::json::array({sweep_json(*r)});
    j["best"] = {{r->name, r->best >= 0 ? nlohmann::json(r->variants[static_cast<size_t>(r->best)].name)
                                        : nlohmann::json(nullptr)}};
    j["threads"] = threads;
    j["seconds"] = seconds;
    j["out"] = a.out;
    j["report"] = html;
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s\nvariants in %s/, report: %s (%.1f s)\n", sweep_table(*r).c_str(), a.out.c_str(), html.c_str(),
                seconds);
  }
  return 0;
}

}  // namespace

Command add_report(CLI::App& root) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* app = root.add_subcommand(
      "report", "Quantize a model every way, measure each variant on your data, write report.html");
  app->footer(
      "Variants: fp32, dynamic int8, static int8 (minmax, percentile, entropy, mse), weight-only int4 (rtn, rtn --symmetric, gptq, awq),\n"
      "each written to DIR as NAME.VARIANT.onnx and evaluated at batch 1 on DATA.\n"
      "Without --calib, static int8, GPTQ and AWQ calibrate on the first 64 samples of DATA (written to DIR/NAME.calib.npz).\n"
      "Examples:\n"
      "  hone report model.onnx --data test.npz --calib train_slice.npz --out rep\n"
      "  hone report lm.onnx --data tokens.npz --metric perplexity --limit 100 --json\n"
      "Exit codes: 0 ok, 2 cannot load model, data or arguments, 3 failed while running.");
  app->add_option("MODEL", args->model, "ONNX model file (float)")->required();
  app->add_option("--data", args->data, "Evaluation data: .npz or folder of .npy files (inputs plus labels/tokens)")
      ->required();
  app->add_option("--calib", args->calib, "Calibration data for static int8, GPTQ and AWQ (default: the first samples of --data)");
  app->add_option("--out", args->out, "Folder for report.html and the variants (default ./hone-report)");
  app->add_option("--metric", args->metric, "accuracy, top5 or perplexity (default: accuracy when the data has labels)");
  app->add_option("--labels", args->labels, "Name of the labels array (default 'labels')");
  app->add_option("--limit", args->limit, "Evaluate only the first N samples")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app->add_option("--layer-samples", args->layer_samples, "Samples for the per-layer comparison (default 16; 0 skips it)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app->add_option("--variants", args->variants,
                  "Only these variants besides fp32, comma separated (dynamic-int8, static-int8-minmax, "
                  "static-int8-percentile, static-int8-entropy, static-int8-mse, int4-rtn, int4-rtn-sym, int4-gptq, int4-awq)")
      ->delimiter(',');
  app->add_option("--threads", args->threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  app->add_option("--max-drop", args->max_drop,
                  "Best trade-off: allowed loss vs fp32, accuracy points (default 1) / perplexity percent (default 3)")
      ->check(CLI::NonNegativeNumber);
  app->add_flag("--json", args->json, "Print one JSON object instead of the table");
  return {app, [args] { return run_report(*args); }};
}

static const CommandRegistration kReportRegistration(95, add_report);

}  // namespace hone::cli
