// Shared machinery of the elementwise op family (elementwise_unary/binary, activation, cast,
// logical, variadic): element-type dispatch that treats float16/bfloat16 as float for
// arithmetic, and n-ary numpy broadcasting with a flat fast path and a coalesced strided path.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ops/op_util.h"

namespace hone::rt::elementwise {

// Element counts below this run on one thread: forking costs more than it saves.
inline constexpr int64_t kParallelMin = int64_t{1} << 16;

inline int omp_threads(const KernelContext& ctx) { return ctx.threads() > 0 ? ctx.threads() : 1; }

// Storage tags for the two half types (both are uint16_t in memory, so they need distinct tags).
struct Half {};
struct BFloat16 {};

// How an element type is stored and which type arithmetic on it uses.
template <class T>
struct Elem {
  using Storage = T;
  using Compute = T;
  static Compute load(Storage v) { return v; }
  static Storage store(Compute v) { return v; }
};
template <>
struct Elem<Half> {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return half_to_float(v); }
  static uint16_t store(float v) { return float_to_half(v); }
};
template <>
struct Elem<BFloat16> {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return bfloat16_to_float(v); }
  static uint16_t store(float v) { return float_to_bfloat16(v); }
};

template <class T>
using storage_t = typename Elem<T>::Storage;
template <class T>
using compute_t = typename Elem<T>::Compute;

// Type sets accepted by dispatch<>().
enum TypeSet : unsigned {
  kFloats = 1,    // float, double
  kHalves = 2,    // float16, bfloat16 (computed as float)
  kSigned = 4,    // int8..int64
  kUnsigned = 8,  // uint8..uint64
  kBool = 16,
  kIntegers = kSigned | kUnsigned,
  kAllFloats = kFloats | kHalves,
  kNumeric = kAllFloats | kIntegers,
  kAll = kNumeric | kBool,
};

template <class T>
struct Tag {
  using type = T;
};

// Calls f(Tag<T>{}) with T the element tag of `dtype` (Half/BFloat16 for the half types), only
// instantiating the types in `Allowed`; an unsupported-type error for anything else.
template <unsigned Allowed, class F>
Status dispatch(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: if constexpr (Allowed & kFloats) return f(Tag<float>{}); break;
    case DType::kFloat64: if constexpr (Allowed & kFloats) return f(Tag<double>{}); break;
    case DType::kFloat16: if constexpr (Allowed & kHalves) return f(Tag<Half>{}); break;
    case DType::kBFloat16: if constexpr (Allowed & kHalves) return f(Tag<BFloat16>{}); break;
    case DType::kInt8: if constexpr (Allowed & kSigned) return f(Tag<int8_t>{}); break;
    case DType::kInt16: if constexpr (Allowed & kSigned) return f(Tag<int16_t>{}); break;
    case DType::kInt32: if constexpr (Allowed & kSigned) return f(Tag<int32_t>{}); break;
    case DType::kInt64: if constexpr (Allowed & kSigned) return f(Tag<int64_t>{}); break;
    case DType::kUInt8: if constexpr (Allowed & kUnsigned) return f(Tag<uint8_t>{}); break;
    case DType::kUInt16: if constexpr (Allowed & kUnsigned) return f(Tag<uint16_t>{}); break;
    case DType::kUInt32: if constexpr (Allowed & kUnsigned) return f(Tag<uint32_t>{}); break;
    case DType::kUInt64: if constexpr (Allowed & kUnsigned) return f(Tag<uint64_t>{}); break;
    case DType::kBool: if constexpr (Allowed & kBool) return f(Tag<bool>{}); break;
    default: break;
  }
  return unsupported("element type " + std::string(dtype_name(dtype)) + " is not supported by this op");
}

// Signed integer arithmetic that wraps instead of being undefined on overflow (as numpy does).
template <class T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <class T>
T wrapping_sub(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return a - b;
  }
}
template <class T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // Promote to at least unsigned int so that uint16*uint16 does not overflow a signed int.
    using U = std::common_type_t<std::make_unsigned_t<T>, unsigned>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

