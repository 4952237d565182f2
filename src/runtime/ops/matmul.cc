// MatMul (numpy matmul semantics) and Gemm (C = alpha * op(A) * op(B) + beta * C). fp32 runs
// through oneDNN's matmul (kernels/dnnl, f32_matmul_dnnl) unless HONE_DNNL=0, with a constant B
// packed once; other types, and shapes oneDNN refuses, run on the scalar reference GEMM. A
// constant fp32 B with A of 1..4 rows runs on hone's GEMV instead (runtime/ops/small_m_gemv.h).
// float16/bfloat16 are computed in float.
#include <algorithm>
#include <vector>

#include "kernels/dnnl/matmul_dnnl.h"
#include "runtime/op_registry.h"
#include "runtime/ops/half_convert.h"
#include "runtime/ops/matmul_util.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/small_m_gemv.h"

namespace hone::rt {

Result<MatMulPlan> plan_matmul(const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) return runtime_error("MatMul operands must have rank >= 1, got a scalar");
  // A 1-D A is a row vector [1, K] and a 1-D B a column vector [K, 1]; the added dim is dropped.
  const bool a_vector = a.size() == 1, b_vector = b.size() == 1;
  const Shape a2 = a_vector ? Shape{1, a[0]} : a;
  const Shape b2 = b_vector ? Shape{b[0], 1} : b;
  MatMulPlan plan;
  plan.m = a2[a2.size() - 2];
  plan.k = a2[a2.size() - 1];
  plan.n = b2[b2.size() - 1];
  if (b2[b2.size() - 2] != plan.k)
    return runtime_error("MatMul inner dims differ: A is " + shape_to_string(a) + ", B is " + shape_to_string(b));
  const Shape a_batch(a2.begin(), a2.end() - 2), b_batch(b2.begin(), b2.end() - 2);
  HONE_ASSIGN_OR_RETURN(Shape batch_shape, broadcast_shapes(a_batch, b_batch));
  plan.out_shape = batch_shape;
  if (!a_vector) plan.out_shape.push_back(plan.m);
  if (!b_vector) plan.out_shape.push_back(plan.n);
  // Validates the sizes of everything indexed below (and that no product overflows).
  HONE_RETURN_IF_ERROR(shape_numel(plan.out_shape).status());
  HONE_RETURN_IF_ERROR(shape_numel(a).status());
  HONE_RETURN_IF_ERROR(shape_numel(b).status());
  HONE_ASSIGN_OR_RETURN(int64_t batch, shape_numel(batch_shape));
  const auto a_strides = broadcast_strides(a_batch, batch_shape);
  const auto b_strides = broadcast_strides(b_batch, batch_shape);
  const auto out_strides = strides_of(batch_shape);
  plan.a_matrix.resize(static_cast<size_t>(batch));
  plan.b_matrix.resize(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) {
    int64_t rest = i, a_index = 0, b_index = 0;
    for (size_t d = 0; d < batch_shape.size(); ++d) {
      const int64_t coord = rest / out_strides[d];
      rest %= out_strides[d];
      a_index += coord * a_strides[d];
      b_index += coord * b_strides[d];
    }
    plan.a_matrix[static_cast<size_t>(i)] = a_index;
    plan.b_matrix[static_cast<size_t>(i)] = b_index;
  }
  return plan;
}

namespace {

namespace onednn = kernels::onednn;

// What the two kernels share on the oneDNN path: the bridge, and the constant B when there is one.
struct DnnlMatMulState {
  // Chooses oneDNN when it is enabled; B is packed once when it is a constant fp32 initializer.
  static std::unique_ptr<DnnlMatMulState> create(const KernelCreateContext& ctx) {
    if (!onednn::enabled()) return nullptr;
    auto st = std::make_unique<DnnlMatMulState>();
    if (const Tensor* b = ctx.constant_input(1); b && b->dtype() == DType::kFloat32) st->b = *b;
    return st;
  }

