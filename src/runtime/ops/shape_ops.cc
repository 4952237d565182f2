// Ops that only change a tensor's shape or make tensors from shapes: Shape, Size, Reshape,
// Flatten, Squeeze, Unsqueeze, Identity, Dropout (inference and training), Constant,
// ConstantOfShape, Expand, Range. Reshape-like ops share the input buffer (no copy).
#include <cmath>
#include <random>

#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

// ---- Shape, Size ----

Status shape_op(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  // Opset 15 added start/end: a slice of the shape, clamped like Python slicing.
  const int64_t rank = x->rank();
  int64_t start = ctx.node().attr_int("start", 0), end = ctx.node().attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  const int64_t n = std::max<int64_t>(end - start, 0);
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DType::kInt64, {n}));
  for (int64_t i = 0; i < n; ++i) out->data<int64_t>()[i] = x->dim(start + i);
  return Status::Ok();
}

Status size_op(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DType::kInt64, {}));
  out->data<int64_t>()[0] = x->numel();
  return Status::Ok();
}

// ---- Reshape, Flatten, Squeeze, Unsqueeze, Identity ----

Status set_reshaped(KernelContext& ctx, const Tensor& x, Shape shape) {
  auto r = x.reshaped(std::move(shape));
  if (!r.ok()) return ctx.error(r.status().message());
  return ctx.set_output(0, std::move(r).value());
}

Status reshape_to(KernelContext& ctx, const std::vector<int64_t>& target, bool allowzero) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  Shape shape(target.size());
  int64_t infer_at = -1, known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == -1) {
      if (infer_at >= 0) return ctx.error("shape " + shape_to_string(target) + " has more than one -1");
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (d < -1) return ctx.error("shape " + shape_to_string(target) + " has a negative dim");
    if (d == 0 && !allowzero) {
      if (static_cast<int64_t>(i) >= x->rank())
        return ctx.error("shape " + shape_to_string(target) + " copies dim " + std::to_string(i) + " of a rank-" +
                         std::to_string(x->rank()) + " input");
      d = x->dim(static_cast<int64_t>(i));
    }
    has_zero |= d == 0;
    shape[i] = d;
    auto k = checked_mul(known, d);
    if (!k) return ctx.error("shape " + shape_to_string(target) + " overflows");
    known = *k;
  }
  if (infer_at >= 0) {
    if (allowzero && has_zero) return ctx.error("shape " + shape_to_string(target) + " has both -1 and 0 with allowzero");
    if (known == 0 || x->numel() % known != 0)
      return ctx.error("cannot reshape " + shape_to_string(x->shape()) + " to " + shape_to_string(target));
    shape[static_cast<size_t>(infer_at)] = x->numel() / known;
  }
  return set_reshaped(ctx, *x, std::move(shape));
}

Status reshape_attr(KernelContext& ctx) { return reshape_to(ctx, ctx.node().attr_ints("shape"), false); }

Status reshape_input(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1));
  auto target = read_ints(*s);
  if (!target.ok()) return ctx.error("shape: " + target.status().message());
  return reshape_to(ctx, *target, ctx.node().attr_int("allowzero", 0) != 0);
}

Status flatten(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  const int64_t rank = x->rank();
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  const size_t a = static_cast<size_t>(axis);
  return set_reshaped(ctx, *x, {dims_product(x->shape(), 0, a), dims_product(x->shape(), a, x->shape().size())});
}

Status squeeze_with(KernelContext& ctx, const std::optional<std::vector<int64_t>>& axes) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  const int64_t rank = x->rank();
  std::vector<bool> drop(static_cast<size_t>(rank), false);
  if (!axes || axes->empty()) {
    for (int64_t i = 0; i < rank; ++i) drop[static_cast<size_t>(i)] = x->dim(i) == 1;
  } else {
    for (int64_t a : *axes) {
      auto n = normalize_axis(a, rank);
      if (!n.ok()) return ctx.error(n.status().message());
      if (x->dim(*n) != 1)
        return ctx.error("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x->dim(*n)));
      drop[static_cast<size_t>(*n)] = true;
    }
  }
  Shape shape;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[static_cast<size_t>(i)]) shape.push_back(x->dim(i));
  return set_reshaped(ctx, *x, std::move(shape));
}

