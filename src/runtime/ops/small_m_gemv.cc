#include "runtime/ops/small_m_gemv.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace hone::rt {

namespace {
// HONE_SMALL_M_GEMV=0 sends these products back to oneDNN (read once), to compare the two in place.
bool small_m_gemv_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("HONE_SMALL_M_GEMV");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}
}  // namespace

std::unique_ptr<SmallMGemv> SmallMGemv::create(const KernelCreateContext& ctx, size_t b_input, bool trans_b) {
  if (!small_m_gemv_enabled()) return nullptr;
  const Tensor* b = ctx.constant_input(b_input);
  if (!b || b->dtype() != DType::kFloat32 || b->rank() != 2 || b->numel() == 0) return nullptr;
  auto g = std::make_unique<SmallMGemv>();
  g->b_ = *b;
  g->trans_b_ = trans_b;
  g->k_ = b->dim(trans_b ? 1 : 0);
  g->n_ = b->dim(trans_b ? 0 : 1);
  return g;
}

bool SmallMGemv::serves(int64_t m, int64_t k) const {
  // With several rows each 64-column panel (K * 256 bytes) is read once from memory and then
  // from L2 for the other rows; past ~512 KiB per panel it would no longer stay there.
  return k == k_ && m >= 1 && m <= kMaxRows && (m == 1 || k_ * kernels::x86::kGemvPanelCols * 4 <= (512 << 10));
}

Status SmallMGemv::run(const float* a, int64_t m, float* y, int threads) {
  if (!packed_) {
    try {
      packed_ = kernels::x86::PackedGemvWeights::pack(b_.data<float>(), k_, n_, trans_b_);
    } catch (const std::bad_alloc&) {
      return out_of_memory("packing the GEMV weights: out of memory");
    }
  }
  kernels::x86::gemv(kernels::x86::gemv_best(), *packed_, a, k_, m, y, n_, threads);
  return Status::Ok();
}

}  // namespace hone::rt
