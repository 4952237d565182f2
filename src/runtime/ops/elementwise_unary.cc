// Unary math: Abs Acos Ceil Cos Erf Exp Floor Log Neg Reciprocal Sign Sin Sqrt.
// float16/bfloat16 are computed in float; integer Abs/Neg wrap (abs(INT_MIN) == INT_MIN, as numpy).
#include <cmath>

#include "runtime/op_registry.h"
#include "kernels/x86/f32_kernels.h"
#include "runtime/ops/elementwise_util.h"
#include "runtime/ops/parallel_rows.h"

namespace hone::rt {
namespace {

using namespace elementwise;

Status abs_op(KernelContext& ctx) {
  return unary<kNumeric>(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_unsigned_v<C>) {
      return x;
    } else if constexpr (std::is_integral_v<C>) {
      return x < 0 ? wrapping_sub(C{0}, x) : x;
    } else {
      return std::fabs(x);
    }
  });
}

Status neg(KernelContext& ctx) {
  return unary<kAllFloats | kSigned>(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C>) {
      return wrapping_sub(C{0}, x);
    } else {
      return -x;
    }
  });
}

// -1, 0 or 1 (NaN stays NaN).
Status sign(KernelContext& ctx) {
  return unary<kNumeric>(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(x)) return x;
    }
    return static_cast<C>(static_cast<C>(x > 0) - static_cast<C>(x < 0));
  });
}

Status acos(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::acos(x); });
}
Status ceil(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::ceil(x); });
}
Status cos(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::cos(x); });
}
// fp32 on kernels/x86's f32_erf_* (rational approximation, 4.2e-7 relative).
Status erf(KernelContext& ctx) {
  if (const Tensor* x = ctx.input(0); x && x->dtype() == DType::kFloat32) return map_f32(ctx, *x, kernels::x86::erf_best());
  return unary<kAllFloats>(ctx, [](auto x) { return std::erf(x); });
}
Status exp(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::exp(x); });
}
Status floor(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::floor(x); });
}
Status log(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::log(x); });
}
Status reciprocal(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return static_cast<decltype(x)>(1) / x; });
}
Status sin(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::sin(x); });
}
Status sqrt(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::sqrt(x); });
}

HONE_REGISTER_FN("", Abs, 1, kMaxOpset, abs_op);
HONE_REGISTER_FN("", Acos, 7, kMaxOpset, acos);
HONE_REGISTER_FN("", Ceil, 1, kMaxOpset, ceil);
HONE_REGISTER_FN("", Cos, 7, kMaxOpset, cos);
HONE_REGISTER_FN("", Erf, 9, kMaxOpset, erf);
HONE_REGISTER_FN("", Exp, 1, kMaxOpset, exp);
HONE_REGISTER_FN("", Floor, 1, kMaxOpset, floor);
HONE_REGISTER_FN("", Log, 1, kMaxOpset, log);
HONE_REGISTER_FN("", Neg, 1, kMaxOpset, neg);
HONE_REGISTER_FN("", Reciprocal, 1, kMaxOpset, reciprocal);
HONE_REGISTER_FN("", Sign, 9, kMaxOpset, sign);
HONE_REGISTER_FN("", Sin, 7, kMaxOpset, sin);
HONE_REGISTER_FN("", Sqrt, 1, kMaxOpset, sqrt);

}  // namespace
}  // namespace hone::rt
