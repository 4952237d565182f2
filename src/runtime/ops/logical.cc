// Comparisons (Equal Greater GreaterOrEqual Less LessOrEqual), boolean logic (And Or Xor Not)
// and Where. Comparisons of float16/bfloat16 happen in float, which is exact.
#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_util.h"

namespace hone::rt {
namespace {

using namespace elementwise;

// out (bool) = f(a, b) over the types in Allowed. Legacy: opset < 7 broadcasting rules.
template <unsigned Allowed, bool Legacy, class F>
Status predicate(KernelContext& ctx, F f) {
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
    return binary<T, T, bool>(ctx, *a, rhs, DType::kBool, f);
  }));
}

template <bool Legacy>
Status equal(KernelContext& ctx) {
  return predicate<kAll, Legacy>(ctx, [](auto x, auto y) { return x == y; });
}
template <bool Legacy>
Status greater(KernelContext& ctx) {
  return predicate<kNumeric, Legacy>(ctx, [](auto x, auto y) { return x > y; });
}
template <bool Legacy>
Status less(KernelContext& ctx) {
  return predicate<kNumeric, Legacy>(ctx, [](auto x, auto y) { return x < y; });
}
Status greater_or_equal(KernelContext& ctx) {
  return predicate<kNumeric, false>(ctx, [](auto x, auto y) { return x >= y; });
}
Status less_or_equal(KernelContext& ctx) {
  return predicate<kNumeric, false>(ctx, [](auto x, auto y) { return x <= y; });
}
template <bool Legacy>
Status logical_and(KernelContext& ctx) {
  return predicate<kBool, Legacy>(ctx, [](bool x, bool y) { return x && y; });
}
template <bool Legacy>
Status logical_or(KernelContext& ctx) {
  return predicate<kBool, Legacy>(ctx, [](bool x, bool y) { return x || y; });
}
template <bool Legacy>
Status logical_xor(KernelContext& ctx) {
  return predicate<kBool, Legacy>(ctx, [](bool x, bool y) { return x != y; });
}

Status logical_not(KernelContext& ctx) {
  return unary<kBool>(ctx, [](bool x) { return !x; });
}

// Where(condition, X, Y): a 3-way broadcast that only copies elements, so it works on raw
// elements of X's byte size whatever their type.
Status where(KernelContext& ctx) {
  const Tensor* cond = ctx.input(0);
  const Tensor* x = ctx.input(1);
  const Tensor* y = ctx.input(2);
  if (!cond || !x || !y) return ctx.error("expects three inputs");
  if (cond->dtype() != DType::kBool) return ctx.error("condition must be bool, got " + std::string(dtype_name(cond->dtype())));
  if (x->dtype() != y->dtype()) return ctx.error("X and Y have different element types");
  if (x->dtype() == DType::kString) return ctx.error("string tensors are not supported");
  auto plan = plan_broadcast<3>({&cond->shape(), &x->shape(), &y->shape()});
  if (!plan.ok()) return ctx.error(plan.status().message());
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), plan->out_shape));
  auto run = [&](auto element) {
    using E = decltype(element);
    const bool* c = cond->data<bool>();
    const E* px = x->data<E>();
    const E* py = y->data<E>();
    E* po = out->data<E>();
    for_each_run<3>(ctx, *plan, [&](int64_t o, const std::array<int64_t, 3>& off, int64_t count,
                                    const std::array<int64_t, 3>& st) {
      for (int64_t i = 0; i < count; ++i)
        po[o + i] = c[off[0] + i * st[0]] ? px[off[1] + i * st[1]] : py[off[2] + i * st[2]];
    });
    return Status::Ok();
  };
  switch (dtype_size(x->dtype())) {
    case 1: return run(uint8_t{});
    case 2: return run(uint16_t{});
    case 4: return run(uint32_t{});
    case 8: return run(uint64_t{});
    default: return ctx.error("element type " + std::string(dtype_name(x->dtype())) + " is not supported");
  }
}

constexpr KernelFn kEqualLegacy = equal<true>, kEqualBroadcast = equal<false>;
constexpr KernelFn kGreaterLegacy = greater<true>, kGreaterBroadcast = greater<false>;
constexpr KernelFn kLessLegacy = less<true>, kLessBroadcast = less<false>;
constexpr KernelFn kAndLegacy = logical_and<true>, kAndBroadcast = logical_and<false>;
constexpr KernelFn kOrLegacy = logical_or<true>, kOrBroadcast = logical_or<false>;
constexpr KernelFn kXorLegacy = logical_xor<true>, kXorBroadcast = logical_xor<false>;

HONE_REGISTER_FN("", Equal, 1, 6, kEqualLegacy);
HONE_REGISTER_FN("", Equal, 7, kMaxOpset, kEqualBroadcast);
HONE_REGISTER_FN("", Greater, 1, 6, kGreaterLegacy);
HONE_REGISTER_FN("", Greater, 7, kMaxOpset, kGreaterBroadcast);
HONE_REGISTER_FN("", Less, 1, 6, kLessLegacy);
HONE_REGISTER_FN("", Less, 7, kMaxOpset, kLessBroadcast);
HONE_REGISTER_FN("", GreaterOrEqual, 12, kMaxOpset, greater_or_equal);
HONE_REGISTER_FN("", LessOrEqual, 12, kMaxOpset, less_or_equal);
HONE_REGISTER_FN("", And, 1, 6, kAndLegacy);
HONE_REGISTER_FN("", And, 7, kMaxOpset, kAndBroadcast);
HONE_REGISTER_FN("", Or, 1, 6, kOrLegacy);
HONE_REGISTER_FN("", Or, 7, kMaxOpset, kOrBroadcast);
HONE_REGISTER_FN("", Xor, 1, 6, kXorLegacy);
HONE_REGISTER_FN("", Xor, 7, kMaxOpset, kXorBroadcast);
HONE_REGISTER_FN("", Not, 1, kMaxOpset, logical_not);
HONE_REGISTER_FN("", Where, 9, kMaxOpset, where);

}  // namespace
}  // namespace hone::rt
