// hone.FusedAdd: what the fuse_add_activation pass makes of Add(A, B) followed by an activation
// (ResNet's residual Add + Relu): Y = act(A + B) with numpy broadcasting, fp32. Each inner run of
// the broadcast plan is added by the f32_add kernel and the activation applied to it while it is
// still in cache, instead of a second pass over the whole output. Internal to a Session.
#include "kernels/x86/f32_kernels.h"
#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_util.h"
#include "runtime/ops/fused_activation.h"

namespace hone::rt {
namespace {

using namespace elementwise;

class FusedAddKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<FusedAddKernel>();
    auto act = read_fused_activation(ctx.node());
    if (!act.ok()) return ctx.error(act.status().message());
    k->activation_ = *act;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor *a, *b;
    HONE_RETURN_IF_ERROR(two_inputs(ctx, a, b));
    if (a->dtype() != DType::kFloat32 || b->dtype() != DType::kFloat32) return ctx.error("A and B must be float32");
    auto plan = plan_broadcast<2>({&a->shape(), &b->shape()});
    if (!plan.ok()) return ctx.error(plan.status().message());
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(0, DType::kFloat32, plan->out_shape));
    const float* pa = a->data<float>();
    const float* pb = b->data<float>();
    float* po = out->data<float>();
    const auto add = kernels::x86::add_best();
    const FusedActivation act = activation_;
    for_each_run<2>(ctx, *plan, [&](int64_t o, const std::array<int64_t, 2>& off, int64_t count,
                                    const std::array<int64_t, 2>& st) {
      if (st[0] <= 1 && st[1] <= 1) {
        add(pa + off[0], st[0], pb + off[1], st[1], po + o, count);
      } else {
        for (int64_t i = 0; i < count; ++i) po[o + i] = pa[off[0] + i * st[0]] + pb[off[1] + i * st[1]];
      }
      apply_activation(act, po + o, count, 1);  // already inside the run's thread
    });
    return Status::Ok();
  }

 private:
  FusedActivation activation_;
};

}  // namespace

HONE_REGISTER_KERNEL("hone", FusedAdd, 1, kMaxOpset, FusedAddKernel);

}  // namespace hone::rt
