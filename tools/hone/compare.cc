// hone compare REF CAND [--data DATA | --random [--seed N]] [--shape ...]... [--limit N] [--per-layer] [--top N]
//                       [--max-error X] [--threads N] [--json]
// How far a candidate model (quantized, optimized, converted) is from a reference, output by output
// and, with --per-layer, layer by layer.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>

#include "cli_common.h"
#include "eval/dataset.h"
#include "eval/layer_compare.h"
#include "eval/metrics.h"
#include "eval/random_inputs.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "runtime/session_impl.h"

namespace hone::cli {
namespace {

constexpr int64_t kDefaultRandomSamples = 8;

struct CompareArgs {
  std::string ref, cand;
  std::string data;
  std::string preprocess;  // for an image-folder --data
  bool random = false;
  uint64_t seed = 0;
  std::vector<std::string> shapes;
  int64_t limit = 0;  // 0: all data samples, or kDefaultRandomSamples random ones
  bool per_layer = false;
  int top = 10;
  std::optional<double> max_error;
  int threads = 0;
  bool json = false;
};

// JSON has no infinity: nlohmann writes null for it, which docs/cli.md documents.
nlohmann::json metrics_json(const eval::ErrorMetrics& m) {
  nlohmann::json j{{"max_abs_error", m.max_abs_error}, {"mean_abs_error", m.mean_abs_error}, {"max_abs_ref", m.max_abs_ref},
                   {"cosine", m.cosine}, {"sqnr_db", m.sqnr_db}, {"rel_rms_error", m.rel_rms_error},
                   {"range_error", m.range_error}, {"nan_mismatches", m.nan_mismatches}};
  j["top1_agreement"] = m.top1_rows ? nlohmann::json(m.top1_agreement) : nlohmann::json(nullptr);
  return j;
}

std::string real_inputs_text(const ir::Graph& g) {
  std::string s;
  for (const auto* v : g.real_inputs()) s += (s.empty() ? "" : ", ") + v->name + ":" + v->type.to_string();
  return s.empty() ? "none" : s;
}

// Same input names and element types, same output names: else the two are not the same model.
Status check_same_interface(const ir::Model& ref, const ir::Model& cand) {
  auto ri = ref.graph.real_inputs(), ci = cand.graph.real_inputs();
  bool same = ri.size() == ci.size();
  for (const auto* r : ri) {
    auto it = std::find_if(ci.begin(), ci.end(), [&](const ir::ValueInfo* c) { return c->name == r->name; });
    same = same && it != ci.end() && (*it)->type.elem == r->type.elem;
  }
  if (!same)
    return invalid_argument("the models take different inputs: REF " + real_inputs_text(ref.graph) + "; CAND " +
                            real_inputs_text(cand.graph));
  std::set<std::string> ro, co;
  for (const auto& o : ref.graph.outputs) ro.insert(o.name);
  for (const auto& o : cand.graph.outputs) co.insert(o.name);
  if (ro != co) {
    auto list = [](const std::set<std::string>& s) {
      std::string t;
      for (const auto& n : s) t += (t.empty() ? "" : ", ") + n;
      return t.empty() ? std::string("none") : t;
    };
    return invalid_argument("the models have different outputs: REF " + list(ro) + "; CAND " + list(co));
  }
  return Status::Ok();
}

// The graph's real inputs as a Session would list them (without building one).
std::vector<IoInfo> declared_inputs(const ir::Graph& g) {
  std::vector<IoInfo> out;
  for (const auto* v : g.real_inputs()) {
    IoInfo r;
    r.name = v->name;
    r.dtype = v->type.is_tensor() ? v->type.elem : DType::kUndefined;
    r.has_shape = v->type.has_shape;
    for (const auto& d : v->type.dims) {
      r.dims.push_back(d.known() ? d.value : -1);
      r.dim_names.push_back(d.known() ? std::string() : d.param);
    }
    out.push_back(std::move(r));
  }
  return out;
}

struct Sampler {
  std::optional<eval::Dataset> dataset;
  std::vector<IoInfo> inputs;
  std::map<std::string, Shape> overrides;
  uint64_t seed = 0;
  int64_t count = 0;
  std::string description;

