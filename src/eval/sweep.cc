// The variant sweep (sweep.h): quantize every way, write, evaluate, time, rank.
#include "eval/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

#include "eval/dataset.h"
#include "eval/layer_compare.h"
#include "eval/metrics.h"
#include "eval/npy.h"
#include "ir/stats.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "passes/pass_manager.h"
#include "quant/quantize.h"
#include "runtime/session_impl.h"

namespace hone::eval {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Untimed runs before a variant's evaluation: the first run of a shape plans memory and packs
// weights, which is not what batch-1 latency means.
constexpr int kWarmupRuns = 2;
constexpr int kHistogramBins = 64;

std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

Result<uint64_t> model_bytes(const std::string& path, const ir::Model& m) {
  std::error_code ec;
  uint64_t bytes = fs::file_size(path, ec);
  if (ec) return io_error(path + ": " + ec.message());
  for (const auto& [_, b] : ir::compute_stats(m).external_files) bytes += b;
  return bytes;
}

// One variant to make: how to quantize, and how the CLI says the same.
struct Plan {
  std::string name;
  std::optional<quant::QuantizeOptions> options;  // nullopt: the fp32 model itself
  std::string flags;                               // hone quantize flags after -o OUT
};

// Sample i's label as a [1] tensor of the labels' dtype.
Result<Tensor> label_at(const Tensor& labels, int64_t i) {
  if (labels.rank() < 1 || i >= labels.dim(0)) return invalid_argument("labels: fewer entries than samples");
  int64_t per = labels.dim(0) > 0 ? labels.numel() / labels.dim(0) : 0;
  Shape s = labels.shape();
  s[0] = 1;
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(labels.dtype(), s));
  size_t es = dtype_size(labels.dtype());
  std::memcpy(t.raw(), static_cast<const char*>(labels.raw()) + static_cast<size_t>(i * per) * es,
              static_cast<size_t>(per) * es);
  return t;
}

// Rows [0, n) of an array whose first dim is `total`.
Result<Tensor> head_rows(const Tensor& t, int64_t n) {
  Shape s = t.shape();
  int64_t per = t.dim(0) > 0 ? t.numel() / t.dim(0) : 0;
  s[0] = n;
  HONE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(t.dtype(), s));
  std::memcpy(out.raw(), t.raw(), static_cast<size_t>(n * per) * dtype_size(t.dtype()));
  return out;
}

struct Evaluated {
  double metric = 0;
  double latency_ms = 0;
  double sqnr_db = 0;
};

class Sweeper {
 public:
  explicit Sweeper(const SweepOptions& o) : o_(o) {}

  Result<ModelReport> run();

 private:
  void progress(const std::string& what, int64_t done, int64_t total) const {
    if (o_.progress) o_.progress(r_.name + ": " + what, done, total);
  }
  Result<Evaluated> evaluate(const std::string& variant, const std::string& path, bool reference);
  Status prepare_calibration();
  std::vector<Plan> plans() const;
  void choose_best();
  void per_layer();
  void histograms();

  const SweepOptions& o_;
  ModelReport r_;
  ir::Model fp32_;
  std::vector<IoInfo> inputs_;
  std::optional<Dataset> data_;
  std::optional<Dataset> calib_;
  int64_t n_ = 0;                 // samples evaluated
  int64_t calib_n_ = 0;           // calibration samples used (0 = all of calib_)
  std::string calib_shown_;       // the calibration data as the commands name it
  std::vector<Tensor> reference_; // fp32's first output per sample
  // Quantized models and their rules by variant name (for histograms and the per-layer view).
  std::vector<std::pair<std::string, quant::Rules>> rules_;
  std::vector<std::pair<std::string, ir::Model>> quantized_;
};

