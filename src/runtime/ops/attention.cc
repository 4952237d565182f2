// hone.Attention: what the fuse_attention pass makes of the scaled dot-product attention core,
//   out = Softmax(scale * Q Kᵀ + mask) V        per (batch, head)
// with the operands in the layout the projections write and the output projection reads:
//   rank 4: Q [B, Sq, H, D], K [B, Skv, H, D], V [B, Skv, H, Dv] -> out [B, Sq, H, Dv]
//   rank 3: Q [Sq, H, D],    K [Skv, H, D],    V [Skv, H, Dv]    -> out [Sq, H, Dv] (one batch;
//           PyTorch's nn.MultiheadAttention export, where H counts batch x heads)
// so the head split and merge Transposes of the unfused graph are never materialized. The
// optional mask (float32) broadcasts to the scores [B, H, Sq, Skv] (rank 3: [H, Sq, Skv]), as the
// Add it replaces did. Attribute `scale` (float). Optional attributes <x>_slice = [start, end]
// and <x>_shape (x = q, k, v) say that input x is a packed projection P that the unfused graph
// cut as Reshape(Slice(P, start, end, axes=[-1]), <x>_shape) (nn.MultiheadAttention's QKV chunk):
// the heads are read in place from P, so the Slice copies never happen. Internal to a Session:
// passes of level 2 make it, nothing exports it. Runs kernels/x86/attention.h's f32_attention_* (the widest the CPU has)
// over (batch, head, row block) in parallel.
#include <algorithm>
#include <vector>

#include "core/checked_math.h"
#include "kernels/x86/attention.h"
#include "kernels/x86/attention_tiles.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

namespace x86 = kernels::x86;

// An operand's dims as [B, S, H, D] (rank 3 gets B = 1).
struct Bshd {
  int64_t b = 1, s = 0, h = 0, d = 0;
};

Bshd bshd_of(const Shape& shape) {
  Bshd r;
  const size_t o = shape.size() == 4 ? 1 : 0;
  if (shape.size() == 4) r.b = shape[0];
  r.s = shape[o];
  r.h = shape[o + 1];
  r.d = shape[o + 2];
  return r;
}

// One of Q, K, V as the kernel reads it: head 0 of row 0 of batch 0 at `data`, and the strides.
struct Operand {
  const float* data = nullptr;
  Shape shape;  // as the unfused graph had it: [B, S, H, D] or [S, H, D]
  Bshd dims;
  int64_t batch = 0, head = 0, row = 0;
};

Operand contiguous_operand(const float* data, Shape shape) {
  Operand o;
  o.data = data;
  o.dims = bshd_of(shape);
  o.shape = std::move(shape);
  o.head = o.dims.d;
  o.row = o.dims.h * o.dims.d;
  o.batch = o.dims.s * o.row;
  return o;
}

// The packed-projection form fuse_attention makes of Reshape(Slice(P, start, end, axes=[-1]),
// target): attributes <x>_slice = [start, end] and <x>_shape = target.
struct PackedView {
  bool present = false;
  int64_t start = 0, end = 0;
  std::vector<int64_t> target;
};

// What ONNX Slice (step 1) and Reshape (allowzero 0) make of P's shape: the sliced last axis
// [begin, begin + width) and the reshaped shape.
struct ResolvedView {
  int64_t begin = 0, width = 0;
  Shape sliced, shape;
};

Result<ResolvedView> resolve_view(const Shape& p, const PackedView& view) {
  if (p.empty()) return invalid_argument("a packed operand must have rank >= 1");
  const int64_t c = p.back();
  const auto clamp = [c](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + c : i, 0, c); };
  ResolvedView r;
  r.begin = clamp(view.start);
  r.width = std::max<int64_t>(0, clamp(view.end) - r.begin);
  r.sliced = p;
  r.sliced.back() = r.width;
  int64_t numel = 1, known = 1, nonzero = 1, infer_at = -1;
  for (int64_t d : r.sliced) numel *= d;
  r.shape.resize(view.target.size());
  for (size_t i = 0; i < view.target.size(); ++i) {
    int64_t d = view.target[i];
    if (d == -1 && infer_at < 0) {
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (d == 0) {  // allowzero 0 (the pass takes no other): copy the sliced input's dim, as Reshape
      if (i >= r.sliced.size()) return invalid_argument("shape " + shape_to_string(view.target) + " copies a dim the input lacks");
      d = r.sliced[i];
    }
    if (d < 0) return invalid_argument("cannot reshape " + shape_to_string(r.sliced) + " to " + shape_to_string(view.target));
    r.shape[i] = d;
    // A malformed target must not overflow, here or in the strides later: the product of the
    // non-zero dims must fit.
    const auto product = checked_mul(nonzero, std::max<int64_t>(d, 1));
    if (!product) return invalid_argument("shape " + shape_to_string(view.target) + " overflows");
    nonzero = *product;
    known *= d;
  }
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0)
      return invalid_argument("cannot reshape " + shape_to_string(r.sliced) + " to " + shape_to_string(view.target));
    r.shape[static_cast<size_t>(infer_at)] = numel / known;
  } else if (known != numel) {
    return invalid_argument("cannot reshape " + shape_to_string(r.sliced) + " to " + shape_to_string(view.target));
  }
  return r;
}