// Float -> integer conversion without undefined behaviour: NaN becomes 0 and out-of-range values
// saturate (ONNX leaves these cases undefined; this is hone's documented rule).
template <class I, class F>
I saturate_cast(F v) {
  if constexpr (std::is_same_v<I, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<I> && std::is_floating_point_v<F>) {
    if (v != v) return 0;
    // The bounds as F: max() may round up (2^63-1 -> 2^63), so compare with >= on that side.
    if (v <= static_cast<F>(std::numeric_limits<I>::lowest())) return std::numeric_limits<I>::lowest();
    if (v >= static_cast<F>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
    return static_cast<I>(v);
  } else {
    return static_cast<I>(v);
  }
}

// ---- Unary maps ----

// Re-labels a dispatch error with the node's name (errors from ctx.error already carry it).
inline Status with_node(const KernelContext& ctx, const Status& s) {
  return s.ok() || s.message().rfind("node '", 0) == 0 ? s : ctx.error(s.message());
}

// out[i] = store(f(load(in[i]))) over all elements; `In`/`Out` are element tags.
template <class In, class Out, class F>
void map_unary(const KernelContext& ctx, const Tensor& in, Tensor& out, F f) {
  const storage_t<In>* x = in.data<storage_t<In>>();
  storage_t<Out>* y = out.data<storage_t<Out>>();
  const int64_t n = in.numel();
#pragma omp parallel for if (n > kParallelMin) num_threads(omp_threads(ctx))
  for (int64_t i = 0; i < n; ++i) y[i] = Elem<Out>::store(f(Elem<In>::load(x[i])));
}

// Allocates output 0 like input 0 (dtype `out_dtype`) and maps f over it. map_unary writes every
// element, so the output is not zero-filled first (a memset of it per run, a third of the memory
// traffic of a Relu on a large tensor).
template <class In, class Out, class F>
Status unary_to(KernelContext& ctx, DType out_dtype, F f) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input 0 is missing");
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, out_dtype, x->shape()));
  map_unary<In, Out>(ctx, *x, *y, f);
  return Status::Ok();
}

// Same-type unary op over the types in Allowed; f is a generic lambda on the compute type.
template <unsigned Allowed, class F>
Status unary(KernelContext& ctx, F f) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input 0 is missing");
  Status s = dispatch<Allowed>(x->dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    return unary_to<T, T>(ctx, x->dtype(), f);
  });
  return with_node(ctx, s);
}

// ---- Broadcasting ----

// Numpy broadcasting of N inputs to one output, with dims merged where every input either runs
// along both or is broadcast along both: [N,C,H,W] + [1,C,1,1] becomes [N,C,H*W] + [1,C,1].
// After merging, the last dim is the inner loop and the rest are walked with a counter.
template <size_t N>
struct BroadcastPlan {
  Shape out_shape;
  int64_t numel = 0;
  std::vector<int64_t> dims;                        // merged dims, outermost first
  std::array<std::vector<int64_t>, N> strides;      // element strides per input per merged dim
};

template <size_t N>
Result<BroadcastPlan<N>> plan_broadcast(const std::array<const Shape*, N>& shapes) {
  BroadcastPlan<N> plan;
  Shape out;
  for (size_t k = 0; k < N; ++k) {
    if (k == 0) {
      out = *shapes[0];
      continue;
    }
    HONE_ASSIGN_OR_RETURN(out, broadcast_shapes(out, *shapes[k]));
  }
  HONE_ASSIGN_OR_RETURN(plan.numel, shape_numel(out));
  plan.out_shape = out;
  const size_t rank = out.size();
  std::array<std::vector<int64_t>, N> full;
  for (size_t k = 0; k < N; ++k) full[k] = broadcast_strides(*shapes[k], out);
  // Dims of size 1 contribute nothing; merge a dim into the previous one when, for every input,
  // stepping through the pair equals stepping through one dim of their product.
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    bool merge = !plan.dims.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = plan.strides[k].back() == full[k][d] * out[d];
    if (merge) {
      plan.dims.back() *= out[d];
      for (size_t k = 0; k < N; ++k) plan.strides[k].back() = full[k][d];
    } else {
      plan.dims.push_back(out[d]);
      for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(full[k][d]);
    }
  }
  if (plan.dims.empty()) {  // a single element (or an all-ones shape)
    plan.dims.push_back(plan.numel);
    for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(0);
  }
  return plan;
}

// Calls body(out_offset, in_offsets, count, in_strides) for each inner run of the plan, in
// parallel when the output is large. The body loops `count` times itself so that the inner
// loop has no index arithmetic besides the strides.
template <size_t N, class Body>
void for_each_run(const KernelContext& ctx, const BroadcastPlan<N>& plan, Body body) {
  if (plan.numel == 0) return;
  const size_t inner_dim = plan.dims.size() - 1;
  const int64_t inner = plan.dims[inner_dim];
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = plan.strides[k][inner_dim];
  const int64_t rows = plan.numel / inner;
  if (rows == 1) {
    // One run: split it into chunks so that flat (same-shape / scalar) cases parallelize too.
    const int threads = plan.numel > kParallelMin ? omp_threads(ctx) : 1;
    const int64_t chunk = (inner + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) if (threads > 1)
    for (int t = 0; t < threads; ++t) {
      const int64_t begin = t * chunk, count = std::min(inner, begin + chunk) - begin;
      if (count <= 0) continue;
      std::array<int64_t, N> offsets;
      for (size_t k = 0; k < N; ++k) offsets[k] = begin * inner_strides[k];
      body(begin, offsets, count, inner_strides);
    }
    return;
  }
#pragma omp parallel for if (plan.numel > kParallelMin) num_threads(omp_threads(ctx))
  for (int64_t row = 0; row < rows; ++row) {
    std::array<int64_t, N> offsets{};
    int64_t rest = row;
    for (size_t d = inner_dim; d-- > 0;) {
      const int64_t idx = rest % plan.dims[d];
      rest /= plan.dims[d];
      for (size_t k = 0; k < N; ++k) offsets[k] += idx * plan.strides[k][d];
    }
    body(row * inner, offsets, inner, inner_strides);
  }
}

