// What the CPU can do, detected once. Kernels are chosen from this at start-up; the environment
// variable HONE_ISA (scalar|avx2|avx512) caps it so that tests can force the fallbacks.
#pragma once

#include <string>

namespace hone {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avx_vnni = false;
  int physical_cores = 1;
  int logical_cpus = 1;
};

const CpuFeatures& cpu_features();
// "avx2 fma avx512f ..." — what `hone --version` prints.
std::string cpu_features_string();

}  // namespace hone