  // Runs d on oneDNN into output 0 of shape y_shape; kUnsupported (nothing allocated) sends the
  // caller to the reference path. `fill` prepares y's contents before a kSum post-op reads them.
  template <class Fill>
  Status run(KernelContext& ctx, onednn::MatMulDesc& d, const Shape& y_shape, const float* bias, Fill fill) {
    const Tensor& a = *ctx.input(0);
    const Tensor& b_in = *ctx.input(1);
    d.b_constant = b.defined();
    Status s = bridge.prepare(d, b_in.data<float>());
    if (s.ok()) {
      HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, y_shape));
      fill(y->data<float>());
      s = bridge.run(d, a.data<float>(), b_in.data<float>(), bias, y->data<float>());
    }
    return s.ok() || s.code() == ErrorCode::kUnsupported ? s : s.with_context(node_label(ctx.node()));
  }

  Tensor b;  // the constant B, kept alive for the packed copies made from it
  onednn::MatMulF32Dnnl bridge;
};

// MatMul on oneDNN: a 2-D (or 1-D) B multiplies all of A's rows as one matrix; batched operands
// keep their batch dims, padded to the same count, and oneDNN broadcasts them.
Status matmul_dnnl(KernelContext& ctx, DnnlMatMulState& st, const MatMulPlan& plan) {
  const Shape& as = ctx.input(0)->shape();
  const Shape& bs = ctx.input(1)->shape();
  onednn::MatMulDesc d;
  d.n = plan.n;
  d.k = plan.k;
  if (bs.size() <= 2) {
    d.m = as.size() == 1 ? 1 : ctx.input(0)->numel() / plan.k;
  } else {
    d.m = plan.m;
    const size_t rank = std::max(as.size(), bs.size()) - 2;
    d.batch_a.assign(rank, 1);
    d.batch_b.assign(rank, 1);
    if (as.size() > 2) std::copy(as.begin(), as.end() - 2, d.batch_a.end() - static_cast<std::ptrdiff_t>(as.size() - 2));
    std::copy(bs.begin(), bs.end() - 2, d.batch_b.end() - static_cast<std::ptrdiff_t>(bs.size() - 2));
  }
  return st.run(ctx, d, plan.out_shape, nullptr, [](float*) {});
}

// The fast paths a node may take, made at creation; either may be null.
struct MatMulPaths {
  DnnlMatMulState* dnnl;
  SmallMGemv* gemv;
};

Status matmul(KernelContext& ctx, const MatMulPaths& paths) {
  DnnlMatMulState* dnnl = paths.dnnl;
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  if (!a || !b) return ctx.error("MatMul needs inputs A and B");
  if (a->dtype() != b->dtype())
    return ctx.error("A and B differ in type: " + std::string(dtype_name(a->dtype())) + " vs " +
                     std::string(dtype_name(b->dtype())));
  auto plan = plan_matmul(a->shape(), b->shape());
  if (!plan.ok()) return ctx.error(plan.status().message());
  if (paths.gemv && a->dtype() == DType::kFloat32 && b->rank() == 2 && plan->k > 0 &&
      paths.gemv->serves(a->numel() / plan->k, plan->k)) {
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, plan->out_shape));
    return paths.gemv->run(a->data<float>(), a->numel() / plan->k, y->data<float>(), ctx.threads());
  }
  if (dnnl && a->dtype() == DType::kFloat32 && plan->batch() > 0) {
    Status s = matmul_dnnl(ctx, *dnnl, *plan);
    if (s.code() != ErrorCode::kUnsupported) return s;
  }
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), plan->out_shape));
  if (is_half_type(a->dtype())) {
    const std::vector<float> a32 = widen_to_float(*a), b32 = widen_to_float(*b);
    std::vector<float> y32(static_cast<size_t>(y->numel()));
    run_matmul<float>(*plan, a32.data(), b32.data(), y32.data());
    narrow_from_float(y32.data(), *y);
    return Status::Ok();
  }
  auto run = [&](auto zero) -> Status {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t> || std::is_same_v<T, int16_t> ||
                  std::is_same_v<T, uint16_t>) {
      return unsupported("MatMul does not support element type " + std::string(dtype_name(a->dtype())));
    } else {
      run_matmul<T>(*plan, a->data<T>(), b->data<T>(), y->data<T>());
      return Status::Ok();
    }
  };
  Status s = dispatch_numeric(a->dtype(), run);
  return s.with_context(node_label(ctx.node()));
}

