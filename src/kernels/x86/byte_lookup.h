// byte_lookup: y[i] = table[x[i]] over bytes, the kernel of hone.QLookup (an elementwise op
// between DequantizeLinear and QuantizeLinear, precomputed for all 256 inputs by fuse_qdq).
// Variants: the scalar reference, and AVX-512 VBMI, which looks up 64 bytes at a time in the
// 256-byte table held in four registers (two vpermi2b on the low 7 bits, a blend on bit 7).
// Picked once from cpu_features() (HONE_ISA caps it) and the CPU's VBMI bit.
#pragma once

#include <cstdint>
#include <vector>

namespace hone::kernels::lookup {

using LookupFn = void (*)(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y);

void byte_lookup_ref(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y);
void byte_lookup_avx512vbmi(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y);

struct Variant {
  const char* name;  // "scalar", "avx512vbmi"
  LookupFn lookup;
};
// Every variant this CPU (as capped by HONE_ISA) runs, the reference first; tests walk the list.
std::vector<Variant> available_variants();
const Variant& best_variant();

// The whole op over n bytes, split across up to `threads` OpenMP threads when large.
void byte_lookup(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y, int threads);

}  // namespace hone::kernels::lookup
