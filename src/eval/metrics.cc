#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "eval/compare.h"

namespace hone::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool numeric(DType t) {
  const DTypeInfo& i = dtype_info(t);
  return i.is_float || i.is_integer || t == DType::kBool;
}

std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + "[" + (t.rank() ? shape_to_string(t.shape()) : "") + "]";
}

// Row count and length of the last axis; error for rank 0 or an empty last axis.
Result<std::pair<int64_t, int64_t>> rows_of(const Tensor& t, const std::string& what) {
  if (t.rank() == 0) return invalid_argument(what + " is a scalar; expected at least one axis (classes last)");
  int64_t cols = t.dim(t.rank() - 1);
  if (cols <= 0) return invalid_argument(what + " " + describe(t) + " has an empty last axis");
  return std::make_pair(t.numel() / cols, cols);
}

int64_t argmax_row(const Tensor& t, int64_t offset, int64_t cols) {
  int64_t best = -1;
  double best_v = 0;
  for (int64_t j = 0; j < cols; ++j) {
    double v = element_as_double(t, offset + j);
    if (std::isnan(v)) continue;
    if (best < 0 || v > best_v) best = j, best_v = v;
  }
  return best < 0 ? 0 : best;
}

// A label value as an index: must be a whole number (labels may arrive as float arrays).
// `range` names what [0, classes) is ("classes", "vocabulary") in the message.
Result<int64_t> label_at(const Tensor& labels, int64_t i, int64_t classes, const std::string& what, const char* range) {
  double v = element_as_double(labels, i);
  if (!(v >= 0 && v < static_cast<double>(classes)) || v != std::floor(v)) {
    char b[64];
    std::snprintf(b, sizeof b, "%.17g", v);
    return invalid_argument(what + " entry " + std::to_string(i) + " is " + b + ", not a whole number in the " + range + " [0, " +
                            std::to_string(classes) + ")");
  }
  return static_cast<int64_t>(v);
}

}  // namespace

Status ErrorAccumulator::add(const Tensor& ref, const Tensor& cand) {
  if (!numeric(ref.dtype()) || !numeric(cand.dtype()))
    return invalid_argument("cannot compare " + describe(ref) + " with " + describe(cand) + ": not numeric");
  if (ref.shape() != cand.shape())
    return invalid_argument("shapes differ: reference " + describe(ref) + ", candidate " + describe(cand));
  const int64_t n = ref.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double r = element_as_double(ref, i), c = element_as_double(cand, i);
    if (std::isnan(r) || std::isnan(c)) {
      nan_mismatches_ += std::isnan(r) != std::isnan(c);
      continue;
    }
    // Equal infinities are no error; an infinity against a finite value is an infinite one.
    const double err = r == c ? 0.0 : std::fabs(r - c);
    ++elements_;
    max_abs_error_ = std::max(max_abs_error_, err);
    sum_abs_error_ += err;
    if (std::isfinite(r)) max_abs_ref_ = std::max(max_abs_ref_, std::fabs(r));
    sum_ref2_ += r * r;
    sum_cand2_ += c * c;
    sum_dot_ += r * c;
    sum_err2_ += err * err;
    ref_min_ = std::min(ref_min_, r);
    ref_max_ = std::max(ref_max_, r);
    cand_min_ = std::min(cand_min_, c);
    cand_max_ = std::max(cand_max_, c);
  }
  // Top-1 agreement only means something for scores over classes: floats, at least 2 per row.
  if (ref.rank() > 0 && dtype_info(ref.dtype()).is_float && dtype_info(cand.dtype()).is_float && ref.dim(ref.rank() - 1) >= 2) {
    const int64_t cols = ref.dim(ref.rank() - 1), rows = n / cols;
    for (int64_t r = 0; r < rows; ++r) top1_agree_ += argmax_row(ref, r * cols, cols) == argmax_row(cand, r * cols, cols);
    top1_rows_ += rows;
  }
  ++samples_;
  return Status::Ok();
}

ErrorMetrics ErrorAccumulator::result() const {
  ErrorMetrics m;
  m.samples = samples_;
  m.elements = elements_;
  m.nan_mismatches = nan_mismatches_;
  m.max_abs_error = max_abs_error_;
  m.max_abs_ref = max_abs_ref_;
  m.mean_abs_error = elements_ ? sum_abs_error_ / static_cast<double>(elements_) : 0.0;
  if (sum_ref2_ == 0 && sum_cand2_ == 0) m.cosine = 1;
  else if (sum_ref2_ == 0 || sum_cand2_ == 0) m.cosine = 0;
  else m.cosine = std::clamp(sum_dot_ / std::sqrt(sum_ref2_ * sum_cand2_), -1.0, 1.0);
  if (sum_err2_ == 0) {
    m.sqnr_db = kInf;
    m.rel_rms_error = 0;
  } else if (sum_ref2_ == 0) {
    m.sqnr_db = -kInf;
    m.rel_rms_error = kInf;
  } else {
    m.sqnr_db = 10.0 * std::log10(sum_ref2_ / sum_err2_);
    m.rel_rms_error = std::sqrt(sum_err2_ / sum_ref2_);
  }
  if (elements_ > 0) {
    const double range = ref_max_ - ref_min_;
    const double off = std::max(std::fabs(cand_min_ - ref_min_), std::fabs(cand_max_ - ref_max_));
    if (range > 0) m.range_error = off / range;
    else m.range_error = off == 0 ? 0.0 : kInf;
    if (std::isnan(m.range_error)) m.range_error = kInf;  // infinite ranges
  }
  m.top1_rows = top1_rows_;
  m.top1_agree = top1_agree_;
  if (top1_rows_ > 0) m.top1_agreement = static_cast<double>(top1_agree_) / static_cast<double>(top1_rows_);
  return m;
}

