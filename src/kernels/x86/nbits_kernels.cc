// Dispatch for the blockwise n-bit kernels: the table from nbits_kernels.inc, A preparation and
// the OpenMP split over columns. Built without ISA flags: only the per-ISA files use them.
#include "kernels/x86/nbits_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"

namespace hone::kernels::nbits {

const char* isa_name(NBitsIsa isa) {
  switch (isa) {
    case NBitsIsa::kScalar: return "scalar";
    case NBitsIsa::kAvx2: return "avx2";
    case NBitsIsa::kAvx512: return "avx512";
  }
  return "?";
}

bool isa_available(NBitsIsa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case NBitsIsa::kScalar: return true;
    case NBitsIsa::kAvx2: return f.avx2 && f.fma;
    case NBitsIsa::kAvx512: return f.avx512f && f.avx512bw && f.avx512vl && f.fma;
  }
  return false;
}

const std::vector<GemmVariant>& gemm_variants() {
  static const std::vector<GemmVariant> v = {
#define HONE_NBITS_GEMM(name, isa, bits, prep) {#name, NBitsIsa::isa, bits, APrep::prep, &name},
#define HONE_NBITS_S8_GEMM(name, limbs, available)
#define HONE_NBITS_DEQUANT(name, isa, bits)
#include "kernels/x86/nbits_kernels.inc"
#undef HONE_NBITS_GEMM
#undef HONE_NBITS_S8_GEMM
#undef HONE_NBITS_DEQUANT
  };
  return v;
}

bool serves(const GemmVariant& v, const NBitsWeights& w) {
  if (v.bits != 0 && v.bits != w.bits) return false;
  if (v.prep == APrep::kNibbleSplit32 && w.block_size % 32 != 0) return false;
  if (v.prep == APrep::kPadded && w.block_size % 16 != 0) return false;
  return true;
}

const GemmVariant& best_gemm(const NBitsWeights& w) {
  const auto& all = gemm_variants();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (isa_available(it->isa) && serves(*it, w)) return *it;
  return all.front();
}

int64_t prepared_lda(const GemmVariant& v, const NBitsWeights& w) {
  return v.prep == APrep::kNone ? w.k : w.k_blocks * w.block_size;
}

void prepare_a(const GemmVariant& v, const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* out) {
  const int64_t kp = prepared_lda(v, w);
  for (int64_t r = 0; r < m; ++r) {
    const float* src = a + r * lda;
    float* dst = out + r * kp;
    if (v.prep == APrep::kNibbleSplit32) {
      for (int64_t c = 0; c < kp; c += 32) {
        for (int64_t j = 0; j < 16; ++j) {
          const int64_t even = c + 2 * j, odd = even + 1;
          dst[c + j] = even < w.k ? src[even] : 0.0f;
          dst[c + 16 + j] = odd < w.k ? src[odd] : 0.0f;
        }
      }
    } else {
      const int64_t k = std::min(w.k, kp);
      std::copy(src, src + k, dst);
      std::fill(dst + k, dst + kp, 0.0f);
    }
  }
}

void gemm(const GemmVariant& v, const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy,
          int threads) {
  if (m <= 0 || w.n <= 0) return;
  std::vector<float> prepared;
  if (v.prep != APrep::kNone) {
    const int64_t kp = prepared_lda(v, w);
    prepared.resize(static_cast<size_t>(m * kp));
    prepare_a(v, w, a, lda, m, prepared.data());
    a = prepared.data();
    lda = kp;
  }
  // Columns are split in contiguous ranges (multiples of 8, so no two threads write one cache
  // line of a row of y): each thread then streams one contiguous run of B.
  const int64_t groups = (w.n + 7) / 8;
  const int t = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, groups)));
  if (t == 1) {
    v.fn(w, a, lda, m, y, ldy, 0, w.n);
    return;
  }
#pragma omp parallel num_threads(t)
  {
    const int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t g0 = groups * id / nt, g1 = groups * (id + 1) / nt;
    const int64_t n0 = g0 * 8, n1 = std::min(w.n, g1 * 8);
    if (n0 < n1) v.fn(w, a, lda, m, y, ldy, n0, n1);
  }
}

// ---- int8 activations ----

namespace {
bool has_avx512vnni() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}
}  // namespace

const std::vector<S8GemmVariant>& s8_gemm_variants() {
  static const std::vector<S8GemmVariant> v = {
#define HONE_NBITS_GEMM(name, isa, bits, prep)
#define HONE_NBITS_S8_GEMM(name, limbs, available) {#name, limbs, &available, &name},
#define HONE_NBITS_DEQUANT(name, isa, bits)
#include "kernels/x86/nbits_kernels.inc"
#undef HONE_NBITS_GEMM
#undef HONE_NBITS_S8_GEMM
#undef HONE_NBITS_DEQUANT
  };
  return v;
}

