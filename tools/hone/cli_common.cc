#include "cli_common.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "core/file_util.h"

namespace hone::cli {

namespace {
std::vector<std::pair<int, CommandFactory>>& command_table() {
  static std::vector<std::pair<int, CommandFactory>> table;  // filled by static initializers
  return table;
}
}  // namespace

CommandRegistration::CommandRegistration(int order, CommandFactory factory) {
  command_table().emplace_back(order, factory);
}

std::vector<CommandFactory> registered_commands() {
  auto table = command_table();
  std::stable_sort(table.begin(), table.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<CommandFactory> out;
  for (const auto& [order, f] : table) out.push_back(f);
  return out;
}

bool same_file_as_model(const std::string& path, const std::string& model) { return same_file(path, model); }

int exit_code(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kOk: return 0;
    case ErrorCode::kCheckFailed: return 1;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidModel:
    case ErrorCode::kIoError:
    case ErrorCode::kUnsupported: return 2;
    case ErrorCode::kRuntimeError:
    case ErrorCode::kOutOfMemory: return 3;
  }
  return 3;
}

int fail(const std::string& command, const Status& s) {
  std::string msg = s.message();
  // One line, always: messages quote names and paths from the model file, which may hold any
  // byte. Control characters (\r, escape sequences ...) would break the line or the terminal.
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  std::fprintf(stderr, "hone: %s: %s\n", command.c_str(), msg.c_str());
  return exit_code(s);
}

Result<std::map<std::string, Shape>> parse_shape_overrides(const std::vector<std::string>& specs) {
  std::map<std::string, Shape> r;
  for (const auto& spec : specs) {
    auto eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      return invalid_argument("--shape '" + spec + "': expected NAME=DIMxDIMx..., e.g. input=1x3x224x224");
    std::string name = spec.substr(0, eq), dims = spec.substr(eq + 1);
    Shape shape;
    size_t start = 0;
    while (start <= dims.size()) {
      size_t end = dims.find_first_of("x,", start);
      if (end == std::string::npos) end = dims.size();
      std::string d = dims.substr(start, end - start);
      if (d.empty() || d.size() > 12 || d.find_first_not_of("0123456789") != std::string::npos)
        return invalid_argument("--shape '" + spec + "': dimension '" + d + "' is not a non-negative integer");
      shape.push_back(std::stoll(d));
      start = end + 1;
    }
    r[name] = shape;
  }
  return r;
}

std::string human_count(double v) {
  const char* units[] = {"", " K", " M", " G", " T", " P"};
  int u = 0;
  while (v >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  std::ostringstream s;
  s << std::setprecision(u ? 3 : 6) << v << units[u];
  return s.str();
}

std::string human_bytes(double b) {
  const char* units[] = {" B", " KiB", " MiB", " GiB", " TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  std::ostringstream s;
  s << std::fixed << std::setprecision(u ? 1 : 0) << b << units[u];
  return s.str();
}

std::string Table::str(const std::string& indent) const {
  std::vector<size_t> w;
  for (const auto& r : rows_)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::ostringstream s;
  for (const auto& r : rows_) {
    s << indent;
    for (size_t i = 0; i < r.size(); ++i) {
      s << r[i];
      if (i + 1 < r.size()) s << std::string(w[i] - r[i].size() + 2, ' ');
    }
    s << '\n';
  }
  return s.str();
}

}  // namespace hone::cli
