// Dispatch and threading for kernels/x86/dynamic_quant.h (built without ISA flags).
#include "kernels/x86/dynamic_quant.h"

#include <algorithm>
#include <cmath>

#include <omp.h>

#include "core/cpu_features.h"

namespace hone::kernels::dynq {

std::vector<Variant> available_variants() {
  const CpuFeatures& f = cpu_features();
  std::vector<Variant> v = {{"scalar", &f32_minmax_ref, &u8_quantize_ref}};
  if (f.avx2) v.push_back({"avx2", &f32_minmax_avx2, &u8_quantize_avx2});
  if (f.avx512f && f.avx512bw && f.avx512vl) v.push_back({"avx512", &f32_minmax_avx512, &u8_quantize_avx512});
  return v;
}

const Variant& best_variant() {
  static const Variant best = available_variants().back();
  return best;
}

QuantParams params_from_range(float lo, float hi) {
  // The reference op's arithmetic, step for step (float throughout).
  constexpr float kQMin = 0, kQMax = 255;
  QuantParams p;
  p.scale = (hi - lo) / (kQMax - kQMin);
  if (p.scale > 0) {
    const float intermediate = kQMin - lo / p.scale;
    p.zero_point = static_cast<uint8_t>(std::nearbyint(std::min(kQMax, std::max(kQMin, intermediate))));
  }
  return p;
}

QuantParams u8_dynamic_quantize_with(const Variant& v, const float* x, int64_t n, uint8_t* y, int threads) {
  // Below this many elements one thread is faster than waking the team (measured on BERT's
  // 128x768 activations: the quantization itself takes a few microseconds).
  constexpr int64_t kPerThread = 1 << 15;
  const int team = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n / kPerThread)));
  if (team <= 1) {
    float lo = 0.0f, hi = 0.0f;
    v.minmax(x, n, &lo, &hi);
    const QuantParams p = params_from_range(lo, hi);
    if (p.scale > 0)
      v.quantize(x, n, p.scale, p.zero_point, y);
    else
      std::fill(y, y + n, uint8_t{0});
    return p;
  }
  // One parallel region for both passes, a barrier between them: every thread reads the partial
  // ranges and derives the same parameters, then quantizes its own chunk (mostly the floats its
  // min/max pass just brought into its cache). One fork/join per call instead of two: on a busy
  // machine each join can wait a whole time slice for a descheduled thread.
  std::vector<float> los(static_cast<size_t>(team), 0.0f), his(static_cast<size_t>(team), 0.0f);
  QuantParams result;
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    v.minmax(x + n * t / nt, n * (t + 1) / nt - n * t / nt, &los[static_cast<size_t>(t)], &his[static_cast<size_t>(t)]);
#pragma omp barrier
    float lo = 0.0f, hi = 0.0f;
    for (int i = 0; i < nt; ++i) {
      lo = std::min(lo, los[static_cast<size_t>(i)]);
      hi = std::max(hi, his[static_cast<size_t>(i)]);
    }
    const QuantParams p = params_from_range(lo, hi);
    if (t == 0) result = p;
    // Chunks start on 64-byte boundaries of y so that threads never share a cache line.
    const int64_t begin = t == 0 ? 0 : (n * t / nt) & ~int64_t{63};
    const int64_t end = t == nt - 1 ? n : (n * (t + 1) / nt) & ~int64_t{63};
    if (end > begin) {
      if (p.scale > 0)
        v.quantize(x + begin, end - begin, p.scale, p.zero_point, y + begin);
      else
        // No range (all zeros, or only NaNs): every value quantizes to 0, as the reference's
        // zero-filled output.
        std::fill(y + begin, y + end, uint8_t{0});
    }
  }
  return result;
}

QuantParams u8_dynamic_quantize_produced_with(const Variant& v, const RowProducer& produce, int64_t rows, int64_t cols,
                                              const float* y, uint8_t* yq, int threads) {
  // The same team rule as u8_dynamic_quantize (the producers' own rules give the same teams on
  // BERT's 128 x 768 and 128 x 3072), never more threads than rows.
  constexpr int64_t kPerThread = 1 << 15;
  const int64_t n = rows * cols;
  const int team = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({threads, n / kPerThread, rows})));
  // Rows per produce-then-scan step: about 16 KiB of y, half of L1, so that the scan reads what
  // the producer has just written.
  const int64_t step = std::max<int64_t>(1, (int64_t{4096}) / std::max<int64_t>(1, cols));
  std::vector<float> los(static_cast<size_t>(team), 0.0f), his(static_cast<size_t>(team), 0.0f);
  QuantParams result;
#pragma omp parallel num_threads(team) if (team > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = rows * t / nt, end = rows * (t + 1) / nt;
    float lo = 0.0f, hi = 0.0f;
    for (int64_t r = begin; r < end; r += step) {
      const int64_t r_end = std::min(end, r + step);
      produce(r, r_end);
      v.minmax(y + r * cols, (r_end - r) * cols, &lo, &hi);
    }
    los[static_cast<size_t>(t)] = lo;
    his[static_cast<size_t>(t)] = hi;
#pragma omp barrier
    for (int i = 0; i < nt; ++i) {
      lo = std::min(lo, los[static_cast<size_t>(i)]);
      hi = std::max(hi, his[static_cast<size_t>(i)]);
    }
    const QuantParams p = params_from_range(lo, hi);
    if (t == 0) result = p;
    if (end > begin) {
      if (p.scale > 0)
        v.quantize(y + begin * cols, (end - begin) * cols, p.scale, p.zero_point, yq + begin * cols);
      else
        std::fill(yq + begin * cols, yq + end * cols, uint8_t{0});  // no range: all zeros, as the op
    }
  }
  return result;
}

QuantParams u8_dynamic_quantize_produced(const RowProducer& produce, int64_t rows, int64_t cols, const float* y,
                                         uint8_t* yq, int threads) {
  return u8_dynamic_quantize_produced_with(best_variant(), produce, rows, cols, y, yq, threads);
}

QuantParams u8_dynamic_quantize(const float* x, int64_t n, uint8_t* y, int threads) {
  return u8_dynamic_quantize_with(best_variant(), x, n, y, threads);
}

}  // namespace hone::kernels::dynq
