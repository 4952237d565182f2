// Weight-only blockwise quantization (docs/formats.md "Weight-only"): MatMul / Gemm with a constant
// 2-D weight become com.microsoft.MatMulNBits in exactly ONNX Runtime's layout:
//
//   attributes K, N, bits, block_size
//   B            uint8 [N, n_blocks, block_size * bits / 8]; codes packed along K, low bits first
//                (4 bits: element k = 2j in the low nibble of byte j, k = 2j + 1 in the high one)
//   scales       float [N * n_blocks], ordered [n][block]
//   zero_points  asymmetric (the default, as ONNX Runtime's own MatMulNBits quantizer): uint8
//                [N * ceil(n_blocks * bits / 8)], packed like the codes (4 bits: block 2j in the
//                low nibble of byte j of the column's row);
//                symmetric (--symmetric): omitted, codes are stored unsigned with the default
//                offset 2^(bits-1) (8 for 4 bits, 128 for 8 bits)
//   bias         input 5 when the Gemm had a constant bias of N elements
//
// K that is not a multiple of the block pads the last block with zeros (they quantize to the
// zero point, i.e. to 0.0). Algorithms: rtn (round to nearest; symmetric: absmax per block on
// [-7, 7] / [-127, 127]; asymmetric: per-block min/max widened to include 0 on [0, 15] / [0, 255]),
// awq (activation-aware channel scaling searched on calibration data in the same scheme; the
// scaling is undone by a Mul on A since MatMulNBits has no input for it) and gptq (gptq.h: rows
// quantized in order with the rounding error pushed onto later rows through the calibration
// Hessian; same layout, the codes differ from rtn's).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "quant/gptq.h"
#include "quant/quant_graph.h"
#include "quant/quant_math.h"
#include "quant/quantize.h"
#include "runtime/session_impl.h"

namespace hone::quant {

namespace {

using detail::make_node;

constexpr int64_t kAwqMaxRows = 128;  // activation rows kept per MatMul for the AWQ error search
constexpr int kAwqGrid = 10;          // alpha in {0, 0.1, ..., 1}
constexpr double kGptqDamp = 0.01;    // GPTQ's damping: 1 % of the mean Hessian diagonal

struct Target {
  size_t node_index = 0;
  std::string label;
  const ir::Initializer* w = nullptr;  // valid only until initializers are added (planning)
  std::string w_name;
  Tensor wt;  // the float weight (a handle: stays valid when the initializer vector grows)
  bool trans_b = false;
  int64_t K = 0, N = 0;
  std::string bias;  // constant [N] bias to pass as input 5 ("" for none)
  std::string add;   // any other Gemm C: added by an Add after the MatMulNBits
  bool gather = false;  // Gather on an embedding table [V, D]: K = D (blocked), N = V
};

// Activation statistics AWQ needs for one MatMul input.
struct ActStats {
  std::vector<double> sum_abs;  // per input channel
  int64_t rows = 0;             // rows summed
  std::vector<float> kept;      // up to kAwqMaxRows rows of [K]
  int64_t kept_rows = 0;
  int64_t stride = 0;           // keep every stride-th row (0: not yet known)
  HessianAccumulator hessian;   // gptq only: X^T X over every row (K^2 doubles)
};

// GPTQ's answer for one weight: block parameters and the codes [k * N + n].
struct GptqResult {
  QuantParams params;
  std::vector<int32_t> codes;
};

std::vector<float> weight_kn(const Target& t) {
  const float* w = t.wt.data<float>();
  std::vector<float> kn(static_cast<size_t>(t.K * t.N));
  if (!t.trans_b) {
    std::copy(w, w + t.K * t.N, kn.begin());
  } else {
    for (int64_t n = 0; n < t.N; ++n)
      for (int64_t k = 0; k < t.K; ++k) kn[static_cast<size_t>(k * t.N + n)] = w[n * t.K + k];
  }
  return kn;
}

// The code type of a weight-only block: signed symmetric or unsigned asymmetric.
QType weight_qtype(int bits, bool symmetric) {
  if (symmetric) return bits == 4 ? QType::kInt4 : QType::kInt8;
  return bits == 4 ? QType::kUInt4 : QType::kUInt8;
}
bool is_symmetric(QType qt) { return qt == QType::kInt4 || qt == QType::kInt8; }

// Blockwise parameters and codes of a [K, N] matrix (symmetric for signed qt, else asymmetric).
Status rtn(const std::vector<float>& kn, int64_t K, int64_t N, int64_t block, QType qt, const std::string& what,
           QuantParams* p, std::vector<int32_t>* q) {
  HONE_ASSIGN_OR_RETURN(*p, params_blockwise_kn(kn.data(), K, N, block, qt, is_symmetric(qt), what));
  return quantize_blockwise_kn(kn.data(), K, N, block, *p, qt, q);
}

// sum over kept rows of ||x (W - W_eff)||^2 where W_eff = diag(1/s) dequant(Q(diag(s) W)).
double awq_error(const ActStats& a, const std::vector<float>& kn, const std::vector<float>& s, int64_t K, int64_t N,
                 int64_t block, QType qt) {
  std::vector<float> scaled(kn.size());
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) scaled[static_cast<size_t>(k * N + n)] = kn[static_cast<size_t>(k * N + n)] * s[static_cast<size_t>(k)];
  QuantParams p;
  std::vector<int32_t> q;
  if (!rtn(scaled, K, N, block, qt, "awq", &p, &q).ok()) return INFINITY;
  const int64_t nb = num_blocks(K, block);
  std::vector<float> diff(kn.size());
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) {
      const size_t i = static_cast<size_t>(k * N + n);
      const size_t pi = static_cast<size_t>(n * nb + k / block);
      const float deq = dequantize_value(q[i], p.scales[pi], p.zero_points[pi]) / s[static_cast<size_t>(k)];
      diff[i] = kn[i] - deq;
    }
  double err = 0;
  // Float rows (they vectorize); the sum of squares in double.
  std::vector<float> row(static_cast<size_t>(N));
  for (int64_t r = 0; r < a.kept_rows; ++r) {
    std::fill(row.begin(), row.end(), 0.0f);
    const float* x = a.kept.data() + r * K;
    float* out = row.data();
    for (int64_t k = 0; k < K; ++k) {
      const float xv = x[k];
      if (xv == 0) continue;
      const float* d = diff.data() + k * N;
      for (int64_t n = 0; n < N; ++n) out[n] += xv * d[n];
    }
    for (float v : row) err += static_cast<double>(v) * v;
  }
  return err;
}