// Y = alpha * op(A) * op(B) + beta * C with C broadcast to [M, N] (Gemm-6 and earlier had a
// `broadcast` attribute; accepting broadcastable C everywhere is a superset of it).
template <class T>
void gemm_typed(const T* a, const T* b, const T* c, const Shape& c_shape, T* y, bool trans_a, bool trans_b,
                int64_t m, int64_t n, int64_t k, T alpha, T beta) {
  const bool add_c = c != nullptr && beta != T{0};
  if (add_c) {
    const auto c_strides = broadcast_strides(c_shape, Shape{m, n});
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) y[i * n + j] = c[i * c_strides[0] + j * c_strides[1]];
  }
  kernels::ref::gemm<T>(trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n,
                        add_c ? beta : T{0}, y, n);
}

template <class T>
void fill_scaled_c(const T* c, const Shape& c_shape, T beta, int64_t m, int64_t n, T* y) {
  const auto c_strides = broadcast_strides(c_shape, Shape{m, n});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) y[i * n + j] = beta * c[i * c_strides[0] + j * c_strides[1]];
}

// Gemm on oneDNN: transA/transB are strides, alpha the output scale. C of shape [N] or [1, N]
// with alpha = beta = 1 (a fully connected layer) is the primitive's bias; any other C is
// written into y, scaled by beta, and added by a sum post-op.
Status gemm_dnnl(KernelContext& ctx, DnnlMatMulState& st, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                 float alpha, float beta) {
  const Tensor* c = ctx.input(2);
  onednn::MatMulDesc d;
  d.m = m;
  d.n = n;
  d.k = k;
  d.trans_a = trans_a;
  d.trans_b = trans_b;
  d.alpha = alpha;
  const bool use_c = c != nullptr && beta != 0.0f;
  const bool row_bias = use_c && c->numel() == n && (c->rank() == 1 || (c->rank() == 2 && c->dim(0) == 1));
  if (row_bias && alpha == 1.0f && beta == 1.0f) {
    d.has_bias = true;
    return st.run(ctx, d, Shape{m, n}, c->data<float>(), [](float*) {});
  }
  if (use_c) d.post_ops.push_back(onednn::PostOp::sum(1.0f));
  return st.run(ctx, d, Shape{m, n}, nullptr, [&](float* y) {
    if (use_c) fill_scaled_c(c->data<float>(), c->shape(), beta, m, n, y);
  });
}

// Gemm on the small-M GEMV, then alpha and C as an epilogue over the few rows.
Status gemm_small_m(KernelContext& ctx, SmallMGemv& gemv, int64_t m, int64_t n, float alpha, float beta) {
  const Tensor* c = ctx.input(2);
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, Shape{m, n}));
  float* yd = y->data<float>();
  HONE_RETURN_IF_ERROR(gemv.run(ctx.input(0)->data<float>(), m, yd, ctx.threads()));
  if (alpha != 1.0f)
    for (int64_t i = 0; i < m * n; ++i) yd[i] *= alpha;
  if (c && beta != 0.0f) {
    const auto cs = broadcast_strides(c->shape(), Shape{m, n});
    const float* cd = c->data<float>();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) yd[i * n + j] += beta * cd[i * cs[0] + j * cs[1]];
  }
  return Status::Ok();
}

