// The fused-attention dispatcher: the variant table from attention.inc, the best variant chosen
// once from cpu_features() (which HONE_ISA caps), and the scratch size all variants share.
#include "kernels/x86/attention.h"

#include "kernels/x86/attention_tiles.h"

namespace hone::kernels::x86 {

size_t attention_scratch_floats(const AttentionArgs& a) {
  const int64_t kv_cols = attention_padded(a.kv_len);
  const int64_t v_cols = attention_padded(a.v_head_dim);
  // K transposed [head_dim][kv_cols], V padded [kv_len][v_cols], scores [tile rows][kv_cols].
  return static_cast<size_t>(a.head_dim * kv_cols + a.kv_len * v_cols + kAttentionTileRows * kv_cols);
}

const std::vector<AttentionVariant>& attention_variants() {
  static const std::vector<AttentionVariant> v = {
#define HONE_ATTENTION_KERNEL(isa, fn) {#fn, Isa::isa, &fn},
#include "kernels/x86/attention.inc"
#undef HONE_ATTENTION_KERNEL
  };
  return v;
}

namespace {
const AttentionVariant& best_variant() {
  static const AttentionVariant* best = [] {
    const AttentionVariant* b = &attention_variants().front();
    for (const auto& v : attention_variants())
      if (isa_available(v.isa)) b = &v;
    return b;
  }();
  return *best;
}
}  // namespace

AttentionFn attention_best() { return best_variant().fn; }
const char* attention_best_name() { return best_variant().name; }

}  // namespace hone::kernels::x86
