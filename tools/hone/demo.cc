// hone demo [--out DIR] [--json] [--threads N] [--quick] [--max-drop X] [--models DIR]
// hone's main job on the trained models it ships (models/README.md): every quantization variant of
// the digits CNN and the character LM, measured for quality, latency and size, in one table per
// model with the best trade-off named, the variants as ONNX files and DIR/report.html.
#include <unistd.h>

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

struct DemoArgs {
  std::string out = "hone-demo";
  std::string models;  // "" = found next to the binary or in ./models
  // One thread by default: the demo models are so small that a second thread buys little at batch
  // 1, and on a loaded machine OpenMP's barriers turn it into a large slowdown (docs/demo.md).
  int threads = 1;
  bool json = false;
  bool quick = false;
  double max_drop = std::numeric_limits<double>::quiet_NaN();
};

struct DemoModel {
  const char* name;
  const char* model;
  const char* test;
  const char* calib;
  int64_t quick_samples;  // --quick evaluates this many
};

// The trained demo models; the calibration files are slices of the *training* splits.
constexpr DemoModel kDemoModels[] = {
    {"digits_cnn", "digits_cnn.onnx", "digits_test.npz", "digits_calib.npz", 120},
    {"charlm", "charlm.onnx", "charlm_test.npz", "charlm_calib.npz", 32},
};

bool has_models(const fs::path& dir) {
  std::error_code ec;
  for (const auto& m : kDemoModels)
    if (!fs::is_regular_file(dir / m.model, ec) || !fs::is_regular_file(dir / m.test, ec)) return false;
  return true;
}

// ./models (a checkout's root, where `make run` runs), else models/ beside or above the binary
// (build/hone in a checkout).
Result<std::string> find_models(const std::string& given) {
  if (!given.empty()) {
    if (has_models(given)) return given;
    return invalid_argument("--models " + given + ": no demo models there (digits_cnn.onnx, charlm.onnx, ...)");
  }
  if (has_models("models")) return std::string("models");
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path dir = exe.parent_path();
    for (int up = 0; up < 3 && !dir.empty(); ++up, dir = dir.parent_path()) {
      fs::path cand = dir / "models";
      if (has_models(cand)) {
        // Shown relative when it is under the working folder, so the printed commands stay short.
        fs::path rel = fs::relative(cand, fs::current_path(), ec);
        return (!ec && !rel.empty() && rel.native().rfind("..", 0) != 0 ? rel : cand).string();
      }
    }
  }
  return invalid_argument("cannot find the demo models (models/digits_cnn.onnx ...): run from hone's source folder or "
                          "pass --models DIR");
}

int run_demo(const DemoArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  auto dir = find_models(a.models);
  if (!dir.ok()) return fail("demo", dir.status());
  for (const auto& m : kDemoModels)
    if (same_file_as_model(a.out, (fs::path(*dir) / m.model).string()))
      return fail("demo", invalid_argument("--out " + a.out + " is a model file"));

  ProgressLine bar;
  eval::Report report;
  report.title = "hone demo";
  const int threads_shown = a.threads > 0 ? a.threads : cpu_features().physical_cores;
  for (const auto& dm : kDemoModels) {
    eval::SweepOptions o;
    o.name = dm.name;
    o.model_path = (fs::path(*dir) / dm.model).string();
    o.data_path = (fs::path(*dir) / dm.test).string();
    fs::path calib = fs::path(*dir) / dm.calib;
    std::error_code ec;
    if (fs::is_regular_file(calib, ec)) o.calib_path = calib.string();
    o.out_dir = a.out;
    o.threads = a.threads;
    o.max_drop = a.max_drop;
    if (a.quick) {
      o.eval_limit = dm.quick_samples;
      o.calib_limit = 32;
      o.layer_samples = 4;
    }
    o.progress = [&](const std::string& what, int64_t done, int64_t total) { bar.update(what, done, total); };
    auto r = eval::run_sweep(o);
    bar.clear();
    if (!r.ok()) return fail("demo", r.status().with_context(dm.name));
    if (!a.json) std::printf("%s\n", sweep_table(*r).c_str());
    report.models.push_back(std::move(r).value());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char sub[256];
  std::snprintf(sub, sizeof sub, "%d thread%s, %s; %s; whole demo %.1f s", threads_shown, threads_shown == 1 ? "" : "s",
                cpu_features_string().c_str(), a.quick ? "--quick (first samples only)" : "every test sample", seconds);
  report.subtitle = sub;
  const std::string html = (fs::path(a.out) / "report.html").string();
  if (Status st = eval::write_report_html(html, report); !st.ok()) return fail("demo", st);

  if (a.json) {
    nlohmann::json j;
    j["models"] = nlohmann::json::array();
    j["best"] = nlohmann::json::object();
    for (const auto& m : report.models) {
      j["models"].push_back(sweep_json(m));
      j["best"][m.name] = m.best >= 0 ? nlohmann::json(m.variants[static_cast<size_t>(m.best)].name) : nlohmann::json(nullptr);
    }
    j["threads"] = threads_shown;
    j["quick"] = a.quick;
    j["seconds"] = seconds;
    j["out"] = a.out;
    j["report"] = html;
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("variants in %s/, report: %s (%.1f s)\n", a.out.c_str(), html.c_str(), seconds);
  }
  return 0;
}

}  // namespace

Command add_demo(CLI::App& root) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* app = root.add_subcommand(
      "demo", "Quantize the shipped demo models every way, measure quality, latency and size, write report.html");
  app->footer(
      "Models: models/digits_cnn.onnx (digits classifier, accuracy) and models/charlm.onnx (character LM,\n"
      "perplexity), each with its held-out test split and a calibration slice of its training split.\n"
      "Variants: fp32, dynamic int8, static int8 (minmax, percentile, entropy, mse), weight-only int4 (rtn, rtn --symmetric, gptq, awq).\n"
      "Examples:\n"
      "  hone demo                      # tables on stdout, hone-demo/report.html and the variants' .onnx files\n"
      "  hone demo --quick --out /tmp/d # first samples only: a quick look\n"
      "  hone demo --json               # one JSON object (docs/demo.md lists the keys)\n"
      "Exit codes: 0 ok, 2 cannot load models or arguments, 3 failed while running.");
  app->add_option("--out", args->out, "Folder for report.html and the variants (default ./hone-demo)");
  app->add_option("--models", args->models, "Folder holding the demo models (default: ./models or beside the binary)");
  app->add_option("--threads", args->threads, "Threads (default 1: the demo models are small; 0 = physical cores)")
      ->check(CLI::Range(0, 1024));
  app->add_option("--max-drop", args->max_drop,
                  "Best trade-off: allowed loss vs fp32, accuracy points (default 1) / perplexity percent (default 3)")
      ->check(CLI::NonNegativeNumber);
  app->add_flag("--quick", args->quick, "Evaluate only the first samples of each test set");
  app->add_flag("--json", args->json, "Print one JSON object instead of tables");
  return {app, [args] { return run_demo(*args); }};
}

static const CommandRegistration kDemoRegistration(90, add_demo);

}  // namespace hone::cli
