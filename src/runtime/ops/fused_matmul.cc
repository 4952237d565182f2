// hone.FusedMatMul: what the fuse_matmul_bias pass makes of MatMul(A, B) + Add(bias) (+ an
// activation), or of Gemm(A, B, C) + an activation: Y = act(A x B + bias) with B 2-D [K, N] ([N, K]
// when attribute transB is 1, as Gemm stores it) and bias one value per column (N values,
// optional). Internal to a Session: passes of level 2 make it, nothing exports it.
// fp32 runs as one oneDNN matmul with the bias and the activation as post-ops (B packed once when
// constant); a constant B with A of 1..4 rows runs on hone's GEMV (runtime/ops/small_m_gemv.h),
// then the bias and the activation; otherwise the reference GEMM, then the bias and the activation.
#include <algorithm>
#include <vector>

#include "kernels/dnnl/matmul_dnnl.h"
#include "runtime/op_registry.h"
#include "runtime/ops/fused_activation.h"
#include "runtime/ops/matmul_util.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/small_m_gemv.h"

namespace hone::rt {
namespace {

namespace onednn = kernels::onednn;

class FusedMatMulKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<FusedMatMulKernel>();
    auto act = read_fused_activation(ctx.node());
    if (!act.ok()) return ctx.error(act.status().message());
    k->activation_ = *act;
    k->gemv_ = SmallMGemv::create(ctx, 1, ctx.node().attr_int("transB", 0) != 0);
    if (onednn::enabled()) {
      k->bridge_ = std::make_unique<onednn::MatMulF32Dnnl>();
      if (const Tensor* b = ctx.constant_input(1); b && b->dtype() == DType::kFloat32) k->b_constant_ = *b;
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (!a || !b) return ctx.error("inputs A and B are required");
    if (a->dtype() != DType::kFloat32 || b->dtype() != DType::kFloat32 || (bias && bias->dtype() != DType::kFloat32))
      return ctx.error("A, B and bias must be float32");
    if (a->rank() < 1 || b->rank() != 2) return ctx.error("A must have rank >= 1 and B rank 2, got " + shape_to_string(a->shape()) +
                                                          " and " + shape_to_string(b->shape()));
    const bool trans_b = ctx.node().attr_int("transB", 0) != 0;
    const int64_t k = b->dim(trans_b ? 1 : 0), n = b->dim(trans_b ? 0 : 1);
    if (a->dim(a->rank() - 1) != k)
      return ctx.error("inner dims differ: A is " + shape_to_string(a->shape()) + ", B is " + shape_to_string(b->shape()));
    if (bias && bias->numel() != n) return ctx.error("bias " + shape_to_string(bias->shape()) + " must hold N = " + std::to_string(n) + " values");
    Shape y_shape(a->shape().begin(), a->shape().end() - 1);
    y_shape.push_back(n);
    const int64_t m = k == 0 ? 0 : a->numel() / k;
    if (gemv_ && gemv_->serves(m, k)) {
      HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, y_shape));
      float* yd = y->data<float>();
      HONE_RETURN_IF_ERROR(gemv_->run(a->data<float>(), m, yd, ctx.threads()));
      add_bias_and_activate(bias, m, n, *y, ctx.threads());
      return Status::Ok();
    }
    if (bridge_ && m > 0 && n > 0 && k > 0) {
      onednn::MatMulDesc d;
      d.m = m;
      d.n = n;
      d.k = k;
      d.trans_b = trans_b;
      d.has_bias = bias != nullptr;
      d.b_constant = b_constant_.defined();
      append_post_op(activation_, d.post_ops);
      Status s = bridge_->prepare(d, b->data<float>());
      if (s.ok()) {
        HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, y_shape));
        s = bridge_->run(d, a->data<float>(), b->data<float>(), bias ? bias->data<float>() : nullptr, y->data<float>());
      }
      if (s.code() != ErrorCode::kUnsupported) return s.ok() ? s : s.with_context(node_label(ctx.node()));
    }
    // Reference path: A's rows as one [m, K] matrix times B.
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DType::kFloat32, y_shape));
    auto plan = plan_matmul({m, k}, {k, n});
    if (!plan.ok()) return ctx.error(plan.status().message());
    const float* bd = b->data<float>();
    std::vector<float> b_kn;  // B as [K, N] when it is stored transposed
    if (trans_b) {
      b_kn.resize(static_cast<size_t>(k * n));
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < k; ++i) b_kn[static_cast<size_t>(i * n + j)] = bd[j * k + i];
      bd = b_kn.data();
    }
    run_matmul<float>(*plan, a->data<float>(), bd, y->data<float>());
    add_bias_and_activate(bias, m, n, *y, ctx.threads());
    return Status::Ok();
  }

 private:
  // The epilogue of the GEMV and reference paths (oneDNN runs it as post-ops): y[m, n] plus the
  // bias of each column (when there is one), then the activation.
  void add_bias_and_activate(const Tensor* bias, int64_t m, int64_t n, Tensor& y, int threads) const {
    float* yd = y.data<float>();
    if (bias) {
      const float* bd = bias->data<float>();
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j) yd[r * n + j] += bd[j];
    }
    apply_activation(activation_, yd, y.numel(), threads);
  }

  FusedActivation activation_;
  Tensor b_constant_;  // kept alive while the bridge holds a packed copy made from it
  std::unique_ptr<onednn::MatMulF32Dnnl> bridge_;
  std::unique_ptr<SmallMGemv> gemv_;
};

}  // namespace

HONE_REGISTER_KERNEL("hone", FusedMatMul, 1, kMaxOpset, FusedMatMulKernel);

}  // namespace hone::rt