// The operand a packed view describes, read in place when its heads are whole runs of the sliced
// columns: P [B, S, C] -> [B, S, H, D] (rank 4), or P [S, 1.., C] -> [S, H, D] (rank 3, one
// batch: nn.MultiheadAttention's [S, B*H, D] with B = 1). Any other layout is copied out of P
// into `copy` first, as the Slice would have done.
Result<Operand> packed_operand(const Tensor& p, const PackedView& view, size_t rank, std::vector<float>& copy) {
  HONE_ASSIGN_OR_RETURN(ResolvedView r, resolve_view(p.shape(), view));
  if (r.shape.size() != rank) return invalid_argument("the view of a packed operand must have rank " + std::to_string(rank));
  const Shape& sl = r.sliced;
  const int64_t c = p.shape().back(), d = r.shape.back();
  Operand o;
  o.shape = r.shape;
  o.dims = bshd_of(r.shape);
  o.head = d;
  int64_t middle = 1;  // rank 3: the dims between the rows and the columns of P must all be 1
  for (size_t i = 1; i + 1 < sl.size(); ++i) middle *= sl[i];
  if (p.numel() == 0 || r.width == 0) return contiguous_operand(p.data<float>(), r.shape);  // nothing to read
  if (rank == 4 && sl.size() == 3 && r.shape[0] == sl[0] && r.shape[1] == sl[1] && r.shape[2] * d == r.width) {
    o.data = p.data<float>() + r.begin;
    o.row = c;
    o.batch = sl[1] * c;
    return o;
  }
  if (rank == 3 && sl.size() >= 2 && middle == 1 && r.shape[0] == sl[0] && r.shape[1] * d == r.width) {
    o.data = p.data<float>() + r.begin;
    o.row = c;
    return o;
  }
  const int64_t rows = c == 0 ? 0 : p.numel() / c;
  copy.resize(static_cast<size_t>(rows * r.width));
  for (int64_t i = 0; i < rows; ++i)
    std::copy_n(p.data<float>() + i * c + r.begin, r.width, copy.data() + i * r.width);
  return contiguous_operand(copy.data(), r.shape);
}

Result<PackedView> read_view(const ir::Node& node, const std::string& prefix) {
  PackedView v;
  const ir::Attribute* bounds = node.attr(prefix + "_slice");
  const ir::Attribute* target = node.attr(prefix + "_shape");
  if (!bounds && !target) return v;
  if (!bounds || !target || bounds->type != ir::AttrType::kInts || target->type != ir::AttrType::kInts ||
      bounds->ints.size() != 2 || (target->ints.size() != 3 && target->ints.size() != 4))
    return invalid_argument("attributes " + prefix + "_slice (2 ints) and " + prefix +
                            "_shape (3 or 4 ints) go together");
  v.present = true;
  v.start = bounds->ints[0];
  v.end = bounds->ints[1];
  v.target = target->ints;
  return v;
}

class AttentionKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    const ir::Attribute* scale = ctx.node().attr("scale");
    if (!scale || scale->type != ir::AttrType::kFloat) return ctx.error("attribute 'scale' (float) is required");
    auto k = std::make_unique<AttentionKernel>();
    k->scale_ = scale->f;
    const char* prefixes[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
      auto view = read_view(ctx.node(), prefixes[i]);
      if (!view.ok()) return ctx.error(view.status().message());
      k->views_[i] = *view;
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* in[3] = {ctx.input(0), ctx.input(1), ctx.input(2)};
    const Tensor* mask = ctx.input(3);
    if (!in[0] || !in[1] || !in[2]) return ctx.error("inputs Q, K and V are required");
    const char* names[3] = {"Q", "K", "V"};
    const size_t rank = views_[0].present ? views_[0].target.size() : static_cast<size_t>(in[0]->rank());
    if (rank != 3 && rank != 4) return ctx.error("Q " + shape_to_string(in[0]->shape()) + " must have rank 3 or 4");
    Operand ops[3];
    for (int i = 0; i < 3; ++i) {
      if (in[i]->dtype() != DType::kFloat32) return ctx.error(std::string(names[i]) + " must be float32");
      if (views_[i].present) {
        auto o = packed_operand(*in[i], views_[i], rank, copies_[i]);
        if (!o.ok()) return ctx.error(std::string(names[i]) + ": " + o.status().message());
        ops[i] = std::move(o).value();
      } else {
        if (static_cast<size_t>(in[i]->rank()) != rank)
          return ctx.error(std::string(names[i]) + " " + shape_to_string(in[i]->shape()) + " must have rank " +
                           std::to_string(rank) + " like Q");
        ops[i] = contiguous_operand(in[i]->data<float>(), in[i]->shape());
      }
    }
    const Bshd &qs = ops[0].dims, &ks = ops[1].dims, &vs = ops[2].dims;
    if (ks.b != qs.b || vs.b != qs.b || ks.h != qs.h || vs.h != qs.h || ks.d != qs.d || vs.s != ks.s)
      return ctx.error("Q " + shape_to_string(ops[0].shape) + ", K " + shape_to_string(ops[1].shape) + " and V " +
                       shape_to_string(ops[2].shape) + " do not describe one attention");
    Shape out_shape = ops[0].shape;
    out_shape.back() = vs.d;
    // No keys: the unfused MatMul(Softmax of [.., Sq, 0], V [.., 0, Dv]) is all zeros.
    if (ks.s == 0) return ctx.allocate_output(0, DType::kFloat32, out_shape).status();
    // Every element is written below (each (batch, head, row) by one task, all Dv columns).
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(0, DType::kFloat32, out_shape));
    if (out->numel() == 0) return Status::Ok();

    x86::AttentionArgs a;
    a.q = ops[0].data;
    a.k = ops[1].data;
    a.v = ops[2].data;
    a.out = out->data<float>();
    const auto set = [](const Operand& o, int64_t& batch, int64_t& head, int64_t& row) {
      batch = o.batch;
      head = o.head;
      row = o.row;
    };
    set(ops[0], a.q_batch, a.q_head, a.q_row);
    set(ops[1], a.k_batch, a.k_head, a.k_row);
    set(ops[2], a.v_batch, a.v_head, a.v_row);
    const Operand out_op = contiguous_operand(out->data<float>(), out_shape);
    set(out_op, a.out_batch, a.out_head, a.out_row);
    a.q_len = qs.s;
    a.kv_len = ks.s;
    a.head_dim = qs.d;
    a.v_head_dim = vs.d;
    a.scale = scale_;
    if (mask) HONE_RETURN_IF_ERROR(bind_mask(ctx, *mask, static_cast<int64_t>(rank), qs, ks.s, a));

    // Tasks: (batch, head, block of query rows). Heads that split evenly over the team take one
    // block each, so each head's K^T is packed once (bert_mini, 4 heads on 2 threads: two blocks
    // per head cost 3.5 % more kernel time); otherwise enough blocks to keep every thread busy.
    const int threads = std::max(1, ctx.threads());
    const int64_t heads = qs.b * qs.h;
    const int64_t work = heads * qs.s * ks.s * (qs.d + vs.d);
    const int64_t team = work < (int64_t{1} << 18) ? 1 : threads;
    int64_t blocks =
        heads % team == 0 ? 1 : std::min<int64_t>(qs.s, std::max<int64_t>(1, (4 * team + heads - 1) / heads));
    int64_t rows_per_block = (qs.s + blocks - 1) / blocks;
    rows_per_block = (rows_per_block + x86::kAttentionRowBlock - 1) / x86::kAttentionRowBlock *
                     x86::kAttentionRowBlock;  // whole register tiles
    blocks = (qs.s + rows_per_block - 1) / rows_per_block;
    const int64_t tasks = heads * blocks;
    const x86::AttentionFn fn = x86::attention_best();
    const size_t scratch_floats = x86::attention_scratch_floats(a);
#pragma omp parallel for num_threads(static_cast<int>(std::min<int64_t>(team, tasks))) schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      // Per thread and kept between runs: the pool's threads persist, so this allocates once.
      thread_local std::vector<float> scratch;
      if (scratch.size() < scratch_floats) scratch.resize(scratch_floats);
      const int64_t bh = t / blocks, blk = t % blocks;
      const int64_t row_begin = blk * rows_per_block, row_end = std::min(qs.s, row_begin + rows_per_block);
      fn(a, bh / qs.h, bh % qs.h, row_begin, row_end, scratch.data());
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
  PackedView views_[3];                // Q, K, V
  std::vector<float> copies_[3];       // a packed operand not readable in place, sliced out
  std::vector<float> mask_buffer_;
};

}  // namespace

HONE_REGISTER_KERNEL("hone", Attention, 1, kMaxOpset, AttentionKernel);

}  // namespace hone::rt