Status Sweeper::prepare_calibration() {
  if (!o_.calib_path.empty()) {
    HONE_ASSIGN_OR_RETURN(Dataset c, Dataset::open(o_.calib_path, inputs_));
    calib_.emplace(std::move(c));
    calib_n_ = o_.calib_limit > 0 ? std::min(o_.calib_limit, calib_->size()) : 0;
    calib_shown_ = o_.calib_path;
    r_.calib_note = "Static int8, GPTQ and AWQ calibrate on " +
                    (calib_n_ ? "the first " + std::to_string(calib_n_) + " samples of " : std::string()) +
                    o_.calib_path + " (" + std::to_string(calib_n_ ? calib_n_ : calib_->size()) + " samples).";
    return Status();
  }
  int64_t k = std::min(o_.calib_limit > 0 ? o_.calib_limit : kDefaultCalibSamples, data_->size());
  if (fs::path(o_.data_path).extension() == ".npz") {
    // A file of its own, so that `hone quantize --calib` in the printed commands sees the same samples.
    HONE_ASSIGN_OR_RETURN(NamedTensors all, read_npz(o_.data_path));
    NamedTensors head;
    for (auto& [key, t] : all) {
      if (t.rank() >= 1 && t.dim(0) == data_->size()) {
        HONE_ASSIGN_OR_RETURN(Tensor h, head_rows(t, k));
        head.emplace_back(key, std::move(h));
      }
    }
    std::string path = (fs::path(o_.out_dir) / (r_.name + ".calib.npz")).string();
    HONE_RETURN_IF_ERROR(write_npz(path, head));
    HONE_ASSIGN_OR_RETURN(Dataset c, Dataset::open(path, inputs_));
    calib_.emplace(std::move(c));
    calib_shown_ = path;
    r_.calib_note = "Static int8, GPTQ and AWQ calibrate on the first " + std::to_string(k) +
                    " samples of the evaluation data (written to " + path +
                    "); they are evaluated too, which flatters those variants slightly.";
  } else {
    HONE_ASSIGN_OR_RETURN(Dataset c, Dataset::open(o_.data_path, inputs_));
    calib_.emplace(std::move(c));
    calib_n_ = k;
    calib_shown_ = o_.data_path;
    r_.calib_note = "Static int8, GPTQ and AWQ calibrate on the first " + std::to_string(k) +
                    " samples of the evaluation data (they are evaluated too).";
  }
  return Status();
}

std::vector<Plan> Sweeper::plans() const {
  std::vector<Plan> p;
  p.push_back({"fp32", std::nullopt, ""});
  quant::QuantizeOptions base;
  base.threads = o_.threads;
  {
    quant::QuantizeOptions d = base;
    d.mode = quant::Mode::kDynamic;
    p.push_back({"dynamic-int8", d, "--mode dynamic"});
  }
  // Static int8 with weights per output channel, the usual choice for trained CNNs and the one
  // whose every method keeps the digits CNN within 0.5 point of fp32 (per tensor, entropy lost
  // 0.56: 2 of 360 test images, docs/demo.md).
  for (quant::CalibMethod m : {quant::CalibMethod::kMinMax, quant::CalibMethod::kPercentile,
                               quant::CalibMethod::kEntropy, quant::CalibMethod::kMse}) {
    quant::QuantizeOptions s = base;
    s.mode = quant::Mode::kStatic;
    s.method = m;
    s.per_channel = true;
    s.calib = &*calib_;
    s.calib_limit = calib_n_;
    p.push_back({std::string("static-int8-") + quant::method_name(m), s,
                 std::string("--mode static --calib ") + calib_shown_ + " --method " + quant::method_name(m) +
                     " --per-channel"});
  }
  // int4 blocks: the default (asymmetric, zero point per block, as ONNX Runtime's quantizer) with
  // rtn, gptq and awq, and symmetric rtn (--symmetric) for comparison: on the demo LM symmetric rtn
  // raises perplexity by more than 3 % where the asymmetric default does not (docs/formats.md).
  struct Int4 {
    const char* algo;
    bool symmetric;
  };
  for (const Int4 v : {Int4{"rtn", false}, Int4{"rtn", true}, Int4{"gptq", false}, Int4{"awq", false}}) {
    quant::QuantizeOptions w = base;
    w.mode = quant::Mode::kWeightOnly;
    w.bits = 4;
    w.block = 32;
    w.algo = v.algo;
    w.weight_symmetric = v.symmetric;
    std::string flags = std::string("--mode weight-only --bits 4 --block 32 --algo ") + v.algo;
    if (v.symmetric) flags += " --symmetric";
    if (std::string(v.algo) != "rtn") {
      w.calib = &*calib_;
      w.calib_limit = calib_n_;
      flags += " --calib " + calib_shown_;
    }
    p.push_back({std::string("int4-") + v.algo + (v.symmetric ? "-sym" : ""), w, flags});
  }
  return p;
}

