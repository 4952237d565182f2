// hone run MODEL [--input NAME=FILE.npy]... [--inputs FILE.npz] [--random [--seed N]] [--shape ...]...
//                [--outputs FILE.npz] [--test-dir DIR] [--threads N] [--level N] [--disable-pass NAME]... [--json]
// Runs a model once on given or random inputs, or checks it against a conformance-layout folder.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli_common.h"
#include "eval/compare.h"
#include "eval/npy.h"
#include "eval/random_inputs.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace hone::cli {
namespace {

namespace fs = std::filesystem;

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::string inputs_npz;
  bool random = false;
  uint64_t seed = 0;
  std::vector<std::string> shapes;
  std::string outputs_npz;
  std::string test_dir;
  int threads = 0;
  int level = 2;
  std::vector<std::string> disabled_passes;
  bool json = false;
};

Result<std::vector<Tensor>> gather_inputs(const RunArgs& a, const Session& s) {
  std::map<std::string, Tensor> given;
  if (!a.inputs_npz.empty()) {
    HONE_ASSIGN_OR_RETURN(eval::NamedTensors arrays, eval::read_npz(a.inputs_npz));
    for (auto& [name, t] : arrays) given[name] = std::move(t);
  }
  for (const auto& spec : a.inputs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_argument("--input '" + spec + "': expected NAME=FILE.npy");
    HONE_ASSIGN_OR_RETURN(Tensor t, eval::read_npy(spec.substr(eq + 1)));
    given[spec.substr(0, eq)] = std::move(t);
  }
  for (const auto& [name, _] : given) {
    bool known = false;
    for (const auto& in : s.inputs()) known |= in.name == name;
    if (!known) {
      std::string names;
      for (const auto& in : s.inputs()) names += (names.empty() ? "" : ", ") + in.name;
      return invalid_argument("the model has no input named '" + name + "' (inputs: " + names + ")");
    }
  }
  HONE_ASSIGN_OR_RETURN(auto overrides, parse_shape_overrides(a.shapes));
  std::vector<Tensor> ordered;
  for (size_t i = 0; i < s.inputs().size(); ++i) {
    const IoInfo& in = s.inputs()[i];
    if (auto it = given.find(in.name); it != given.end()) {
      ordered.push_back(it->second);
      continue;
    }
    if (!a.random)
      return invalid_argument("input '" + in.name + "' (" + in.to_string() +
                              ") was not given: use --input " + in.name + "=FILE.npy, --inputs FILE.npz or --random");
    HONE_ASSIGN_OR_RETURN(Shape shape, eval::resolve_input_shape(in, overrides));
    DType dt = in.dtype == DType::kUndefined ? DType::kFloat32 : in.dtype;
    HONE_ASSIGN_OR_RETURN(Tensor t, eval::random_tensor(dt, shape, a.seed + i));
    ordered.push_back(std::move(t));
  }
  return ordered;
}

// Checks every test_data_set_* folder: exit 0 when all outputs match, 1 when one does not.
int run_test_dir(const RunArgs& a, Session& s) {
  std::vector<fs::path> sets;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(a.test_dir, ec))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  if (ec) return fail("run", io_error(a.test_dir + ": " + ec.message()));
  if (sets.empty()) return fail("run", invalid_argument(a.test_dir + ": no test_data_set_* folders"));
  std::sort(sets.begin(), sets.end());
  bool all_ok = true;
  nlohmann::json results = nlohmann::json::array();
  for (const auto& set : sets) {
    std::vector<Tensor> inputs, expected;
    for (auto* list : {&inputs, &expected}) {
      const char* prefix = list == &inputs ? "input_" : "output_";
      for (size_t i = 0;; ++i) {
        fs::path p = set / (prefix + std::to_string(i) + ".pb");
        if (!fs::exists(p)) break;
        auto t = onnxio::load_tensor_file(p.string());
        if (!t.ok()) return fail("run", t.status());
        list->push_back(std::move(t).value());
      }
    }
    auto out = s.run(inputs);
    if (!out.ok()) return fail("run", out.status().with_context(set.filename().string()));
    if (out->size() < expected.size())
      return fail("run", check_failed(set.filename().string() + ": the model has " + std::to_string(out->size()) +
                                      " outputs, the folder expects " + std::to_string(expected.size())));
    for (size_t i = 0; i < expected.size(); ++i) {
      eval::Comparison c = eval::compare_tensors((*out)[i], expected[i]);
      bool ok = c.within();
      all_ok &= ok;
      const std::string name = s.outputs()[i].name;
      results.push_back({{"data_set", set.filename().string()}, {"output", name}, {"ok", ok},
                         {"max_abs_error", c.max_abs_error}, {"max_abs_expected", c.max_abs_ref}});
      if (!a.json)
        std::printf("%s  %-20s %s  max|a-b| = %.3g  (max|expected| = %.3g)%s\n", set.filename().c_str(), name.c_str(),
                    ok ? "ok      " : "MISMATCH", c.max_abs_error, c.max_abs_ref,
                    c.comparable ? (c.nan_mismatch ? "  NaN mismatch" : "") : ("  " + c.why).c_str());
    }
  }
  if (a.json) std::cout << nlohmann::json{{"passed", all_ok}, {"results", results}}.dump(2) << "\n";
  else std::printf("%s\n", all_ok ? "all outputs match (max|a-b| <= 1e-4 * max|expected| + 1e-6)" : "some outputs do not match");
  return all_ok ? 0 : 1;
}

