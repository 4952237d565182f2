// hone.Attention: what the fuse_attention pass makes of the scaled dot-product attention core,
//   out = Softmax(scale * Q Kᵀ + mask) V        per (batch, head)
// with the operands in the layout the projections write and the output projection reads:
//   rank 4: Q [B, Sq, H, D], K [B, Skv, H, D], V [B, Skv, H, Dv] -> out [B, Sq, H, Dv]
//   rank 3: Q [Sq, H, D],    K [Skv, H, D],    V [Skv, H, Dv]    -> out [Sq, H, Dv] (one batch;
//           PyTorch's nn.MultiheadAttention export, where H counts batch x heads)
// so the head split and merge Transposes of the unfused graph are never materialized. The
// optional mask (float32) broadcasts to the scores [B, H, Sq, Skv] (rank 3: [H, Sq, Skv]), as the
// Add it replaces did. Attribute `scale` (float). Internal to a Session: passes of level 2 make
// it, nothing exports it. Runs kernels/x86/attention.h's f32_attention_* (the widest the CPU has)
// over (batch, head, row block) in parallel.
#include <algorithm>
#include <vector>

#include "kernels/x86/attention.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

namespace x86 = kernels::x86;

// A float32 tensor's dims as [B, S, H, D] (rank 3 gets B = 1).
struct Bshd {
  int64_t b = 1, s = 0, h = 0, d = 0;
};

Result<Bshd> read_bshd(const Tensor& t, const char* what, int64_t rank) {
  if (t.dtype() != DType::kFloat32) return invalid_argument(std::string(what) + " must be float32");
  if (t.rank() != rank)
    return invalid_argument(std::string(what) + " " + shape_to_string(t.shape()) + " must have rank " +
                            std::to_string(rank) + " like Q");
  Bshd r;
  const int64_t o = rank == 4 ? 1 : 0;
  if (rank == 4) r.b = t.dim(0);
  r.s = t.dim(o);
  r.h = t.dim(o + 1);
  r.d = t.dim(o + 2);
  return r;
}

class AttentionKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    const ir::Attribute* scale = ctx.node().attr("scale");
    if (!scale || scale->type != ir::AttrType::kFloat) return ctx.error("attribute 'scale' (float) is required");
    auto k = std::make_unique<AttentionKernel>();
    k->scale_ = scale->f;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* q = ctx.input(0);
    const Tensor* k = ctx.input(1);
    const Tensor* v = ctx.input(2);
    const Tensor* mask = ctx.input(3);
    if (!q || !k || !v) return ctx.error("inputs Q, K and V are required");
    const int64_t rank = q->rank();
    if (rank != 3 && rank != 4) return ctx.error("Q " + shape_to_string(q->shape()) + " must have rank 3 or 4");
    auto qs = read_bshd(*q, "Q", rank);
    auto ks = read_bshd(*k, "K", rank);
    auto vs = read_bshd(*v, "V", rank);
    for (const auto* r : {&qs, &ks, &vs})
      if (!r->ok()) return ctx.error(r->status().message());
    if (ks->b != qs->b || vs->b != qs->b || ks->h != qs->h || vs->h != qs->h || ks->d != qs->d || vs->s != ks->s)
      return ctx.error("Q " + shape_to_string(q->shape()) + ", K " + shape_to_string(k->shape()) + " and V " +
                       shape_to_string(v->shape()) + " do not describe one attention");
    Shape out_shape = q->shape();
    out_shape.back() = vs->d;
    // No keys: the unfused MatMul(Softmax of [.., Sq, 0], V [.., 0, Dv]) is all zeros.
    if (ks->s == 0) return ctx.allocate_output(0, DType::kFloat32, out_shape).status();
    // Every element is written below (each (batch, head, row) by one task, all Dv columns).
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(0, DType::kFloat32, out_shape));
    if (out->numel() == 0) return Status::Ok();

    x86::AttentionArgs a;
    a.q = q->data<float>();
    a.k = k->data<float>();
    a.v = v->data<float>();
    a.out = out->data<float>();
    // Head h of row s of batch b is at b * S*H*D + s * H*D + h * D.
    const auto set = [](const Bshd& t, int64_t& batch, int64_t& head, int64_t& row) {
      batch = t.s * t.h * t.d;
      head = t.d;
      row = t.h * t.d;
    };
    set(*qs, a.q_batch, a.q_head, a.q_row);
    set(*ks, a.k_batch, a.k_head, a.k_row);
    set(*vs, a.v_batch, a.v_head, a.v_row);
    set({qs->b, qs->s, qs->h, vs->d}, a.out_batch, a.out_head, a.out_row);
    a.q_len = qs->s;
    a.kv_len = ks->s;
    a.head_dim = qs->d;
    a.v_head_dim = vs->d;
    a.scale = scale_;
    if (mask) HONE_RETURN_IF_ERROR(bind_mask(ctx, *mask, rank, *qs, ks->s, a));

    // Tasks: (batch, head, block of query rows); enough blocks to keep every thread busy.
    const int threads = std::max(1, ctx.threads());
    const int64_t heads = qs->b * qs->h;
    const int64_t work = heads * qs->s * ks->s * (qs->d + vs->d);
    const int64_t team = work < (int64_t{1} << 18) ? 1 : threads;
    int64_t blocks = std::min<int64_t>(qs->s, std::max<int64_t>(1, (4 * team + heads - 1) / heads));
    int64_t rows_per_block = (qs->s + blocks - 1) / blocks;
    rows_per_block = (rows_per_block + 3) / 4 * 4;  // whole register tiles of 4 rows
    blocks = (qs->s + rows_per_block - 1) / rows_per_block;
    const int64_t tasks = heads * blocks;
    const x86::AttentionFn fn = x86::attention_best();
    const size_t scratch_floats = x86::attention_scratch_floats(a);
