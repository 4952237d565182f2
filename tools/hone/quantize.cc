// hone quantize MODEL -o OUT --mode dynamic|static|weight-only [...]
// Quantizes a float ONNX model (docs/cli.md "hone quantize", file formats in docs/formats.md).
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli_common.h"
#include "core/file_util.h"
#include "eval/dataset.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "quant/quantize.h"
#include "quant/rules.h"
#include "sweep_output.h"

namespace hone::cli {
namespace {

namespace fs = std::filesystem;

struct QuantizeArgs {
  std::string model;
  std::string out;
  std::string mode;
  bool per_channel = false;
  std::vector<std::string> ops;
  std::vector<std::string> exclude;
  std::string calib;
  std::string method = "minmax";
  bool symmetric = false;
  bool asymmetric = false;
  double percentile = 99.999;
  std::string preprocess;
  int64_t calib_limit = 0;
  int bits = 4;
  int block = 32;
  std::string algo = "rtn";
  std::string rules_out;
  std::string rules_in;
  int threads = 0;
  bool json = false;
  bool quiet = false;
};

// SHA-256 (FIPS 180-4) of a file, hex; "" when it cannot be read. Recorded in the rules so that
// `--rules` can warn when it is applied to another model than the one it was made from.
std::string sha256_file(const std::string& path) {
  static const uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
      0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
      0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
      0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
      0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
      0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
      0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  auto block = [&](const unsigned char* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t{p[4 * i]} << 24) | (uint32_t{p[4 * i + 1]} << 16) | (uint32_t{p[4 * i + 2]} << 8) | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  };
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  std::vector<unsigned char> buf(1 << 20);
  uint64_t total = 0;
  size_t got = 0, have = 0;  // `have` bytes of a partial block kept at the front of buf
  while ((got = std::fread(buf.data() + have, 1, buf.size() - have, f)) > 0) {
    total += got;
    have += got;
    size_t off = 0;
    for (; off + 64 <= have; off += 64) block(buf.data() + off);
    std::memmove(buf.data(), buf.data() + off, have - off);
    have -= off;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return "";
  unsigned char tail[128] = {};
  std::memcpy(tail, buf.data(), have);
  tail[have] = 0x80;
  const size_t len = have + 1 + 8 <= 64 ? 64 : 128;
  const uint64_t bits = total * 8;
  for (int i = 0; i < 8; ++i) tail[len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  for (size_t off = 0; off < len; off += 64) block(tail + off);
  char hex[65];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 8 * i, 9, "%08x", h[i]);
  return std::string(hex, 64);
}

// Bytes of a model on disk: the file plus every external data file it names (each once).
uint64_t model_bytes(const std::string& path, const ir::Model* m) {
  std::error_code ec;
  uint64_t total = fs::file_size(path, ec);
  if (ec) total = 0;
  if (!m) return total;
  std::set<std::string> files;
  for (const auto& i : m->graph.initializers)
    if (i.external) files.insert((fs::path(path).parent_path() / i.external->location).string());
  for (const auto& f : files) {
    uint64_t s = fs::file_size(f, ec);
    if (!ec) total += s;
  }
  return total;
}

std::vector<IoInfo> model_inputs(const ir::Model& m) {
  std::vector<IoInfo> out;
  for (const ir::ValueInfo* v : m.graph.real_inputs()) {
    IoInfo io;
    io.name = v->name;
    io.dtype = v->type.elem;
    io.has_shape = v->type.has_shape;
    for (const auto& d : v->type.dims) {
      io.dims.push_back(d.known() ? d.value : -1);
      io.dim_names.push_back(d.param);
    }
    out.push_back(std::move(io));
  }
  return out;
}

Status check_outputs(const QuantizeArgs& a, const ir::Model& m) {
  auto clash = [&](const std::string& path, const char* what) -> Status {
    if (path.empty()) return Status::Ok();
    if (same_file_as_model(path, a.model))
      return invalid_argument(std::string(what) + " " + path + ": is the input model; refusing to overwrite it");
    for (const auto& i : m.graph.initializers)
      if (i.external) {
        const std::string data = (fs::path(a.model).parent_path() / i.external->location).string();
        if (same_file(path, data))
          return invalid_argument(std::string(what) + " " + path + ": is the input model's external data file " + data);
      }
    if (!a.rules_in.empty() && same_file(path, a.rules_in))
      return invalid_argument(std::string(what) + " " + path + ": is the --rules input");
    return Status::Ok();
  };
  HONE_RETURN_IF_ERROR(clash(a.out, "-o"));
  HONE_RETURN_IF_ERROR(clash(a.out + ".data", "-o"));
  HONE_RETURN_IF_ERROR(clash(a.rules_out, "--rules-out"));
  if (!a.rules_out.empty() && fs::absolute(a.rules_out).lexically_normal() == fs::absolute(a.out).lexically_normal())
    return invalid_argument("--rules-out and -o name the same file");
  return Status::Ok();
}

int run_quantize(const QuantizeArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<quant::Rules> rules_in;
  if (!a.rules_in.empty()) {
    auto r = quant::read_rules(a.rules_in);
    if (!r.ok()) return fail("quantize", r.status());
    rules_in = std::move(r).value();
  }
  if (a.mode.empty() && !rules_in) return fail("quantize", invalid_argument("--mode is required (dynamic, static or weight-only) unless --rules is given"));
  auto mode = quant::parse_mode(a.mode.empty() ? rules_in->mode : a.mode);
  if (!mode.ok()) return fail("quantize", mode.status());

  auto model = onnxio::load_model(a.model);
  if (!model.ok()) return fail("quantize", model.status().with_context(a.model));
  if (Status st = check_outputs(a, *model); !st.ok()) return fail("quantize", st);

  quant::QuantizeOptions o;
  o.mode = *mode;
  o.per_channel = a.per_channel;
  o.ops = a.ops;
  o.exclude = a.exclude;
  o.calib_limit = a.calib_limit;
  auto method = quant::parse_method(a.method);
  if (!method.ok()) return fail("quantize", method.status());
  o.method = *method;
  o.percentile = a.percentile;
  if (a.symmetric && a.asymmetric) return fail("quantize", invalid_argument("--symmetric and --asymmetric contradict each other"));
  // --symmetric: activations in static mode, the weight blocks in weight-only mode (whose default
  // is asymmetric, as ONNX Runtime's MatMulNBits quantizer; --asymmetric is kept as the default's name).
  o.symmetric_activations = a.symmetric;
  o.weight_symmetric = a.symmetric;
  o.bits = a.bits;
  o.block = a.block;
  o.algo = a.algo;
  o.threads = a.threads;
  // A bar with the time left on stderr, only on a terminal (calibration can take minutes on a big
  // model); --quiet, a pipe or a log file get nothing.
  ProgressLine bar(a.quiet);
  o.progress = [&bar](const std::string& what, int64_t done, int64_t total) { bar.update(what, done, total); };
  quant::QuantizeReport report;
  o.report = &report;

  std::optional<eval::Dataset> calib;
  if (!a.calib.empty() && !rules_in) {
    std::optional<eval::Preprocess> pre;
    if (!a.preprocess.empty()) {
      auto p = eval::parse_preprocess(a.preprocess);
      if (!p.ok()) return fail("quantize", p.status().with_context("--preprocess"));
      pre = *p;
    }
    auto d = eval::Dataset::open(a.calib, model_inputs(*model), pre);
    if (!d.ok()) return fail("quantize", d.status().with_context(a.calib));
    calib = std::move(d).value();
    o.calib = &*calib;
  }

  const std::string sha = (rules_in && !rules_in->model_sha256.empty()) || !a.rules_out.empty() ? sha256_file(a.model) : "";
  if (rules_in && !rules_in->model_sha256.empty() && !sha.empty() && sha != rules_in->model_sha256)
    std::fprintf(stderr, "hone: quantize: warning: %s was made from another model (sha256 %s, this one is %s); the "
                 "output is not the one the rules were recorded with\n", a.rules_in.c_str(), rules_in->model_sha256.c_str(), sha.c_str());
  quant::Rules rules_out;
  rules_out.model_sha256 = sha;
  auto q = quant::quantize(*model, o, rules_in ? &*rules_in : nullptr, a.rules_out.empty() ? nullptr : &rules_out);
  bar.clear();
  if (!q.ok()) return fail("quantize", q.status().with_context(a.model));

  onnxio::SaveOptions save;
  for (const auto& i : model->graph.initializers) save.external_data |= i.external.has_value();
  if (Status st = onnxio::save_model(*q, a.out, save); !st.ok()) return fail("quantize", st);
  if (!a.rules_out.empty()) {
    if (Status st = quant::write_rules(a.rules_out, rules_out); !st.ok()) return fail("quantize", st);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const uint64_t bytes_in = model_bytes(a.model, &*model);
  uint64_t bytes_out = 0;
  {
    auto reread = onnxio::load_model(a.out, onnxio::LoadOptions{false});
    bytes_out = model_bytes(a.out, reread.ok() ? &*reread : nullptr);
  }
  int64_t total = 0;
  for (const auto& [op, n] : report.quantized) total += n;

  if (a.json) {
    nlohmann::json j;
    j["mode"] = quant::mode_name(*mode);
    j["quantized_nodes"] = nlohmann::json::object();
    for (const auto& [op, n] : report.quantized) j["quantized_nodes"][op] = n;
    j["skipped"] = nlohmann::json::array();
    for (const auto& s : report.skipped) j["skipped"].push_back({{"node", s.node}, {"reason", s.reason}});
    j["bytes_in"] = bytes_in;
    j["bytes_out"] = bytes_out;
    j["seconds"] = seconds;
    j["output"] = a.out;
    j["rules"] = a.rules_out.empty() ? (a.rules_in.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.rules_in))
                                     : nlohmann::json(a.rules_out);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  Table t({"op type", "quantized"});
  for (const auto& [op, n] : report.quantized) t.add({op, std::to_string(n)});
  t.add({"total", std::to_string(total)});
  std::printf("%s", t.str("").c_str());
  if (!report.skipped.empty()) {
    std::printf("left in float (%zu):\n", report.skipped.size());
    Table s({"node", "reason"});
    const size_t shown = std::min<size_t>(report.skipped.size(), 20);
    for (size_t i = 0; i < shown; ++i) s.add({report.skipped[i].node, report.skipped[i].reason});
    std::printf("%s", s.str().c_str());
    if (shown < report.skipped.size()) std::printf("  ... and %zu more (--json lists all)\n", report.skipped.size() - shown);
  }
  std::printf("model: %s -> %s (%.2fx smaller)\n", human_bytes(static_cast<double>(bytes_in)).c_str(),
              human_bytes(static_cast<double>(bytes_out)).c_str(),
              bytes_out ? static_cast<double>(bytes_in) / static_cast<double>(bytes_out) : 0.0);
  std::printf("%s quantization in %.2f s; written to %s", quant::mode_name(*mode), seconds, a.out.c_str());
  if (!a.rules_out.empty()) std::printf(", rules to %s", a.rules_out.c_str());
  std::printf("\n");
  return 0;
}

}  // namespace

Command add_quantize(CLI::App& root) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* app = root.add_subcommand("quantize", "Quantize a float model: dynamic int8, static int8 (QDQ) or weight-only int4/int8");
  app->footer(
      "Modes:\n"
      "  dynamic      int8 weights of MatMul/Gemm (Conv with --ops Conv); activations quantized at run time\n"
      "               (DynamicQuantizeLinear + MatMulInteger/ConvInteger, as ONNX Runtime writes it). No data needed.\n"
      "  static       int8 weights and activations (QDQ); activation ranges from --calib data.\n"
      "  weight-only  4- or 8-bit blockwise weights of MatMul/Gemm (com.microsoft.MatMulNBits), asymmetric blocks\n"
      "               with zero points (--symmetric: none); activations stay float. --algo gptq or awq use --calib\n"
      "               data (gptq: error feedback through the input Hessian; awq: protect the channels that matter).\n"
      "Examples:\n"
      "  hone quantize model.onnx -o model.int8.onnx --mode dynamic\n"
      "  hone quantize model.onnx -o model.int8.onnx --mode dynamic --per-channel --exclude classifier\n"
      "  hone quantize model.onnx -o model.qdq.onnx --mode static --calib calib.npz --method percentile\n"
      "  hone quantize model.onnx -o model.int4.onnx --mode weight-only --bits 4 --block 32\n"
      "  hone quantize model.onnx -o model.int4.onnx --mode weight-only --bits 4 --block 32 --symmetric\n"
      "  hone quantize model.onnx -o model.gptq.onnx --mode weight-only --algo gptq --calib calib.npz\n"
      "  hone quantize model.onnx -o model.awq.onnx --mode weight-only --algo awq --calib calib.npz --rules-out r.json\n"
      "  hone quantize model.onnx -o again.onnx --rules r.json      # same decisions, no calibration, same bytes\n"
      "Then: hone compare model.onnx model.int8.onnx --random --per-layer   # where the error comes from\n"
      "Exit codes: 0 ok, 2 cannot load the model, data, rules or arguments (or output = input), 3 failed while running.");
  app->add_option("MODEL", args->model, "Float ONNX model")->required();
  app->add_option("-o,--output", args->out, "Quantized model to write (atomically; never the input)")->required();
  app->add_option("--mode", args->mode, "dynamic | static | weight-only (default: the --rules file's)");
  app->add_flag("--per-channel", args->per_channel, "Weights per output channel instead of per tensor (dynamic, static)");
  app->add_option("--ops", args->ops, "Op types to quantize, comma-separated (dynamic: MatMul,Gemm[,Conv])")->delimiter(',');
  app->add_option("--exclude", args->exclude, "Keep a node (by name) or every node of an op type in float (repeatable)");
  app->add_option("--calib", args->calib, "Calibration data: .npz, folder of .npy, or image folder (static; weight-only gptq/awq)");
  app->add_option("--method", args->method, "Activation range method for static: minmax | percentile | entropy | mse");
  app->add_flag("--symmetric", args->symmetric,
                "static: symmetric int8 activations (default asymmetric uint8);\n"
                "weight-only: symmetric absmax blocks without zero points (default asymmetric); Gather tables are always symmetric");
  app->add_option("--percentile", args->percentile, "Percentile for --method percentile (default 99.999)")->check(CLI::Range(50.0, 100.0));
  app->add_option("--preprocess", args->preprocess, "Image preprocessing for an image-folder --calib, e.g. resize=224x224,scale=1/255,mean=...,std=...");
  app->add_option("--calib-limit", args->calib_limit, "Use at most N calibration samples (default all)")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app->add_option("--bits", args->bits, "Weight bits for weight-only: 4 or 8 (default 4)");
  app->add_option("--block", args->block, "Block size along K for weight-only: 32, 64, 128 ... (default 32)");
  app->add_option("--algo", args->algo, "Weight-only algorithm: rtn (default) | gptq | awq (both need --calib)");
  app->add_flag("--asymmetric", args->asymmetric,
                "The default, named: weight-only per-block min/max on [0, 2^bits - 1] with packed zero points\n"
                "(MatMulNBits input 3); static: asymmetric uint8 activations");
  auto* rules_out = app->add_option("--rules-out", args->rules_out, "Write every quantization decision to this JSON file");
  auto* rules_in = app->add_option("--rules", args->rules_in, "Re-apply a rules file: no calibration, byte-identical output");
  rules_out->excludes(rules_in);
  app->add_option("--threads", args->threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  app->add_flag("--json", args->json, "Print one JSON object instead of tables");
  app->add_flag("-q,--quiet", args->quiet, "No progress bar on stderr (it is drawn only on a terminal anyway)");
  return {app, [args] { return run_quantize(*args); }};
}

static const CommandRegistration kQuantizeRegistration(30, add_quantize);

}  // namespace hone::cli
