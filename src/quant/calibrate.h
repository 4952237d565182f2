// Calibration for static quantization (docs/calibration.md): run the float model over calibration
// samples, keep a bounded-memory histogram per activation, then pick each activation's range with
// one of four methods (minmax, percentile, entropy, mse).
//
//   calibrate → RangeStats per tensor (also what the rules file records) → compute_range → scale/zp
//
// Memory: one StreamingHistogram per tensor (bins x 8 bytes, 2048 bins by default = 16 KiB) plus
// the activations of the one sample being run. Nothing else grows with the number of samples.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eval/dataset.h"
#include "hone/status.hpp"
#include "ir/graph.h"
#include "quant/quantize.h"
#include "quant/rules.h"

namespace hone::quant {

inline constexpr int kDefaultHistogramBins = 2048;

// A histogram of a stream of floats over a range [-R, R] symmetric around 0, with R a power of two
// (so bin edges are exact binary fractions and 0 is always a bin edge). When a value beyond R
// arrives, R doubles (as often as needed) and adjacent bin pairs fold into one: the folded
// histogram equals the one built directly with the final range, so the result does not depend on
// the order samples arrive in, only on the set of values. (TensorRT's and ONNX Runtime's
// collectors also grow the range; folding by powers of two makes that growth exact.)
// Memory: `bins` counters, fixed.
class StreamingHistogram {
 public:
  explicit StreamingHistogram(int bins = kDefaultHistogramBins);  // bins: a multiple of 4, >= 16

  // Adds n values; a NaN or infinity is an error (it would make every range meaningless).
  Status add(const float* x, int64_t n);

  int bins() const { return static_cast<int>(hist_.size()); }
  // Everything seen so far: min, max, count, histogram range [-R, R] and bins. Before any
  // non-zero value arrived R is 0 and all zeros sit in the bin just above 0.
  RangeStats stats() const;

 private:
  void grow_to(double amax);

  std::vector<uint64_t> hist_;
  double range_ = 0;            // R; 0 until the first non-zero value
  uint64_t pending_zeros_ = 0;  // zeros seen while range_ == 0
  double min_ = 0, max_ = 0;
  int64_t count_ = 0;
};

// The clipping range an activation gets: lo <= 0 <= hi is not required here (quant_math widens
// to include 0 when it computes scale and zero point).
struct ClipRange {
  float lo = 0, hi = 0;
};

// Chooses an activation's range from what calibration saw.
//  - minmax:     [min, max] observed (symmetric: +-max|x|);
//  - percentile: the `percentile` and (100 - percentile) quantiles of the histogram, linear
//                inside a bin (symmetric: the percentile of |x|), never beyond [min, max];
//  - entropy:    TensorRT's KL-divergence search over the histogram of |x| (128 quantized bins; 256
//                when the data is one-sided and the activations asymmetric), threshold T gives
//                [max(min, -T), min(max, T)];
//  - mse:        the range alpha * [min, max] (symmetric: alpha * max|x|), alpha searched on a grid
//                then refined, minimizing the squared error of quantize -> dequantize over the bin
//                centres weighted by their counts.
// Errors: a histogram whose length is not even, a percentile outside (0, 100].
Result<ClipRange> compute_range(const RangeStats& s, CalibMethod method, double percentile, bool symmetric);

struct CalibrateOptions {
  int64_t limit = 0;  // 0: every sample of the dataset
  int threads = 0;    // session threads (0: physical cores)
  int bins = kDefaultHistogramBins;
  ProgressFn progress;  // "calibrate", samples done, samples total
};

struct CalibrationResult {
  std::map<std::string, RangeStats> stats;     // float32 tensors that were observed
  std::map<std::string, std::string> skipped;  // tensor -> why it has no stats (not float32, ...)
  int64_t samples = 0;
};

// Runs `model` (float) on the dataset with `tensors` added as graph outputs and collects one
// streaming histogram per tensor. Tensors that are graph inputs are read from the samples
// directly. A tensor that never appears, or is not float32, is listed in `skipped`.
Result<CalibrationResult> calibrate(const ir::Model& model, const std::vector<std::string>& tensors,
                                    const eval::Dataset& data, const CalibrateOptions& options);

}  // namespace hone::quant
