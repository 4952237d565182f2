// The Reduce* family. Axes come from the `axes` attribute, or from the optional second input
// (ReduceSum from opset 13, the others from 18). No axes means all axes, unless
// noop_with_empty_axes asks for an identity. Reducing an empty set yields the operation's
// identity: 0 for sums and norms, 1 for Prod, -inf/+inf (or the integer limits) for Max/Min,
// NaN for the float Mean, -inf for LogSum and LogSumExp.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "runtime/op_registry.h"
#include "runtime/ops/half_convert.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

enum class ReduceOp { kL1, kL2, kLogSum, kLogSumExp, kMax, kMean, kMin, kProd, kSum, kSumSquare };

// Floats accumulate in double; integers in 64 bits with wrap-around (never undefined overflow).
template <class T>
using Wide = std::conditional_t<std::is_floating_point_v<T>, double,
                                std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

template <class A>
A wrap_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else return a + b;
}
template <class A>
A wrap_mul(A a, A b) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else return a * b;
}

template <ReduceOp kOp, class T>
struct Reducer {
  using Acc = Wide<T>;
  Acc acc;
  // LogSumExp keeps sum(exp(x - lse_max)) with a running maximum, in double for every type.
  double lse_max = -std::numeric_limits<double>::infinity();
  double lse_sum = 0;

  Reducer() {
    if constexpr (kOp == ReduceOp::kProd) acc = Acc{1};
    else if constexpr (kOp == ReduceOp::kMax)
      acc = std::is_floating_point_v<T> ? static_cast<Acc>(-std::numeric_limits<T>::infinity())
                                        : static_cast<Acc>(std::numeric_limits<T>::lowest());
    else if constexpr (kOp == ReduceOp::kMin)
      acc = std::is_floating_point_v<T> ? static_cast<Acc>(std::numeric_limits<T>::infinity())
                                        : static_cast<Acc>(std::numeric_limits<T>::max());
    else acc = Acc{0};
  }

  void add(T value) {
    const Acc x = static_cast<Acc>(value);
    if constexpr (kOp == ReduceOp::kSum || kOp == ReduceOp::kMean || kOp == ReduceOp::kLogSum) {
      acc = wrap_add(acc, x);
    } else if constexpr (kOp == ReduceOp::kSumSquare || kOp == ReduceOp::kL2) {
      acc = wrap_add(acc, wrap_mul(x, x));
    } else if constexpr (kOp == ReduceOp::kL1) {
      if constexpr (std::is_signed_v<Acc>) acc = wrap_add(acc, x < Acc{0} ? wrap_mul(x, Acc{-1}) : x);
      else acc = wrap_add(acc, x);
    } else if constexpr (kOp == ReduceOp::kProd) {
      acc = wrap_mul(acc, x);
    } else if constexpr (kOp == ReduceOp::kMax) {
      if (x > acc || std::isnan(static_cast<double>(x))) acc = x;
    } else if constexpr (kOp == ReduceOp::kMin) {
      if (x < acc || std::isnan(static_cast<double>(x))) acc = x;
    } else {  // kLogSumExp: rescale the running sum whenever the maximum grows
      const double v = static_cast<double>(value);
      if (v > lse_max) {
        lse_sum = lse_sum * std::exp(lse_max - v) + 1.0;
        lse_max = v;
      } else {
        lse_sum += std::exp(v - lse_max);
      }
    }
  }

  T result(int64_t count) const {
    if constexpr (kOp == ReduceOp::kL2) return static_cast<T>(std::sqrt(static_cast<double>(acc)));
    else if constexpr (kOp == ReduceOp::kLogSum) return static_cast<T>(std::log(static_cast<double>(acc)));
    else if constexpr (kOp == ReduceOp::kLogSumExp)
      return static_cast<T>(count == 0 ? lse_max : lse_max + std::log(lse_sum));
    else if constexpr (kOp == ReduceOp::kMean) {
      if constexpr (std::is_integral_v<Acc>) return count == 0 ? T{0} : static_cast<T>(acc / static_cast<Acc>(count));
      else return static_cast<T>(acc / static_cast<double>(count));
    } else return static_cast<T>(acc);
  }
};

struct DimRun {
  int64_t size;
  int64_t stride;  // in elements of the input
};

// The input split into kept and reduced dims, each run of adjacent dims of the same kind merged.
struct ReduceGeometry {
  std::vector<DimRun> kept, reduced;
  int64_t outputs = 1, count = 1;  // elements per output, and reduced elements per output
};

ReduceGeometry make_geometry(const Shape& shape, const std::vector<bool>& is_reduced) {
  ReduceGeometry g;
  const auto strides = strides_of(shape);
  int prev_kind = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // contributes nothing to either index space
    const int kind = is_reduced[d] ? 1 : 0;
    auto& runs = kind ? g.reduced : g.kept;
    if (kind == prev_kind) {
      runs.back().size *= shape[d];
      runs.back().stride = strides[d];
    } else {
      runs.push_back({shape[d], strides[d]});
    }
    prev_kind = kind;
    (kind ? g.count : g.outputs) *= shape[d];
  }
  if (g.reduced.empty()) g.reduced.push_back({1, 0});
  return g;
}