#pragma omp parallel for num_threads(static_cast<int>(std::min<int64_t>(team, tasks))) schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      // Per thread and kept between runs: the pool's threads persist, so this allocates once.
      thread_local std::vector<float> scratch;
      if (scratch.size() < scratch_floats) scratch.resize(scratch_floats);
      const int64_t bh = t / blocks, blk = t % blocks;
      const int64_t row_begin = blk * rows_per_block, row_end = std::min(qs->s, row_begin + rows_per_block);
      fn(a, bh / qs->h, bh % qs->h, row_begin, row_end, scratch.data());
    }
    return Status::Ok();
  }

 private:
  // Points `a` at the mask broadcast to the scores [B, H, Sq, Skv] (rank 3: [H, Sq, Skv]). A mask
  // that broadcasts along the keys (last dim 1) is expanded into mask_buffer_ first: the kernels
  // read the keys of one row contiguously.
  Status bind_mask(KernelContext& ctx, const Tensor& mask, int64_t rank, const Bshd& qs, int64_t kv_len,
                   x86::AttentionArgs& a) {
    if (mask.dtype() != DType::kFloat32) return ctx.error("the mask must be float32");
    const Shape scores = rank == 4 ? Shape{qs.b, qs.h, qs.s, kv_len} : Shape{qs.h, qs.s, kv_len};
    auto joint = broadcast_shapes(mask.shape(), scores);
    if (!joint.ok() || *joint != scores)
      return ctx.error("mask " + shape_to_string(mask.shape()) + " does not broadcast to the scores " +
                       shape_to_string(scores));
    std::vector<int64_t> st = broadcast_strides(mask.shape(), scores);
    const float* m = mask.data<float>();
    if (st.back() == 0 && kv_len > 1) {
      // Expand along the keys: the mask's own elements, each repeated kv_len times.
      mask_buffer_.resize(static_cast<size_t>(mask.numel() * kv_len));
      for (int64_t i = 0; i < mask.numel(); ++i)
        std::fill_n(mask_buffer_.begin() + i * kv_len, kv_len, m[i]);
      for (auto& s : st) s *= kv_len;
      st.back() = 1;
      m = mask_buffer_.data();
    }
    a.mask = m;
    const size_t o = rank == 4 ? 1 : 0;
    a.mask_batch = rank == 4 ? st[0] : 0;
    a.mask_head = st[o];
    a.mask_row = st[o + 1];
    return Status::Ok();
  }

  float scale_ = 1.0f;
  std::vector<float> mask_buffer_;
};

}  // namespace

HONE_REGISTER_KERNEL("hone", Attention, 1, kMaxOpset, AttentionKernel);

}  // namespace hone::rt
