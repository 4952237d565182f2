// hone eval MODEL --data DATA [--metric accuracy|top5|perplexity] [--labels NAME] [--limit N] [--threads N] [--json]
// How well a model does its task on a labelled data set: accuracy / top-5 of a classifier, or the
// perplexity of a causal language model.
#include <nlohmann/json.hpp>

#include <chrono>
#include <climits>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli_common.h"
#include "eval/dataset.h"
#include "eval/metrics.h"
#include "eval/npy.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace hone::cli {
namespace {

namespace fs = std::filesystem;

struct EvalArgs {
  std::string model;
  std::string data;
  std::string metric = "accuracy";
  std::string labels = "labels";
  int64_t limit = 0;  // 0: every sample
  int threads = 0;
  bool json = false;
};

// The `tokens` array of a perplexity data set: key "tokens" of an .npz, or tokens.npy in a folder.
Result<Tensor> read_tokens(const std::string& data) {
  std::error_code ec;
  if (fs::is_directory(data, ec)) return eval::read_npy((fs::path(data) / "tokens.npy").string());
  HONE_ASSIGN_OR_RETURN(eval::NamedTensors arrays, eval::read_npz(data));
  for (auto& [name, t] : arrays)
    if (name == "tokens") return t;
  std::string names;
  for (const auto& [name, t] : arrays) names += (names.empty() ? "" : ", ") + name;
  return invalid_argument(data + ": no array named 'tokens' (it has: " + (names.empty() ? "none" : names) + ")");
}

// Row i of a [N, ...] tensor as a [1, ...] tensor (a copy: rows are small).
Result<Tensor> row(const Tensor& t, int64_t i) {
  Shape s = t.shape();
  s[0] = 1;
  HONE_ASSIGN_OR_RETURN(Tensor r, Tensor::create(t.dtype(), s));
  const size_t bytes = r.nbytes();
  std::memcpy(r.raw(), static_cast<const char*>(t.raw()) + bytes * static_cast<size_t>(i), bytes);
  return r;
}

// int32 tokens for a model that takes int32 ids; anything else must already match.
Result<Tensor> as_dtype(const Tensor& t, DType want) {
  if (want == DType::kUndefined || t.dtype() == want) return t;
  if (!dtype_info(t.dtype()).is_integer || !dtype_info(want).is_integer)
    return invalid_argument("tokens are " + std::string(dtype_name(t.dtype())) + " but the model takes " +
                            std::string(dtype_name(want)));
  HONE_ASSIGN_OR_RETURN(Tensor r, Tensor::create(want, t.shape()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t v = t.dtype() == DType::kInt64 ? t.data<int64_t>()[i] : static_cast<int64_t>(t.data<int32_t>()[i]);
    if (want == DType::kInt32) {
      if (v < INT32_MIN || v > INT32_MAX) return invalid_argument("token " + std::to_string(v) + " does not fit int32");
      r.data<int32_t>()[i] = static_cast<int32_t>(v);
    } else if (want == DType::kInt64) {
      r.data<int64_t>()[i] = v;
    } else {
      return invalid_argument("the model takes " + std::string(dtype_name(want)) + " tokens; hone eval feeds int32 or int64");
    }
  }
  return r;
}

struct EvalResult {
  double value = 0;
  int64_t samples = 0;
  std::string detail;
};

// Accuracy or top-5: the first output's logits against the labels array, one sample at a time.
Result<EvalResult> eval_classifier(const EvalArgs& a, Session& s, bool top5) {
  HONE_ASSIGN_OR_RETURN(eval::Dataset ds, eval::Dataset::open(a.data, s.inputs()));
  const Tensor* labels = ds.extra(a.labels);
  if (!labels)
    return invalid_argument(a.data + ": no labels array named '" + a.labels + "' (name it with --labels NAME)");
  if (labels->rank() < 1 || labels->dim(0) != ds.size() || labels->numel() != ds.size())
    return invalid_argument(a.data + ": labels '" + a.labels + "' have shape " + shape_to_string(labels->shape()) +
                            "; expected [" + std::to_string(ds.size()) + "], one per sample");
  const int64_t n = a.limit > 0 ? std::min(a.limit, ds.size()) : ds.size();
  if (n == 0) return invalid_argument(a.data + ": the data set has no samples");
  eval::ClassificationAccumulator acc;
  for (int64_t i = 0; i < n; ++i) {
    HONE_ASSIGN_OR_RETURN(std::vector<Tensor> in, ds.sample(i));
    auto out = s.run(in);
    if (!out.ok()) return out.status().with_context("sample " + std::to_string(i));
    HONE_ASSIGN_OR_RETURN(Tensor label, row(*labels, i));
    Status st = acc.add((*out)[0], label);
    // A label out of range or logits that are not one row per sample: the data does not fit.
    if (!st.ok()) return invalid_argument(a.data + ": sample " + std::to_string(i) + ": " + st.message());
  }
  EvalResult r;
  r.samples = acc.count();
  r.value = top5 ? acc.top5() : acc.top1();
  r.detail = std::to_string(top5 ? acc.top5_correct() : acc.top1_correct()) + " / " + std::to_string(acc.count()) + " correct";
  return r;
}

// Perplexity: the first output's logits [1, T, V] for each row of `tokens` [N, T].
Result<EvalResult> eval_perplexity(const EvalArgs& a, Session& s) {
  if (s.inputs().size() != 1)
    return invalid_argument("--metric perplexity feeds `tokens` to a model with one input; this one has " +
                            std::to_string(s.inputs().size()));
  HONE_ASSIGN_OR_RETURN(Tensor tokens, read_tokens(a.data));
  if (tokens.rank() != 2 || !dtype_info(tokens.dtype()).is_integer)
    return invalid_argument(a.data + ": tokens must be an integer array [N, T], got " +
                            std::string(dtype_name(tokens.dtype())) + "[" + shape_to_string(tokens.shape()) + "]");
  if (tokens.dim(1) < 2) return invalid_argument(a.data + ": tokens need at least 2 per sequence to predict one");
  const int64_t n = a.limit > 0 ? std::min(a.limit, tokens.dim(0)) : tokens.dim(0);
  if (n == 0) return invalid_argument(a.data + ": the data set has no samples");
  eval::PerplexityAccumulator acc;
  for (int64_t i = 0; i < n; ++i) {
    HONE_ASSIGN_OR_RETURN(Tensor seq, row(tokens, i));
    HONE_ASSIGN_OR_RETURN(Tensor fed, as_dtype(seq, s.inputs()[0].dtype));
    auto out = s.run({fed});
    if (!out.ok()) return out.status().with_context("sequence " + std::to_string(i));
    Status st = acc.add((*out)[0], seq);
    if (!st.ok()) return invalid_argument(a.data + ": sequence " + std::to_string(i) + ": " + st.message());
  }
  EvalResult r;
  r.samples = n;
  r.value = acc.perplexity();
  char b[96];
  std::snprintf(b, sizeof b, "mean NLL %.4f nats over %lld predictions", acc.mean_nll(), static_cast<long long>(acc.predictions()));
  r.detail = b;
  return r;
}

int run_eval(const EvalArgs& a) {
  const std::string cmd = "eval";
  if (a.metric != "accuracy" && a.metric != "top5" && a.metric != "perplexity")
    return fail(cmd, invalid_argument("--metric " + a.metric + ": expected accuracy, top5 or perplexity"));
  auto model = onnxio::load_model(a.model);
  if (!model.ok()) return fail(cmd, model.status());
  passes::PassOptions po;
  po.level = 2;  // what `hone run` executes
  if (Status st = passes::optimize(*model, po); !st.ok()) return fail(cmd, st.with_context(a.model));
  SessionOptions so;
  so.threads = a.threads;
  auto session = create_session(std::move(model).value(), so);
  if (!session.ok()) return fail(cmd, session.status().with_context(a.model));

  auto start = std::chrono::steady_clock::now();
  auto r = a.metric == "perplexity" ? eval_perplexity(a, *session) : eval_classifier(a, *session, a.metric == "top5");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.ok()) return fail(cmd, r.status());
  if (a.json) {
    nlohmann::json j{{"model", a.model}, {"data", a.data},       {"metric", a.metric},
                     {"value", r->value}, {"samples", r->samples}, {"seconds", seconds}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s  %s  (%s)\n%lld samples in %.3f s\n", a.metric.c_str(), eval::format_metric(r->value, 6).c_str(),
                r->detail.c_str(), static_cast<long long>(r->samples), seconds);
  }
  return 0;
}

}  // namespace