Result<Evaluated> Sweeper::evaluate(const std::string& variant, const std::string& path, bool reference) {
  HONE_ASSIGN_OR_RETURN(ir::Model m, onnxio::load_model(path));
  passes::PassOptions po;
  po.level = 2;  // what `hone run` and `hone eval` execute
  HONE_RETURN_IF_ERROR(passes::optimize(m, po));
  SessionOptions so;
  so.threads = o_.threads;
  HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(m), so));

  const Tensor* labels = r_.metric == "perplexity" ? nullptr : data_->extra(o_.labels);
  if (r_.metric != "perplexity" && !labels)
    return invalid_argument(o_.data_path + ": no '" + o_.labels + "' array for " + r_.metric);
  ClassificationAccumulator cls;
  PerplexityAccumulator ppl;
  ErrorAccumulator err;
  std::vector<double> times;
  times.reserve(static_cast<size_t>(n_));
  for (int64_t i = -kWarmupRuns; i < n_; ++i) {
    int64_t idx = std::max<int64_t>(i, 0);
    HONE_ASSIGN_OR_RETURN(std::vector<Tensor> in, data_->sample(idx));
    auto t0 = Clock::now();
    HONE_ASSIGN_OR_RETURN(std::vector<Tensor> out, s.run(in));
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (i < 0) continue;
    times.push_back(ms);
    if (out.empty()) return invalid_argument(path + ": the model has no output");
    if (labels) {
      HONE_ASSIGN_OR_RETURN(Tensor lab, label_at(*labels, idx));
      HONE_RETURN_IF_ERROR(cls.add(out[0], lab).with_context("sample " + std::to_string(idx)));
    } else {
      // The tokens are the model's integer input (or an extra `tokens` array when they are not).
      const Tensor* tokens = nullptr;
      for (const Tensor& t : in)
        if (dtype_info(t.dtype()).is_integer) tokens = &t;
      Tensor extra_tokens;
      if (!tokens) {
        const Tensor* all = data_->extra("tokens");
        if (!all) return invalid_argument(o_.data_path + ": no integer input and no 'tokens' array for perplexity");
        HONE_ASSIGN_OR_RETURN(extra_tokens, label_at(*all, idx));
        tokens = &extra_tokens;
      }
      HONE_RETURN_IF_ERROR(ppl.add(out[0], *tokens).with_context("sample " + std::to_string(idx)));
    }
    if (reference) {
      reference_.push_back(out[0].clone());
    } else {
      HONE_RETURN_IF_ERROR(err.add(reference_[static_cast<size_t>(idx)], out[0]));
    }
    progress(variant + ": eval", i + 1, n_);
  }
  Evaluated e;
  std::sort(times.begin(), times.end());
  e.latency_ms = times.empty() ? 0 : (times[(times.size() - 1) / 2] + times[times.size() / 2]) / 2;
  e.metric = r_.metric == "perplexity" ? ppl.perplexity() : r_.metric == "top5" ? cls.top5() : cls.top1();
  e.sqnr_db = reference ? std::numeric_limits<double>::infinity() : err.result().sqnr_db;
  return e;
}

void Sweeper::choose_best() {
  const bool ppl = r_.metric == "perplexity";
  double limit = std::isnan(o_.max_drop) ? (ppl ? 3.0 : 1.0) : o_.max_drop;
  r_.best_rule = ppl ? "fastest variant whose perplexity is at most " + std::to_string(limit).substr(0, 4) +
                           " % above fp32's"
                     : "fastest variant within " + std::to_string(limit).substr(0, 4) + " points of fp32's " + r_.metric;
  r_.best = -1;
  for (size_t i = 0; i < r_.variants.size(); ++i) {
    const ReportVariant& v = r_.variants[i];
    if (!v.ok) continue;
    bool within = ppl ? v.delta <= limit + 1e-9 : v.delta >= -limit - 1e-9;
    if (within && (r_.best < 0 || v.latency_ms < r_.variants[static_cast<size_t>(r_.best)].latency_ms))
      r_.best = static_cast<int>(i);
  }
}

