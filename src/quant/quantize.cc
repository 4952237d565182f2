// quant::quantize: names of modes and methods, and the dispatch to one file per mode.
#include "quant/quantize.h"

namespace hone::quant {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kDynamic: return "dynamic";
    case Mode::kStatic: return "static";
    case Mode::kWeightOnly: return "weight-only";
  }
  return "?";
}

const char* method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::kMinMax: return "minmax";
    case CalibMethod::kPercentile: return "percentile";
    case CalibMethod::kEntropy: return "entropy";
    case CalibMethod::kMse: return "mse";
  }
  return "?";
}

Result<Mode> parse_mode(const std::string& s) {
  if (s == "dynamic") return Mode::kDynamic;
  if (s == "static") return Mode::kStatic;
  if (s == "weight-only" || s == "weight_only") return Mode::kWeightOnly;
  return invalid_argument("unknown mode '" + s + "' (dynamic, static, weight-only)");
}

Result<CalibMethod> parse_method(const std::string& s) {
  if (s == "minmax") return CalibMethod::kMinMax;
  if (s == "percentile") return CalibMethod::kPercentile;
  if (s == "entropy") return CalibMethod::kEntropy;
  if (s == "mse") return CalibMethod::kMse;
  return invalid_argument("unknown calibration method '" + s + "' (minmax, percentile, entropy, mse)");
}

Result<ir::Model> quantize(const ir::Model& model, const QuantizeOptions& options, const Rules* rules_in,
                           Rules* rules_out) {
  if (rules_in && rules_in->mode != mode_name(options.mode))
    return invalid_argument(std::string("the rules were made for mode ") + rules_in->mode + ", not " +
                            mode_name(options.mode));
  switch (options.mode) {
    case Mode::kDynamic: return quantize_dynamic(model, options, rules_in, rules_out);
    case Mode::kStatic: return quantize_static(model, options, rules_in, rules_out);
    case Mode::kWeightOnly: return quantize_weight_only(model, options, rules_in, rules_out);
  }
  return invalid_argument("unknown quantization mode");
}

}  // namespace hone::quant