  Result<std::vector<Tensor>> operator()(int64_t i) const {
    if (dataset) return dataset->sample(i);
    // Sample i's input k uses seed + i * inputs + k: every tensor of every sample its own stream.
    return eval::random_inputs(inputs, overrides, seed + static_cast<uint64_t>(i) * inputs.size());
  }
};

Result<Sampler> make_sampler(const CompareArgs& a, const std::vector<IoInfo>& inputs) {
  Sampler s;
  s.inputs = inputs;
  s.seed = a.seed;
  if (!a.data.empty()) {
    std::optional<eval::Preprocess> pre;
    if (!a.preprocess.empty()) {
      auto p = eval::parse_preprocess(a.preprocess);
      if (!p.ok()) return p.status();
      pre = *p;
    }
    HONE_ASSIGN_OR_RETURN(eval::Dataset ds, eval::Dataset::open(a.data, inputs, pre));
    s.count = a.limit > 0 ? std::min(a.limit, ds.size()) : ds.size();
    if (s.count == 0) return invalid_argument(a.data + ": the data set has no samples");
    s.dataset = std::move(ds);
    s.description = std::to_string(s.count) + " sample" + (s.count == 1 ? "" : "s") + " from " + a.data;
    return s;
  }
  HONE_ASSIGN_OR_RETURN(s.overrides, parse_shape_overrides(a.shapes));
  for (const auto& in : inputs) HONE_RETURN_IF_ERROR(eval::resolve_input_shape(in, s.overrides).status());
  s.count = a.limit > 0 ? a.limit : kDefaultRandomSamples;
  s.description = std::to_string(s.count) + " random sample" + (s.count == 1 ? "" : "s") + " (seed " + std::to_string(a.seed) + ")";
  return s;
}

// Inputs of `to` in its declaration order, from a sample in `from`'s order (names are equal).
std::vector<Tensor> reorder(const std::vector<Tensor>& sample, const std::vector<IoInfo>& from, const std::vector<IoInfo>& to) {
  std::vector<Tensor> out;
  for (const auto& t : to)
    for (size_t k = 0; k < from.size(); ++k)
      if (from[k].name == t.name) out.push_back(sample[k]);
  return out;
}

struct OutputResult {
  std::string name;
  Shape shape;
  eval::ErrorMetrics metrics;
};

int run_compare(const CompareArgs& a) {
  const std::string cmd = "compare";
  if (!a.data.empty() && a.random) return fail(cmd, invalid_argument("--data and --random exclude each other"));
  if (a.data.empty() && !a.preprocess.empty())
    return fail(cmd, invalid_argument("--preprocess applies to an image-folder --data"));
  if (!a.data.empty() && (!a.shapes.empty()))
    return fail(cmd, invalid_argument("--shape applies to --random inputs; a data set has its own shapes"));
  auto ref = onnxio::load_model(a.ref);
  if (!ref.ok()) return fail(cmd, ref.status());
  auto cand = onnxio::load_model(a.cand);
  if (!cand.ok()) return fail(cmd, cand.status());
  if (Status st = check_same_interface(*ref, *cand); !st.ok()) return fail(cmd, st);

  std::vector<OutputResult> outputs;
  std::optional<eval::LayerReport> layers;
  std::string inputs_text;
  int64_t samples = 0;
  if (a.per_layer) {
    // The models run as loaded: optimization passes would fuse away the values compared.
    auto sampler = make_sampler(a, declared_inputs(ref->graph));
    if (!sampler.ok()) return fail(cmd, sampler.status());
    inputs_text = sampler->description;
    samples = sampler->count;
    eval::LayerCompareOptions lo;
    lo.threads = a.threads;
    auto report = eval::compare_layers(*ref, *cand, sampler->count, *sampler, lo);
    if (!report.ok()) return fail(cmd, report.status());
    for (const auto& o : ref->graph.outputs) {
      const eval::LayerError* l = report->find(o.name);
      if (!l) {
        std::string why = "not produced by a node of both models";
        for (const auto& [v, w] : report->skipped)
          if (v == o.name) why = w;
        return fail(cmd, invalid_argument("output '" + o.name + "' cannot be compared: " + why));
      }
      outputs.push_back({o.name, {}, l->metrics});
    }
    layers = std::move(report).value();
  } else {
    SessionOptions so;
    so.threads = a.threads;
    passes::PassOptions po;
    po.level = 2;  // what `hone run` executes
    std::optional<Session> sessions[2];
    for (int k = 0; k < 2; ++k) {
      ir::Model m = k == 0 ? std::move(ref).value() : std::move(cand).value();
      const std::string& path = k == 0 ? a.ref : a.cand;
      if (Status st = passes::optimize(m, po); !st.ok()) return fail(cmd, st.with_context(path));
      auto s = create_session(std::move(m), so);
      if (!s.ok()) return fail(cmd, s.status().with_context(path));
      sessions[k] = std::move(s).value();
    }
    Session& rs = *sessions[0];
    Session& cs = *sessions[1];
    auto sampler = make_sampler(a, rs.inputs());
    if (!sampler.ok()) return fail(cmd, sampler.status());
    inputs_text = sampler->description;
    samples = sampler->count;
    std::vector<eval::ErrorAccumulator> acc(rs.outputs().size());
    outputs.resize(rs.outputs().size());
    for (int64_t i = 0; i < sampler->count; ++i) {
      auto in = (*sampler)(i);
      if (!in.ok()) return fail(cmd, in.status());
      auto ro = rs.run(*in);
      if (!ro.ok()) return fail(cmd, ro.status().with_context(a.ref + ", sample " + std::to_string(i)));
      auto co = cs.run(reorder(*in, rs.inputs(), cs.inputs()));
      if (!co.ok()) return fail(cmd, co.status().with_context(a.cand + ", sample " + std::to_string(i)));
      for (size_t k = 0; k < rs.outputs().size(); ++k) {
        const std::string& name = rs.outputs()[k].name;
        size_t ck = 0;
        while (cs.outputs()[ck].name != name) ++ck;  // check_same_interface: present
        if (Status st = acc[k].add((*ro)[k], (*co)[ck]); !st.ok())
          return fail(cmd, invalid_argument("output '" + name + "' cannot be compared: " + st.message()));
        outputs[k].name = name;
        outputs[k].shape = (*ro)[k].shape();
      }
    }
    for (size_t k = 0; k < acc.size(); ++k) outputs[k].metrics = acc[k].result();
  }

  // The check: every output's max abs error within --max-error.
  std::string failure;
  if (a.max_error)
    for (const auto& o : outputs)
      if (!(o.metrics.max_abs_error <= *a.max_error) || o.metrics.nan_mismatches > 0) {
        failure = "output '" + o.name + "': max abs error " + eval::format_metric(o.metrics.max_abs_error, 6) +
                  (o.metrics.nan_mismatches ? " (" + std::to_string(o.metrics.nan_mismatches) + " NaN mismatches)" : "") +
                  " exceeds --max-error " + eval::format_metric(*a.max_error, 6);
        break;
      }

  const size_t top = layers ? std::min(layers->ranking.size(), static_cast<size_t>(std::max(a.top, 0))) : 0;
  if (a.json) {
    nlohmann::json j;
    j["reference"] = a.ref;
    j["candidate"] = a.cand;
    j["samples"] = samples;
    j["inputs"] = a.data.empty() ? nlohmann::json{{"random", true}, {"seed", a.seed}}
                                 : nlohmann::json{{"data", a.data}};
    j["outputs"] = nlohmann::json::array();
    for (const auto& o : outputs) {
      nlohmann::json oj = metrics_json(o.metrics);
      oj["name"] = o.name;
      j["outputs"].push_back(oj);
    }
    if (a.max_error) {
      j["max_error"] = *a.max_error;
      j["passed"] = failure.empty();
    }
    if (layers) {
      j["layers"] = nlohmann::json::array();
      for (size_t r = 0; r < top; ++r) {
        const eval::LayerError& l = layers->layers[layers->ranking[r]];
        nlohmann::json lj = metrics_json(l.metrics);
        lj["value"] = l.value;
        lj["cand_value"] = l.cand_value;
        lj["node"] = l.node;
        lj["ref_op"] = l.ref_op;
        lj["cand_op"] = l.cand_op;
        lj["added_error"] = l.added_error;
        lj["input_rel_rms_error"] = l.input_rel_rms_error;
        lj["input_sqnr_db"] = l.input_sqnr_db;
        j["layers"].push_back(lj);
      }
      j["layers_compared"] = layers->layers.size();
      j["layers_skipped"] = nlohmann::json::array();
      for (const auto& [v, w] : layers->skipped) j["layers_skipped"].push_back({{"value", v}, {"why", w}});
    }
    std::cout << j.dump(2) << "\n";
  } else {
    using eval::format_metric;
    std::printf("reference  %s\ncandidate  %s\ninputs     %s\n\n", a.ref.c_str(), a.cand.c_str(), inputs_text.c_str());
    Table t({"output", "max|err|", "mean|err|", "max|ref|", "cosine", "SQNR dB", "top-1 agree", "range err"});
    for (const auto& o : outputs) {
      const auto& m = o.metrics;
      t.add({o.name, format_metric(m.max_abs_error), format_metric(m.mean_abs_error), format_metric(m.max_abs_ref),
             format_metric(m.cosine, 6), format_metric(m.sqnr_db), m.top1_rows ? format_metric(m.top1_agreement) : "-",
             format_metric(m.range_error)});
    }
    std::printf("%s", t.str("").c_str());
    if (layers) {
      std::printf("\nworst %zu of %zu layers by the error each adds (relative RMS error of its output minus its inputs'):\n",
                  top, layers->layers.size());
      Table lt({"rank", "value", "node", "op (ref -> cand)", "added err", "rel err", "SQNR dB", "input SQNR dB", "max|err|"});
      for (size_t r = 0; r < top; ++r) {
        const eval::LayerError& l = layers->layers[layers->ranking[r]];
        lt.add({std::to_string(r + 1), l.value, l.node.empty() ? "-" : l.node,
                l.ref_op == l.cand_op ? l.ref_op : l.ref_op + " -> " + l.cand_op, format_metric(l.added_error),
                format_metric(l.metrics.rel_rms_error), format_metric(l.metrics.sqnr_db), format_metric(l.input_sqnr_db),
                format_metric(l.metrics.max_abs_error)});
      }
      std::printf("%s", lt.str("").c_str());
      if (!layers->skipped.empty()) std::printf("%zu values in both models not compared (shape or dtype differs)\n", layers->skipped.size());
    }
  }
  if (!failure.empty()) return fail(cmd, check_failed(failure));
  return 0;
}

}  // namespace

Command add_compare(CLI::App& root) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* app = root.add_subcommand("compare", "Compare a candidate model's outputs (and layers) with a reference model's");
  app->footer(
      "Examples:\n"
      "  hone compare model.onnx model.int8.onnx                      # 8 seeded random samples\n"
      "  hone compare model.onnx model.int8.onnx --data val.npz --per-layer --top 5\n"
      "  hone compare model.onnx model.int8.onnx --max-error 0.05     # exit 1 above it\n"
      "Metrics per output: max and mean |ref - cand|, cosine similarity, SQNR = 10 log10(sum ref^2 / sum (ref-cand)^2),\n"
      "top-1 agreement over the last axis, range error. --per-layer ranks the layers by the relative RMS error each adds.\n"
      "Exit codes: 0 ok, 1 --max-error exceeded, 2 cannot load (or the models' inputs/outputs differ), 3 failed while running.");
  app->add_option("REF", args->ref, "Reference ONNX model (the float one)")->required();
  app->add_option("CAND", args->cand, "Candidate ONNX model (quantized, optimized ...)")->required();
  app->add_option("--data", args->data, "Data set: .npz or folder of .npy files (one array per input, first axis = samples)");
  app->add_option("--preprocess", args->preprocess,
                  "Image preprocessing for an image-folder --data, e.g. resize=224x224,scale=1/255,mean=...,std=...");
  app->add_flag("--random", args->random, "Seeded random inputs of the declared shapes (the default without --data)");
  app->add_option("--seed", args->seed, "Seed for random inputs (default 0)");
  app->add_option("--shape", args->shapes, "Shape for a symbolic input with random data, NAME=1x3x224x224 (repeatable)");
  app->add_option("--limit", args->limit, "Samples to use (default: every data sample; 8 random ones)")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app->add_flag("--per-layer", args->per_layer, "Also compare every value both models share and rank the layers");
  app->add_option("--top", args->top, "Layers to list with --per-layer (default 10)")->check(CLI::Range(0, 1 << 20));
  app->add_option("--max-error", args->max_error, "Exit 1 when an output's max abs error exceeds this")->check(CLI::NonNegativeNumber);
  app->add_option("--threads", args->threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  app->add_flag("--json", args->json, "Print one JSON object instead of tables");
  return {app, [args] { return run_compare(*args); }};
}

static const CommandRegistration kCompareRegistration(50, add_compare);

}  // namespace hone::cli