Command add_eval(CLI::App& root) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* app = root.add_subcommand("eval", "Measure a model's task metric (accuracy, top-5, perplexity) on a data set");
  app->footer(
      "Examples:\n"
      "  hone eval model.onnx --data val.npz                         # accuracy; labels in the npz key 'labels'\n"
      "  hone eval model.onnx --data val.npz --metric top5 --labels y\n"
      "  hone eval lm.onnx --data text.npz --metric perplexity        # tokens [N, T] int64 in the key 'tokens'\n"
      "The first output is the logits: [1, C] per sample for accuracy/top5, [1, T, V] per sequence for perplexity.\n"
      "Exit codes: 0 ok, 2 cannot load the model or the data (missing labels, label out of range), 3 failed while running.");
  app->add_option("MODEL", args->model, "ONNX model file")->required();
  app->add_option("--data", args->data, "Data set: .npz or folder of .npy files (one array per input, plus labels/tokens)")->required();
  app->add_option("--metric", args->metric, "accuracy (default), top5 or perplexity");
  app->add_option("--labels", args->labels, "Name of the labels array (default 'labels')");
  app->add_option("--limit", args->limit, "Use only the first N samples")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app->add_option("--threads", args->threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  app->add_flag("--json", args->json, "Print one JSON object: metric, value, samples, seconds");
  return {app, [args] { return run_eval(*args); }};
}

static const CommandRegistration kEvalRegistration(60, add_eval);

}  // namespace hone::cli
