// The rules file (docs/formats.md): what `hone quantize` decided for every tensor, so that the same
// quantization can be re-applied elsewhere without calibrating (`--rules-out` / `--rules`).
//
// Re-applying a rules file to the same float model gives a byte-identical output model: every number
// that decides an output byte (scales, zero points, AWQ channel factors ...) is stored exactly
// (floats are written with enough digits to round-trip bit for bit).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hone/status.hpp"

namespace hone::quant {

inline constexpr int kRulesVersion = 1;

// Statistics behind an activation's range (static mode): what the calibrator saw.
struct RangeStats {
  double min = 0, max = 0;          // observed over all calibration samples
  int64_t count = 0;                // elements seen
  double hist_min = 0, hist_max = 0;  // histogram range (symmetric around 0 or [min, max])
  std::vector<uint64_t> histogram;  // bin counts (may be empty when the method needs none)
};

struct TensorRule {
  std::string tensor;    // value or initializer name in the float model
  std::string role;      // "weight" | "activation"
  std::string dtype;     // "int8" | "uint8" | "int4" | "uint4"
  int bits = 8;
  std::string scheme;    // "symmetric" | "asymmetric"
  int64_t axis = -1;     // -1: per tensor; otherwise the channel axis of the scales
  int64_t block = 0;     // > 0: blockwise along the reduction axis (weight-only)
  std::vector<float> scales;
  std::vector<int32_t> zero_points;  // same length as scales
  std::string method;    // minmax | percentile | entropy | mse | rtn | gptq | awq | absmax
  RangeStats stats;      // activations (static mode)
  // Method-specific exact numbers needed to reproduce the output (e.g. AWQ's per-input-channel
  // factors under "channel_scale"); empty for most rules.
  std::map<std::string, std::vector<float>> extra;
};

struct Rules {
  int version = kRulesVersion;
  std::string mode;                            // "dynamic" | "static" | "weight-only"
  std::map<std::string, std::string> options;  // the quantize options that shaped the output
  std::string model_sha256;                    // of the float model file the rules were made from ("" if unknown)
  std::vector<TensorRule> tensors;

  const TensorRule* find(const std::string& tensor) const;
};

// Reads and validates a rules file: unknown version, missing fields, lengths that disagree,
// non-finite or non-positive scales are errors naming the file and the entry (exit 2 in the CLI).
Result<Rules> parse_rules(const std::string& json_text, const std::string& what);
Result<Rules> read_rules(const std::string& path);
std::string rules_to_json(const Rules& rules);
// Written atomically (temp file + rename).
Status write_rules(const std::string& path, const Rules& rules);

}  // namespace hone::quant
