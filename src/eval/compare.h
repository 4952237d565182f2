// Comparing tensors: the tolerance rule every hone check uses (docs/cli.md), and summaries.
#pragma once

#include <string>

#include "hone/tensor.hpp"

namespace hone::eval {

struct Comparison {
  bool comparable = true;  // same dtype class and shape
  std::string why;         // when not comparable
  double max_abs_error = 0;
  double max_abs_ref = 0;  // max |b|
  bool nan_mismatch = false;
  // CLI.md's rule: max|a - b| <= rtol * max|b| + atol.
  bool within(double rtol = 1e-4, double atol = 1e-6) const {
    return comparable && !nan_mismatch && max_abs_error <= rtol * max_abs_ref + atol;
  }
};

// Compares a (candidate) with b (reference) element by element as doubles.
Comparison compare_tensors(const Tensor& a, const Tensor& b);

struct TensorSummary {
  double min = 0, max = 0, mean = 0;
  int64_t nan_count = 0;
};
// Numeric summary; all zeros for strings and empty tensors.
TensorSummary summarize(const Tensor& t);

// Element i as double (any numeric dtype, float16/bfloat16 converted, bool as 0/1).
double element_as_double(const Tensor& t, int64_t i);

}  // namespace hone::eval