// out = f(a, b) with broadcasting. A, B, O are element tags; f works on compute types. The
// inner loop is specialized for the common stride patterns so that the compiler vectorizes it.
template <class A, class B, class O, class F>
Status binary_into(const KernelContext& ctx, const Tensor& a, const Tensor& b, Tensor& out,
                   const BroadcastPlan<2>& plan, F f) {
  const storage_t<A>* pa = a.data<storage_t<A>>();
  const storage_t<B>* pb = b.data<storage_t<B>>();
  storage_t<O>* po = out.data<storage_t<O>>();
  for_each_run<2>(ctx, plan, [&](int64_t o, const std::array<int64_t, 2>& off, int64_t count,
                                 const std::array<int64_t, 2>& st) {
    const storage_t<A>* x = pa + off[0];
    const storage_t<B>* y = pb + off[1];
    storage_t<O>* z = po + o;
    auto at = [&](int64_t i, int64_t sx, int64_t sy) {
      z[i] = Elem<O>::store(f(Elem<A>::load(x[i * sx]), Elem<B>::load(y[i * sy])));
    };
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < count; ++i) at(i, 1, 1);
    } else if (st[0] == 1 && st[1] == 0) {
      for (int64_t i = 0; i < count; ++i) at(i, 1, 0);
    } else if (st[0] == 0 && st[1] == 1) {
      for (int64_t i = 0; i < count; ++i) at(i, 0, 1);
    } else {
      for (int64_t i = 0; i < count; ++i) at(i, st[0], st[1]);
    }
  });
  return Status::Ok();
}

// Allocates output 0 with the broadcast shape of a and b and fills it with f(a, b) (every element:
// no zero-fill first).
template <class A, class B, class O, class F>
Status binary(KernelContext& ctx, const Tensor& a, const Tensor& b, DType out_dtype, F f) {
  auto plan = plan_broadcast<2>({&a.shape(), &b.shape()});
  if (!plan.ok()) return ctx.error(plan.status().message());
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(0, out_dtype, plan->out_shape));
  return binary_into<A, B, O>(ctx, a, b, *out, *plan, f);
}

// Inputs 0 and 1 of a binary op, both required.
inline Status two_inputs(const KernelContext& ctx, const Tensor*& a, const Tensor*& b) {
  a = ctx.input(0);
  b = ctx.input(1);
  if (!a || !b) return ctx.error("expects two inputs");
  return Status::Ok();
}

// Opsets before 7 did not broadcast unless the node said broadcast=1, and then B's dims lined up
// with A's starting at `axis` (default: B is a suffix of A). Returns B reshaped so that numpy
// broadcasting gives that result; an error when the shapes do not fit.
inline Result<Tensor> legacy_broadcast_operand(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  if (ctx.node().attr_int("broadcast", 0) == 0) {
    if (a.shape() != b.shape())
      return ctx.error("shapes " + shape_to_string(a.shape()) + " and " + shape_to_string(b.shape()) +
                       " differ and broadcast is not enabled (opset < 7)");
    return b;
  }
  if (b.rank() > a.rank()) return ctx.error("B has a higher rank than A");
  int64_t axis = a.rank() - b.rank();
  if (ctx.node().attr("axis")) {
    auto ax = normalize_axis(ctx.node().attr_int("axis", 0), std::max<int64_t>(a.rank(), 1));
    if (!ax.ok()) return ctx.error(ax.status().message());
    axis = *ax;
  }
  if (axis + b.rank() > a.rank()) return ctx.error("B's dims do not fit into A at axis " + std::to_string(axis));
  for (int64_t i = 0; i < b.rank(); ++i)
    if (b.dim(i) != 1 && b.dim(i) != a.dim(axis + i))
      return ctx.error("shape " + shape_to_string(b.shape()) + " cannot be broadcast to " + shape_to_string(a.shape()) +
                       " at axis " + std::to_string(axis));
  Shape shape = b.shape();
  shape.resize(static_cast<size_t>(a.rank() - axis), 1);
  auto r = b.reshaped(shape);
  if (!r.ok()) return ctx.error(r.status().message());
  return std::move(r).value();
}

}  // namespace hone::rt::elementwise
