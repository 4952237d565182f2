// Metrics: how far a candidate model's outputs are from a reference's (`hone compare`), and how
// well a model does its task (`hone eval`, `hone demo`).
//
// Every metric is an accumulator: add() one sample at a time (so a data set never has to be held
// in memory), result() at any point. Nothing here throws or aborts; a shape or dtype that does
// not fit is a Status.
//
//   eval::ErrorAccumulator acc;
//   for (...) HONE_RETURN_IF_ERROR(acc.add(ref_output, cand_output));
//   eval::ErrorMetrics m = acc.result();   // m.max_abs_error, m.cosine, m.sqnr_db, m.top1_agreement
//
//   eval::ClassificationAccumulator cls;   // accuracy / top-5 from logits + integer labels
//   HONE_RETURN_IF_ERROR(cls.add(logits /*[B, C]*/, labels /*[B]*/));   cls.top1(), cls.top5()
//
//   eval::PerplexityAccumulator ppl;       // language models: logits [N, T, V], tokens [N, T]
//   HONE_RETURN_IF_ERROR(ppl.add(logits, tokens));                        ppl.perplexity()
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "hone/tensor.hpp"

namespace hone::eval {

// Error of a candidate tensor against a reference tensor, over every sample added so far.
// All sums are over every element of every sample, as if the samples were one long vector:
// a sample with large values weighs more, which is what a user of the outputs sees.
struct ErrorMetrics {
  int64_t samples = 0;
  int64_t elements = 0;           // elements compared (NaN positions excluded)
  double max_abs_error = 0;       // max |ref - cand|
  double mean_abs_error = 0;      // mean |ref - cand|
  double max_abs_ref = 0;         // max |ref|, to judge max_abs_error against
  // sum(ref * cand) / sqrt(sum ref^2 * sum cand^2); 1 when both are all zeros, 0 when only one is.
  double cosine = 1;
  // Signal to quantization noise, dB: 10 log10(sum ref^2 / sum (ref - cand)^2).
  // +infinity when the two are identical; -infinity when ref is all zeros and cand is not.
  double sqnr_db = std::numeric_limits<double>::infinity();
  // sqrt(sum (ref - cand)^2 / sum ref^2): the relative RMS error (10^(-sqnr_db / 20)); 0 when
  // identical, +infinity when ref is all zeros and cand is not. Comparable across layers of
  // different scale, which is why layer ranking (layer_compare.h) uses it.
  double rel_rms_error = 0;
  // Relative range error: max(|min_c - min_r|, |max_c - max_r|) / (max_r - min_r), the ranges
  // taken over all samples. Shows clipping by a too narrow quantization range. 0 when the
  // reference range is empty and the candidate's equals it, +infinity when only that range is empty.
  double range_error = 0;
  // Top-1 agreement over the last axis (each row of a classifier-like output: does argmax match?).
  // Only for floating outputs whose last axis has at least 2 entries; otherwise top1_rows == 0 and
  // top1_agreement is NaN.
  int64_t top1_rows = 0;
  int64_t top1_agree = 0;
  double top1_agreement = std::numeric_limits<double>::quiet_NaN();
  int64_t nan_mismatches = 0;     // positions where exactly one of ref / cand is NaN
};

// Accumulates ErrorMetrics over samples. add() needs equal shapes and numeric dtypes (the dtypes
// may differ: float16 against float32 is fine; both are read as double).
class ErrorAccumulator {
 public:
  Status add(const Tensor& ref, const Tensor& cand);
  ErrorMetrics result() const;
  int64_t samples() const { return samples_; }

 private:
  int64_t samples_ = 0, elements_ = 0, nan_mismatches_ = 0;
  double max_abs_error_ = 0, sum_abs_error_ = 0, max_abs_ref_ = 0;
  double sum_ref2_ = 0, sum_cand2_ = 0, sum_dot_ = 0, sum_err2_ = 0;
  double ref_min_ = std::numeric_limits<double>::infinity(), ref_max_ = -std::numeric_limits<double>::infinity();
  double cand_min_ = std::numeric_limits<double>::infinity(), cand_max_ = -std::numeric_limits<double>::infinity();
  int64_t top1_rows_ = 0, top1_agree_ = 0;
};

// Index of the largest element of each row of the last axis (first one on ties, as numpy.argmax;
// NaN never wins). Returns the row count through *rows; error for rank 0 or an empty last axis.
Result<std::vector<int64_t>> argmax_last_axis(const Tensor& t);

// Accuracy and top-5 accuracy of a classifier: logits [B, C] (or [B, ..., C] with B * ... rows)
// against integer labels with one entry per row. A label counts in the top k when fewer than k
// classes rank above it, ranking ties by index (lower first) as numpy.argmax does, so top-1 equals
// (argmax == label) exactly. Labels outside [0, C) are an error (a bad data set, not a miss).
class ClassificationAccumulator {
 public:
  Status add(const Tensor& logits, const Tensor& labels);
  int64_t count() const { return count_; }
  int64_t top1_correct() const { return top1_; }
  int64_t top5_correct() const { return top5_; }
  double top1() const { return count_ ? static_cast<double>(top1_) / static_cast<double>(count_) : 0.0; }
  double top5() const { return count_ ? static_cast<double>(top5_) / static_cast<double>(count_) : 0.0; }

 private:
  int64_t count_ = 0, top1_ = 0, top5_ = 0;
};

// Perplexity of a causal language model: logits [N, T, V] (float) for tokens [N, T] (any integer
// dtype). Position t's logits predict token t + 1, so each sequence gives T - 1 predictions
// (positions 0 .. T-2). NLL uses a numerically stable log-softmax (max subtracted first).
// perplexity() = exp(mean NLL over every prediction added); a uniform predictor gives V.
class PerplexityAccumulator {
 public:
  Status add(const Tensor& logits, const Tensor& tokens);
  int64_t predictions() const { return predictions_; }
  double mean_nll() const { return predictions_ ? sum_nll_ / static_cast<double>(predictions_) : 0.0; }
  double perplexity() const;

 private:
  int64_t predictions_ = 0;
  double sum_nll_ = 0;
};

// "0.123", "inf", "nan": metric values for text tables.
std::string format_metric(double v, int precision = 4);

}  // namespace hone::eval
