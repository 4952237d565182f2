// The rules file (docs/formats.md "Quantization rules"): JSON written and read with nlohmann-json.
// Floats are stored as the double of the float, which nlohmann prints with the shortest digits
// that read back to the same double; the float cast of that double is the original bit pattern.
#include "quant/rules.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "core/file_util.h"

namespace hone::quant {

namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "hone-quant-rules";
constexpr uint64_t kMaxRulesBytes = uint64_t{1} << 31;  // 2 GiB: rules of any real model fit

// Parses one entry, naming the file and the entry in every error.
class EntryReader {
 public:
  EntryReader(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  Status error(const std::string& why) const { return invalid_argument(where_ + ": " + why); }

  Result<std::string> str(const char* key, bool required = true) const {
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) return error(std::string("missing \"") + key + "\"");
      return std::string();
    }
    if (!it->is_string()) return error(std::string("\"") + key + "\" must be a string");
    return it->get<std::string>();
  }
  Result<int64_t> integer(const char* key, int64_t fallback, bool required) const {
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) return error(std::string("missing \"") + key + "\"");
      return fallback;
    }
    if (!it->is_number_integer()) return error(std::string("\"") + key + "\" must be an integer");
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return error(std::string("\"") + key + "\" is out of range");
    return it->get<int64_t>();
  }
  Result<double> number(const json& v, const std::string& what) const {
    if (!v.is_number()) return error(what + " must be a number");
    return v.get<double>();
  }
  Result<std::vector<float>> floats(const json& arr, const std::string& what) const {
    if (!arr.is_array()) return error(what + " must be an array of numbers");
    std::vector<float> out;
    out.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      HONE_ASSIGN_OR_RETURN(double d, number(arr[i], what + "[" + std::to_string(i) + "]"));
      const float f = static_cast<float>(d);
      if (!std::isfinite(f)) return error(what + "[" + std::to_string(i) + "] is not a finite float");
      out.push_back(f);
    }
    return out;
  }

 private:
  const json& j_;
  std::string where_;
};

bool known(const std::string& v, std::initializer_list<const char*> set) {
  for (const char* s : set)
    if (v == s) return true;
  return false;
}

