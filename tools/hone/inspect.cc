// hone inspect MODEL [--shape NAME=DIMS]... [--json]
// What is in a model: inputs/outputs, opsets, producer, ops, parameters, external data, FLOPs.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "ir/flops.h"
#include "ir/stats.h"
#include "onnx/import.h"
#include "onnx/shape_inference.h"

namespace hone::cli {
namespace {

struct InspectArgs {
  std::string model;
  std::vector<std::string> shapes;
  bool json = false;
};

nlohmann::json dims_json(const ir::TypeInfo& t) {
  if (!t.has_shape) return nullptr;
  auto a = nlohmann::json::array();
  for (const auto& d : t.dims) {
    if (d.known()) a.push_back(d.value);
    else a.push_back(d.param.empty() ? "?" : d.param);
  }
  return a;
}

nlohmann::json value_json(const ir::ValueInfo& v) {
  return {{"name", v.name},
          {"type", v.type.to_string()},
          {"dtype", v.type.is_tensor() ? std::string(dtype_name(v.type.elem)) : v.type.to_string()},
          {"shape", dims_json(v.type)}};
}

// Fixes every input's dims for FLOP counting: --shape overrides, otherwise symbolic dims = 1.
Result<std::map<std::string, Shape>> concrete_input_shapes(ir::Model& m, const std::map<std::string, Shape>& overrides) {
  std::map<std::string, Shape> used;
  for (const auto& [name, _] : overrides) {
    bool found = false;
    for (const auto* v : m.graph.real_inputs()) found |= v->name == name;
    if (!found) {
      std::string names;
      for (const auto* v : m.graph.real_inputs()) names += (names.empty() ? "" : ", ") + v->name;
      return invalid_argument("--shape names '" + name + "', which is not an input of the model (inputs: " + names + ")");
    }
  }
  for (auto& v : m.graph.inputs) {
    if (m.graph.find_initializer(v.name) || !v.type.is_tensor() || !v.type.has_shape) continue;
    Shape s;
    if (auto it = overrides.find(v.name); it != overrides.end()) {
      s = it->second;
      if (s.size() != v.type.dims.size())
        return invalid_argument("--shape " + v.name + " has rank " + std::to_string(s.size()) + " but the input is " +
                                v.type.to_string());
      for (size_t i = 0; i < s.size(); ++i)
        if (v.type.dims[i].known() && v.type.dims[i].value != s[i])
          return invalid_argument("--shape " + v.name + "=" + shape_to_string(s) + " contradicts the declared " +
                                  v.type.to_string());
    } else {
      for (const auto& d : v.type.dims) s.push_back(d.known() ? d.value : 1);
    }
    v.type.dims.clear();
    for (int64_t d : s) v.type.dims.push_back(ir::Dim::of(d));
    used[v.name] = s;
  }
  return used;
}

int run_inspect(const InspectArgs& args) {
  auto overrides = parse_shape_overrides(args.shapes);
  if (!overrides.ok()) return fail("inspect", overrides.status());
  auto loaded = onnxio::load_model(args.model);
  if (!loaded.ok()) return fail("inspect", loaded.status());
  const ir::Model& model = *loaded;
  const ir::ModelStats stats = ir::compute_stats(model);

  ir::Model sized = model;  // the same model with concrete input dims, for FLOPs
  auto shapes = concrete_input_shapes(sized, *overrides);
  if (!shapes.ok()) return fail("inspect", shapes.status());
  Status inferred = onnxio::infer_shapes(sized);
  if (!inferred.ok()) std::fprintf(stderr, "hone: inspect: warning: %s (FLOPs are not counted)\n", inferred.message().c_str());
  const ir::FlopEstimate flops = inferred.ok() ? ir::estimate_flops(sized.graph) : ir::FlopEstimate{};

  if (args.json) {
    nlohmann::json j;
    j["model"] = args.model;
    j["producer"] = {{"name", model.producer_name}, {"version", model.producer_version}};
    j["ir_version"] = model.ir_version;
    j["opsets"] = nlohmann::json::object();
    for (const auto& o : model.opsets) j["opsets"][o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
    j["inputs"] = nlohmann::json::array();
    for (const auto* v : model.graph.real_inputs()) j["inputs"].push_back(value_json(*v));
    j["outputs"] = nlohmann::json::array();
    for (const auto& v : model.graph.outputs) j["outputs"].push_back(value_json(v));
    j["nodes"] = stats.nodes;
    j["op_counts"] = stats.op_counts;
    auto param_json = [](const ir::ParamStats& p) {
      return nlohmann::json{{"tensors", p.tensors}, {"elements", p.elements}, {"bytes", p.bytes}};
    };
    j["parameters"]["total"] = param_json(stats.params_total);
    j["parameters"]["by_dtype"] = nlohmann::json::object();
    for (const auto& [dt, p] : stats.params) j["parameters"]["by_dtype"][dt] = param_json(p);
    j["external_data"] = nlohmann::json::array();
    for (const auto& [loc, bytes] : stats.external_files) j["external_data"].push_back({{"location", loc}, {"bytes", bytes}});
    j["flops"] = {{"total", flops.total}, {"by_op", flops.by_op}, {"input_shapes", *shapes},
                  {"counted_nodes", flops.counted_nodes}, {"unknown_nodes", flops.unknown_nodes}};
    j["metadata"] = nlohmann::json::object();
    for (const auto& [k, v] : model.metadata) j["metadata"][k] = v;
    j["max_subgraph_depth"] = stats.max_depth;
    // Strings from a model file may hold any bytes: replace what is not UTF-8 rather than fail.
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }

  std::string opsets;
  for (const auto& o : model.opsets)
    opsets += (opsets.empty() ? "" : ", ") + (o.domain.empty() ? std::string("ai.onnx") : o.domain) + " " + std::to_string(o.version);
  std::printf("model     %s\n", args.model.c_str());
  std::printf("producer  %s %s\n", model.producer_name.empty() ? "(none)" : model.producer_name.c_str(),
              model.producer_version.c_str());
  std::printf("format    ONNX ir_version %lld; opsets: %s\n", static_cast<long long>(model.ir_version), opsets.c_str());

  Table io({"", "name", "type"});
  for (const auto* v : model.graph.real_inputs()) io.add({"input", v->name, v->type.to_string()});
  for (const auto& v : model.graph.outputs) io.add({"output", v.name, v.type.to_string()});
  std::printf("\n%s", io.str().c_str());

  std::printf("\nops: %lld nodes%s\n", static_cast<long long>(stats.nodes),
              stats.max_depth ? (", subgraphs nested " + std::to_string(stats.max_depth) + " deep").c_str() : "");
  Table ops({"op", "count", "FLOPs"});
  for (const auto& [op, count] : stats.op_counts) {
    auto f = flops.by_op.find(op);
    ops.add({op, std::to_string(count), f == flops.by_op.end() ? "" : human_count(f->second)});
  }
  std::printf("%s", ops.str().c_str());

  std::printf("\nparameters: %s in %lld tensors, %s\n", human_count(static_cast<double>(stats.params_total.elements)).c_str(),
              static_cast<long long>(stats.params_total.tensors), human_bytes(static_cast<double>(stats.params_total.bytes)).c_str());
  Table params({"dtype", "tensors", "elements", "bytes"});
  for (const auto& [dt, p] : stats.params)
    params.add({dt, std::to_string(p.tensors), std::to_string(p.elements), human_bytes(static_cast<double>(p.bytes))});
  std::printf("%s", params.str().c_str());

  if (!stats.external_files.empty()) {
    std::printf("\nexternal data:\n");
    Table ext({"file", "bytes"});
    for (const auto& [loc, bytes] : stats.external_files) ext.add({loc, human_bytes(static_cast<double>(bytes))});
    std::printf("%s", ext.str().c_str());
  }

  std::string shape_text;
  for (const auto& [name, s] : *shapes) shape_text += (shape_text.empty() ? "" : ", ") + name + "=" + shape_to_string(s);
  std::printf("\nFLOPs: %s (Conv, ConvTranspose, Gemm, MatMul; for %s)", human_count(flops.total).c_str(),
              shape_text.empty() ? "the declared shapes" : shape_text.c_str());
  if (flops.unknown_nodes) std::printf("; %lld nodes of unknown shape not counted", static_cast<long long>(flops.unknown_nodes));
  std::printf("\n");
  if (!model.metadata.empty()) {
    std::printf("\nmetadata:\n");
    Table meta({"key", "value"});
    for (const auto& [k, v] : model.metadata) meta.add({k, v});
    std::printf("%s", meta.str().c_str());
  }
  return 0;
}

}  // namespace

Command add_inspect(CLI::App& root) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* app = root.add_subcommand("inspect", "Show what is in a model: inputs, outputs, ops, parameters, FLOPs");
  app->footer(
      "Examples:\n"
      "  hone inspect model.onnx\n"
      "  hone inspect model.onnx --shape input=8x3x224x224   # FLOPs for batch 8\n"
      "  hone inspect model.onnx --json | jq .flops.total\n"
      "Symbolic dimensions count as 1 unless --shape fixes them.");
  app->add_option("MODEL", args->model, "ONNX model file")->required();
  app->add_option("--shape", args->shapes, "Concrete input shape for FLOPs, NAME=1x3x224x224 (repeatable)");
  app->add_flag("--json", args->json, "Print one JSON object instead of tables");
  return {app, [args] { return run_inspect(*args); }};
}

static const CommandRegistration kInspectRegistration(10, add_inspect);

}  // namespace hone::cli
