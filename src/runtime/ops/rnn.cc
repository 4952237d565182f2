// Recurrent layers: RNN, GRU and LSTM (ONNX semantics, both layouts, every direction).
//
// Batch entries are independent, so each (direction, batch entry) pair runs its whole sequence
// on its own; that is also the unit of parallelism. Gate pre-activations are computed as dot
// products with rows of W and R, which are stored [gates * hidden, input] / [gates * hidden, hidden].
#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

enum class Cell { kRnn, kGru, kLstm };

// ONNX's activation functions for recurrent layers; alpha/beta as in the operator spec.
enum class ActKind { kSigmoid, kTanh, kRelu, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu,
                     kSoftsign, kSoftplus };

struct Activation {
  ActKind kind = ActKind::kSigmoid;
  float alpha = 0;
  float beta = 0;
};

struct ActivationDef {
  const char* name;  // lower case
  ActKind kind;
  bool uses_alpha, uses_beta;
  float default_alpha, default_beta;
};

constexpr ActivationDef kActivations[] = {
    {"sigmoid", ActKind::kSigmoid, false, false, 0, 0},
    {"tanh", ActKind::kTanh, false, false, 0, 0},
    {"relu", ActKind::kRelu, false, false, 0, 0},
    {"affine", ActKind::kAffine, true, true, 1.0f, 0.0f},
    {"leakyrelu", ActKind::kLeakyRelu, true, false, 0.01f, 0},
    {"thresholdedrelu", ActKind::kThresholdedRelu, true, false, 1.0f, 0},
    {"scaledtanh", ActKind::kScaledTanh, true, true, 1.0f, 1.0f},
    {"hardsigmoid", ActKind::kHardSigmoid, true, true, 0.2f, 0.5f},
    {"elu", ActKind::kElu, true, false, 1.0f, 0},
    {"softsign", ActKind::kSoftsign, false, false, 0, 0},
    {"softplus", ActKind::kSoftplus, false, false, 0, 0},
};

template <class T>
void apply_activation(const Activation& a, T* x, int64_t n) {
  const T alpha = static_cast<T>(a.alpha), beta = static_cast<T>(a.beta);
  switch (a.kind) {
    case ActKind::kSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = T(1) / (T(1) + std::exp(-x[i]));
      break;
    case ActKind::kTanh:
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      break;
    case ActKind::kRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], T(0));
      break;
    case ActKind::kAffine:
      for (int64_t i = 0; i < n; ++i) x[i] = alpha * x[i] + beta;
      break;
    case ActKind::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0 ? x[i] : alpha * x[i];
      break;
    case ActKind::kThresholdedRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > alpha ? x[i] : T(0);
      break;
    case ActKind::kScaledTanh:
      for (int64_t i = 0; i < n; ++i) x[i] = alpha * std::tanh(beta * x[i]);
      break;
    case ActKind::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = std::clamp(alpha * x[i] + beta, T(0), T(1));
      break;
    case ActKind::kElu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0 ? x[i] : alpha * (std::exp(x[i]) - T(1));
      break;
    case ActKind::kSoftsign:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (T(1) + std::fabs(x[i]));
      break;
    case ActKind::kSoftplus:
      for (int64_t i = 0; i < n; ++i) x[i] = std::log1p(std::exp(x[i]));
      break;
  }
}

struct CellTraits {
  int gates;            // blocks of `hidden` rows in W and R
  int functions;        // activation functions per direction
  const char* defaults[3];
};

constexpr CellTraits traits_of(Cell c) {
  switch (c) {
    case Cell::kRnn: return {1, 1, {"tanh", nullptr, nullptr}};
    case Cell::kGru: return {3, 2, {"sigmoid", "tanh", nullptr}};
    case Cell::kLstm: return {4, 3, {"sigmoid", "tanh", "tanh"}};
  }
  return {1, 1, {"tanh", nullptr, nullptr}};
}

template <class T>
T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Everything a run needs besides the tensors: validated shapes and pointers into the inputs.
template <class T>
struct RecurrentProblem {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, directions = 1;
  bool batch_first = false;
  bool reverse_only = false;
  const T *x = nullptr, *w = nullptr, *r = nullptr, *b = nullptr, *h0 = nullptr, *c0 = nullptr, *p = nullptr;
  std::vector<int64_t> lengths;
  T *y = nullptr, *y_h = nullptr, *y_c = nullptr;

