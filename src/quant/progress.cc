#include "quant/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hone::quant {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds >= 3.6e9) return ">1000000h";  // keeps the integer conversions below in range
  char buf[32];
  if (seconds < 10) {
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  } else if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.0f s", std::floor(seconds));
  } else if (seconds < 3600) {
    const auto s = static_cast<long long>(seconds);
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else {
    const auto m = static_cast<long long>(seconds / 60);
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", m / 60, m % 60);
  }
  return buf;
}

std::string format_progress(const std::string& what, int64_t done, int64_t total, double elapsed_seconds, int width,
                            int64_t first_done) {
  width = std::max(width, 1);
  const int64_t shown_done = std::clamp<int64_t>(done, 0, std::max<int64_t>(total, 0));
  const int filled = total > 0 ? static_cast<int>(shown_done * width / total) : 0;
  std::string line = what.size() > 60 ? what.substr(0, 60) : what;
  line += " [" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), ' ') + "] ";
  line += std::to_string(shown_done) + "/" + std::to_string(std::max<int64_t>(total, 0));
  line += "  " + format_duration(elapsed_seconds);
  const int64_t timed = shown_done - std::max<int64_t>(first_done, 0);
  if (total > 0 && timed > 0 && shown_done < total && std::isfinite(elapsed_seconds) && elapsed_seconds >= 0) {
    const double eta = elapsed_seconds / static_cast<double>(timed) * static_cast<double>(total - shown_done);
    line += ", ETA " + format_duration(eta);
  }
  return line;
}

}  // namespace hone::quant
