// Dispatch and threading for kernels/x86/qlinear_add.h (built without ISA flags).
#include "kernels/x86/qlinear_add.h"

#include <algorithm>

#include <omp.h>

#include "core/cpu_features.h"

namespace hone::kernels::qadd {

std::vector<Variant> available_variants() {
  const CpuFeatures& f = cpu_features();
  std::vector<Variant> v = {{"scalar", &qlinear_add_ref}};
  if (f.avx512f && f.avx512bw && f.avx512vl) v.push_back({"avx512", &qlinear_add_avx512});
  return v;
}

const Variant& best_variant() {
  static const Variant best = available_variants().back();
  return best;
}

void qlinear_add(const Params& p, const uint8_t* a, const uint8_t* b, bool b_broadcast, int64_t n, uint8_t* y,
                 int threads) {
  // Below this many elements per thread one thread is faster than waking the team (a residual
  // add of ResNet-50 is 100 K - 800 K bytes). At 2 threads the 100 K add took 19.6 us on one
  // thread and 11.7 us on two (qlinear_add_bench, idle Zen 4), hence 32 K rather than 64 K.
  constexpr int64_t kPerThread = 1 << 15;
  const AddFn add = best_variant().add;
  const int team = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n / kPerThread)));
  if (team <= 1) return add(p, a, b, b_broadcast, n, y);
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    add(p, a + begin, b_broadcast ? b : b + begin, b_broadcast, end - begin, y + begin);
  }
}

}  // namespace hone::kernels::qadd
