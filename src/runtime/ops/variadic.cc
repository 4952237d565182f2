// Variadic ops with broadcasting: Max Min Sum Mean. (Before opset 8 the inputs had to have equal
// shapes; broadcasting accepts every such model too.)
#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_util.h"

namespace hone::rt {
namespace {

using namespace elementwise;

// Folds f over all inputs into output 0: out = in0, then out = f(out, in_k) in place.
// Mean additionally divides by the input count.
template <unsigned Allowed, class F>
Status fold(KernelContext& ctx, F f, bool mean) {
  if (ctx.num_inputs() == 0) return ctx.error("expects at least one input");
  Shape shape;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    const Tensor* t = ctx.input(k);
    if (!t) return ctx.error("input " + std::to_string(k) + " is missing");
    if (t->dtype() != ctx.input(0)->dtype()) return ctx.error("inputs have different element types");
    if (k == 0) {
      shape = t->shape();
      continue;
    }
    auto s = broadcast_shapes(shape, t->shape());
    if (!s.ok()) return ctx.error(s.status().message());
    shape = std::move(s).value();
  }
  const DType dtype = ctx.input(0)->dtype();
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, dtype, shape));
  return with_node(ctx, dispatch<Allowed>(dtype, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    for (size_t k = 0; k < ctx.num_inputs(); ++k) {
      const Tensor& in = *ctx.input(k);
      HONE_ASSIGN_OR_RETURN(auto plan, plan_broadcast<2>({&out->shape(), &in.shape()}));
      Status s = k == 0 ? binary_into<T, T, T>(ctx, *out, in, *out, plan, [](C, C y) { return y; })
                        : binary_into<T, T, T>(ctx, *out, in, *out, plan, f);
      HONE_RETURN_IF_ERROR(s);
    }
    if (mean) {
      const C count = static_cast<C>(ctx.num_inputs());
      map_unary<T, T>(ctx, *out, *out, [count](C v) { return v / count; });
    }
    return Status::Ok();
  }));
}

// NaN wins, as in numpy's maximum/minimum.
constexpr auto kMax = [](auto x, auto y) { return (x != x || x > y) ? x : y; };
constexpr auto kMin = [](auto x, auto y) { return (x != x || x < y) ? x : y; };
constexpr auto kAdd = [](auto x, auto y) { return wrapping_add(x, y); };

Status max(KernelContext& ctx) { return fold<kNumeric>(ctx, kMax, false); }
Status min(KernelContext& ctx) { return fold<kNumeric>(ctx, kMin, false); }
Status sum(KernelContext& ctx) { return fold<kAllFloats>(ctx, kAdd, false); }
Status mean(KernelContext& ctx) { return fold<kAllFloats>(ctx, kAdd, true); }

HONE_REGISTER_FN("", Max, 1, kMaxOpset, max);
HONE_REGISTER_FN("", Min, 1, kMaxOpset, min);
HONE_REGISTER_FN("", Sum, 1, kMaxOpset, sum);
HONE_REGISTER_FN("", Mean, 1, kMaxOpset, mean);

}  // namespace
}  // namespace hone::rt