const std::vector<DequantVariant>& dequant_variants() {
  static const std::vector<DequantVariant> v = {
#define HONE_NBITS_GEMM(name, isa, bits, prep)
#define HONE_NBITS_S8_GEMM(name, limbs, available)
#define HONE_NBITS_DEQUANT(name, isa, bits) {#name, NBitsIsa::isa, bits, &name},
#include "kernels/x86/nbits_kernels.inc"
#undef HONE_NBITS_GEMM
#undef HONE_NBITS_S8_GEMM
#undef HONE_NBITS_DEQUANT
  };
  return v;
}

const DequantVariant* best_dequant(const NBitsWeights& w) {
  if (w.block_size % 32 != 0) return nullptr;
  const auto& all = dequant_variants();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->bits == w.bits && isa_available(it->isa)) return &*it;
  return nullptr;
}

const S8GemmVariant* best_s8_gemm(int limbs) {
  const auto& all = s8_gemm_variants();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->limbs == limbs && it->available()) return &*it;
  return nullptr;
}

bool c16_packable(const NBitsWeights& w) {
  return w.bits == 4 && w.zp_f32 == nullptr && w.block_size % 8 == 0 && w.block_size <= 4096;
}

namespace {
// Byte offset of block b of group g's record in the stream (its runs of codes, then its scales).
int64_t c16_record(const PackedC16& p, int64_t g, int64_t b) { return (g * p.k_blocks + b) * p.record_bytes; }
}  // namespace

