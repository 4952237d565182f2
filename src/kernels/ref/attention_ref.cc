// f32_attention_ref: the scalar reference of the fused attention kernels (kernels/x86/attention.h),
// what every SIMD variant is tested against and what runs under HONE_ISA=scalar. Dot products,
// the softmax and the weighted sum of V accumulate in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/x86/attention.h"

namespace hone::kernels::x86 {

void f32_attention_ref(const AttentionArgs& a, int64_t b, int64_t h, int64_t row_begin, int64_t row_end,
                       float* /*scratch*/) {
  const float* q = a.q + b * a.q_batch + h * a.q_head;
  const float* k = a.k + b * a.k_batch + h * a.k_head;
  const float* v = a.v + b * a.v_batch + h * a.v_head;
  float* out = a.out + b * a.out_batch + h * a.out_head;
  const float* mask = a.mask ? a.mask + b * a.mask_batch + h * a.mask_head : nullptr;
  std::vector<double> p(static_cast<size_t>(a.kv_len));
  std::vector<double> acc(static_cast<size_t>(a.v_head_dim));
  for (int64_t i = row_begin; i < row_end; ++i) {
    const float* qi = q + i * a.q_row;
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < a.kv_len; ++j) {
      const float* kj = k + j * a.k_row;
      double dot = 0;
      for (int64_t d = 0; d < a.head_dim; ++d) dot += static_cast<double>(qi[d]) * kj[d];
      double s = dot * a.scale;
      if (mask) s += mask[i * a.mask_row + j];
      p[static_cast<size_t>(j)] = s;
      max = std::max(max, s);
    }
    double sum = 0;
    for (auto& s : p) sum += (s = std::exp(s - max));
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t j = 0; j < a.kv_len; ++j) {
      const float* vj = v + j * a.v_row;
      const double w = p[static_cast<size_t>(j)] / sum;
      for (int64_t d = 0; d < a.v_head_dim; ++d) acc[static_cast<size_t>(d)] += w * vj[d];
    }
    float* oi = out + i * a.out_row;
    for (int64_t d = 0; d < a.v_head_dim; ++d) oi[d] = static_cast<float>(acc[static_cast<size_t>(d)]);
  }
}

}  // namespace hone::kernels::x86
