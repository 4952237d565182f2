// The variant sweep behind `hone demo` and `hone report`: one float model, quantized every way hone
// knows (dynamic int8; static int8 with each calibration method; weight-only int4 rtn, gptq, awq),
// each variant written as an ONNX file, evaluated on the same data in hone's runtime (task metric,
// latency at batch 1, file size, output SQNR against fp32), and the best trade-off named.
//
//   eval::SweepOptions o;  o.model_path = "models/digits_cnn.onnx";  o.data_path = "...npz";
//   o.out_dir = "hone-demo";
//   HONE_ASSIGN_OR_RETURN(eval::ModelReport r, eval::run_sweep(o));   // report.h's struct
//
// A variant that cannot be made (a mode the build lacks, a model it does not apply to, a
// quantizer error) is kept in the report as not measured, with the reason — never faked, never
// fatal. Failing to load the float model or the data is an error (nothing can be measured).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "eval/report.h"
#include "hone/status.hpp"

namespace hone::eval {

struct SweepOptions {
  std::string name;        // short name for files and tables; "" = the model file's stem
  std::string model_path;
  std::string data_path;   // evaluation data (dataset.h)
  // Calibration data for static int8 and AWQ. "" = the first `calib_limit` samples (default
  // kDefaultCalibSamples) of the evaluation data, written to OUT/NAME.calib.npz when the data is
  // an .npz, so the printed commands reproduce the variants exactly.
  std::string calib_path;
  std::string metric;      // accuracy | top5 | perplexity; "" = labels present ? accuracy : perplexity
  std::string labels = "labels";
  std::string out_dir;     // variants are written here as NAME.VARIANT.onnx
  int threads = 0;         // sessions and quantizers; 0 = physical cores
  int64_t eval_limit = 0;  // evaluate the first N samples only; 0 = all
  int64_t calib_limit = 0; // 0 = all of calib_path (or kDefaultCalibSamples of the data)
  // Best trade-off: the fastest variant whose metric is within this of fp32's — accuracy in
  // percentage points, perplexity in percent. NaN = 1 point / 3 %.
  double max_drop = std::numeric_limits<double>::quiet_NaN();
  int64_t layer_samples = 16;  // samples for the per-layer comparison; 0 = skip it
  // Variant names to make (fp32 is always measured: the others are judged against it); empty = all.
  // An unknown name is an error.
  std::vector<std::string> only;
  std::string hone = "hone";   // the binary's name in the printed commands
  // Progress: "<variant>: <stage>", done of total.
  std::function<void(const std::string& what, int64_t done, int64_t total)> progress;
};

inline constexpr int64_t kDefaultCalibSamples = 64;

Result<ModelReport> run_sweep(const SweepOptions& options);

}  // namespace hone::eval