  int64_t x_offset(int64_t t, int64_t n) const { return (batch_first ? n * seq + t : t * batch + n) * input; }
  int64_t y_offset(int64_t t, int64_t d, int64_t n) const {
    return (batch_first ? (n * seq + t) * directions + d : (t * directions + d) * batch + n) * hidden;
  }
  // Layout of initial_h/initial_c and Y_h/Y_c.
  int64_t state_offset(int64_t d, int64_t n) const { return (batch_first ? n * directions + d : d * batch + n) * hidden; }
};

template <Cell kCell>
class RecurrentKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& cctx) {
    const ir::Node& node = cctx.node();
    auto k = std::unique_ptr<RecurrentKernel>(new RecurrentKernel());
    const std::string direction = node.attr_string("direction", "forward");
    if (direction == "forward") k->directions_ = 1;
    else if (direction == "reverse") k->directions_ = 1, k->reverse_only_ = true;
    else if (direction == "bidirectional") k->directions_ = 2;
    else return cctx.error("attribute 'direction' must be forward, reverse or bidirectional, got '" + direction + "'");
    k->hidden_size_ = node.attr_int("hidden_size", -1);
    if (node.attr("hidden_size") && k->hidden_size_ < 1)
      return cctx.error("attribute 'hidden_size' must be positive, got " + std::to_string(k->hidden_size_));
    if (const ir::Attribute* clip = node.attr("clip")) {
      if (!(clip->f > 0)) return cctx.error("attribute 'clip' must be positive, got " + std::to_string(clip->f));
      k->clip_ = clip->f;
    }
    k->batch_first_ = node.attr_int("layout", 0) != 0;
    if (node.attr_int("layout", 0) != 0 && node.attr_int("layout", 0) != 1)
      return cctx.error("attribute 'layout' must be 0 or 1");
    k->input_forget_ = kCell == Cell::kLstm && node.attr_int("input_forget", 0) != 0;
    k->linear_before_reset_ = kCell == Cell::kGru && node.attr_int("linear_before_reset", 0) != 0;
    auto acts = parse_activations(node);
    if (!acts.ok()) return cctx.error(acts.status().message());
    k->activations_ = std::move(acts).value();
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    for (size_t i = 0; i < 3; ++i)
      if (!ctx.has_input(i)) return ctx.error(std::string("input '") + (i == 0 ? "X" : i == 1 ? "W" : "R") + "' is missing");
    const DType dtype = ctx.input(0)->dtype();
    return dispatch_float(dtype, [&](auto zero) -> Status { return run_typed<decltype(zero)>(ctx); });
  }

 private:
  static constexpr CellTraits kTraits = traits_of(kCell);

  // activations[d * functions + f]: function f of direction d.
  static Result<std::vector<Activation>> parse_activations(const ir::Node& node) {
    std::vector<std::string> names;
    if (const ir::Attribute* a = node.attr("activations")) names = a->strings;
    const std::vector<float> alphas = node.attr("activation_alpha") ? node.attr("activation_alpha")->floats : std::vector<float>{};
    const std::vector<float> betas = node.attr("activation_beta") ? node.attr("activation_beta")->floats : std::vector<float>{};
    const size_t per_direction = static_cast<size_t>(kTraits.functions);
    const size_t directions = node.attr_string("direction", "forward") == "bidirectional" ? 2 : 1;
    if (names.empty())
      for (size_t d = 0; d < directions; ++d)
        for (size_t f = 0; f < per_direction; ++f) names.push_back(kTraits.defaults[f]);
    if (names.size() == per_direction && directions == 2) names.insert(names.end(), names.begin(), names.end());
    if (names.size() != per_direction * directions)
      return runtime_error("attribute 'activations' has " + std::to_string(names.size()) + " entries, expected " +
                           std::to_string(per_direction * directions));
    // Alphas and betas are consumed in order by the functions that take them.
    size_t next_alpha = 0, next_beta = 0;
    std::vector<Activation> out;
    for (const std::string& name : names) {
      std::string lower = name;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const ActivationDef* def = nullptr;
      for (const auto& candidate : kActivations)
        if (lower == candidate.name) def = &candidate;
      if (!def) return unsupported("activation function '" + name + "' is not supported");
      Activation a{def->kind, def->default_alpha, def->default_beta};
      if (def->uses_alpha && next_alpha < alphas.size()) a.alpha = alphas[next_alpha++];
      if (def->uses_beta && next_beta < betas.size()) a.beta = betas[next_beta++];
      out.push_back(a);
    }
    return out;
  }

  // Validates input `index` (when present) against `expected`; nullptr data when absent.
  template <class T>
  static Result<const T*> optional_input(KernelContext& ctx, size_t index, const char* name, DType dtype, const Shape& expected) {
    if (!ctx.has_input(index)) return static_cast<const T*>(nullptr);
    const Tensor& t = *ctx.input(index);
    if (t.dtype() != dtype)
      return ctx.error(std::string("input '") + name + "' must be " + std::string(dtype_name(dtype)) + ", got " +
                       std::string(dtype_name(t.dtype())));
    if (t.shape() != expected)
      return ctx.error(std::string("input '") + name + "' must have shape " + shape_to_string(expected) + ", got " +
                       shape_to_string(t.shape()));
    return t.data<T>();
  }

  template <class T>
  Status run_typed(KernelContext& ctx) {
    const int64_t gates = kTraits.gates;
    const Tensor& x = *ctx.input(0);
    const Tensor& r = *ctx.input(2);
    if (x.rank() != 3) return ctx.error("input 'X' must have rank 3, got shape " + shape_to_string(x.shape()));
    if (r.rank() != 3) return ctx.error("input 'R' must have rank 3, got shape " + shape_to_string(r.shape()));
    RecurrentProblem<T> p;
    p.batch_first = batch_first_;
    p.reverse_only = reverse_only_;
    p.directions = directions_;
    p.seq = batch_first_ ? x.dim(1) : x.dim(0);
    p.batch = batch_first_ ? x.dim(0) : x.dim(1);
    p.input = x.dim(2);
    p.hidden = r.dim(2);
    if (hidden_size_ >= 0 && hidden_size_ != p.hidden)
      return ctx.error("attribute 'hidden_size' is " + std::to_string(hidden_size_) + " but R has shape " + shape_to_string(r.shape()));
    const int64_t rows = gates * p.hidden;
    const DType dtype = x.dtype();
    const auto batch_shape = [&](int64_t last) {
      return batch_first_ ? Shape{p.batch, p.directions, last} : Shape{p.directions, p.batch, last};
    };
    HONE_ASSIGN_OR_RETURN(p.x, optional_input<T>(ctx, 0, "X", dtype, x.shape()));
    HONE_ASSIGN_OR_RETURN(p.w, optional_input<T>(ctx, 1, "W", dtype, Shape{p.directions, rows, p.input}));
    HONE_ASSIGN_OR_RETURN(p.r, optional_input<T>(ctx, 2, "R", dtype, Shape{p.directions, rows, p.hidden}));
    HONE_ASSIGN_OR_RETURN(p.b, optional_input<T>(ctx, 3, "B", dtype, Shape{p.directions, 2 * rows}));
    HONE_ASSIGN_OR_RETURN(p.h0, optional_input<T>(ctx, 5, "initial_h", dtype, batch_shape(p.hidden)));
    if constexpr (kCell == Cell::kLstm) {
      HONE_ASSIGN_OR_RETURN(p.c0, optional_input<T>(ctx, 6, "initial_c", dtype, batch_shape(p.hidden)));
      HONE_ASSIGN_OR_RETURN(p.p, optional_input<T>(ctx, 7, "P", dtype, Shape{p.directions, 3 * p.hidden}));
    }
    p.lengths.assign(static_cast<size_t>(p.batch), p.seq);
    if (ctx.has_input(4)) {
      const Tensor& lens = *ctx.input(4);
      if (lens.shape() != Shape{p.batch})
        return ctx.error("input 'sequence_lens' must have shape " + std::to_string(p.batch) + ", got " + shape_to_string(lens.shape()));
      auto v = read_ints(lens);
      if (!v.ok()) return ctx.error("input 'sequence_lens': " + v.status().message());
      for (int64_t len : *v)
        if (len < 0 || len > p.seq)
          return ctx.error("sequence length " + std::to_string(len) + " is outside [0, " + std::to_string(p.seq) + "]");
      p.lengths = std::move(v).value();
    }

    if (ctx.wants_output(0)) {
      Shape y_shape = batch_first_ ? Shape{p.batch, p.seq, p.directions, p.hidden} : Shape{p.seq, p.directions, p.batch, p.hidden};
      HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dtype, y_shape));
      p.y = y->data<T>();
    }
    if (ctx.wants_output(1)) {
      HONE_ASSIGN_OR_RETURN(Tensor * y_h, ctx.allocate_output(1, dtype, batch_shape(p.hidden)));
      p.y_h = y_h->data<T>();
    }
    if (kCell == Cell::kLstm && ctx.wants_output(2)) {
      HONE_ASSIGN_OR_RETURN(Tensor * y_c, ctx.allocate_output(2, dtype, batch_shape(p.hidden)));
      p.y_c = y_c->data<T>();
    }

    const int64_t units = p.directions * p.batch;
    // In double: a product of hostile dims must not overflow.
    const double work = static_cast<double>(units) * static_cast<double>(p.seq) * static_cast<double>(rows) *
                        static_cast<double>(p.input + p.hidden);
