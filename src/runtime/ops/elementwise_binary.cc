// Broadcasting arithmetic: Add Sub Mul Div Mod Pow.
//
// Integer rules (ONNX leaves them open; numpy's are followed where they are defined):
//  - Add/Sub/Mul/Div wrap on overflow (INT_MIN / -1 == INT_MIN);
//  - integer Div and Mod by zero are run-time errors;
//  - Pow of an integer to a negative integer power truncates 1/x^n: 1, +-1 for x == -1, else 0.
//
// fp32 Add/Sub/Mul/Div (opset 7+) run on kernels/x86's f32_add_* ... f32_div_* for every run of
// the broadcast plan whose strides are 0 or 1 (same shape, a scalar, a row vector [N] over
// [M, N] ...); other stride patterns and types take the generic loop.
#include <cmath>
#include <optional>

#include "kernels/x86/f32_kernels.h"
#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_util.h"

namespace hone::rt {
namespace {

using namespace elementwise;

Status check_no_zero_divisor(const KernelContext& ctx, const Tensor& divisor) {
  return dispatch<kIntegers>(divisor.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const T* d = divisor.data<T>();
    for (int64_t i = 0; i < divisor.numel(); ++i)
      if (d[i] == 0) return ctx.error("integer division by zero");
    return Status::Ok();
  });
}

// A same-type binary op over the types in Allowed. Legacy: opset < 7 broadcasting rules.
template <unsigned Allowed, bool Legacy, class F>
Status same_type_binary(KernelContext& ctx, F f) {
  const Tensor *a, *b;
  HONE_RETURN_IF_ERROR(two_inputs(ctx, a, b));
  if (a->dtype() != b->dtype())
    return ctx.error("inputs have different element types (" + std::string(dtype_name(a->dtype())) + " and " +
                     std::string(dtype_name(b->dtype())) + ")");
  Tensor rhs = *b;
  if constexpr (Legacy) {
    HONE_ASSIGN_OR_RETURN(rhs, legacy_broadcast_operand(ctx, *a, *b));
  }
  return with_node(ctx, dispatch<Allowed>(a->dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    return binary<T, T, T>(ctx, *a, rhs, a->dtype(), f);
  }));
}

// fp32 on a kernels/x86 binary kernel: runs with strides in {0, 1} go to `fn`, others (a column
// broadcast merged into a strided inner dim) to the scalar loop.
Status float_binary(KernelContext& ctx, const Tensor& a, const Tensor& b, kernels::x86::BinaryFn fn, float (*op)(float, float)) {
  auto plan = plan_broadcast<2>({&a.shape(), &b.shape()});
  if (!plan.ok()) return ctx.error(plan.status().message());
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(0, DType::kFloat32, plan->out_shape));
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* po = out->data<float>();
  for_each_run<2>(ctx, *plan, [&](int64_t o, const std::array<int64_t, 2>& off, int64_t count,
                                  const std::array<int64_t, 2>& st) {
    if (st[0] <= 1 && st[1] <= 1) {
      fn(pa + off[0], st[0], pb + off[1], st[1], po + o, count);
    } else {
      for (int64_t i = 0; i < count; ++i) po[o + i] = op(pa[off[0] + i * st[0]], pb[off[1] + i * st[1]]);
    }
  });
  return Status::Ok();
}

// The fp32 fast path when both inputs are fp32 (opset 7+ broadcasting); nullopt otherwise.
std::optional<Status> try_float_binary(KernelContext& ctx, kernels::x86::BinaryFn fn, float (*op)(float, float)) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  if (!a || !b || a->dtype() != DType::kFloat32 || b->dtype() != DType::kFloat32) return std::nullopt;
  return float_binary(ctx, *a, *b, fn, op);
}

constexpr auto kAdd = [](auto x, auto y) { return wrapping_add(x, y); };
constexpr auto kSub = [](auto x, auto y) { return wrapping_sub(x, y); };
constexpr auto kMul = [](auto x, auto y) { return wrapping_mul(x, y); };
// The divisor is known to be non-zero for integers (checked before the loop).
constexpr auto kDiv = [](auto x, auto y) {
  using C = decltype(x);
  if constexpr (std::is_integral_v<C> && std::is_signed_v<C>) {
    if (y == -1) return wrapping_sub(C{0}, x);
  }
  return static_cast<C>(x / y);
};

template <bool Legacy>
Status add(KernelContext& ctx) {
  if constexpr (!Legacy) {
    if (auto s = try_float_binary(ctx, kernels::x86::add_best(), [](float x, float y) { return x + y; })) return *s;
  }
  return same_type_binary<kNumeric, Legacy>(ctx, kAdd);
}
template <bool Legacy>
Status sub(KernelContext& ctx) {
  if constexpr (!Legacy) {
    if (auto s = try_float_binary(ctx, kernels::x86::sub_best(), [](float x, float y) { return x - y; })) return *s;
  }
  return same_type_binary<kNumeric, Legacy>(ctx, kSub);
}
template <bool Legacy>
Status mul(KernelContext& ctx) {
  if constexpr (!Legacy) {
    if (auto s = try_float_binary(ctx, kernels::x86::mul_best(), [](float x, float y) { return x * y; })) return *s;
  }
  return same_type_binary<kNumeric, Legacy>(ctx, kMul);
}
template <bool Legacy>
Status div(KernelContext& ctx) {
  if constexpr (!Legacy) {
    if (auto s = try_float_binary(ctx, kernels::x86::div_best(), [](float x, float y) { return x / y; })) return *s;
  }
  if (const Tensor* b = ctx.input(1); b && dtype_info(b->dtype()).is_integer)
    HONE_RETURN_IF_ERROR(check_no_zero_divisor(ctx, *b));
  return same_type_binary<kNumeric, Legacy>(ctx, kDiv);
}

