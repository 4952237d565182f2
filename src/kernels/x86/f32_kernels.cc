// The fp32 kernel dispatcher: one table per family built from f32_kernels.inc; the best variant
// is chosen once, from cpu_features() (which HONE_ISA caps), on first use.
#include "kernels/x86/f32_kernels.h"

#include "core/cpu_features.h"
#include "kernels/x86/f32_kernels_impl.h"

namespace hone::kernels::x86 {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

bool isa_available(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.avx2 && f.fma;
    // The AVX-512 translation units are built with F, BW, VL and DQ; every CPU with BW and VL
    // (Skylake-X and later, Zen 4) also has DQ.
    case Isa::kAvx512: return f.avx512f && f.avx512bw && f.avx512vl && f.avx2 && f.fma;
  }
  return false;
}

namespace {

template <class Fn>
const Variant<Fn>& best_of(const std::vector<Variant<Fn>>& variants) {
  const Variant<Fn>* best = &variants.front();
  for (const auto& v : variants)
    if (isa_available(v.isa)) best = &v;
  return *best;
}

// Every variant of f32_kernels.inc, sorted into its family's list in the .inc's order.
struct Tables {
#define HONE_F32_MEMBER(family, Fn) std::vector<Variant<Fn>> family;
  HONE_F32_FAMILIES(HONE_F32_MEMBER)
#undef HONE_F32_MEMBER
};

const Tables& tables() {
  static const Tables t = [] {
    Tables r;
#define HONE_F32_KERNEL(family, isa, fn) r.family.push_back({#fn, Isa::isa, &fn});
#include "kernels/x86/f32_kernels.inc"
#undef HONE_F32_KERNEL
    return r;
  }();
  return t;
}

}  // namespace

#define HONE_F32_DEFINE_FAMILY(family, Fn)                                                  \
  const std::vector<Variant<Fn>>& family##_variants() { return tables().family; }          \
  Fn family##_best() {                                                                     \
    static const Fn fn = best_of(tables().family).fn;                                      \
    return fn;                                                                             \
  }                                                                                        \
  const char* family##_best_name() { return best_of(tables().family).name; }
HONE_F32_FAMILIES(HONE_F32_DEFINE_FAMILY)
#undef HONE_F32_DEFINE_FAMILY

}  // namespace hone::kernels::x86