Status squeeze(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(auto axes, ints_from_input_or_attr(ctx, 1, "axes"));
  return squeeze_with(ctx, axes);
}

Status unsqueeze(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(auto axes, ints_from_input_or_attr(ctx, 1, "axes"));
  if (!axes) return ctx.error("axes are required");
  const int64_t out_rank = x->rank() + static_cast<int64_t>(axes->size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : *axes) {
    auto n = normalize_axis(a, out_rank);
    if (!n.ok()) return ctx.error(n.status().message());
    if (inserted[static_cast<size_t>(*n)]) return ctx.error("axis " + std::to_string(a) + " appears twice");
    inserted[static_cast<size_t>(*n)] = true;
  }
  Shape shape;
  int64_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) shape.push_back(inserted[static_cast<size_t>(i)] ? 1 : x->dim(next++));
  return set_reshaped(ctx, *x, std::move(shape));
}

Status identity(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  return ctx.set_output(0, *x);
}

// ---- Dropout ----

// Fills a tensor with ones of its type (the mask of an inference-mode Dropout before opset 10
// had the input's type).
Status fill_ones(Tensor& t) {
  return dispatch_all(t.dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    T one{};
    if constexpr (std::is_same_v<T, uint16_t>)
      one = t.dtype() == DType::kFloat16 ? float_to_half(1.f) : t.dtype() == DType::kBFloat16 ? float_to_bfloat16(1.f) : 1;
    else
      one = static_cast<T>(1);
    std::fill(t.data<T>(), t.data<T>() + t.numel(), one);
    return Status::Ok();
  });
}

Status dropout_passthrough(KernelContext& ctx, DType mask_dtype) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  HONE_RETURN_IF_ERROR(ctx.set_output(0, *x));
  if (ctx.wants_output(1)) {
    HONE_ASSIGN_OR_RETURN(Tensor * mask, ctx.allocate_output(1, mask_dtype, x->shape()));
    HONE_RETURN_IF_ERROR(fill_ones(*mask));
  }
  return Status::Ok();
}

// Opsets 1-9: the mask (if asked for) has the input's type; inference mode is a pass-through.
Status dropout_v1(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  return dropout_passthrough(ctx, x->dtype());
}

Status dropout_v10(KernelContext& ctx) { return dropout_passthrough(ctx, DType::kBool); }

// Opset 12+: ratio and training_mode are inputs; training mode drops elements at random.
Status dropout_v12(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  double ratio = 0.5;
  if (const Tensor* r = ctx.input(1)) {
    auto v = read_scalar(*r);
    if (!v.ok()) return ctx.error("ratio: " + v.status().message());
    ratio = *v;
  }
  bool training = false;
  if (const Tensor* t = ctx.input(2)) {
    if (t->dtype() != DType::kBool || t->numel() != 1) return ctx.error("training_mode must be a bool scalar");
    training = t->data<bool>()[0];
  }
  if (!training || ratio == 0) return dropout_passthrough(ctx, DType::kBool);
  if (!(ratio > 0 && ratio < 1)) return ctx.error("ratio " + std::to_string(ratio) + " is not in [0, 1)");

  // With a seed the mask is the ONNX reference's: numpy's legacy RandomState(seed) (the same
  // MT19937 as std::mt19937) drawing uniform doubles the numpy way (53 bits from two words),
  // keeping elements whose draw is >= ratio. Without one, any random seed will do.
  std::mt19937 rng(ctx.node().attr("seed") ? static_cast<uint32_t>(ctx.node().attr_int("seed", 0)) : std::random_device{}());
  auto uniform = [&rng] {
    const uint32_t a = rng() >> 5, b = rng() >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  };
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  Tensor mask_storage;
  Tensor* mask = &mask_storage;
  if (ctx.wants_output(1)) {
    HONE_ASSIGN_OR_RETURN(mask, ctx.allocate_output(1, DType::kBool, x->shape()));
  } else {
    auto m = Tensor::create(DType::kBool, x->shape());
    if (!m.ok()) return ctx.error(m.status().message());
    mask_storage = std::move(m).value();
  }
  bool* keep_mask = mask->data<bool>();
  for (int64_t i = 0; i < x->numel(); ++i) keep_mask[i] = uniform() >= ratio;
  const double scale = 1 / (1 - ratio);
  return dispatch_float(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* in = x->data<T>();
    T* out = y->data<T>();
    for (int64_t i = 0; i < x->numel(); ++i) out[i] = keep_mask[i] ? static_cast<T>(in[i] * scale) : T(0);
    return Status::Ok();
  });
}

