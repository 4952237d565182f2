// Activations: Clip Elu Gelu HardSigmoid HardSwish LeakyRelu PRelu Relu Selu Sigmoid Softplus Tanh.
// float16/bfloat16 are computed in float; fp32 Gelu runs on kernels/x86's f32_gelu_erf_* /
// f32_gelu_tanh_*. hone.Gelu is the internal node the fuse_gelu pass makes of the exported
// Div/Erf/Add/Mul/Mul pattern (same attribute as ONNX Gelu; only inside a Session).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/x86/f32_kernels.h"
#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_util.h"
#include "runtime/ops/parallel_rows.h"

namespace hone::rt {
namespace {

using namespace elementwise;

Status relu(KernelContext& ctx) {
  return unary<kAllFloats | kSigned>(ctx, [](auto x) { return x > 0 ? x : decltype(x){0}; });
}

Status leaky_relu(KernelContext& ctx) {
  const float alpha = ctx.node().attr_float("alpha", 0.01f);
  return unary<kAllFloats>(ctx, [alpha](auto x) {
    using C = decltype(x);
    return x >= 0 ? x : static_cast<C>(alpha) * x;
  });
}

Status elu(KernelContext& ctx) {
  const float alpha = ctx.node().attr_float("alpha", 1.0f);
  return unary<kAllFloats>(ctx, [alpha](auto x) {
    using C = decltype(x);
    return x >= 0 ? x : static_cast<C>(alpha) * std::expm1(x);
  });
}

Status selu(KernelContext& ctx) {
  const float alpha = ctx.node().attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.node().attr_float("gamma", 1.05070102214813232421875f);
  return unary<kAllFloats>(ctx, [alpha, gamma](auto x) {
    using C = decltype(x);
    return static_cast<C>(gamma) * (x > 0 ? x : static_cast<C>(alpha) * std::expm1(x));
  });
}

Status hard_sigmoid(KernelContext& ctx) {
  const float alpha = ctx.node().attr_float("alpha", 0.2f);
  const float beta = ctx.node().attr_float("beta", 0.5f);
  return unary<kAllFloats>(ctx, [alpha, beta](auto x) {
    using C = decltype(x);
    return std::clamp(static_cast<C>(alpha) * x + static_cast<C>(beta), C{0}, C{1});
  });
}

Status hard_swish(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) {
    using C = decltype(x);
    return x * std::clamp(x / C{6} + C{0.5}, C{0}, C{1});
  });
}

// exp of a non-positive argument only, so that large |x| neither overflows nor loses the result.
Status sigmoid(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) {
    using C = decltype(x);
    if (x >= 0) return C{1} / (C{1} + std::exp(-x));
    const C e = std::exp(x);
    return e / (C{1} + e);
  });
}

// log(1 + exp(x)) written as max(x, 0) + log1p(exp(-|x|)) so that it cannot overflow.
Status softplus(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) {
    using C = decltype(x);
    return std::max(x, C{0}) + std::log1p(std::exp(-std::fabs(x)));
  });
}

Status tanh(KernelContext& ctx) {
  return unary<kAllFloats>(ctx, [](auto x) { return std::tanh(x); });
}

Status gelu_with(KernelContext& ctx, const std::string& approximate) {
  if (const Tensor* x = ctx.input(0); x && x->dtype() == DType::kFloat32 && (approximate == "none" || approximate == "tanh"))
    return map_f32(ctx, *x, approximate == "none" ? kernels::x86::gelu_erf_best() : kernels::x86::gelu_tanh_best());
  if (approximate == "tanh") {
    return unary<kAllFloats>(ctx, [](auto x) {
      using C = decltype(x);
      const C k = static_cast<C>(0.7978845608028654);  // sqrt(2 / pi)
      return C{0.5} * x * (C{1} + std::tanh(k * (x + static_cast<C>(0.044715) * x * x * x)));
    });
  }
  if (approximate != "none") return ctx.error("attribute approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
  return unary<kAllFloats>(ctx, [](auto x) {
    using C = decltype(x);
    return C{0.5} * x * (C{1} + std::erf(x * static_cast<C>(0.7071067811865476)));  // x / sqrt(2)
  });
}

Status gelu(KernelContext& ctx) { return gelu_with(ctx, ctx.node().attr_string("approximate", "none")); }
// com.microsoft.Gelu has no attribute: always the exact (erf) form.
Status gelu_microsoft(KernelContext& ctx) { return gelu_with(ctx, "none"); }

// PRelu: slope broadcasts to X (unidirectionally: the output has X's shape). Before opset 7 a
// 1-D slope held one value per channel (dim 1 of X), as PyTorch exported it then.
template <bool Legacy>
Status prelu(KernelContext& ctx) {
  const Tensor *x, *slope_input;
  HONE_RETURN_IF_ERROR(two_inputs(ctx, x, slope_input));
  Tensor per_channel;
  if (Legacy && slope_input->rank() == 1 && x->rank() >= 2 && slope_input->dim(0) == x->dim(1)) {
    Shape shape(static_cast<size_t>(x->rank() - 1), 1);
    shape[0] = x->dim(1);
    auto r = slope_input->reshaped(shape);
    if (!r.ok()) return ctx.error(r.status().message());
    per_channel = std::move(r).value();
  }
  const Tensor* slope = per_channel.defined() ? &per_channel : slope_input;
  if (x->dtype() != slope->dtype()) return ctx.error("X and slope have different element types");
  auto shape = broadcast_shapes(x->shape(), slope->shape());
  if (!shape.ok() || *shape != x->shape())
    return ctx.error("slope of shape " + shape_to_string(slope->shape()) + " cannot be broadcast to X of shape " +
                     shape_to_string(x->shape()));
  return with_node(ctx, dispatch<kAllFloats | kSigned | kUnsigned>(x->dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    return binary<T, T, T>(ctx, *x, *slope, x->dtype(), [](auto v, auto s) {
      using C = decltype(v);
      return v < 0 ? static_cast<C>(s * v) : v;
    });
  }));
}

