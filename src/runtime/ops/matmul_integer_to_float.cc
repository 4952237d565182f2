// com.microsoft.MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zero_point?, b_zero_point?, bias?)
// -> Y float: Y = float((A - a_zero_point) x (B - b_zero_point)) * (a_scale * b_scale[n]) + bias[n],
// ONNX Runtime's contrib op. fuse_qdq_ops makes it inside a Session from DQ(x) -> MatMul / Gemm
// <- DQ(W int8 const) whose float output is read as float (a transformer's projections before a
// float Add, ResNet's classifier), so no DequantizeLinear-to-float detour runs.
//
// A is uint8 or int8 [..., K] with a per-tensor scale and zero point, B a 2-D int8 [K, N] with
// 1 or N scales and zero points. Fast path: u8s8_matmul_dnnl with the float epilogue (a uint8 A,
// a constant B with zero points 0, VNNI); the int32 sums are exact on both paths and the epilogue
// is the same two float operations, so both give the same floats (the tests check).
#include <cmath>
#include <vector>

#include <omp.h>

#include "kernels/dnnl/matmul_int8_dnnl.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace onednn = kernels::onednn;

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

int32_t byte_value(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kUInt8 ? int32_t{t.data<uint8_t>()[i]} : int32_t{t.data<int8_t>()[i]};
}

class MatMulIntegerToFloatKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<MatMulIntegerToFloatKernel>();
    const Tensor* b = ctx.constant_input(1);
    const Tensor* b_scale = ctx.constant_input(3);
    if (!onednn::enabled() || !b || !b_scale || b->dtype() != DType::kInt8 || b->rank() != 2 || b->dim(0) <= 0 ||
        b->dim(1) <= 0)
      return std::unique_ptr<Kernel>(std::move(k));
    if (!ctx.node().input(5).empty()) {
      const Tensor* zp = ctx.constant_input(5);
      if (!zp || zp->dtype() != DType::kInt8) return std::unique_ptr<Kernel>(std::move(k));
      for (int64_t i = 0; i < zp->numel(); ++i)
        if (zp->data<int8_t>()[i] != 0) return std::unique_ptr<Kernel>(std::move(k));  // oneDNN takes none
    }
    k->b_ = *b;
    k->dnnl_ = std::make_unique<onednn::MatMulU8S8Dnnl>();
    k->dnnl_->set_weights(k->b_.data<int8_t>());
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* a_scale = ctx.input(2);
    const Tensor* b_scale = ctx.input(3);
    const Tensor* a_zp = ctx.input(4);
    const Tensor* b_zp = ctx.input(5);
    const Tensor* bias = ctx.input(6);
    if (!a || !b || !a_scale || !b_scale) return ctx.error("A, B, a_scale and b_scale are required");
    if (!is_8bit(a->dtype()) || !is_8bit(b->dtype())) return ctx.error("A and B must be uint8 or int8");
    if (b->rank() != 2) return ctx.error("B must be 2-D [K, N], got " + shape_to_string(b->shape()));
    const int64_t k = b->dim(0), n = b->dim(1);
    if (a->rank() < 1 || a->shape().back() != k)
      return ctx.error("A " + shape_to_string(a->shape()) + " does not have " + std::to_string(k) + " columns");
    if (a_scale->dtype() != DType::kFloat32 || a_scale->numel() != 1) return ctx.error("a_scale must be a float scalar");
    if (b_scale->dtype() != DType::kFloat32 || b_scale->rank() > 1 || (b_scale->numel() != 1 && b_scale->numel() != n))
      return ctx.error("b_scale must be float with 1 or " + std::to_string(n) + " values");
    if (a_zp && (a_zp->dtype() != a->dtype() || a_zp->numel() != 1))
      return ctx.error("a_zero_point must be a scalar of A's type");
    if (b_zp && (b_zp->dtype() != b->dtype() || b_zp->rank() > 1 || (b_zp->numel() != 1 && b_zp->numel() != n)))
      return ctx.error("b_zero_point must have B's type and 1 or " + std::to_string(n) + " values");
    if (bias && (bias->dtype() != DType::kFloat32 || bias->rank() != 1 || bias->dim(0) != n))
      return ctx.error("bias must be float [" + std::to_string(n) + "]");
    Shape y_shape(a->shape().begin(), a->shape().end() - 1);
    y_shape.push_back(n);
    int64_t m = 1;
    for (size_t d = 0; d + 1 < a->shape().size(); ++d) m *= a->dim(static_cast<int64_t>(d));
    // Both paths write every element (K = 0 takes the loops: y = bias or 0): no zero fill.
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, y_shape));
    if (m == 0 || n == 0) return Status::Ok();
    // s[n] = a_scale * b_scale[n], the scale of each column's sums.
    scale_.resize(static_cast<size_t>(b_scale->numel()));
    for (size_t j = 0; j < scale_.size(); ++j) scale_[j] = a_scale->data<float>()[0] * b_scale->data<float>()[j];
    const int32_t azp = a_zp ? byte_value(*a_zp, 0) : 0;
    const float* bias_data = bias ? bias->data<float>() : nullptr;
    if (dnnl_ && k > 0 && b->data<int8_t>() == b_.data<int8_t>() && a->dtype() == DType::kUInt8) {
      onednn::MatMulInt8Desc d;
      d.m = m;
      d.n = n;
      d.k = k;
      d.dst = onednn::Int8Dst::kF32;
      d.a_zero_point = azp != 0;
      d.per_column = scale_.size() > 1;
      d.has_bias = bias_data != nullptr;
      Status s = dnnl_->run(d, a->data<uint8_t>(), azp, scale_.data(), bias_data, y->data<float>());
      if (s.code() != ErrorCode::kUnsupported) return s.ok() ? s : s.with_context(node_label(ctx.node()));
    }
    reference(*a, azp, *b, b_zp, bias_data, m, k, n, y->data<float>(), ctx.threads());
    return Status::Ok();
  }

 private:
  // Plain loops: exact int32 sums of (a - azp)(b - bzp[c]), then the epilogue's two operations.
  void reference(const Tensor& a, int32_t azp, const Tensor& b, const Tensor* b_zp, const float* bias, int64_t m,
                 int64_t k, int64_t n, float* y, int threads) const {
    const int64_t scales = static_cast<int64_t>(scale_.size());
#pragma omp parallel num_threads(threads > 0 ? threads : 1) if (m * n * k > (1 << 16))
    {
      std::vector<int32_t> acc(static_cast<size_t>(n));
#pragma omp for
      for (int64_t r = 0; r < m; ++r) {
        std::fill(acc.begin(), acc.end(), 0);
        for (int64_t kk = 0; kk < k; ++kk) {
          const int32_t av = byte_value(a, r * k + kk) - azp;
          for (int64_t c = 0; c < n; ++c) {
            const int32_t bz = b_zp ? byte_value(*b_zp, b_zp->numel() == 1 ? 0 : c) : 0;
            acc[static_cast<size_t>(c)] += av * (byte_value(b, kk * n + c) - bz);
          }
        }
        for (int64_t c = 0; c < n; ++c) {
          float v = static_cast<float>(acc[static_cast<size_t>(c)]) * scale_[static_cast<size_t>(scales == 1 ? 0 : c)];
          if (bias) v = v + bias[c];
          y[r * n + c] = v;
        }
      }
    }
  }

  Tensor b_;  // the constant B, kept alive for oneDNN's packed copies
  std::unique_ptr<onednn::MatMulU8S8Dnnl> dnnl_;
  std::vector<float> scale_;
};

}  // namespace

HONE_REGISTER_KERNEL("com.microsoft", MatMulIntegerToFloat, 1, kMaxOpset, MatMulIntegerToFloatKernel);

}  // namespace hone::rt
