#include "kernels/ref/nbits_ref.h"

#include <algorithm>
#include <vector>

namespace hone::kernels::nbits {

void dequantize_ref(const NBitsWeights& w, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  for (int64_t n = n0; n < n1; ++n) {
    float* row = out + (n - n0) * ldo;
    for (int64_t b = 0; b < w.k_blocks; ++b) {
      const uint8_t* blob = w.b + (n * w.k_blocks + b) * w.blob_size;
      const float scale = w.scales[n * w.k_blocks + b];
      const float zp = zero_point_at(w, n, b);
      const int64_t k0 = b * w.block_size, k1 = std::min(w.k, k0 + w.block_size);
      for (int64_t k = k0; k < k1; ++k)
        row[k] = (static_cast<float>(code_at(blob, w.bits, k - k0)) - zp) * scale;
    }
  }
}

void qn_f32_gemm_ref(const NBitsWeights& w, const float* a, int64_t lda, int64_t m, float* y, int64_t ldy, int64_t n0,
                     int64_t n1) {
  std::vector<float> col(static_cast<size_t>(w.k));
  for (int64_t n = n0; n < n1; ++n) {
    dequantize_ref(w, n, n + 1, col.data(), w.k);
    for (int64_t r = 0; r < m; ++r) {
      double s = 0;
      const float* ar = a + r * lda;
      for (int64_t k = 0; k < w.k; ++k) s += static_cast<double>(ar[k]) * col[static_cast<size_t>(k)];
      y[r * ldy + n] = static_cast<float>(s);
    }
  }
}

}  // namespace hone::kernels::nbits