// ---- Constant, ConstantOfShape ----

// The value is built once from the attributes; every run hands out the same (immutable) buffer.
class ConstantKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& cctx) {
    const ir::Node& n = cctx.node();
    auto k = std::make_unique<ConstantKernel>();
    if (const ir::Attribute* a = n.attr("value"); a && a->type == ir::AttrType::kTensor) {
      k->value_ = a->t;
    } else if (const ir::Attribute* a = n.attr("value_float"); a && a->type == ir::AttrType::kFloat) {
      HONE_ASSIGN_OR_RETURN(k->value_, Tensor::create(DType::kFloat32, {}));
      k->value_.data<float>()[0] = a->f;
    } else if (const ir::Attribute* a = n.attr("value_floats"); a && a->type == ir::AttrType::kFloats) {
      HONE_ASSIGN_OR_RETURN(k->value_, Tensor::create(DType::kFloat32, {static_cast<int64_t>(a->floats.size())}));
      std::copy(a->floats.begin(), a->floats.end(), k->value_.data<float>());
    } else if (const ir::Attribute* a = n.attr("value_int"); a && a->type == ir::AttrType::kInt) {
      HONE_ASSIGN_OR_RETURN(k->value_, Tensor::create(DType::kInt64, {}));
      k->value_.data<int64_t>()[0] = a->i;
    } else if (const ir::Attribute* a = n.attr("value_ints"); a && a->type == ir::AttrType::kInts) {
      HONE_ASSIGN_OR_RETURN(k->value_, Tensor::create(DType::kInt64, {static_cast<int64_t>(a->ints.size())}));
      std::copy(a->ints.begin(), a->ints.end(), k->value_.data<int64_t>());
    } else if (const ir::Attribute* a = n.attr("value_string"); a && a->type == ir::AttrType::kString) {
      HONE_ASSIGN_OR_RETURN(k->value_, Tensor::create(DType::kString, {}));
      k->value_.strings()[0] = a->s;
    } else if (const ir::Attribute* a = n.attr("value_strings"); a && a->type == ir::AttrType::kStrings) {
      HONE_ASSIGN_OR_RETURN(k->value_, Tensor::create(DType::kString, {static_cast<int64_t>(a->strings.size())}));
      std::copy(a->strings.begin(), a->strings.end(), k->value_.strings().begin());
    } else if (n.attr("sparse_value")) {
      return unsupported(node_label(n) + ": sparse_value is not supported");
    } else {
      return cctx.error("has no value attribute");
    }
    if (!k->value_.defined()) return cctx.error("value attribute holds no tensor");
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override { return ctx.set_output(0, value_); }

 private:
  Tensor value_;
};