PackedC16 pack_c16(const NBitsWeights& w) {
  PackedC16 p;
  p.k = w.k;
  p.n = w.n;
  p.block_size = w.block_size;
  p.k_blocks = w.k_blocks;
  p.groups = (w.n + 15) / 16;
  const int64_t kb = w.k_blocks, oct = w.block_size / 8;
  p.record_bytes = oct * 64 + 64;
  p.stream = HugePageBuffer(static_cast<size_t>(p.groups * kb * p.record_bytes));
  const int dzp = default_zero_point(4);
  bool any_zp = false;
  if (w.zp_u8)
    for (int64_t i = 0; i < w.n * kb && !any_zp; ++i) any_zp = w.zp_u8[i] != dzp;
  if (any_zp) p.zp.assign(static_cast<size_t>(p.groups * kb * 16), static_cast<uint8_t>(dzp));
  uint8_t* out = p.stream.data();
  for (int64_t n = 0; n < w.n; ++n) {
    const int64_t g = n / 16, c = n % 16;
    for (int64_t b = 0; b < kb; ++b) {
      const uint8_t* blob = w.b + (n * kb + b) * w.blob_size;
      uint8_t* rec = out + c16_record(p, g, b);
      const float s = w.scales[n * kb + b];
      std::memcpy(rec + oct * 64 + c * 4, &s, 4);
      if (any_zp) p.zp[static_cast<size_t>((g * kb + b) * 16 + c)] = w.zp_u8[n * kb + b];
      for (int64_t o = 0; o < oct; ++o)
        for (int64_t t = 0; t < 4; ++t) {
          const int lo = code_at(blob, 4, 8 * o + t), hi = code_at(blob, 4, 8 * o + 4 + t);
          rec[o * 64 + c * 4 + t] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
  }
  return p;
}

int c16_code(const PackedC16& p, int64_t n, int64_t k) {
  const int64_t g = n / 16, c = n % 16, b = k / p.block_size, i = k % p.block_size, o = i / 8, j = i % 8;
  const uint8_t byte = p.stream.data()[c16_record(p, g, b) + o * 64 + c * 4 + j % 4];
  return j < 4 ? byte & 0x0F : byte >> 4;
}

float c16_scale(const PackedC16& p, int64_t n, int64_t b) {
  float s;
  std::memcpy(&s, p.stream.data() + c16_record(p, n / 16, b) + p.block_size / 8 * 64 + (n % 16) * 4, 4);
  return s;
}

int c16_zero_point(const PackedC16& p, int64_t n, int64_t b) {
  if (p.zp.empty()) return default_zero_point(4);
  return p.zp[static_cast<size_t>(((n / 16) * p.k_blocks + b) * 16 + n % 16)];
}

namespace {
void size_quantized(int64_t m, int64_t k, int64_t block_size, int limbs, QuantizedA* q) {
  q->m = m;
  q->limbs = limbs;
  q->k_blocks = (k + block_size - 1) / block_size;
  q->kp = q->k_blocks * block_size;
  q->a8.assign(static_cast<size_t>(m * limbs * q->kp), 0);
  q->step.assign(static_cast<size_t>(m * q->k_blocks), 0.0f);
  q->asum.assign(static_cast<size_t>(m * q->k_blocks * limbs), 0.0f);
  q->vsum.assign(static_cast<size_t>(m * q->k_blocks), 0.0f);
}
}  // namespace

void quantize_a_ref(const float* a, int64_t lda, int64_t m, int64_t k, int64_t block_size, int limbs, QuantizedA* q) {
  size_quantized(m, k, block_size, limbs, q);
  const double top = limbs == 3 ? 127.0 * 65536.0 : 127.0;
  for (int64_t r = 0; r < m; ++r) {
    const float* src = a + r * lda;
    for (int64_t b = 0; b < q->k_blocks; ++b) {
      const int64_t k0 = b * block_size, k1 = std::min(k, k0 + block_size);
      float amax = 0;
      for (int64_t i = k0; i < k1; ++i) amax = std::max(amax, std::fabs(src[i]));
      const float step = static_cast<float>(amax / top);
      // Digits of a / step where step is the float the kernels multiply by.
      const double inv = step > 0 ? 1.0 / static_cast<double>(step) : 0.0;
      int64_t sums[3] = {0, 0, 0}, vsum = 0;
      for (int64_t i = k0; i < k1; ++i) {
        const int64_t v =
            static_cast<int64_t>(std::clamp(std::nearbyint(static_cast<double>(src[i]) * inv), -top, top));
        vsum += v;
        int64_t digit[3];
        if (limbs == 3) {
          // Signed base-256 digits: l, m in [-128, 127], h in [-127, 127] since |v| <= 127 * 2^16.
          const int64_t l = ((v + 128) & 255) - 128, v1 = (v - l) / 256;
          const int64_t mid = ((v1 + 128) & 255) - 128;
          digit[0] = (v1 - mid) / 256;
          digit[1] = mid;
          digit[2] = l;
        } else {
          digit[0] = v;
        }
        for (int d = 0; d < limbs; ++d) {
          q->a8[static_cast<size_t>((r * limbs + d) * q->kp + i)] = static_cast<int8_t>(digit[d]);
          sums[d] += digit[d];
        }
      }
      q->step[static_cast<size_t>(r * q->k_blocks + b)] = step;
      q->vsum[static_cast<size_t>(r * q->k_blocks + b)] = static_cast<float>(vsum);
      for (int d = 0; d < limbs; ++d)
        q->asum[static_cast<size_t>((r * q->k_blocks + b) * limbs + d)] = static_cast<float>(sums[d]);
    }
  }
}

void quantize_a(const float* a, int64_t lda, int64_t m, int64_t k, int64_t block_size, int limbs, QuantizedA* q) {
  // Up to 2^16 per block: the vector version sums digits in int32 lanes.
  if (block_size % 16 != 0 || block_size > 65536 || !isa_available(NBitsIsa::kAvx512)) {
    quantize_a_ref(a, lda, m, k, block_size, limbs, q);
    return;
  }
  size_quantized(m, k, block_size, limbs, q);
  quantize_a_avx512(a, lda, m, k, block_size, limbs, q->kp, q->a8.data(), q->step.data(), q->asum.data(),
                    q->vsum.data());
}

void s8_gemm(const S8GemmVariant& v, const PackedC16& w, const float* a, int64_t lda, int64_t m, float* y,
             int64_t ldy, int threads) {
  if (m <= 0 || w.n <= 0) return;
  QuantizedA q;
  quantize_a(a, lda, m, w.k, w.block_size, v.limbs, &q);
  const C16View wv = w.view();
  const A8View av = q.view();
  // Groups of 16 columns are 64 bytes of a row of y: threads never share a cache line.
  const int t = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, w.groups)));
  if (t == 1) {
    v.fn(wv, av, y, ldy, 0, w.groups);
    return;
  }
  // Contiguous runs of groups (each one stretch of the stream, about 640 KiB for K = N = 4096 on
  // 2 threads), handed out dynamically: on a machine shared with other work a thread that loses
  // its core for a while no longer holds up the whole product with a fixed half of it.
  const int64_t chunks = std::min<int64_t>(w.groups, int64_t{t} * 8);
#pragma omp parallel for num_threads(t) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t g0 = w.groups * c / chunks, g1 = w.groups * (c + 1) / chunks;
    if (g0 < g1) v.fn(wv, av, y, ldy, g0, g1);
  }
}

}  // namespace hone::kernels::nbits