Result<TensorRule> parse_tensor(const json& j, const std::string& where) {
  if (!j.is_object()) return invalid_argument(where + ": must be an object");
  TensorRule r;
  {
    EntryReader e(j, where);
    HONE_ASSIGN_OR_RETURN(r.tensor, e.str("tensor"));
    if (r.tensor.empty()) return e.error("\"tensor\" is empty");
  }
  EntryReader e(j, where + " (" + r.tensor + ")");
  HONE_ASSIGN_OR_RETURN(r.role, e.str("role"));
  if (!known(r.role, {"weight", "activation"})) return e.error("role '" + r.role + "' is not weight or activation");
  HONE_ASSIGN_OR_RETURN(r.dtype, e.str("dtype"));
  if (!known(r.dtype, {"int8", "uint8", "int4", "uint4"})) return e.error("dtype '" + r.dtype + "' is not int8, uint8, int4 or uint4");
  const bool eight = r.dtype == "int8" || r.dtype == "uint8";
  HONE_ASSIGN_OR_RETURN(int64_t bits, e.integer("bits", eight ? 8 : 4, false));
  if (bits != (eight ? 8 : 4)) return e.error("bits " + std::to_string(bits) + " disagrees with dtype " + r.dtype);
  r.bits = static_cast<int>(bits);
  HONE_ASSIGN_OR_RETURN(r.scheme, e.str("scheme"));
  if (!known(r.scheme, {"symmetric", "asymmetric"})) return e.error("scheme '" + r.scheme + "' is not symmetric or asymmetric");
  HONE_ASSIGN_OR_RETURN(r.axis, e.integer("axis", -1, false));
  if (r.axis < -1 || r.axis > 64) return e.error("axis " + std::to_string(r.axis) + " out of range");
  HONE_ASSIGN_OR_RETURN(r.block, e.integer("block", 0, false));
  if (r.block < 0 || r.block > (int64_t{1} << 20)) return e.error("block " + std::to_string(r.block) + " out of range");
  HONE_ASSIGN_OR_RETURN(r.method, e.str("method", false));

  auto scales = j.find("scales");
  if (scales == j.end()) return e.error("missing \"scales\"");
  HONE_ASSIGN_OR_RETURN(r.scales, e.floats(*scales, "scales"));
  if (r.scales.empty()) return e.error("\"scales\" is empty");
  for (size_t i = 0; i < r.scales.size(); ++i)
    if (!(r.scales[i] > 0)) return e.error("scales[" + std::to_string(i) + "] is not positive");
  auto zps = j.find("zero_points");
  if (zps == j.end()) return e.error("missing \"zero_points\"");
  if (!zps->is_array()) return e.error("\"zero_points\" must be an array of integers");
  if (zps->size() != r.scales.size())
    return e.error(std::to_string(zps->size()) + " zero points for " + std::to_string(r.scales.size()) + " scales");
  const int64_t lo = r.dtype == "int8" ? -128 : r.dtype == "int4" ? -8 : 0;
  const int64_t hi = r.dtype == "int8" ? 127 : r.dtype == "uint8" ? 255 : r.dtype == "int4" ? 7 : 15;
  for (size_t i = 0; i < zps->size(); ++i) {
    const json& z = (*zps)[i];
    if (!z.is_number_integer()) return e.error("zero_points[" + std::to_string(i) + "] must be an integer");
    const int64_t v = z.is_number_unsigned() && z.get<uint64_t>() > 1000 ? 1000 : z.get<int64_t>();
    if (v < lo || v > hi)
      return e.error("zero_points[" + std::to_string(i) + "] = " + std::to_string(v) + " is outside " + r.dtype + "'s range");
    r.zero_points.push_back(static_cast<int32_t>(v));
  }

  if (auto st = j.find("stats"); st != j.end()) {
    if (!st->is_object()) return e.error("\"stats\" must be an object");
    EntryReader se(*st, where + " (" + r.tensor + ") stats");
    for (auto [key, dst] : {std::pair{"min", &r.stats.min}, std::pair{"max", &r.stats.max},
                            std::pair{"hist_min", &r.stats.hist_min}, std::pair{"hist_max", &r.stats.hist_max}}) {
      if (auto it = st->find(key); it != st->end()) {
        HONE_ASSIGN_OR_RETURN(*dst, se.number(*it, key));
        if (!std::isfinite(*dst)) return se.error(std::string(key) + " is not finite");
      }
    }
    HONE_ASSIGN_OR_RETURN(r.stats.count, se.integer("count", 0, false));
    if (r.stats.count < 0) return se.error("count is negative");
    if (auto it = st->find("histogram"); it != st->end()) {
      if (!it->is_array()) return se.error("histogram must be an array");
      for (size_t i = 0; i < it->size(); ++i) {
        const json& b = (*it)[i];
        if (!b.is_number_integer() || (!b.is_number_unsigned() && b.get<int64_t>() < 0))
          return se.error("histogram[" + std::to_string(i) + "] must be a non-negative integer");
        r.stats.histogram.push_back(b.get<uint64_t>());
      }
    }
  }
  if (auto ex = j.find("extra"); ex != j.end()) {
    if (!ex->is_object()) return e.error("\"extra\" must be an object of number arrays");
    for (auto it = ex->begin(); it != ex->end(); ++it) {
      HONE_ASSIGN_OR_RETURN(auto values, e.floats(it.value(), "extra." + it.key()));
      r.extra[it.key()] = std::move(values);
    }
  }
  return r;
}

json floats_json(const std::vector<float>& v) {
  json a = json::array();
  for (float f : v) a.push_back(static_cast<double>(f));
  return a;
}

}  // namespace