void Sweeper::per_layer() {
  if (o_.layer_samples <= 0 || quantized_.empty()) {
    r_.sensitivity_note = quantized_.empty() ? "No quantized variant was made, so there is no per-layer comparison."
                                             : "The per-layer comparison was switched off.";
    return;
  }
  // The best variant when it is a quantized one, else the first static one, else the first made.
  const std::pair<std::string, ir::Model>* pick = nullptr;
  std::string best = r_.best >= 0 ? r_.variants[static_cast<size_t>(r_.best)].name : "";
  for (const auto& q : quantized_)
    if (q.first == best) pick = &q;
  for (const auto& q : quantized_)
    if (!pick && q.first.rfind("static", 0) == 0) pick = &q;
  if (!pick) pick = &quantized_.front();
  int64_t n = std::min(o_.layer_samples, n_);
  LayerCompareOptions lo;
  lo.threads = o_.threads;
  progress("per-layer comparison of " + pick->first, 0, 1);
  auto rep = compare_layers(fp32_, pick->second, n, [&](int64_t i) { return data_->sample(i); }, lo);
  progress("per-layer comparison of " + pick->first, 1, 1);
  if (!rep.ok()) {
    r_.sensitivity_note = "The per-layer comparison of " + pick->first + " failed: " + rep.status().message();
    return;
  }
  r_.sensitivity_variant = pick->first;
  for (const LayerError& l : rep->layers)
    if (l.ref_op != "Constant" && l.ref_op != "Shape")  // constants: exact by construction, noise in a chart
      r_.layers.push_back({l.value, l.ref_op, l.metrics.sqnr_db, l.added_error});
  r_.sensitivity_note = "Compared on the first " + std::to_string(n) +
                        " evaluation samples, both models unoptimized (hone compare --per-layer).";
}

// Clip range of a quantized tensor rule: what its scale and zero point can represent.
std::optional<HistogramClip> clip_of(const quant::TensorRule& t, const std::string& label) {
  if (t.scales.empty()) return std::nullopt;
  double qmin = 0, qmax = 0;
  if (t.dtype == "uint8") qmax = 255;
  else if (t.dtype == "int8") { qmin = t.scheme == "symmetric" ? -127 : -128; qmax = 127; }
  else if (t.dtype == "uint4") qmax = 15;
  else if (t.dtype == "int4") { qmin = -8; qmax = 7; }
  else return std::nullopt;
  // Per channel or per block: the range of the median scale, which is what a typical channel
  // gets (the widest would be dominated by one outlier block).
  std::vector<std::pair<float, int32_t>> sz;
  for (size_t i = 0; i < t.scales.size(); ++i) sz.emplace_back(t.scales[i], i < t.zero_points.size() ? t.zero_points[i] : 0);
  std::nth_element(sz.begin(), sz.begin() + static_cast<std::ptrdiff_t>(sz.size() / 2), sz.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const auto& [scale, zp] = sz[sz.size() / 2];
  double lo = (qmin - zp) * scale, hi = (qmax - zp) * scale;
  std::string l = label;
  if (t.scales.size() > 1)
    l += " (median of " + std::to_string(t.scales.size()) + (t.block > 0 ? " blocks)" : " channels)");
  if (t.extra.count("channel_scale")) l += ", before AWQ's channel scaling";
  return HistogramClip{l, lo, hi};
}

void Sweeper::histograms() {
  // Weights: the largest weight a quantized variant recorded, with every variant's clipping range.
  const quant::TensorRule* wrule = nullptr;
  const ir::Initializer* winit = nullptr;
  for (const auto& [name, rules] : rules_)
    for (const auto& t : rules.tensors) {
      if (t.role != "weight") continue;
      const ir::Initializer* init = fp32_.graph.find_initializer(t.tensor);
      if (!init || init->tensor.dtype() != DType::kFloat32) continue;
      if (!winit || init->tensor.numel() > winit->tensor.numel()) {
        winit = init;
        wrule = &t;
      }
    }
  if (winit) {
    const Tensor& w = winit->tensor;
    const float* p = w.data<float>();
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < w.numel(); ++i) {
      if (!std::isfinite(p[i])) continue;
      lo = std::min(lo, static_cast<double>(p[i]));
      hi = std::max(hi, static_cast<double>(p[i]));
    }
    if (lo < hi) {
      ReportHistogram h;
      h.kind = "weight";
      h.title = "weight " + wrule->tensor + " (" + std::to_string(w.numel()) + " values)";
      h.lo = lo;
      h.hi = hi;
      h.counts.assign(kHistogramBins, 0);
      for (int64_t i = 0; i < w.numel(); ++i) {
        if (!std::isfinite(p[i])) continue;
        auto b = static_cast<int64_t>((p[i] - lo) / (hi - lo) * kHistogramBins);
        h.counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, kHistogramBins - 1))] += 1;
      }
      for (const auto& [name, rules] : rules_)
        if (const quant::TensorRule* t = rules.find(wrule->tensor))
          if (auto c = clip_of(*t, name)) h.clips.push_back(*c);
      r_.histograms.push_back(std::move(h));
    }
  }
  // Activations: of those a static variant recorded a histogram for, the one whose clipping range
  // the calibration methods disagree on most (widest / narrowest range), with every method's range.
  const quant::TensorRule* arule = nullptr;
  double best_spread = 0;
  for (const auto& [name, rules] : rules_)
    for (const auto& t : rules.tensors) {
      if (t.role != "activation" || t.stats.histogram.size() < 2 || !(t.stats.hist_max > t.stats.hist_min)) continue;
      double narrow = INFINITY, wide = 0;
      for (const auto& [other, orules] : rules_)
        if (other.rfind("static", 0) == 0)
          if (const quant::TensorRule* r = orules.find(t.tensor))
            if (auto c = clip_of(*r, other)) {
              narrow = std::min(narrow, c->hi - c->lo);
              wide = std::max(wide, c->hi - c->lo);
            }
      double spread = narrow > 0 && std::isfinite(narrow) ? wide / narrow : 1.0;
      if (!arule || spread > best_spread) {
        arule = &t;
        best_spread = spread;
      }
    }
  if (arule) {
    ReportHistogram h;
    h.kind = "activation";
    h.title = "activation " + arule->tensor + " (where the calibration methods disagree most; " +
              std::to_string(arule->stats.count) +
              " values seen in calibration, observed range [" + std::to_string(arule->stats.min) + ", " +
              std::to_string(arule->stats.max) + "])";
    // Calibration histograms have thousands of bins; a chart shows at most kHistogramBins * 2
    // (neighbours summed, the range widened to a whole number of merged bins).
    const auto& src = arule->stats.histogram;
    const size_t merge = (src.size() + 2 * kHistogramBins - 1) / (2 * kHistogramBins);
    const double width = (arule->stats.hist_max - arule->stats.hist_min) / static_cast<double>(src.size());
    h.counts.assign((src.size() + merge - 1) / merge, 0);
    for (size_t i = 0; i < src.size(); ++i) h.counts[i / merge] += static_cast<double>(src[i]);
    h.lo = arule->stats.hist_min;
    h.hi = h.lo + width * static_cast<double>(h.counts.size() * merge);
    for (const auto& [name, rules] : rules_)
      if (name.rfind("static", 0) == 0)
        if (const quant::TensorRule* t = rules.find(arule->tensor))
          if (auto c = clip_of(*t, name.substr(std::string("static-int8-").size()))) h.clips.push_back(*c);
    r_.histograms.push_back(std::move(h));
  }
}