Status constant_of_shape(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 0));
  auto shape = read_ints(*s);
  if (!shape.ok()) return ctx.error("shape: " + shape.status().message());
  for (int64_t d : *shape)
    if (d < 0) return ctx.error("shape " + shape_to_string(*shape) + " has a negative dim");
  const ir::Attribute* a = ctx.node().attr("value");
  if (!a || a->type != ir::AttrType::kTensor) {
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DType::kFloat32, *shape));
    (void)out;  // zero-filled: the default value is float 0
    return Status::Ok();
  }
  const Tensor& value = a->t;
  if (value.numel() != 1) return ctx.error("value must hold exactly one element");
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, value.dtype(), *shape));
  return dispatch_by_size(value.dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    std::fill(elements<T>(*out), elements<T>(*out) + out->numel(), elements<T>(value)[0]);
    return Status::Ok();
  });
}

// ---- Expand ----

Status expand(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1));
  auto target = read_ints(*s);
  if (!target.ok()) return ctx.error("shape: " + target.status().message());
  for (int64_t d : *target)
    if (d < 0) return ctx.error("shape " + shape_to_string(*target) + " has a negative dim");
  auto shape = broadcast_shapes(x->shape(), *target);
  if (!shape.ok()) return ctx.error(shape.status().message());
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), *shape));
  const auto strides = broadcast_strides(x->shape(), *shape);
  return dispatch_by_size(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    strided_copy(elements<T>(*x), 0, *shape, strides, elements<T>(*out));
    return Status::Ok();
  });
}

// ---- Range ----

Status range(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* start_t, required_input(ctx, 0));
  HONE_ASSIGN_OR_RETURN(const Tensor* limit_t, required_input(ctx, 1));
  HONE_ASSIGN_OR_RETURN(const Tensor* delta_t, required_input(ctx, 2));
  const DType dt = start_t->dtype();
  if (limit_t->dtype() != dt || delta_t->dtype() != dt) return ctx.error("start, limit and delta must have one type");
  if (start_t->numel() != 1 || limit_t->numel() != 1 || delta_t->numel() != 1)
    return ctx.error("start, limit and delta must be scalars");
  return dispatch_numeric(dt, [&](auto zero) -> Status {
    using T = decltype(zero);
    const T start = start_t->data<T>()[0], limit = limit_t->data<T>()[0], delta = delta_t->data<T>()[0];
    if (delta == T(0)) return ctx.error("delta is 0");
    const double count = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
    if (!(count < 9.0e15)) return ctx.error("the range has too many elements");
    const int64_t n = std::max<int64_t>(static_cast<int64_t>(count), 0);
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, dt, {n}));
    // Each element is start + i * delta as ONNX defines it (not a running sum, which drifts).
    T* y = out->data<T>();
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    return Status::Ok();
  });
}

}  // namespace

HONE_REGISTER_FN("", Shape, 1, kMaxOpset, shape_op);
HONE_REGISTER_FN("", Size, 1, kMaxOpset, size_op);
HONE_REGISTER_FN("", Reshape, 1, 4, reshape_attr);
HONE_REGISTER_FN("", Reshape, 5, kMaxOpset, reshape_input);
HONE_REGISTER_FN("", Flatten, 1, kMaxOpset, flatten);
HONE_REGISTER_FN("", Squeeze, 1, kMaxOpset, squeeze);
HONE_REGISTER_FN("", Unsqueeze, 1, kMaxOpset, unsqueeze);
HONE_REGISTER_FN("", Identity, 1, kMaxOpset, identity);
HONE_REGISTER_FN("", Dropout, 1, 9, dropout_v1);
HONE_REGISTER_FN("", Dropout, 10, 11, dropout_v10);
HONE_REGISTER_FN("", Dropout, 12, kMaxOpset, dropout_v12);
HONE_REGISTER_KERNEL("", Constant, 1, kMaxOpset, ConstantKernel);
HONE_REGISTER_FN("", ConstantOfShape, 9, kMaxOpset, constant_of_shape);
HONE_REGISTER_FN("", Expand, 8, kMaxOpset, expand);
HONE_REGISTER_FN("", Range, 11, kMaxOpset, range);

}  // namespace hone::rt