// Clip before opset 11: bounds are float attributes.
Status clip_attributes(KernelContext& ctx) {
  const float lo = ctx.node().attr_float("min", std::numeric_limits<float>::lowest());
  const float hi = ctx.node().attr_float("max", std::numeric_limits<float>::max());
  return unary<kAllFloats>(ctx, [lo, hi](auto x) {
    using C = decltype(x);
    return std::min(std::max(x, static_cast<C>(lo)), static_cast<C>(hi));
  });
}

// Clip from opset 11: bounds are optional scalar inputs of X's type. min > max gives max (numpy).
Status clip_inputs(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input 0 is missing");
  for (size_t i = 1; i <= 2; ++i) {
    const Tensor* bound = ctx.input(i);
    if (!bound) continue;
    if (bound->dtype() != x->dtype()) return ctx.error("bound " + std::to_string(i) + " does not have X's element type");
    if (bound->numel() != 1) return ctx.error("bound " + std::to_string(i) + " must be a scalar, got shape " +
                                              shape_to_string(bound->shape()));
  }
  return with_node(ctx, dispatch<kNumeric>(x->dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    auto bound = [&](size_t i, C fallback) {
      const Tensor* t = ctx.input(i);
      return t ? Elem<T>::load(t->data<storage_t<T>>()[0]) : fallback;
    };
    const C lo = bound(1, std::numeric_limits<C>::lowest());
    const C hi = bound(2, std::numeric_limits<C>::max());
    return unary_to<T, T>(ctx, x->dtype(), [lo, hi](C v) { return std::min(std::max(v, lo), hi); });
  }));
}

constexpr KernelFn kPReluPerChannel = prelu<true>, kPReluBroadcast = prelu<false>;

HONE_REGISTER_FN("", Clip, 1, 10, clip_attributes);
HONE_REGISTER_FN("", Clip, 11, kMaxOpset, clip_inputs);
HONE_REGISTER_FN("", Elu, 1, kMaxOpset, elu);
HONE_REGISTER_FN("", Gelu, 20, kMaxOpset, gelu);
HONE_REGISTER_FN("com.microsoft", Gelu, 1, kMaxOpset, gelu_microsoft);
HONE_REGISTER_FN("hone", Gelu, 1, kMaxOpset, gelu);
HONE_REGISTER_FN("", HardSigmoid, 1, kMaxOpset, hard_sigmoid);
HONE_REGISTER_FN("", HardSwish, 14, kMaxOpset, hard_swish);
HONE_REGISTER_FN("", LeakyRelu, 1, kMaxOpset, leaky_relu);
HONE_REGISTER_FN("", PRelu, 1, 6, kPReluPerChannel);
HONE_REGISTER_FN("", PRelu, 7, kMaxOpset, kPReluBroadcast);
HONE_REGISTER_FN("", Relu, 1, kMaxOpset, relu);
HONE_REGISTER_FN("", Selu, 1, kMaxOpset, selu);
HONE_REGISTER_FN("", Sigmoid, 1, kMaxOpset, sigmoid);
HONE_REGISTER_FN("", Softplus, 1, kMaxOpset, softplus);
HONE_REGISTER_FN("", Tanh, 1, kMaxOpset, tanh);

}  // namespace
}  // namespace hone::rt