#pragma omp parallel for if (work > (1 << 16) && units > 1)
    for (int64_t unit = 0; unit < units; ++unit) run_sequence(p, unit / p.batch, unit % p.batch);
    return Status::Ok();
  }

  template <class T>
  T clipped(T v) const {
    return clip_ > 0 ? std::clamp(v, static_cast<T>(-clip_), static_cast<T>(clip_)) : v;
  }

  // One batch entry `n` through the whole sequence in direction `d`.
  template <class T>
  void run_sequence(const RecurrentProblem<T>& p, int64_t d, int64_t n) const {
    const int64_t H = p.hidden, I = p.input, rows = kTraits.gates * H;
    const T* w = p.w + d * rows * I;
    const T* r = p.r + d * rows * H;
    const Activation* act = &activations_[static_cast<size_t>(d * kTraits.functions)];
    const bool reverse = p.reverse_only || d == 1;

    // Both biases folded together, except GRU's recurrent bias of the hidden gate, which
    // linear_before_reset places inside the reset product.
    std::vector<T> bias(static_cast<size_t>(rows), T(0)), recurrent_h_bias(static_cast<size_t>(H), T(0));
    if (p.b) {
      const T* wb = p.b + d * 2 * rows;
      const T* rb = wb + rows;
      for (int64_t j = 0; j < rows; ++j) bias[j] = wb[j] + rb[j];
      if (kCell == Cell::kGru)
        for (int64_t j = 0; j < H; ++j) recurrent_h_bias[j] = rb[2 * H + j], bias[2 * H + j] = wb[2 * H + j];
    }
    std::vector<T> h(static_cast<size_t>(H), T(0)), c(static_cast<size_t>(H), T(0)), g(static_cast<size_t>(rows));
    std::vector<T> scratch(static_cast<size_t>(H));
    if (p.h0) std::copy_n(p.h0 + p.state_offset(d, n), H, h.begin());
    if (p.c0) std::copy_n(p.c0 + p.state_offset(d, n), H, c.begin());
    const T* peephole = p.p ? p.p + d * 3 * H : nullptr;

    const int64_t length = p.lengths[static_cast<size_t>(n)];
    for (int64_t step = 0; step < length; ++step) {
      const int64_t t = reverse ? length - 1 - step : step;
      const T* xt = p.x + p.x_offset(t, n);
      for (int64_t j = 0; j < rows; ++j) g[j] = bias[j] + dot(w + j * I, xt, I);
      // GRU's hidden gate reads h through the reset gate: computed below.
      const int64_t recurrent_rows = kCell == Cell::kGru ? 2 * H : rows;
      for (int64_t j = 0; j < recurrent_rows; ++j) g[j] += dot(r + j * H, h.data(), H);

      if constexpr (kCell == Cell::kRnn) {
        for (int64_t j = 0; j < H; ++j) g[j] = clipped(g[j]);
        apply_activation(act[0], g.data(), H);
        std::copy_n(g.begin(), H, h.begin());
      } else if constexpr (kCell == Cell::kGru) {
        T* z = g.data();
        T* rs = g.data() + H;
        T* hh = g.data() + 2 * H;
        for (int64_t j = 0; j < 2 * H; ++j) g[j] = clipped(g[j]);
        apply_activation(act[0], z, 2 * H);  // update and reset gates
        const T* rh = r + 2 * H * H;
        if (linear_before_reset_) {
          for (int64_t j = 0; j < H; ++j) hh[j] += rs[j] * (dot(rh + j * H, h.data(), H) + recurrent_h_bias[j]);
        } else {
          for (int64_t j = 0; j < H; ++j) scratch[j] = rs[j] * h[j];
          for (int64_t j = 0; j < H; ++j) hh[j] += dot(rh + j * H, scratch.data(), H) + recurrent_h_bias[j];
        }
        for (int64_t j = 0; j < H; ++j) hh[j] = clipped(hh[j]);
        apply_activation(act[1], hh, H);
        for (int64_t j = 0; j < H; ++j) h[j] = (T(1) - z[j]) * hh[j] + z[j] * h[j];
      } else {
        // Gate blocks in W/R/B order: input, output, forget, cell; peepholes: input, output, forget.
        T* gi = g.data();
        T* go = g.data() + H;
        T* gf = g.data() + 2 * H;
        T* gc = g.data() + 3 * H;
        if (peephole)
          for (int64_t j = 0; j < H; ++j) gi[j] += peephole[j] * c[j], gf[j] += peephole[2 * H + j] * c[j];
        for (int64_t j = 0; j < H; ++j) gi[j] = clipped(gi[j]), gf[j] = clipped(gf[j]), gc[j] = clipped(gc[j]);
        apply_activation(act[0], gi, H);
        if (input_forget_) {
          for (int64_t j = 0; j < H; ++j) gf[j] = T(1) - gi[j];
        } else {
          apply_activation(act[0], gf, H);
        }
        apply_activation(act[1], gc, H);
        for (int64_t j = 0; j < H; ++j) c[j] = gf[j] * c[j] + gi[j] * gc[j];
        if (peephole)
          for (int64_t j = 0; j < H; ++j) go[j] += peephole[H + j] * c[j];
        for (int64_t j = 0; j < H; ++j) go[j] = clipped(go[j]);
        apply_activation(act[0], go, H);
        std::copy_n(c.begin(), H, scratch.begin());
        apply_activation(act[2], scratch.data(), H);
        for (int64_t j = 0; j < H; ++j) h[j] = go[j] * scratch[j];
      }
      if (p.y) std::copy_n(h.begin(), H, p.y + p.y_offset(t, d, n));
    }
    if (p.y_h) std::copy_n(h.begin(), H, p.y_h + p.state_offset(d, n));
    if (p.y_c) std::copy_n(c.begin(), H, p.y_c + p.state_offset(d, n));
  }

  int64_t directions_ = 1;
  bool reverse_only_ = false;
  int64_t hidden_size_ = -1;
  float clip_ = 0;  // 0: no clipping
  bool batch_first_ = false;
  bool input_forget_ = false;
  bool linear_before_reset_ = false;
  std::vector<Activation> activations_;
};

using RnnKernel = RecurrentKernel<Cell::kRnn>;
using GruKernel = RecurrentKernel<Cell::kGru>;
using LstmKernel = RecurrentKernel<Cell::kLstm>;

}  // namespace

// Earlier versions only lack attributes added later (linear_before_reset, layout), whose
// defaults give the earlier behaviour; version 1's output_sequence only made Y optional.
HONE_REGISTER_KERNEL("", RNN, 1, kMaxOpset, RnnKernel);
HONE_REGISTER_KERNEL("", GRU, 1, kMaxOpset, GruKernel);
HONE_REGISTER_KERNEL("", LSTM, 1, kMaxOpset, LstmKernel);

}  // namespace hone::rt
