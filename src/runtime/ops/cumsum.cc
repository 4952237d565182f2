// CumSum along one axis, optionally exclusive (each output excludes its own element) and/or
// reversed (summing from the end).
#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

Status cumsum(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* axis_t, required_input(ctx, 1));
  auto axis_v = read_ints(*axis_t);
  if (!axis_v.ok() || axis_v->size() != 1) return ctx.error("axis must be an integer scalar");
  auto axis_r = normalize_axis((*axis_v)[0], x->rank());
  if (!axis_r.ok()) return ctx.error(axis_r.status().message());
  const size_t axis = static_cast<size_t>(*axis_r);
  const bool exclusive = ctx.node().attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node().attr_int("reverse", 0) != 0;
  const int64_t dim = x->shape()[axis];
  const int64_t outer = dims_product(x->shape(), 0, axis), inner = dims_product(x->shape(), axis + 1, x->shape().size());
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), x->shape()));
  return dispatch_numeric(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* src = x->data<T>();
    T* dst = out->data<T>();
#pragma omp parallel for if (x->numel() > (1 << 16))
    for (int64_t o = 0; o < outer; ++o) {
      // Running sums of a whole row of `inner` lanes at once: the inner loop stays contiguous.
      for (int64_t step = 0; step < dim; ++step) {
        const int64_t j = reverse ? dim - 1 - step : step;
        const int64_t prev = reverse ? j + 1 : j - 1;
        const T* xrow = src + (o * dim + j) * inner;
        T* yrow = dst + (o * dim + j) * inner;
        if (step == 0) {
          for (int64_t i = 0; i < inner; ++i) yrow[i] = exclusive ? T(0) : xrow[i];
          continue;
        }
        const T* yprev = dst + (o * dim + prev) * inner;
        const T* xprev = src + (o * dim + prev) * inner;
        for (int64_t i = 0; i < inner; ++i) yrow[i] = static_cast<T>(yprev[i] + (exclusive ? xprev[i] : xrow[i]));
      }
    }
    return Status::Ok();
  });
}

}  // namespace

HONE_REGISTER_FN("", CumSum, 11, kMaxOpset, cumsum);

}  // namespace hone::rt