template <ReduceOp kOp, class T>
void reduce_typed(const T* x, T* y, const ReduceGeometry& g) {
  const DimRun inner = g.reduced.back();
  const int64_t rows = inner.size == 0 ? 0 : g.count / inner.size;
  const bool parallel = g.outputs > 1 && g.outputs * g.count > (1 << 16);
#pragma omp parallel for if (parallel)
  for (int64_t o = 0; o < g.outputs; ++o) {
    int64_t base = 0;
    for (size_t d = g.kept.size(), rest = static_cast<size_t>(o); d-- > 0;) {
      base += static_cast<int64_t>(rest % static_cast<size_t>(g.kept[d].size)) * g.kept[d].stride;
      rest /= static_cast<size_t>(g.kept[d].size);
    }
    Reducer<kOp, T> r;
    for (int64_t row = 0; row < rows; ++row) {
      int64_t offset = base;
      for (size_t d = g.reduced.size() - 1, rest = static_cast<size_t>(row); d-- > 0;) {
        offset += static_cast<int64_t>(rest % static_cast<size_t>(g.reduced[d].size)) * g.reduced[d].stride;
        rest /= static_cast<size_t>(g.reduced[d].size);
      }
      const T* p = x + offset;
      for (int64_t j = 0; j < inner.size; ++j) r.add(p[j * inner.stride]);
    }
    y[o] = r.result(g.count);
  }
}

template <ReduceOp kOp, bool kAxesFromInput>
class ReduceKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext&) {
    return std::unique_ptr<Kernel>(std::make_unique<ReduceKernel>());
  }

  Status run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("missing input");
    std::vector<int64_t> axes;
    if constexpr (kAxesFromInput) {
      if (const Tensor* t = ctx.input(1)) {
        if (t->rank() > 1) return ctx.error("axes must be 1-D, got shape " + shape_to_string(t->shape()));
        auto v = read_ints(*t);
        if (!v.ok()) return ctx.error("axes: " + v.status().message());
        axes = std::move(v).value();
      }
    } else {
      axes = ctx.node().attr_ints("axes");
    }
    const bool keepdims = ctx.node().attr_int("keepdims", 1) != 0;
    if (axes.empty() && ctx.node().attr_int("noop_with_empty_axes", 0) != 0) return ctx.set_output(0, *x);

    const int64_t rank = x->rank();
    std::vector<bool> is_reduced(static_cast<size_t>(rank), axes.empty());
    for (int64_t axis : axes) {
      auto a = normalize_axis(axis, rank);
      if (!a.ok()) return ctx.error(a.status().message());
      if (is_reduced[static_cast<size_t>(*a)] && !axes.empty())
        return ctx.error("axis " + std::to_string(axis) + " is listed twice");
      is_reduced[static_cast<size_t>(*a)] = true;
    }
    Shape out_shape;
    for (int64_t d = 0; d < rank; ++d) {
      if (!is_reduced[static_cast<size_t>(d)]) out_shape.push_back(x->dim(d));
      else if (keepdims) out_shape.push_back(1);
    }
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out_shape));
    const ReduceGeometry g = make_geometry(x->shape(), is_reduced);

    if (is_half_type(x->dtype())) {
      const std::vector<float> x32 = widen_to_float(*x);
      std::vector<float> y32(static_cast<size_t>(y->numel()));
      reduce_typed<kOp, float>(x32.data(), y32.data(), g);
      narrow_from_float(y32.data(), *y);
      return Status::Ok();
    }
    Status s = dispatch_numeric(x->dtype(), [&](auto zero) -> Status {
      using T = decltype(zero);
      reduce_typed<kOp, T>(x->data<T>(), y->data<T>(), g);
      return Status::Ok();
    });
    return s.with_context(node_label(ctx.node()));
  }
};

// Each op has two registrations: axes as attribute up to the opset before `axes_input_since`,
// axes as input from it on.
template <ReduceOp kOp>
bool register_reduce(const char* op_type, int axes_input_since) {
  auto& registry = OpRegistry::global();
  const bool attr_ok = registry.add({"", op_type, 1, axes_input_since - 1, &ReduceKernel<kOp, false>::create});
  const bool input_ok = registry.add({"", op_type, axes_input_since, kMaxOpset, &ReduceKernel<kOp, true>::create});
  return attr_ok && input_ok;
}

const bool kReduceOpsRegistered =
    register_reduce<ReduceOp::kL1>("ReduceL1", 18) && register_reduce<ReduceOp::kL2>("ReduceL2", 18) &&
    register_reduce<ReduceOp::kLogSum>("ReduceLogSum", 18) &&
    register_reduce<ReduceOp::kLogSumExp>("ReduceLogSumExp", 18) &&
    register_reduce<ReduceOp::kMax>("ReduceMax", 18) && register_reduce<ReduceOp::kMean>("ReduceMean", 18) &&
    register_reduce<ReduceOp::kMin>("ReduceMin", 18) && register_reduce<ReduceOp::kProd>("ReduceProd", 18) &&
    register_reduce<ReduceOp::kSum>("ReduceSum", 13) &&
    register_reduce<ReduceOp::kSumSquare>("ReduceSumSquare", 18);

}  // namespace
}  // namespace hone::rt
