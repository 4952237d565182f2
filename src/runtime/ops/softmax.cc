// Softmax and LogSoftmax. Before opset 13 the input is coerced to 2-D [prod(dims[:axis]),
// prod(dims[axis:])] and normalized along the second dim; from 13 on, along the single dim `axis`.
// Both subtract the maximum first so that exp() cannot overflow. fp32 Softmax along a contiguous
// last axis runs on kernels/x86's f32_softmax_* (the widest the CPU has), split by rows over
// threads; everything else on the double-accumulating loop below.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/x86/f32_kernels.h"
#include "runtime/op_registry.h"
#include "runtime/ops/half_convert.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/parallel_rows.h"

namespace hone::rt {
namespace {

// The input viewed as [outer, length, inner], normalized along `length`.
struct SoftmaxGeometry {
  int64_t outer = 1, length = 1, inner = 1;
};

template <class T, bool kLog>
void softmax_rows(const T* x, T* y, const SoftmaxGeometry& g) {
  const int64_t lines = g.outer * g.inner;
  const bool parallel = lines > 1 && lines * g.length > (1 << 16);
#pragma omp parallel for if (parallel)
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t o = line / g.inner, in = line % g.inner;
    const T* src = x + o * g.length * g.inner + in;
    T* dst = y + o * g.length * g.inner + in;
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < g.length; ++j) max = std::max(max, static_cast<double>(src[j * g.inner]));
    double sum = 0;
    for (int64_t j = 0; j < g.length; ++j) sum += std::exp(static_cast<double>(src[j * g.inner]) - max);
    if constexpr (kLog) {
      const double log_sum = std::log(sum);
      for (int64_t j = 0; j < g.length; ++j)
        dst[j * g.inner] = static_cast<T>(static_cast<double>(src[j * g.inner]) - max - log_sum);
    } else {
      for (int64_t j = 0; j < g.length; ++j)
        dst[j * g.inner] = static_cast<T>(std::exp(static_cast<double>(src[j * g.inner]) - max) / sum);
    }
  }
}

template <bool kLog>
class SoftmaxKernel final : public Kernel {
 public:
  explicit SoftmaxKernel(int64_t opset) : per_axis_(opset >= 13) {}

  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    return std::unique_ptr<Kernel>(std::make_unique<SoftmaxKernel>(ctx.opset()));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("missing input");
    auto axis = normalize_axis(ctx.node().attr_int("axis", per_axis_ ? -1 : 1), x->rank());
    if (!axis.ok()) return ctx.error(axis.status().message());
    SoftmaxGeometry g;
    for (int64_t d = 0; d < x->rank(); ++d) {
      if (d < *axis) g.outer *= x->dim(d);
      else if (d == *axis || !per_axis_) g.length *= x->dim(d);
      else g.inner *= x->dim(d);
    }
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, x->dtype(), x->shape()));
    if (x->numel() == 0) return Status::Ok();
    if (!kLog && x->dtype() == DType::kFloat32 && g.inner == 1) {
      const auto softmax = kernels::x86::softmax_best();
      const float* xd = x->data<float>();
      float* yd = y->data<float>();
      const int64_t n = g.length;
      parallel_rows(ctx, g.outer, n, [&](int64_t begin, int64_t end) {
        softmax(xd + begin * n, yd + begin * n, end - begin, n);
      });
      return Status::Ok();
    }
    if (is_half_type(x->dtype())) {
      const std::vector<float> x32 = widen_to_float(*x);
      std::vector<float> y32(x32.size());
      softmax_rows<float, kLog>(x32.data(), y32.data(), g);
      narrow_from_float(y32.data(), *y);
      return Status::Ok();
    }
    Status s = dispatch_float(x->dtype(), [&](auto zero) -> Status {
      using T = decltype(zero);
      softmax_rows<T, kLog>(x->data<T>(), y->data<T>(), g);
      return Status::Ok();
    });
    return s.with_context(node_label(ctx.node()));
  }

 private:
  bool per_axis_;
};

}  // namespace

HONE_REGISTER_KERNEL("", Softmax, 1, kMaxOpset, SoftmaxKernel<false>);
HONE_REGISTER_KERNEL("", LogSoftmax, 1, kMaxOpset, SoftmaxKernel<true>);

}  // namespace hone::rt
