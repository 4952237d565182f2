#include "core/cpu_features.h"

#include <cpuid.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace hone {
namespace {

// Physical cores from /proc/cpuinfo's (physical id, core id) pairs; logical count if unknown.
int count_physical_cores(int logical) {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;
  std::string line;
  int phys = 0;
  while (std::getline(in, line)) {
    auto value = [&] { return std::atoi(line.substr(line.find(':') + 1).c_str()); };
    if (line.rfind("physical id", 0) == 0) phys = value();
    else if (line.rfind("core id", 0) == 0) cores.emplace(phys, value());
  }
  return cores.empty() ? logical : static_cast<int>(cores.size());
}

// CPUID + XGETBV directly (not __builtin_cpu_supports, whose feature names differ between GCC
// and Clang versions): a feature counts only when the OS also saves the registers it needs.
CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  const bool f16c = c & (1u << 29);
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool os_avx = (xcr0 & 0x6) == 0x6;         // XMM + YMM state
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;    // + opmask, ZMM_Hi256, Hi16_ZMM
  // Leaf 7 (sub-leaves 0 and 1); left at zero when the CPU does not have it.
  unsigned b7 = 0, c7 = 0, d7 = 0, a7_1 = 0, unused = 0;
  __get_cpuid_count(7, 0, &a, &b7, &c7, &d7);
  __get_cpuid_count(7, 1, &a7_1, &unused, &unused, &unused);
  f.avx2 = os_avx && (b7 & (1u << 5));
  f.fma = os_avx && fma;
  f.f16c = os_avx && f16c;
  f.avx512f = os_avx512 && (b7 & (1u << 16));
  f.avx512bw = f.avx512f && (b7 & (1u << 30));
  f.avx512vl = f.avx512f && (b7 & (1u << 31));
  f.avx512vnni = f.avx512f && (c7 & (1u << 11));
  f.avx512bf16 = f.avx512f && (a7_1 & (1u << 5));
  f.avx_vnni = os_avx && (a7_1 & (1u << 4));
  // HONE_ISA caps the level so that the fallbacks can be tested on a machine that has more.
  if (const char* cap = std::getenv("HONE_ISA")) {
    std::string c = cap;
    if (c == "scalar") f = CpuFeatures{};
    else if (c == "avx2") f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avx512bf16 = false;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  f.logical_cpus = n > 0 ? static_cast<int>(n) : 1;
  f.physical_cores = count_physical_cores(f.logical_cpus);
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string cpu_features_string() {
  const auto& f = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vnni, "avx512vnni");
  add(f.avx512bf16, "avx512bf16");
  add(f.avx_vnni, "avxvnni");
  return s.empty() ? "scalar" : s;
}

}  // namespace hone
