// com.microsoft.QLinearAdd(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point?)
// -> C: the sum of two quantized tensors, requantized, with numpy broadcasting (ONNX Runtime's
// contrib op; fuse_qdq makes it from DQ(a), DQ(b) -> Add -> QuantizeLinear inside a Session).
// Scales and zero points are per tensor; A, B and C are all uint8 or all int8. The arithmetic is
// the QDQ chain's, in float (kernels/x86/qlinear_add.h): results equal the chain's bytes.
#include <cmath>
#include <cstring>

#include "kernels/x86/qlinear_add.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace qadd = kernels::qadd;

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

Result<float> scale_of(const KernelContext& ctx, size_t i, const char* name) {
  const Tensor* s = ctx.input(i);
  if (!s || s->dtype() != DType::kFloat32 || s->numel() != 1)
    return ctx.error(std::string(name) + " must be a float scalar");
  const float v = s->data<float>()[0];
  if (!std::isfinite(v) || v == 0.0f) return ctx.error(std::string(name) + " must be finite and non-zero");
  return v;
}

Result<int32_t> zero_point_of(const KernelContext& ctx, size_t i, DType dtype, const char* name) {
  const Tensor* z = ctx.input(i);
  if (!z) return 0;
  if (z->dtype() != dtype || z->numel() != 1)
    return ctx.error(std::string(name) + " must be a scalar of the data's type " + std::string(dtype_name(dtype)));
  return dtype == DType::kUInt8 ? int32_t{z->data<uint8_t>()[0]} : int32_t{z->data<int8_t>()[0]};
}

// `t`'s bytes as if broadcast to `out` (the general case; residual adds have equal shapes).
std::vector<uint8_t> broadcast_bytes(const Tensor& t, const Shape& out) {
  const std::vector<int64_t> strides = broadcast_strides(t.shape(), out);
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  std::vector<uint8_t> r(static_cast<size_t>(n));
  const uint8_t* src = static_cast<const uint8_t*>(t.raw());
  std::vector<int64_t> index(out.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t offset = 0;
    for (size_t d = 0; d < out.size(); ++d) offset += index[d] * strides[d];
    r[static_cast<size_t>(i)] = src[offset];
    for (size_t d = out.size(); d-- > 0;) {
      if (++index[d] < out[d]) break;
      index[d] = 0;
    }
  }
  return r;
}

Status qlinear_add(KernelContext& ctx) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(3);
  if (!a || !b) return ctx.error("inputs A and B are required");
  if (!is_8bit(a->dtype()) || b->dtype() != a->dtype())
    return ctx.error("A and B must both be uint8 or both int8");
  qadd::Params p;
  p.is_signed = a->dtype() == DType::kInt8;
  HONE_ASSIGN_OR_RETURN(p.a_scale, scale_of(ctx, 1, "A_scale"));
  HONE_ASSIGN_OR_RETURN(p.b_scale, scale_of(ctx, 4, "B_scale"));
  HONE_ASSIGN_OR_RETURN(p.y_scale, scale_of(ctx, 6, "C_scale"));
  HONE_ASSIGN_OR_RETURN(p.a_zero_point, zero_point_of(ctx, 2, a->dtype(), "A_zero_point"));
  HONE_ASSIGN_OR_RETURN(p.b_zero_point, zero_point_of(ctx, 5, a->dtype(), "B_zero_point"));
  HONE_ASSIGN_OR_RETURN(p.y_zero_point, zero_point_of(ctx, 7, a->dtype(), "C_zero_point"));
  auto shape = broadcast_shapes(a->shape(), b->shape());
  if (!shape.ok()) return ctx.error(shape.status().message());
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, a->dtype(), *shape));
  const int64_t n = y->numel();
  if (n == 0) return Status::Ok();
  const uint8_t* ad = static_cast<const uint8_t*>(a->raw());
  const uint8_t* bd = static_cast<const uint8_t*>(b->raw());
  uint8_t* yd = static_cast<uint8_t*>(y->raw());
  if (a->numel() == n && (b->numel() == n || b->numel() == 1)) {
    qadd::qlinear_add(p, ad, bd, b->numel() == 1, n, yd, ctx.threads());
  } else if (b->numel() == n && a->numel() == 1) {  // the sum is symmetric: swap the operands
    std::swap(p.a_scale, p.b_scale);
    std::swap(p.a_zero_point, p.b_zero_point);
    qadd::qlinear_add(p, bd, ad, true, n, yd, ctx.threads());
  } else {
    const std::vector<uint8_t> ab = broadcast_bytes(*a, *shape), bb = broadcast_bytes(*b, *shape);
    qadd::qlinear_add(p, ab.data(), bb.data(), false, n, yd, ctx.threads());
  }
  return Status::Ok();
}

}  // namespace

HONE_REGISTER_FN("com.microsoft", QLinearAdd, 1, kMaxOpset, qlinear_add);

}  // namespace hone::rt