class WeightOnlyQuantizer {
 public:
  WeightOnlyQuantizer(ir::Model& m, const QuantizeOptions& o, const Rules* in, Rules* out)
      : m_(m), o_(o), in_(in), out_(out), names_(m), uses_(detail::count_uses(m)) {}

  Status run() {
    static const std::vector<std::string> kDefault = {"MatMul", "Gemm", "Gather"};
    for (const auto& op : o_.ops)
      if (op != "MatMul" && op != "Gemm" && op != "Gather")
        return invalid_argument("--ops " + op + ": weight-only mode quantizes MatMul, Gemm and Gather");
    if (!in_) {
      if (o_.bits != 4 && o_.bits != 8) return invalid_argument("--bits " + std::to_string(o_.bits) + ": weight-only takes 4 or 8");
      if (o_.block < 16 || o_.block > 4096 || (o_.block & (o_.block - 1)) != 0)
        return invalid_argument("--block " + std::to_string(o_.block) + ": a power of two from 16 (ONNX Runtime's MatMulNBits)");
      if (o_.algo != "rtn" && o_.algo != "awq" && o_.algo != "gptq") return invalid_argument("--algo " + o_.algo + ": rtn, awq or gptq");
      if ((o_.algo == "awq" || o_.algo == "gptq") && !o_.calib)
        return invalid_argument("--algo " + o_.algo + " needs calibration data (--calib DATA)");
    }
    if (out_) {
      out_->mode = "weight-only";
      out_->options["bits"] = std::to_string(o_.bits);
      out_->options["block"] = std::to_string(o_.block);
      out_->options["algo"] = o_.algo;
      out_->options["symmetric"] = o_.weight_symmetric ? "true" : "false";
      out_->options["ops"] = detail::join(o_.ops.empty() ? kDefault : o_.ops);
      out_->options["exclude"] = detail::join(o_.exclude);
    }
    ir::Graph& g = m_.graph;
    std::vector<Target> targets;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& n = g.nodes[i];
      if (!(n.domain.empty() || n.domain == "ai.onnx") ||
          (n.op_type != "MatMul" && n.op_type != "Gemm" && n.op_type != "Gather"))
        continue;
      Target t;
      t.node_index = i;
      t.label = detail::node_label(n, i);
      std::string why = detail::selection_reason(n, i, o_, kDefault);
      if (why == "op type not selected") continue;
      if (why.empty()) why = n.op_type == "Gather" ? plan_gather(n, &t) : plan(n, &t);
      if (why.empty())
        for (const auto& other : targets)
          if (other.w_name == t.w_name) why = "weight shared with node " + other.label;
      if (why.empty() && in_ && !in_->find(t.w->name)) why = "no rule for weight '" + t.w->name + "'";
      if (!why.empty()) {
        // A Gather on computed data (shapes, attention heads) is no embedding table: not worth a line.
        if (!(n.op_type == "Gather" && why == "data is not a constant float initializer"))
          detail::report_skip(o_.report, t.label, why);
        continue;
      }
      targets.push_back(t);
    }
    if (targets.empty()) return Status::Ok();
    HONE_RETURN_IF_ERROR(detail::require_opset(m_, "com.microsoft", 1, 1));