// fmod=0: the result takes the divisor's sign (Python's %); fmod=1: the dividend's (C's fmod).
Status mod(KernelContext& ctx) {
  const int64_t fmod = ctx.node().attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) return ctx.error("attribute fmod must be 0 or 1, got " + std::to_string(fmod));
  if (const Tensor* b = ctx.input(1); b && dtype_info(b->dtype()).is_integer)
    HONE_RETURN_IF_ERROR(check_no_zero_divisor(ctx, *b));
  auto op = [fmod](auto x, auto y) {
    using C = decltype(x);
    C r;
    if constexpr (std::is_integral_v<C>) {
      if constexpr (std::is_signed_v<C>) {
        if (y == -1) return C{0};  // INT_MIN % -1 would overflow
      }
      r = static_cast<C>(x % y);
    } else {
      r = std::fmod(x, y);
    }
    if constexpr (std::is_signed_v<C> || std::is_floating_point_v<C>) {
      if (fmod == 0 && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
    }
    return r;
  };
  return same_type_binary<kNumeric, false>(ctx, op);
}

// x^n for integers by repeated squaring, wrapping on overflow.
template <class C>
C integer_power(C base, int64_t exponent) {
  if (exponent < 0) {
    if (base == 1) return 1;
    if constexpr (std::is_signed_v<C>) {
      if (base == -1) return (exponent & 1) ? C{-1} : C{1};
    }
    return 0;
  }
  C result = 1;
  while (exponent > 0) {
    if (exponent & 1) result = wrapping_mul(result, base);
    base = wrapping_mul(base, base);
    exponent >>= 1;
  }
  return result;
}

template <class C, class E>
C power(C x, E y) {
  if constexpr (std::is_integral_v<C> && std::is_integral_v<E>) {
    return integer_power<C>(x, static_cast<int64_t>(y));
  } else if constexpr (std::is_integral_v<C>) {
    return saturate_cast<C>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  } else {
    return static_cast<C>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  }
}

// Pow: base and exponent may have different element types (opset 12+); the result has the base's.
template <bool Legacy>
Status pow(KernelContext& ctx) {
  const Tensor *a, *b;
  HONE_RETURN_IF_ERROR(two_inputs(ctx, a, b));
  Tensor exponent = *b;
  if constexpr (Legacy) {
    HONE_ASSIGN_OR_RETURN(exponent, legacy_broadcast_operand(ctx, *a, *b));
  }
  return with_node(ctx, dispatch<kNumeric>(a->dtype(), [&](auto base_tag) -> Status {
    using TB = typename decltype(base_tag)::type;
    return dispatch<kNumeric>(exponent.dtype(), [&](auto exp_tag) -> Status {
      using TE = typename decltype(exp_tag)::type;
      return binary<TB, TE, TB>(ctx, *a, exponent, a->dtype(), power<compute_t<TB>, compute_t<TE>>);
    });
  }));
}

constexpr KernelFn kAddLegacy = add<true>, kAddBroadcast = add<false>;
constexpr KernelFn kSubLegacy = sub<true>, kSubBroadcast = sub<false>;
constexpr KernelFn kMulLegacy = mul<true>, kMulBroadcast = mul<false>;
constexpr KernelFn kDivLegacy = div<true>, kDivBroadcast = div<false>;
constexpr KernelFn kPowLegacy = pow<true>, kPowBroadcast = pow<false>;

HONE_REGISTER_FN("", Add, 1, 6, kAddLegacy);
HONE_REGISTER_FN("", Add, 7, kMaxOpset, kAddBroadcast);
HONE_REGISTER_FN("", Sub, 1, 6, kSubLegacy);
HONE_REGISTER_FN("", Sub, 7, kMaxOpset, kSubBroadcast);
HONE_REGISTER_FN("", Mul, 1, 6, kMulLegacy);
HONE_REGISTER_FN("", Mul, 7, kMaxOpset, kMulBroadcast);
HONE_REGISTER_FN("", Div, 1, 6, kDivLegacy);
HONE_REGISTER_FN("", Div, 7, kMaxOpset, kDivBroadcast);
HONE_REGISTER_FN("", Pow, 1, 6, kPowLegacy);
HONE_REGISTER_FN("", Pow, 7, kMaxOpset, kPowBroadcast);
HONE_REGISTER_FN("", Mod, 10, kMaxOpset, mod);

}  // namespace
}  // namespace hone::rt