Result<std::vector<int64_t>> argmax_last_axis(const Tensor& t) {
  if (!numeric(t.dtype())) return invalid_argument("argmax of " + describe(t) + ": not numeric");
  HONE_ASSIGN_OR_RETURN(auto rc, rows_of(t, "tensor"));
  std::vector<int64_t> out(static_cast<size_t>(rc.first));
  for (int64_t r = 0; r < rc.first; ++r) out[static_cast<size_t>(r)] = argmax_row(t, r * rc.second, rc.second);
  return out;
}

Status ClassificationAccumulator::add(const Tensor& logits, const Tensor& labels) {
  if (!numeric(logits.dtype())) return invalid_argument("logits " + describe(logits) + " are not numeric");
  if (!dtype_info(labels.dtype()).is_integer && !dtype_info(labels.dtype()).is_float)
    return invalid_argument("labels " + describe(labels) + " are not numbers");
  HONE_ASSIGN_OR_RETURN(auto rc, rows_of(logits, "logits"));
  const auto [rows, classes] = rc;
  if (labels.numel() != rows)
    return invalid_argument("logits " + describe(logits) + " have " + std::to_string(rows) + " rows but there are " +
                            std::to_string(labels.numel()) + " labels");
  for (int64_t r = 0; r < rows; ++r) {
    HONE_ASSIGN_OR_RETURN(int64_t y, label_at(labels, r, classes, "label", "classes"));
    const int64_t off = r * classes;
    const double ly = element_as_double(logits, off + y);
    // Classes ranked before the label: larger, or equal with a lower index (NaN ranks last, as
    // in argmax_last_axis, so a NaN label logit is never correct).
    int64_t above = std::isnan(ly) ? classes : 0;
    for (int64_t j = 0; j < classes && !std::isnan(ly); ++j) {
      const double v = element_as_double(logits, off + j);
      if (!std::isnan(v) && (v > ly || (v == ly && j < y))) ++above;
    }
    top1_ += above < 1;
    top5_ += above < 5;
    ++count_;
  }
  return Status::Ok();
}

Status PerplexityAccumulator::add(const Tensor& logits, const Tensor& tokens) {
  if (!dtype_info(logits.dtype()).is_float) return invalid_argument("logits " + describe(logits) + " are not floating point");
  if (!dtype_info(tokens.dtype()).is_integer) return invalid_argument("tokens " + describe(tokens) + " are not integers");
  if (logits.rank() != 3 || tokens.rank() != 2 || logits.dim(0) != tokens.dim(0) || logits.dim(1) != tokens.dim(1))
    return invalid_argument("expected logits [N, T, V] for tokens [N, T], got logits " + describe(logits) + " for tokens " +
                            describe(tokens));
  const int64_t n = tokens.dim(0), t_len = tokens.dim(1), vocab = logits.dim(2);
  if (vocab <= 0) return invalid_argument("logits " + describe(logits) + " have an empty vocabulary axis");
  // Validate every target before adding anything, so a bad row leaves the sums as they were.
  for (int64_t s = 0; s < n; ++s)
    for (int64_t t = 1; t < t_len; ++t) HONE_RETURN_IF_ERROR(label_at(tokens, s * t_len + t, vocab, "token", "vocabulary").status());
  double sum = 0;
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t t = 0; t + 1 < t_len; ++t) {
      const int64_t off = (s * t_len + t) * vocab;
      const auto y = static_cast<int64_t>(element_as_double(tokens, s * t_len + t + 1));
      double mx = -kInf;
      for (int64_t v = 0; v < vocab; ++v) mx = std::max(mx, element_as_double(logits, off + v));
      double z = 0;
      for (int64_t v = 0; v < vocab; ++v) z += std::exp(element_as_double(logits, off + v) - mx);
      // -log softmax(y) = log sum exp(l - m) + m - l_y; NaN logits make the NLL NaN, visibly.
      sum += std::log(z) + mx - element_as_double(logits, off + y);
    }
  }
  sum_nll_ += sum;
  predictions_ += n * std::max<int64_t>(t_len - 1, 0);
  return Status::Ok();
}

double PerplexityAccumulator::perplexity() const { return predictions_ ? std::exp(mean_nll()) : 0.0; }

std::string format_metric(double v, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[48];
  std::snprintf(b, sizeof b, "%.*g", precision, v);
  return b;
}

}  // namespace hone::eval
