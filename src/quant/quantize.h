// Quantization of an ir::Model: dynamic int8, static int8 with calibration (QDQ), weight-only
// int4/int8 blockwise (com.microsoft.MatMulNBits). Every mode writes standard ONNX (plus that
// widely used contrib op) that ONNX Runtime loads, and fills a Rules record (rules.h) that
// re-applies the same decisions byte for byte.
//
//   quant::QuantizeOptions o;  o.mode = quant::Mode::kDynamic;
//   quant::Rules rules;
//   HONE_ASSIGN_OR_RETURN(ir::Model q, quant::quantize(model, o, /*rules_in=*/nullptr, &rules));
//
// Conventions (docs/formats.md): int8 weights symmetric (zero point 0, range [-127, 127]);
// weight-only blocks asymmetric with zero points unless `weight_symmetric`;
// activations asymmetric uint8 unless `symmetric_activations`; per tensor unless `per_channel`;
// the quantized nodes keep the float model's value names for their outputs, so a float and a
// quantized model can be compared value by value (`hone compare --per-layer`).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/dataset.h"
#include "hone/status.hpp"
#include "ir/graph.h"
#include "quant/rules.h"

namespace hone::quant {

enum class Mode { kDynamic, kStatic, kWeightOnly };
enum class CalibMethod { kMinMax, kPercentile, kEntropy, kMse };

const char* mode_name(Mode m);             // "dynamic" | "static" | "weight-only"
const char* method_name(CalibMethod m);    // "minmax" | ...
Result<Mode> parse_mode(const std::string& s);
Result<CalibMethod> parse_method(const std::string& s);

// Progress of long work (calibration, GPTQ): done of total steps; `what` names the stage.
using ProgressFn = std::function<void(const std::string& what, int64_t done, int64_t total)>;

// What a quantize call did, for the CLI's summary (optional: QuantizeOptions::report).
struct QuantizeReport {
  std::map<std::string, int64_t> quantized;  // op type of the float node -> nodes quantized
  struct Skipped {
    std::string node;    // node name (or "<op_type>#<index>" when it has none)
    std::string reason;  // one line: why it stayed in float
  };
  std::vector<Skipped> skipped;  // candidate nodes (of a quantizable op type) left in float
};

struct QuantizeOptions {
  Mode mode = Mode::kDynamic;
  bool per_channel = false;          // weights per output channel
  std::vector<std::string> ops;      // op types to quantize; empty: the mode's default set
  std::vector<std::string> exclude;  // node names or op types kept in float

  // static (and weight-only gptq/awq): calibration data
  const eval::Dataset* calib = nullptr;
  int64_t calib_limit = 0;           // 0: every sample
  CalibMethod method = CalibMethod::kMinMax;
  double percentile = 99.999;        // kPercentile
  bool symmetric_activations = false;

  // weight-only
  int bits = 4;
  int block = 32;
  std::string algo = "rtn";          // rtn | gptq | awq
  bool weight_symmetric = false;     // MatMul/Gemm blocks: false (the default, as ONNX Runtime's
                                     // MatMulNBits quantizer): per-block min/max, packed zero points;
                                     // true (--symmetric): absmax int codes, no zero points

  int threads = 0;                   // 0: physical cores
  ProgressFn progress;               // may be empty
  QuantizeReport* report = nullptr;  // filled when not null
};

// Dispatches on options.mode. With rules_in, the decisions it records are used instead of
// computing them (no calibration); rules_out (may be null) receives what was decided.
Result<ir::Model> quantize(const ir::Model& model, const QuantizeOptions& options, const Rules* rules_in,
                           Rules* rules_out);

// One file per mode (quantize_dynamic.cc, quantize_static.cc, quantize_weight_only.cc).
Result<ir::Model> quantize_dynamic(const ir::Model& model, const QuantizeOptions& options, const Rules* rules_in,
                                   Rules* rules_out);
Result<ir::Model> quantize_static(const ir::Model& model, const QuantizeOptions& options, const Rules* rules_in,
                                  Rules* rules_out);
Result<ir::Model> quantize_weight_only(const ir::Model& model, const QuantizeOptions& options,
                                       const Rules* rules_in, Rules* rules_out);

}  // namespace hone::quant