int run_run(const RunArgs& a) {
  SessionOptions options;
  options.threads = a.threads;
  auto model = onnxio::load_model(a.model);
  if (!model.ok()) return fail("run", model.status());
  const size_t loaded_nodes = model->graph.nodes.size();
  passes::PassOptions pass_options;
  pass_options.level = a.level;
  pass_options.disabled = {a.disabled_passes.begin(), a.disabled_passes.end()};
  if (Status st = passes::optimize(*model, pass_options); !st.ok()) return fail("run", st.with_context(a.model));
  const size_t optimized_nodes = model->graph.nodes.size();
  auto session = create_session(std::move(model).value(), options);
  if (!session.ok()) return fail("run", session.status().with_context(a.model));
  if (!a.test_dir.empty()) return run_test_dir(a, *session);

  auto inputs = gather_inputs(a, *session);
  if (!inputs.ok()) return fail("run", inputs.status());
  auto start = std::chrono::steady_clock::now();
  auto outputs = session->run(*inputs);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!outputs.ok()) return fail("run", outputs.status());

  if (!a.outputs_npz.empty()) {
    eval::NamedTensors named;
    for (size_t i = 0; i < outputs->size(); ++i) named.emplace_back(session->outputs()[i].name, (*outputs)[i]);
    if (fs::exists(a.outputs_npz) && same_file_as_model(a.outputs_npz, a.model))
      return fail("run", invalid_argument(a.outputs_npz + ": is the input model; refusing to overwrite it"));
    Status st = eval::write_npz(a.outputs_npz, named);
    if (!st.ok()) return fail("run", st);
  }
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["latency_ms"] = ms;
    j["threads"] = session->threads();
    j["nodes"] = {{"loaded", loaded_nodes}, {"optimized", optimized_nodes}};
    j["arena_bytes"] = session->arena_bytes();
    j["outputs"] = nlohmann::json::array();
    for (size_t i = 0; i < outputs->size(); ++i) {
      const Tensor& t = (*outputs)[i];
      auto s = eval::summarize(t);
      j["outputs"].push_back({{"name", session->outputs()[i].name}, {"dtype", std::string(dtype_name(t.dtype()))},
                              {"shape", t.shape()}, {"min", s.min}, {"max", s.max}, {"mean", s.mean}, {"nan_count", s.nan_count}});
    }
    if (!a.outputs_npz.empty()) j["outputs_file"] = a.outputs_npz;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  Table table({"output", "dtype", "shape", "min", "max", "mean"});
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return std::string(b);
  };
  for (size_t i = 0; i < outputs->size(); ++i) {
    const Tensor& t = (*outputs)[i];
    auto s = eval::summarize(t);
    table.add({session->outputs()[i].name, std::string(dtype_name(t.dtype())), t.rank() ? shape_to_string(t.shape()) : "scalar",
               num(s.min), num(s.max), num(s.mean)});
  }
  std::printf("%s", table.str("").c_str());
  std::printf("ran in %.3f ms on %d thread%s (one run, including first-run costs; use `hone bench` for latency)\n", ms,
              session->threads(), session->threads() == 1 ? "" : "s");
  if (!a.outputs_npz.empty()) std::printf("outputs written to %s\n", a.outputs_npz.c_str());
  return 0;
}

}  // namespace

Command add_run(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* app = root.add_subcommand("run", "Run a model once on given or random inputs; check it against reference outputs");
  app->footer(
      "Examples:\n"
      "  hone run model.onnx --random                          # seeded random inputs of the declared shapes\n"
      "  hone run model.onnx --random --shape input=8x3x224x224 --outputs out.npz\n"
      "  hone run model.onnx --input input=x.npy               # inputs from .npy files (or --inputs all.npz)\n"
      "  hone run model.onnx --test-dir dir                    # dir/test_data_set_*/input_N.pb, output_N.pb\n"
      "Exit codes: 0 ok, 1 --test-dir mismatch, 2 cannot load model or inputs, 3 failed while running.");
  app->add_option("MODEL", args->model, "ONNX model file")->required();
  app->add_option("--input", args->inputs, "NAME=FILE.npy for one input (repeatable)");
  app->add_option("--inputs", args->inputs_npz, ".npz file with one array per input (key = input name)");
  app->add_flag("--random", args->random, "Use seeded random data for inputs not given otherwise");
  app->add_option("--seed", args->seed, "Seed for --random (default 0)");
  app->add_option("--shape", args->shapes, "Shape for a symbolic input, NAME=1x3x224x224 (repeatable)");
  app->add_option("--outputs", args->outputs_npz, "Write all outputs to this .npz file (key = output name)");
  app->add_option("--test-dir", args->test_dir, "Check against a conformance-layout folder instead");
  app->add_option("--threads", args->threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  app->add_option("--level", args->level, "Graph optimization level: 0 none, 1 basic, 2 + fusions (default), 3 + aggressive")
      ->check(CLI::Range(0, passes::kMaxLevel));
  app->add_option("--disable-pass", args->disabled_passes, "Skip one optimization pass by name (repeatable)");
  app->add_flag("--json", args->json, "Print one JSON object instead of tables");
  return {app, [args] { return run_run(*args); }};
}

static const CommandRegistration kRunRegistration(20, add_run);

}  // namespace hone::cli