Status gemm(KernelContext& ctx, const MatMulPaths& paths) {
  DnnlMatMulState* dnnl = paths.dnnl;
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  const Tensor* c = ctx.input(2);
  if (!a || !b) return ctx.error("Gemm needs inputs A and B");
  if (a->rank() != 2 || b->rank() != 2)
    return ctx.error("Gemm needs 2-D A and B, got " + shape_to_string(a->shape()) + " and " +
                     shape_to_string(b->shape()));
  if (a->dtype() != b->dtype() || (c && c->dtype() != a->dtype()))
    return ctx.error("Gemm inputs differ in element type");
  const bool trans_a = ctx.node().attr_int("transA", 0) != 0;
  const bool trans_b = ctx.node().attr_int("transB", 0) != 0;
  const float alpha = ctx.node().attr_float("alpha", 1.0f);
  const float beta = ctx.node().attr_float("beta", 1.0f);
  const int64_t m = trans_a ? a->dim(1) : a->dim(0), k = trans_a ? a->dim(0) : a->dim(1);
  const int64_t kb = trans_b ? b->dim(1) : b->dim(0), n = trans_b ? b->dim(0) : b->dim(1);
  if (k != kb)
    return ctx.error("Gemm inner dims differ: op(A) is " + std::to_string(m) + "x" + std::to_string(k) +
                     ", op(B) is " + std::to_string(kb) + "x" + std::to_string(n));
  const Shape out_shape{m, n};
  if (c) {
    auto bc = broadcast_shapes(c->shape(), out_shape);
    if (c->rank() > 2 || !bc.ok() || *bc != out_shape)
      return ctx.error("C of shape " + shape_to_string(c->shape()) + " does not broadcast to " +
                       shape_to_string(out_shape));
  }
  // A stored transposed ([K, M]) is a plain row only when M = 1.
  if (paths.gemv && a->dtype() == DType::kFloat32 && (!trans_a || m == 1) && paths.gemv->serves(m, k))
    return gemm_small_m(ctx, *paths.gemv, m, n, alpha, beta);
  if (dnnl && a->dtype() == DType::kFloat32 && m > 0 && n > 0 && k > 0) {
    Status s = gemm_dnnl(ctx, *dnnl, trans_a, trans_b, m, n, k, alpha, beta);
    if (s.code() != ErrorCode::kUnsupported) return s;
  }
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), out_shape));
  const Shape c_shape = c ? c->shape() : Shape{};
  if (is_half_type(a->dtype())) {
    const std::vector<float> a32 = widen_to_float(*a), b32 = widen_to_float(*b);
    const std::vector<float> c32 = c ? widen_to_float(*c) : std::vector<float>{};
    std::vector<float> y32(static_cast<size_t>(y->numel()));
    gemm_typed<float>(a32.data(), b32.data(), c ? c32.data() : nullptr, c_shape, y32.data(), trans_a, trans_b, m, n,
                      k, alpha, beta);
    narrow_from_float(y32.data(), *y);
    return Status::Ok();
  }
  auto run = [&](auto zero) -> Status {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t> || std::is_same_v<T, int16_t> ||
                  std::is_same_v<T, uint16_t>) {
      return unsupported("Gemm does not support element type " + std::string(dtype_name(a->dtype())));
    } else {
      gemm_typed<T>(a->data<T>(), b->data<T>(), c ? c->data<T>() : nullptr, c_shape, y->data<T>(), trans_a, trans_b,
                    m, n, k, static_cast<T>(alpha), static_cast<T>(beta));
      return Status::Ok();
    }
  };
  Status s = dispatch_numeric(a->dtype(), run);
  return s.with_context(node_label(ctx.node()));
}

// MatMul and Gemm: the oneDNN state and the small-M GEMV (if any) are made at creation; the
// element type is checked on every run, since a graph input's declared type is only a promise.
template <Status (*kRun)(KernelContext&, const MatMulPaths&)>
class MatMulKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<MatMulKernel>();
    k->dnnl_ = DnnlMatMulState::create(ctx);
    // MatMul has no transB attribute, so this reads 0 for it.
    k->gemv_ = SmallMGemv::create(ctx, 1, ctx.node().attr_int("transB", 0) != 0);
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override { return kRun(ctx, MatMulPaths{dnnl_.get(), gemv_.get()}); }

 private:
  std::unique_ptr<DnnlMatMulState> dnnl_;
  std::unique_ptr<SmallMGemv> gemv_;
};

}  // namespace

HONE_REGISTER_KERNEL("", MatMul, 1, kMaxOpset, MatMulKernel<matmul>);
HONE_REGISTER_KERNEL("", Gemm, 1, kMaxOpset, MatMulKernel<gemm>);

}  // namespace hone::rt