Result<ModelReport> Sweeper::run() {
  const auto start = Clock::now();
  r_.name = o_.name.empty() ? stem(o_.model_path) : o_.name;
  r_.model_path = o_.model_path;
  r_.data_path = o_.data_path;
  HONE_ASSIGN_OR_RETURN(fp32_, onnxio::load_model(o_.model_path));
  {
    // The declared inputs, as the session sees them (Dataset::open checks the data against them).
    ir::Model copy = fp32_;
    HONE_ASSIGN_OR_RETURN(Session s, create_session(std::move(copy), {}));
    inputs_ = s.inputs();
  }
  HONE_ASSIGN_OR_RETURN(Dataset d, Dataset::open(o_.data_path, inputs_));
  data_.emplace(std::move(d));
  n_ = o_.eval_limit > 0 ? std::min(o_.eval_limit, data_->size()) : data_->size();
  if (n_ <= 0) return invalid_argument(o_.data_path + ": no samples");
  r_.eval_samples = n_;

  if (!o_.metric.empty()) {
    if (o_.metric != "accuracy" && o_.metric != "top5" && o_.metric != "perplexity")
      return invalid_argument("unknown metric '" + o_.metric + "' (accuracy, top5, perplexity)");
    r_.metric = o_.metric;
  } else {
    r_.metric = data_->extra(o_.labels) ? "accuracy" : "perplexity";
  }
  r_.higher_is_better = r_.metric != "perplexity";

  std::error_code ec;
  fs::create_directories(o_.out_dir, ec);
  if (ec) return io_error(o_.out_dir + ": " + ec.message());
  HONE_RETURN_IF_ERROR(prepare_calibration());

  const std::string eval_flags = " --data " + o_.data_path + " --metric " + r_.metric +
                                 (o_.eval_limit > 0 ? " --limit " + std::to_string(n_) : std::string());
  std::vector<Plan> all = plans();
  for (const std::string& name : o_.only) {
    bool known = false;
    for (const Plan& p : all) known |= p.name == name;
    if (!known) {
      std::string names;
      for (const Plan& p : all) names += (names.empty() ? "" : ", ") + p.name;
      return invalid_argument("unknown variant '" + name + "' (" + names + ")");
    }
  }
  for (const Plan& plan : all) {
    if (plan.options && !o_.only.empty() && std::find(o_.only.begin(), o_.only.end(), plan.name) == o_.only.end())
      continue;
    ReportVariant v;
    v.name = plan.name;
    if (!plan.options) {
      v.file = o_.model_path;
      v.command = o_.hone + " eval " + o_.model_path + eval_flags;
      v.eval_command = v.command;
      HONE_ASSIGN_OR_RETURN(v.bytes, model_bytes(o_.model_path, fp32_));
      progress("fp32: eval", 0, n_);
      HONE_ASSIGN_OR_RETURN(Evaluated e, evaluate("fp32", o_.model_path, true));
      v.metric = e.metric;
      v.latency_ms = e.latency_ms;
      v.sqnr_db = e.sqnr_db;
      r_.variants.push_back(std::move(v));
      continue;
    }
    v.file = (fs::path(o_.out_dir) / (r_.name + "." + plan.name + ".onnx")).string();
    v.command = o_.hone + " quantize " + o_.model_path + " -o " + v.file + " " + plan.flags;
    v.eval_command = o_.hone + " eval " + v.file + eval_flags;
    quant::QuantizeOptions qo = *plan.options;
    quant::QuantizeReport qr;
    qo.report = &qr;
    qo.progress = [&](const std::string& what, int64_t done, int64_t total) {
      progress(plan.name + ": " + what, done, total);
    };
    progress(plan.name + ": quantize", 0, 1);
    quant::Rules rules;
    auto q = quant::quantize(fp32_, qo, nullptr, &rules);
    if (!q.ok()) {
      v.ok = false;
      v.skipped = "quantize: " + q.status().message();
      r_.variants.push_back(std::move(v));
      continue;
    }
    int64_t count = 0;
    std::string ops;
    for (const auto& [op, k] : qr.quantized) {
      count += k;
      ops += (ops.empty() ? "" : ", ") + op + " " + std::to_string(k);
    }
    if (count == 0) {
      // The same graph as fp32: measuring it again would only add noise to the table.
      v.ok = false;
      v.skipped = "no node was quantized" + (qr.skipped.empty() ? std::string(" (no candidate node of this mode)")
                                                               : " (" + qr.skipped.front().node + ": " +
                                                                     qr.skipped.front().reason + ")");
      r_.variants.push_back(std::move(v));
      continue;
    }
    v.note = std::to_string(count) + " node" + (count == 1 ? "" : "s") + " quantized (" + ops + ")";
    if (!qr.skipped.empty()) v.note += ", " + std::to_string(qr.skipped.size()) + " left in float";
    if (Status st = onnxio::save_model(*q, v.file); !st.ok()) {
      v.ok = false;
      v.skipped = "writing " + v.file + ": " + st.message();
      r_.variants.push_back(std::move(v));
      continue;
    }
    auto bytes = model_bytes(v.file, *q);
    auto e = bytes.ok() ? evaluate(plan.name, v.file, false) : Result<Evaluated>(bytes.status());
    if (!e.ok()) {
      v.ok = false;
      v.skipped = "evaluating " + v.file + ": " + e.status().message();
      r_.variants.push_back(std::move(v));
      continue;
    }
    v.bytes = *bytes;
    v.metric = e->metric;
    v.latency_ms = e->latency_ms;
    v.sqnr_db = e->sqnr_db;
    rules_.emplace_back(plan.name, std::move(rules));
    quantized_.emplace_back(plan.name, std::move(q).value());
    r_.variants.push_back(std::move(v));
  }
  const ReportVariant& base = r_.variants.front();
  for (ReportVariant& v : r_.variants) {
    if (!v.ok) continue;
    v.delta = r_.metric == "perplexity" ? (v.metric / base.metric - 1.0) * 100.0 : (v.metric - base.metric) * 100.0;
  }
  choose_best();
  per_layer();
  histograms();
  r_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r_;
}

}  // namespace

Result<ModelReport> run_sweep(const SweepOptions& options) {
  if (options.model_path.empty()) return invalid_argument("no model");
  if (options.data_path.empty()) return invalid_argument("no data");
  if (options.out_dir.empty()) return invalid_argument("no output folder");
  Sweeper s(options);
  return s.run();
}

}  // namespace hone::eval