const TensorRule* Rules::find(const std::string& tensor) const {
  for (const auto& t : tensors)
    if (t.tensor == tensor) return &t;
  return nullptr;
}

Result<Rules> parse_rules(const std::string& json_text, const std::string& what) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    // nlohmann's message names the byte offset; keep only it.
    return invalid_argument(what + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) return invalid_argument(what + ": the rules file must hold one JSON object");
  EntryReader top(j, what);
  if (auto f = j.find("format"); f != j.end() && (!f->is_string() || f->get<std::string>() != kFormat))
    return top.error(std::string("\"format\" is not \"") + kFormat + "\"");
  HONE_ASSIGN_OR_RETURN(int64_t version, top.integer("version", 0, true));
  if (version != kRulesVersion)
    return top.error("version " + std::to_string(version) + " is not supported (this hone reads version " +
                     std::to_string(kRulesVersion) + ")");
  Rules rules;
  rules.version = static_cast<int>(version);
  HONE_ASSIGN_OR_RETURN(rules.mode, top.str("mode"));
  if (!known(rules.mode, {"dynamic", "static", "weight-only"})) return top.error("mode '" + rules.mode + "' is not dynamic, static or weight-only");
  HONE_ASSIGN_OR_RETURN(rules.model_sha256, top.str("model_sha256", false));
  if (auto o = j.find("options"); o != j.end()) {
    if (!o->is_object()) return top.error("\"options\" must be an object of strings");
    for (auto it = o->begin(); it != o->end(); ++it) {
      if (!it.value().is_string()) return top.error("options." + it.key() + " must be a string");
      rules.options[it.key()] = it.value().get<std::string>();
    }
  }
  auto t = j.find("tensors");
  if (t == j.end() || !t->is_array()) return top.error("missing \"tensors\" array");
  for (size_t i = 0; i < t->size(); ++i) {
    HONE_ASSIGN_OR_RETURN(TensorRule r, parse_tensor((*t)[i], what + ": tensors[" + std::to_string(i) + "]"));
    if (rules.find(r.tensor)) return top.error("tensors[" + std::to_string(i) + "]: '" + r.tensor + "' appears twice");
    rules.tensors.push_back(std::move(r));
  }
  return rules;
}

Result<Rules> read_rules(const std::string& path) {
  HONE_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxRulesBytes));
  return parse_rules(text, path);
}

std::string rules_to_json(const Rules& rules) {
  json j;
  j["format"] = kFormat;
  j["version"] = rules.version;
  j["mode"] = rules.mode;
  j["model_sha256"] = rules.model_sha256;
  j["options"] = json::object();
  for (const auto& [k, v] : rules.options) j["options"][k] = v;
  j["tensors"] = json::array();
  for (const auto& r : rules.tensors) {
    json t;
    t["tensor"] = r.tensor;
    t["role"] = r.role;
    t["dtype"] = r.dtype;
    t["bits"] = r.bits;
    t["scheme"] = r.scheme;
    t["axis"] = r.axis;
    t["block"] = r.block;
    t["method"] = r.method;
    t["scales"] = floats_json(r.scales);
    t["zero_points"] = r.zero_points;
    const RangeStats& s = r.stats;
    if (s.count > 0 || !s.histogram.empty() || s.min != 0 || s.max != 0) {
      t["stats"] = {{"min", s.min}, {"max", s.max}, {"count", s.count}, {"hist_min", s.hist_min}, {"hist_max", s.hist_max}};
      if (!s.histogram.empty()) t["stats"]["histogram"] = s.histogram;
    }
    if (!r.extra.empty()) {
      t["extra"] = json::object();
      for (const auto& [k, v] : r.extra) t["extra"][k] = floats_json(v);
    }
    j["tensors"].push_back(std::move(t));
  }
  return j.dump(1) + "\n";
}

Status write_rules(const std::string& path, const Rules& rules) {
  return write_file_atomic(path, rules_to_json(rules));
}

}  // namespace hone::quant