    std::map<std::string, ActStats> stats;
    const bool any_matmul = std::any_of(targets.begin(), targets.end(), [](const Target& t) { return !t.gather; });
    if (!in_ && (o_.algo == "awq" || o_.algo == "gptq") && any_matmul) {
      HONE_ASSIGN_OR_RETURN(stats, calibrate(targets));
      if (o_.algo == "awq") search_all(targets, stats);
      else HONE_RETURN_IF_ERROR(gptq_all(targets, stats));
    }

    // Rebuild the node list, replacing targets in place.
    std::map<size_t, const Target*> by_index;
    for (const auto& t : targets) by_index[t.node_index] = &t;
    std::vector<ir::Node> old = std::move(g.nodes);
    g.nodes.clear();
    std::set<std::string> replaced;
    for (size_t i = 0; i < old.size(); ++i) {
      auto it = by_index.find(i);
      if (it == by_index.end()) {
        g.nodes.push_back(std::move(old[i]));
        continue;
      }
      const Target& t = *it->second;
      HONE_RETURN_IF_ERROR((t.gather ? replace_gather(old[i], t) : replace(old[i], t)).with_context(t.label));
      replaced.insert(t.w_name);
      if (!t.bias.empty()) replaced.insert(t.bias);
      detail::report_quantized(o_.report, old[i].op_type);
    }
    detail::drop_unused_initializers(m_, replaced);
    return Status::Ok();
  }

 private:
  std::string plan(const ir::Node& n, Target* t) {
    if (n.inputs.size() < 2 || n.outputs.empty() || n.outputs[0].empty()) return "malformed node";
    t->w = detail::constant_float(m_.graph, n.inputs[1]);
    if (!t->w) return "weight is not a constant float initializer";
    if (t->w->tensor.rank() != 2) return "weight is not 2-D";
    if (const ir::TypeInfo* ty = m_.graph.find_type(n.inputs[0]); ty && ty->is_tensor()) {
      if (ty->elem != DType::kFloat32) return "input is not float";
      if (ty->has_shape && ty->dims.size() < 2) return "input has rank < 2";
    }
    if (n.op_type == "Gemm") {
      if (n.attr_int("transA", 0) != 0) return "Gemm with transA";
      if (n.attr_float("alpha", 1.0f) != 1.0f) return "Gemm with alpha != 1";
      t->trans_b = n.attr_int("transB", 0) != 0;
      const std::string c = n.input(2);
      if (!c.empty()) {
        if (n.attr_float("beta", 1.0f) != 1.0f) return "Gemm with beta != 1";
        const ir::Initializer* b = detail::constant_float(m_.graph, c);
        const int64_t N = t->trans_b ? t->w->tensor.dim(0) : t->w->tensor.dim(1);
        if (!b || b->tensor.numel() != N || (b->tensor.rank() == 2 && b->tensor.dim(0) != 1) || b->tensor.rank() > 2)
          t->add = c;  // Add broadcasts both ways, a superset of Gemm's C broadcasting
        else
          t->bias = c;
      }
    }
    t->w_name = t->w->name;
    t->wt = t->w->tensor;
    t->K = t->trans_b ? t->w->tensor.dim(1) : t->w->tensor.dim(0);
    t->N = t->trans_b ? t->w->tensor.dim(0) : t->w->tensor.dim(1);
    if (t->K <= 0 || t->N <= 0) return "empty weight";
    return {};
  }

  // Gather(data [V, D] constant float, indices), axis 0 -> GatherBlockQuantized.
  std::string plan_gather(const ir::Node& n, Target* t) {
    if (n.inputs.size() < 2 || n.outputs.empty() || n.outputs[0].empty()) return "malformed node";
    if (n.attr_int("axis", 0) != 0) return "Gather axis is not 0";
    t->w = detail::constant_float(m_.graph, n.inputs[0]);
    if (!t->w) return "data is not a constant float initializer";
    if (t->w->tensor.rank() != 2) return "data is not 2-D";
    // A table also read elsewhere (tied embeddings) would stay float anyway: nothing to gain.
    if (uses_[n.inputs[0]] > 1) return "embedding table also read by another node";
    t->gather = true;
    t->w_name = t->w->name;
    t->wt = t->w->tensor;
    t->N = t->wt.dim(0);
    t->K = t->wt.dim(1);
    if (t->K <= 0 || t->N <= 0) return "empty table";
    const int bits = in_ && in_->find(t->w_name) ? in_->find(t->w_name)->bits : o_.bits;
    if ((t->K * bits) % 8 != 0) return "row length not a whole number of bytes";
    return {};
  }

  Status replace_gather(const ir::Node& n, const Target& t) {
    int bits = o_.bits;
    int64_t block = o_.block;
    // Rows are the [V] "columns" of the transposed [D, V] view: blocks run along D.
    std::vector<float> kn(static_cast<size_t>(t.K * t.N));
    const float* src = t.wt.data<float>();
    for (int64_t v = 0; v < t.N; ++v)
      for (int64_t d = 0; d < t.K; ++d) kn[static_cast<size_t>(d * t.N + v)] = src[v * t.K + d];
    QuantParams p;
    const TensorRule* r = in_ ? in_->find(t.w_name) : nullptr;
    if (r) {
      if (r->role != "weight" || (r->dtype != "int4" && r->dtype != "int8") || r->scheme != "symmetric" || r->block < 16 ||
          (r->block & (r->block - 1)) != 0)
        return invalid_argument("rules: '" + t.w_name + "': weight-only needs a symmetric int4/int8 rule with a power-of-two block >= 16");
      bits = r->bits;
      block = r->block;
      if (r->scales.size() != static_cast<size_t>(t.N * num_blocks(t.K, block)))
        return invalid_argument("rules: '" + t.w_name + "': wrong number of scales");
      for (int32_t z : r->zero_points)
        if (z != 0) return invalid_argument("rules: '" + t.w_name + "': symmetric rule with a non-zero zero point");
      p.scales = r->scales;
      p.zero_points = r->zero_points;
    }
    const QType qt = bits == 4 ? QType::kInt4 : QType::kInt8;
    if (!r) {
      HONE_ASSIGN_OR_RETURN(p, params_blockwise_kn(kn.data(), t.K, t.N, block, qt, true, t.w_name));
    }
    std::vector<int32_t> q;
    HONE_RETURN_IF_ERROR(quantize_blockwise_kn(kn.data(), t.K, t.N, block, p, qt, &q));
    const int64_t row_bytes = t.K * bits / 8;
    const int32_t offset = 1 << (bits - 1);
    HONE_ASSIGN_OR_RETURN(Tensor packed, Tensor::create(DType::kUInt8, {t.N, row_bytes}));
    uint8_t* dst = packed.data<uint8_t>();
    for (int64_t v = 0; v < t.N; ++v)
      for (int64_t d = 0; d < t.K; ++d) {
        const auto code = static_cast<uint32_t>(q[static_cast<size_t>(d * t.N + v)] + offset);
        uint8_t* out = dst + v * row_bytes;
        if (bits == 8) out[d] = static_cast<uint8_t>(code);
        else out[d / 2] = static_cast<uint8_t>(out[d / 2] | ((code & 0xF) << ((d % 2) * 4)));
      }
    const int64_t nb = num_blocks(t.K, block);
    HONE_ASSIGN_OR_RETURN(Tensor scales, Tensor::create(DType::kFloat32, {t.N, nb}));
    std::copy(p.scales.begin(), p.scales.end(), scales.data<float>());
    ir::Graph& g = m_.graph;
    const std::string base = n.name.empty() ? n.outputs[0] : n.name;
    const std::string dname = names_.make(t.w_name + "_Q" + std::to_string(bits));
    const std::string sname = names_.make(t.w_name + "_scales");
    g.initializers.push_back({dname, packed, {}, std::nullopt});
    g.initializers.push_back({sname, scales, {}, std::nullopt});
    ir::Node gq = make_node("GatherBlockQuantized", {dname, n.inputs[1], sname}, {n.outputs[0]},
                            names_.make(base + "_Q" + std::to_string(bits)), "com.microsoft");
    gq.attrs.push_back(detail::int_attr("gather_axis", 0));
    gq.attrs.push_back(detail::int_attr("quantize_axis", 1));
    gq.attrs.push_back(detail::int_attr("block_size", block));
    gq.attrs.push_back(detail::int_attr("bits", bits));
    g.nodes.push_back(std::move(gq));
    if (out_) {
      TensorRule rule;
      rule.tensor = t.w_name;
      rule.role = "weight";
      rule.dtype = bits == 4 ? "int4" : "int8";
      rule.bits = bits;
      rule.scheme = "symmetric";
      rule.axis = 1;  // blocks along the embedding dim of the [V, D] table
      rule.block = block;
      rule.scales = p.scales;
      rule.zero_points = p.zero_points;
      rule.method = "rtn";
      out_->tensors.push_back(std::move(rule));
    }
    return Status::Ok();
  }

  // Runs the float model over the calibration samples with every target's A as an extra output.
  Result<std::map<std::string, ActStats>> calibrate(const std::vector<Target>& targets) {
    ir::Model probe = m_;
    std::vector<std::string> wanted;
    for (const auto& t : targets) {
      if (t.gather) continue;
      const std::string& a = m_.graph.nodes[t.node_index].inputs[0];
      if (std::find(wanted.begin(), wanted.end(), a) == wanted.end()) wanted.push_back(a);
    }
    std::map<std::string, size_t> input_index, output_index;
    for (size_t i = 0; i < probe.graph.inputs.size(); ++i) input_index[probe.graph.inputs[i].name] = i;
    for (const auto& name : wanted) {
      if (input_index.count(name)) continue;
      bool present = false;
      for (size_t i = 0; i < probe.graph.outputs.size(); ++i)
        if (probe.graph.outputs[i].name == name) present = true;
      if (present) continue;
      ir::ValueInfo v;
      v.name = name;
      v.type.kind = ir::TypeInfo::Kind::kTensor;
      v.type.elem = DType::kFloat32;
      probe.graph.outputs.push_back(v);
    }
    for (size_t i = 0; i < probe.graph.outputs.size(); ++i) output_index[probe.graph.outputs[i].name] = i;
    // One thread: a kernel may split a reduction differently with more threads, and an ulp of
    // difference in an activation would change AWQ's factors and so the output bytes.
    SessionOptions so;
    so.threads = 1;
    HONE_ASSIGN_OR_RETURN(Session session, create_session(std::move(probe), so));
    // Session inputs may exclude initializer-backed graph inputs: map by name.
    std::map<std::string, size_t> feed_index;
    for (size_t i = 0; i < session.inputs().size(); ++i) feed_index[session.inputs()[i].name] = i;

    std::map<std::string, ActStats> stats;
    int64_t samples = o_.calib->size();
    if (o_.calib_limit > 0) samples = std::min(samples, o_.calib_limit);
    if (samples <= 0) return invalid_argument("the calibration data has no samples");
    for (int64_t s = 0; s < samples; ++s) {
      if (o_.progress) o_.progress(o_.algo + " calibration", s, samples);
      HONE_ASSIGN_OR_RETURN(std::vector<Tensor> feeds, o_.calib->sample(s));
      HONE_ASSIGN_OR_RETURN(std::vector<Tensor> outs, session.run(feeds));
      for (const auto& name : wanted) {
        const Tensor* t = nullptr;
        if (auto it = output_index.find(name); it != output_index.end() && it->second < outs.size()) t = &outs[it->second];
        else if (auto f = feed_index.find(name); f != feed_index.end() && f->second < feeds.size()) t = &feeds[f->second];
        if (!t || t->dtype() != DType::kFloat32 || t->rank() < 1) return runtime_error("cannot observe MatMul input '" + name + "'");
        const int64_t K = t->dim(t->rank() - 1);
        if (K <= 0) continue;
        ActStats& a = stats[name];
        if (a.sum_abs.empty()) a.sum_abs.assign(static_cast<size_t>(K), 0.0);
        if (static_cast<int64_t>(a.sum_abs.size()) != K) return runtime_error("MatMul input '" + name + "' changed its last dim");
        const int64_t rows = t->numel() / K;
        const float* x = t->data<float>();
        if (o_.algo == "gptq") {
          if (a.hessian.k() == 0) a.hessian = HessianAccumulator(K);
          for (int64_t i = 0; i < rows * K; ++i)
            if (!std::isfinite(x[i])) return runtime_error("MatMul input '" + name + "' has non-finite values on calibration data");
          a.hessian.add(x, rows);
          a.rows += rows;
          continue;  // GPTQ needs only X^T X
        }
        // Rows kept for the error search are spread over all samples: a stride fixed from the
        // first sample's row count (deterministic for a given data set).
        if (a.stride == 0) a.stride = std::max<int64_t>(1, rows * samples / kAwqMaxRows);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t k = 0; k < K; ++k) a.sum_abs[static_cast<size_t>(k)] += std::fabs(static_cast<double>(x[r * K + k]));
          if (a.kept_rows < kAwqMaxRows && (a.rows + r) % a.stride == 0) {
            a.kept.insert(a.kept.end(), x + r * K, x + (r + 1) * K);
            ++a.kept_rows;
          }
        }
        a.rows += rows;
      }
    }
    if (o_.progress) o_.progress(o_.algo + " calibration", samples, samples);
    return stats;
  }

  // AWQ's search for every MatMul, in parallel over weights (each search is independent and
  // single-threaded inside, so the result does not depend on the thread count).
  void search_all(const std::vector<Target>& targets, const std::map<std::string, ActStats>& stats) {
    std::vector<const Target*> work;
    for (const auto& t : targets)
      if (!t.gather && stats.count(m_.graph.nodes[t.node_index].inputs[0])) work.push_back(&t);
    std::vector<std::vector<float>> found(work.size());
    std::atomic<size_t> next{0}, done{0};
    const QType qt = weight_qtype(o_.bits, o_.weight_symmetric);
    auto worker = [&] {
      for (size_t i; (i = next++) < work.size();) {
        const Target& t = *work[i];
        double err = 0;
        found[i] = awq_search(stats.at(m_.graph.nodes[t.node_index].inputs[0]), weight_kn(t), t.K, t.N, qt, &err);
        ++done;
      }
    };
    unsigned n = o_.threads > 0 ? static_cast<unsigned>(o_.threads) : std::max(1u, std::thread::hardware_concurrency());
    n = std::min<unsigned>(n, static_cast<unsigned>(std::max<size_t>(work.size(), 1)));
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
    for (size_t i = 0; i < work.size(); ++i) awq_factors_[work[i]->w_name] = std::move(found[i]);
    if (o_.progress) o_.progress("awq search", static_cast<int64_t>(done), static_cast<int64_t>(work.size()));
  }

  // GPTQ for every MatMul, in parallel over weights (each one single-threaded inside: the codes
  // do not depend on the thread count). A weight whose input was never observed, or was seen in
  // fewer rows than it has inputs (K), keeps rtn: with a rank-deficient X^T X, GPTQ pushes the
  // rounding error into the directions the calibration rows never visit, and any other input
  // (even the quantized model's own slightly different activations) meets it amplified — measured
  // on BERT-mini's classifier Gemm, fed one [CLS] row per sample.
  Status gptq_all(const std::vector<Target>& targets, const std::map<std::string, ActStats>& stats) {
    std::vector<const Target*> work;
    for (const auto& t : targets)
      if (!t.gather)
        if (auto it = stats.find(m_.graph.nodes[t.node_index].inputs[0]); it != stats.end() && it->second.rows >= t.K &&
                                                                           it->second.hessian.k() == t.K)
          work.push_back(&t);
    std::vector<GptqResult> found(work.size());
    std::vector<Status> status(work.size());
    std::atomic<size_t> next{0}, done{0};
    const QType qt = weight_qtype(o_.bits, o_.weight_symmetric);
    const std::thread::id caller = std::this_thread::get_id();
    auto worker = [&] {
      for (size_t i; (i = next++) < work.size();) {
        const Target& t = *work[i];
        const ActStats& a = stats.at(m_.graph.nodes[t.node_index].inputs[0]);
        status[i] = gptq_blockwise_kn(weight_kn(t), t.K, t.N, o_.block, qt, a.hessian.hessian(), kGptqDamp,
                                      &found[i].params, &found[i].codes);
        const size_t d = ++done;
        // The callback is not thread-safe: only the calling thread reports.
        if (o_.progress && std::this_thread::get_id() == caller)
          o_.progress("gptq", static_cast<int64_t>(d), static_cast<int64_t>(work.size()));
      }
    };
    unsigned n = o_.threads > 0 ? static_cast<unsigned>(o_.threads) : std::max(1u, std::thread::hardware_concurrency());
    n = std::min<unsigned>(n, static_cast<unsigned>(std::max<size_t>(work.size(), 1)));
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
    for (size_t i = 0; i < work.size(); ++i) {
      HONE_RETURN_IF_ERROR(status[i].with_context(work[i]->label));
      gptq_[work[i]->w_name] = std::move(found[i]);
    }
    if (o_.progress) o_.progress("gptq", static_cast<int64_t>(done), static_cast<int64_t>(work.size()));
    return Status::Ok();
  }

  // Chooses AWQ's per-input-channel factors s (K values) for one weight.
  std::vector<float> awq_search(const ActStats& a, const std::vector<float>& kn, int64_t K, int64_t N, QType qt,
                                double* best_err) {
    std::vector<float> best(static_cast<size_t>(K), 1.0f);
    *best_err = INFINITY;
    if (a.rows <= 0 || static_cast<int64_t>(a.sum_abs.size()) != K) return best;
    for (int step = 0; step <= kAwqGrid; ++step) {
      const double alpha = step / static_cast<double>(kAwqGrid);
      std::vector<double> sd(static_cast<size_t>(K));
      double lo = INFINITY, hi = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double mean = a.sum_abs[static_cast<size_t>(k)] / static_cast<double>(a.rows);
        sd[static_cast<size_t>(k)] = std::max(std::pow(mean, alpha), 1e-4);
        lo = std::min(lo, sd[static_cast<size_t>(k)]);
        hi = std::max(hi, sd[static_cast<size_t>(k)]);
      }
      // As AWQ: normalise so that the factors straddle 1 (geometric middle of the range).
      const double norm = std::sqrt(lo * hi);
      std::vector<float> s(static_cast<size_t>(K));
      for (int64_t k = 0; k < K; ++k) s[static_cast<size_t>(k)] = static_cast<float>(sd[static_cast<size_t>(k)] / norm);
      const double err = awq_error(a, kn, s, K, N, o_.block, qt);
      if (err < *best_err) {
        *best_err = err;
        best = s;
      }
    }
    return best;
  }

  Status replace(const ir::Node& n, const Target& t) {
    int bits = o_.bits;
    int64_t block = o_.block;
    std::string method = o_.algo;
    std::vector<float> kn = weight_kn(t);
    std::vector<float> channel;  // AWQ factors, empty for rtn
    bool sym = o_.weight_symmetric;
    QuantParams p;
    std::vector<int32_t> q;  // codes [k * N + n]; filled here for gptq, else by rtn below
    const TensorRule* r = in_ ? in_->find(t.w_name) : nullptr;
    if (r) {
      const bool sym_rule = r->scheme == "symmetric" && (r->dtype == "int4" || r->dtype == "int8");
      const bool asym_rule = r->scheme == "asymmetric" && (r->dtype == "uint4" || r->dtype == "uint8");
      if (r->role != "weight" || !(sym_rule || asym_rule) || r->block < 16 || (r->block & (r->block - 1)) != 0)
        return invalid_argument("rules: '" + t.w_name + "': weight-only needs a symmetric int4/int8 or asymmetric uint4/uint8 rule with a power-of-two block >= 16");
      sym = sym_rule;
      bits = r->bits;
      block = r->block;
      method = r->method;
      const size_t want = static_cast<size_t>(t.N * num_blocks(t.K, block));
      if (r->scales.size() != want)
        return invalid_argument("rules: '" + t.w_name + "': " + std::to_string(r->scales.size()) + " scales, expected " + std::to_string(want));
      if (r->zero_points.size() != r->scales.size())
        return invalid_argument("rules: '" + t.w_name + "': " + std::to_string(r->zero_points.size()) + " zero points, expected " + std::to_string(want));
      for (int32_t z : r->zero_points)
        if (sym ? z != 0 : (z < 0 || z >= (1 << bits)))
          return invalid_argument("rules: '" + t.w_name + "': zero point " + std::to_string(z) + " out of range for a " + r->scheme + " " + r->dtype + " rule");
      if (auto c = r->extra.find("channel_scale"); c != r->extra.end()) {
        if (static_cast<int64_t>(c->second.size()) != t.K)
          return invalid_argument("rules: '" + t.w_name + "': channel_scale has " + std::to_string(c->second.size()) + " values, expected " + std::to_string(t.K));
        for (float v : c->second)
          if (!(v > 0)) return invalid_argument("rules: '" + t.w_name + "': channel_scale values must be positive");
        channel = c->second;
      }
      if (method == "gptq") {
        // GPTQ's codes are not a function of the weight and the scales: the rule carries them.
        auto c = r->extra.find("codes");
        if (c == r->extra.end() || static_cast<int64_t>(c->second.size()) != t.K * t.N)
          return invalid_argument("rules: '" + t.w_name + "': a gptq rule needs extra.codes with K * N = " + std::to_string(t.K * t.N) + " values");
        const QRange range = sym ? qtype_symmetric_range(weight_qtype(bits, sym)) : qtype_range(weight_qtype(bits, sym));
        q.resize(c->second.size());
        for (size_t i = 0; i < q.size(); ++i) {
          const float v = c->second[i];
          if (!(v >= static_cast<float>(range.qmin) && v <= static_cast<float>(range.qmax)) || v != std::floor(v))
            return invalid_argument("rules: '" + t.w_name + "': extra.codes[" + std::to_string(i) + "] is not a " + r->dtype + " code");
          q[i] = static_cast<int32_t>(v);
        }
      }
      p.scales = r->scales;
      p.zero_points = r->zero_points;
    }
    const QType qt = weight_qtype(bits, sym);
    if (!r && method == "awq") {
      if (auto f = awq_factors_.find(t.w_name); f != awq_factors_.end()) channel = f->second;
      bool identity = std::all_of(channel.begin(), channel.end(), [](float v) { return v == 1.0f; });
      if (identity) channel.clear();
    }
    if (!channel.empty())
      for (int64_t k = 0; k < t.K; ++k)
        for (int64_t nn = 0; nn < t.N; ++nn) kn[static_cast<size_t>(k * t.N + nn)] *= channel[static_cast<size_t>(k)];
    if (!r && method == "gptq") {
      if (auto f = gptq_.find(t.w_name); f != gptq_.end()) {
        p = std::move(f->second.params);
        q = std::move(f->second.codes);
      } else {
        method = "rtn";  // its input was not observed in at least K rows of calibration data (gptq_all)
      }
    }
    if (!r && method != "gptq") {
      HONE_ASSIGN_OR_RETURN(p, params_blockwise_kn(kn.data(), t.K, t.N, block, qt, sym, t.w_name));
    }
    if (method != "gptq") HONE_RETURN_IF_ERROR(quantize_blockwise_kn(kn.data(), t.K, t.N, block, p, qt, &q));

    // Pack: [N][block][blob], unsigned codes (symmetric: offset 2^(bits-1); asymmetric: the codes
    // themselves), padding = the code of 0.0 (the offset or the block's zero point).
    const int64_t nb = num_blocks(t.K, block);
    const int64_t blob = block * bits / 8;
    const int32_t offset = sym ? 1 << (bits - 1) : 0;
    HONE_ASSIGN_OR_RETURN(Tensor packed, Tensor::create(DType::kUInt8, {t.N, nb, blob}));
    uint8_t* dst = packed.data<uint8_t>();
    for (int64_t nn = 0; nn < t.N; ++nn)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* out = dst + (nn * nb + b) * blob;
        for (int64_t j = 0; j < block; ++j) {
          const int64_t k = b * block + j;
          const int32_t pad = sym ? 0 : p.zero_points[static_cast<size_t>(nn * nb + b)];
          const auto code = static_cast<uint32_t>((k < t.K ? q[static_cast<size_t>(k * t.N + nn)] : pad) + offset);
          if (bits == 8) {
            out[j] = static_cast<uint8_t>(code);
          } else {
            out[j / 2] = static_cast<uint8_t>(out[j / 2] | ((code & 0xF) << ((j % 2) * 4)));
          }
        }
      }
    ir::Graph& g = m_.graph;
    const std::string base = n.name.empty() ? n.outputs[0] : n.name;
    const std::string bname = names_.make(t.w_name + "_Q" + std::to_string(bits));
    const std::string sname = names_.make(t.w_name + "_scales");
    g.initializers.push_back({bname, packed, {}, std::nullopt});
    g.initializers.push_back({sname, detail::scalar_or_vector_f32(p.scales, false), {}, std::nullopt});
    std::string zname;
    if (!sym) {
      // ONNX Runtime's layout: per column ceil(n_blocks * bits / 8) bytes, 4 bits low nibble first.
      const int64_t zrow = (nb * bits + 7) / 8;
      HONE_ASSIGN_OR_RETURN(Tensor zp, Tensor::create(DType::kUInt8, {t.N * zrow}));
      uint8_t* z = zp.data<uint8_t>();
      std::fill(z, z + t.N * zrow, uint8_t{0});
      for (int64_t nn = 0; nn < t.N; ++nn)
        for (int64_t b = 0; b < nb; ++b) {
          const auto v = static_cast<uint32_t>(p.zero_points[static_cast<size_t>(nn * nb + b)]);
          uint8_t* row = z + nn * zrow;
          if (bits == 8) row[b] = static_cast<uint8_t>(v);
          else row[b / 2] = static_cast<uint8_t>(row[b / 2] | ((v & 0xF) << ((b % 2) * 4)));
        }
      zname = names_.make(t.w_name + "_zero_points");
      g.initializers.push_back({zname, zp, {}, std::nullopt});
    }
    std::string a = n.inputs[0];
    if (!channel.empty()) {
      // MatMulNBits cannot take AWQ's factors: x W = (x / s) (s W), so A is divided by s first.
      std::vector<float> inv(channel.size());
      for (size_t k = 0; k < channel.size(); ++k) inv[k] = 1.0f / channel[k];
      const std::string inv_name = names_.make(t.w_name + "_awq_inv_scale");
      g.initializers.push_back({inv_name, detail::scalar_or_vector_f32(inv, false), {}, std::nullopt});
      const std::string scaled = names_.make(a + "_awq_scaled");
      g.nodes.push_back(make_node("Mul", {a, inv_name}, {scaled}, names_.make(base + "_awq_mul")));
      a = scaled;
    }
    std::vector<std::string> inputs = {a, bname, sname};
    if (!zname.empty()) inputs.push_back(zname);
    if (!t.bias.empty()) {
      const Tensor bias = g.find_initializer(t.bias)->tensor;
      const std::string bias_name = names_.make(t.bias + "_1d");
      g.initializers.push_back({bias_name, bias.clone().reshaped({t.N}).value(), {}, std::nullopt});
      if (zname.empty()) inputs.push_back("");  // no zero_points
      inputs.insert(inputs.end(), {"", bias_name});  // g_idx omitted; bias is input 5
    }
    const std::string y = t.add.empty() ? n.outputs[0] : names_.make(n.outputs[0] + "_before_bias");
    ir::Node mm = make_node("MatMulNBits", inputs, {y}, names_.make(base + "_Q" + std::to_string(bits)), "com.microsoft");
    mm.attrs.push_back(detail::int_attr("K", t.K));
    mm.attrs.push_back(detail::int_attr("N", t.N));
    mm.attrs.push_back(detail::int_attr("bits", bits));
    mm.attrs.push_back(detail::int_attr("block_size", block));
    g.nodes.push_back(std::move(mm));
    if (!t.add.empty()) g.nodes.push_back(make_node("Add", {y, t.add}, {n.outputs[0]}, names_.make(base + "_bias_add")));

    if (out_) {
      TensorRule rule;
      rule.tensor = t.w_name;
      rule.role = "weight";
      rule.dtype = qtype_name(qt);
      rule.bits = bits;
      rule.scheme = sym ? "symmetric" : "asymmetric";
      rule.axis = 0;  // the reduction axis K of the [K, N] weight as MatMul reads it
      rule.block = block;
      rule.scales = p.scales;
      rule.zero_points = p.zero_points;
      rule.method = method;
      if (!channel.empty()) rule.extra["channel_scale"] = channel;
      if (method == "gptq") rule.extra["codes"] = std::vector<float>(q.begin(), q.end());
      out_->tensors.push_back(std::move(rule));
    }
    return Status::Ok();
  }

  ir::Model& m_;
  const QuantizeOptions& o_;
  const Rules* in_;
  Rules* out_;
  detail::NameGen names_;
  std::map<std::string, int> uses_;
  std::map<std::string, std::vector<float>> awq_factors_;  // by weight name
  std::map<std::string, GptqResult> gptq_;                 // by weight name
};

}  // namespace

Result<ir::Model> quantize_weight_only(const ir::Model& model, const QuantizeOptions& options, const Rules* rules_in,
                                       Rules* rules_out) {
  ir::Model m = model;
  WeightOnlyQuantizer q(m, options, rules_in, rules_out);
  HONE_RETURN_IF_ERROR(q.run());
  return m;
}

}  // namespace hone::quant
