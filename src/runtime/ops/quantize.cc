// Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, and the integer
// matrix products MatMulInteger and QLinearMatMul (oneDNN's u8s8 matmul for constant int8
// weights, the plain reference otherwise).
// Rounding is to nearest, ties to even (std::nearbyint in the default rounding mode), and results
// saturate to the range of the output type. A NaN input quantizes to the zero point.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "kernels/dnnl/matmul_int8_dnnl.h"
#include "kernels/x86/dynamic_quant.h"
#include "runtime/op_registry.h"
#include "runtime/ops/matmul_util.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

// Calls f(T{}) for the 8-bit quantized types.
template <class F>
Status dispatch_8bit(DType dtype, F&& f) {
  if (dtype == DType::kUInt8) return f(uint8_t{});
  if (dtype == DType::kInt8) return f(int8_t{});
  return unsupported("quantized type must be uint8 or int8, got " + std::string(dtype_name(dtype)));
}

template <class Q>
Q saturate_round(float value, int32_t zero_point) {
  const float q = std::nearbyint(value) + static_cast<float>(zero_point);
  if (std::isnan(q)) return static_cast<Q>(zero_point);
  constexpr float lo = std::numeric_limits<Q>::lowest(), hi = std::numeric_limits<Q>::max();
  return static_cast<Q>(q < lo ? lo : q > hi ? hi : q);
}

// Where a scale / zero point applies in Quantize/DequantizeLinear: one value for the whole
// tensor, or one per index of `axis` (x viewed as [outer, channels, inner]).
struct ChannelMap {
  int64_t channels = 1, inner = 1;  // channels == 1: per tensor
  int64_t channel(int64_t i) const { return channels == 1 ? 0 : (i / inner) % channels; }
};

Result<ChannelMap> channel_map(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zero_point) {
  ChannelMap map;
  if (scale.numel() != 1 || scale.rank() > 1) {
    if (scale.rank() != 1) return ctx.error("scale must be a scalar or 1-D, got " + shape_to_string(scale.shape()));
    auto axis = normalize_axis(ctx.node().attr_int("axis", 1), x.rank());
    if (!axis.ok()) return ctx.error(axis.status().message());
    if (scale.dim(0) != x.dim(*axis))
      return ctx.error("per-axis scale has " + std::to_string(scale.dim(0)) + " values for axis " +
                       std::to_string(*axis) + " of size " + std::to_string(x.dim(*axis)));
    map.channels = scale.dim(0);
    for (int64_t d = *axis + 1; d < x.rank(); ++d) map.inner *= x.dim(d);
  }
  if (zero_point && zero_point->numel() != scale.numel())
    return ctx.error("zero point has " + std::to_string(zero_point->numel()) + " values, scale " +
                     std::to_string(scale.numel()));
  return map;
}

Status quantize_linear(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* zero_point = ctx.input(2);
  if (!x || !scale) return ctx.error("QuantizeLinear needs x and y_scale");
  if (scale->dtype() != DType::kFloat32) return ctx.error("y_scale must be float");
  if (x->dtype() != DType::kFloat32 && x->dtype() != DType::kInt32)
    return ctx.error("x must be float or int32, got " + std::string(dtype_name(x->dtype())));
  const DType out_type = zero_point ? zero_point->dtype() : DType::kUInt8;
  if (!is_8bit(out_type)) return ctx.error("y_zero_point must be uint8 or int8");
  HONE_ASSIGN_OR_RETURN(ChannelMap map, channel_map(ctx, *x, *scale, zero_point));
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, out_type, x->shape()));
  const float* scales = scale->data<float>();
  // Per-tensor float -> uint8 (every activation of a static QDQ model): the vectorized quantizing
  // pass of DynamicQuantizeLinear, which computes this very formula (true division, round half
  // to even, NaN -> zero point, saturation) bit for bit, threaded over large tensors.
  if (map.channels == 1 && x->dtype() == DType::kFloat32 && out_type == DType::kUInt8 && scales[0] > 0 &&
      std::isfinite(scales[0])) {
    const auto quantize = kernels::dynq::best_variant().quantize;
    const uint8_t zp = zero_point ? zero_point->data<uint8_t>()[0] : uint8_t{0};
    const int64_t n = x->numel();
    constexpr int64_t kPerThread = 1 << 15;  // as u8_dynamic_quantize: smaller runs stay on one thread
    const int team = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(ctx.threads(), n / kPerThread)));
#pragma omp parallel num_threads(team) if (team > 1)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
      quantize(x->data<float>() + begin, end - begin, scales[0], zp, y->data<uint8_t>() + begin);
    }
    return Status::Ok();
  }
  return dispatch_8bit(out_type, [&](auto q_zero) -> Status {
    using Q = decltype(q_zero);
    const Q* zps = zero_point ? zero_point->data<Q>() : nullptr;
    Q* out = y->data<Q>();
    const int64_t n = x->numel();
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = map.channel(i);
      const float v = x->dtype() == DType::kFloat32 ? x->data<float>()[i] : static_cast<float>(x->data<int32_t>()[i]);
      out[i] = saturate_round<Q>(v / scales[c], zps ? zps[c] : 0);
    }
    return Status::Ok();
  });
}

Status dequantize_linear(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* zero_point = ctx.input(2);
  if (!x || !scale) return ctx.error("DequantizeLinear needs x and x_scale");
  if (scale->dtype() != DType::kFloat32) return ctx.error("x_scale must be float");
  if (zero_point && zero_point->dtype() != x->dtype()) return ctx.error("x_zero_point must have the type of x");
  HONE_ASSIGN_OR_RETURN(ChannelMap map, channel_map(ctx, *x, *scale, zero_point));
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DType::kFloat32, x->shape()));
  auto run = [&](auto q_zero) -> Status {
    using Q = decltype(q_zero);
    const Q* in = x->data<Q>();
    const Q* zps = zero_point ? zero_point->data<Q>() : nullptr;
    const float* scales = scale->data<float>();
    float* out = y->data<float>();
    const int64_t n = x->numel();
    if constexpr (sizeof(Q) == 1) {
      if (map.channels == 1) {
        // Per tensor, 8-bit (every activation of a static QDQ model): the same two operations in
        // a loop the compiler vectorizes (the difference fits int32 exactly).
        const int32_t zp = zps ? int32_t{zps[0]} : 0;
        const float s = scales[0];
        const int threads = ctx.threads() > 0 ? ctx.threads() : 1;
#pragma omp parallel for num_threads(threads) if (n > (1 << 17)) schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<int32_t>(in[i]) - zp) * s;
        return Status::Ok();
      }
    }
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = map.channel(i);
      // int32 inputs are bias values: the difference is taken in 64 bits so that it cannot overflow.
      const int64_t diff = static_cast<int64_t>(in[i]) - (zps ? static_cast<int64_t>(zps[c]) : 0);
      out[i] = static_cast<float>(diff) * scales[c];
    }
    return Status::Ok();
  };
  if (x->dtype() == DType::kInt32) return run(int32_t{});
  return dispatch_8bit(x->dtype(), run).with_context(node_label(ctx.node()));
}

// ONNX's formula: the range [min(0, min x), max(0, max x)] maps onto [0, 255]. The kernel
// (kernels/x86/dynamic_quant.h) computes it bit for bit as the formula reads, vectorized.
Status dynamic_quantize_linear(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("missing input x");
  if (x->dtype() != DType::kFloat32) return ctx.error("x must be float, got " + std::string(dtype_name(x->dtype())));
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DType::kUInt8, x->shape()));
  // An all-zero input has no range: scale 0, zero point 0, and every value quantizes to 0.
  const kernels::dynq::QuantParams p =
      kernels::dynq::u8_dynamic_quantize(x->data<float>(), x->numel(), y->data<uint8_t>(), ctx.threads());
  if (ctx.wants_output(1)) {
    HONE_ASSIGN_OR_RETURN(Tensor * y_scale, ctx.allocate_output(1, DType::kFloat32, {}));
    y_scale->data<float>()[0] = p.scale;
  }
  if (ctx.wants_output(2)) {
    HONE_ASSIGN_OR_RETURN(Tensor * y_zero_point, ctx.allocate_output(2, DType::kUInt8, {}));
    y_zero_point->data<uint8_t>()[0] = p.zero_point;
  }
  return Status::Ok();
}

// A matmul operand seen as [matrices, rows, cols] (1-D operands promoted as numpy does).
struct OperandView {
  int64_t matrices = 1, rows = 1, cols = 1;
  Shape shape;  // the promoted shape
};

OperandView operand_view(const Shape& shape, bool is_a) {
  OperandView v;
  v.shape = shape.size() == 1 ? (is_a ? Shape{1, shape[0]} : Shape{shape[0], 1}) : shape;
  v.rows = v.shape[v.shape.size() - 2];
  v.cols = v.shape[v.shape.size() - 1];
  for (size_t d = 0; d + 2 < v.shape.size(); ++d) v.matrices *= v.shape[d];
  return v;
}

// How a zero point or scale of a matmul operand varies: per tensor, per row of A / column of B
// (the same for every matrix of the batch), or per row/column of each matrix.
struct LineParam {
  enum class Kind { kTensor, kLine, kMatrixLine } kind = Kind::kTensor;
  bool per_row = true;  // rows of A, columns of B
  int64_t lines = 1;
  int64_t index(int64_t matrix, int64_t row, int64_t col) const {
    const int64_t line = per_row ? row : col;
    return kind == Kind::kTensor ? 0 : kind == Kind::kLine ? line : matrix * lines + line;
  }
};

Result<LineParam> line_param(const Tensor& p, const OperandView& v, bool per_row, const char* name) {
  LineParam lp;
  lp.per_row = per_row;
  lp.lines = per_row ? v.rows : v.cols;
  if (p.numel() == 1 && p.rank() <= 1) return lp;
  if (p.rank() == 1 && p.dim(0) == lp.lines) {
    lp.kind = LineParam::Kind::kLine;
    return lp;
  }
  Shape per_matrix = v.shape;
  per_matrix[per_matrix.size() - (per_row ? 1 : 2)] = 1;
  if (p.shape() == per_matrix) {
    lp.kind = LineParam::Kind::kMatrixLine;
    return lp;
  }
  return runtime_error(std::string(name) + " of shape " + shape_to_string(p.shape()) +
                       " is neither a scalar nor one value per " + (per_row ? "row" : "column") + " of " +
                       shape_to_string(v.shape));
}

// The operand's values minus their zero points, as int32 (the products' accumulator type).
Result<std::vector<int32_t>> centered(const Tensor& x, const Tensor* zero_point, const OperandView& v, bool per_row,
                                      const char* zp_name) {
  if (!is_8bit(x.dtype())) return runtime_error("inputs must be uint8 or int8, got " + std::string(dtype_name(x.dtype())));
  LineParam lp;
  if (zero_point) {
    if (zero_point->dtype() != x.dtype()) return runtime_error(std::string(zp_name) + " must have the type of its input");
    HONE_ASSIGN_OR_RETURN(lp, line_param(*zero_point, v, per_row, zp_name));
  }
  std::vector<int32_t> out(static_cast<size_t>(x.numel()));
  HONE_RETURN_IF_ERROR(dispatch_8bit(x.dtype(), [&](auto zero) -> Status {
    using Q = decltype(zero);
    const Q* in = x.data<Q>();
    const Q* zps = zero_point ? zero_point->data<Q>() : nullptr;
    size_t i = 0;
    for (int64_t m = 0; m < v.matrices; ++m)
      for (int64_t r = 0; r < v.rows; ++r)
        for (int64_t c = 0; c < v.cols; ++c, ++i)
          out[i] = static_cast<int32_t>(in[i]) - (zps ? static_cast<int32_t>(zps[lp.index(m, r, c)]) : 0);
    return Status::Ok();
  }));
  return out;
}

// The int32 products (batch x M x N) of (a - a_zero_point) and (b - b_zero_point), into `product`.
Result<MatMulPlan> integer_matmul(const Tensor& a, const Tensor* a_zp, const Tensor& b, const Tensor* b_zp,
                                  std::vector<int32_t>& product) {
  HONE_ASSIGN_OR_RETURN(MatMulPlan plan, plan_matmul(a.shape(), b.shape()));
  HONE_ASSIGN_OR_RETURN(auto a32, centered(a, a_zp, operand_view(a.shape(), true), true, "a_zero_point"));
  HONE_ASSIGN_OR_RETURN(auto b32, centered(b, b_zp, operand_view(b.shape(), false), false, "b_zero_point"));
  product.assign(static_cast<size_t>(plan.batch() * plan.m * plan.n), 0);
  run_matmul<int32_t>(plan, a32.data(), b32.data(), product.data());
  return plan;
}

Status matmul_integer(KernelContext& ctx) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  if (!a || !b) return ctx.error("MatMulInteger needs A and B");
  std::vector<int32_t> product;
  auto plan = integer_matmul(*a, ctx.input(2), *b, ctx.input(3), product);
  if (!plan.ok()) return ctx.error(plan.status().message());
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kInt32, plan->out_shape));
  std::copy(product.begin(), product.end(), y->data<int32_t>());  // every element
  return Status::Ok();
}

// y = saturate(round((a - a_zp)(b - b_zp) * a_scale * b_scale / y_scale) + y_zp).
Status qlinear_matmul(KernelContext& ctx) {
  const Tensor* a = ctx.input(0);
  const Tensor* a_scale = ctx.input(1);
  const Tensor* b = ctx.input(3);
  const Tensor* b_scale = ctx.input(4);
  const Tensor* y_scale = ctx.input(6);
  const Tensor* y_zp = ctx.input(7);
  if (!a || !a_scale || !b || !b_scale || !y_scale || !y_zp) return ctx.error("QLinearMatMul needs all 8 inputs");
  for (const Tensor* s : {a_scale, b_scale, y_scale})
    if (s->dtype() != DType::kFloat32) return ctx.error("scales must be float");
  if (y_scale->numel() != 1 || y_zp->numel() != 1) return ctx.error("y_scale and y_zero_point must be scalars");
  if (!is_8bit(y_zp->dtype())) return ctx.error("y_zero_point must be uint8 or int8");
  std::vector<int32_t> product;
  auto plan = integer_matmul(*a, ctx.input(2), *b, ctx.input(5), product);
  if (!plan.ok()) return ctx.error(plan.status().message());
  auto a_scales = line_param(*a_scale, operand_view(a->shape(), true), true, "a_scale");
  if (!a_scales.ok()) return ctx.error(a_scales.status().message());
  auto b_scales = line_param(*b_scale, operand_view(b->shape(), false), false, "b_scale");
  if (!b_scales.ok()) return ctx.error(b_scales.status().message());
  // The loops below write all batch x M x N elements: no zero fill.
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, y_zp->dtype(), plan->out_shape));
  const float out_scale = y_scale->data<float>()[0];
  return dispatch_8bit(y_zp->dtype(), [&](auto zero) -> Status {
    using Q = decltype(zero);
    const int32_t zp = y_zp->data<Q>()[0];
    Q* out = y->data<Q>();
    size_t i = 0;
    for (int64_t batch = 0; batch < plan->batch(); ++batch) {
      const int64_t a_matrix = plan->a_matrix[static_cast<size_t>(batch)];
      const int64_t b_matrix = plan->b_matrix[static_cast<size_t>(batch)];
      for (int64_t r = 0; r < plan->m; ++r)
        for (int64_t c = 0; c < plan->n; ++c, ++i) {
          const float multiplier = a_scale->data<float>()[a_scales->index(a_matrix, r, 0)] *
                                   b_scale->data<float>()[b_scales->index(b_matrix, 0, c)] / out_scale;
          out[i] = saturate_round<Q>(static_cast<float>(product[i]) * multiplier, zp);
        }
    }
    return Status::Ok();
  });
}

namespace onednn = kernels::onednn;

// The oneDNN int8 path of MatMulInteger and QLinearMatMul (u8s8_matmul_dnnl): B a constant
// int8 [K, N] initializer with zero point 0 (ONNX Runtime's and hone's quantizers write symmetric
// int8 weights), A uint8 [..., K] with a per-tensor zero point. Anything else, and HONE_DNNL=0,
// takes the reference functions above, which stay the oracle the tests compare against.
struct Int8MatMulBridge {
  static std::unique_ptr<Int8MatMulBridge> create(const KernelCreateContext& ctx, size_t b_input, size_t b_zp_input) {
    if (!onednn::enabled()) return nullptr;
    const Tensor* b = ctx.constant_input(b_input);
    if (!b || b->dtype() != DType::kInt8 || b->rank() != 2 || b->dim(0) <= 0 || b->dim(1) <= 0) return nullptr;
    if (!ctx.node().input(b_zp_input).empty()) {
      const Tensor* zp = ctx.constant_input(b_zp_input);
      if (!zp || zp->dtype() != DType::kInt8) return nullptr;
      for (int64_t i = 0; i < zp->numel(); ++i)
        if (zp->data<int8_t>()[i] != 0) return nullptr;
    }
    auto bridge = std::make_unique<Int8MatMulBridge>();
    bridge->b = *b;
    bridge->mm.set_weights(bridge->b.data<int8_t>());
    return bridge;
  }

  // Whether this run's operands are the ones the bridge serves; sets m and the zero point.
  bool fits(const Tensor& a, const Tensor* a_zp, const Tensor& b_in, int64_t* m, int32_t* zp) const {
    if (b_in.data<int8_t>() != b.data<int8_t>()) return false;  // an overridden initializer
    if (a.dtype() != DType::kUInt8 || a.rank() < 1 || a.shape().back() != b.dim(0)) return false;
    if (a_zp && (a_zp->dtype() != DType::kUInt8 || a_zp->numel() != 1)) return false;
    *m = a.numel() / b.dim(0);
    *zp = a_zp ? a_zp->data<uint8_t>()[0] : 0;
    return *m > 0 && b.dim(1) > 0;
  }

  Shape y_shape(const Tensor& a) const {
    Shape y(a.shape().begin(), a.shape().end() - 1);
    y.push_back(b.dim(1));
    return y;
  }

  Tensor b;  // the constant B, kept alive for the packed copies oneDNN makes from it
  onednn::MatMulU8S8Dnnl mm;
};

class MatMulIntegerKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<MatMulIntegerKernel>();
    k->bridge_ = Int8MatMulBridge::create(ctx, 1, 3);
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    int64_t m = 0;
    int32_t zp = 0;
    if (bridge_ && a && b && bridge_->fits(*a, ctx.input(2), *b, &m, &zp)) {
      onednn::MatMulInt8Desc d;
      d.m = m;
      d.n = b->dim(1);
      d.k = b->dim(0);
      d.dst = onednn::Int8Dst::kS32;
      d.a_zero_point = zp != 0;
      // oneDNN writes all of y; on kUnsupported the reference allocates and writes it again.
      HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kInt32, bridge_->y_shape(*a)));
      Status s = bridge_->mm.run(d, a->data<uint8_t>(), zp, nullptr, nullptr, y->data<int32_t>());
      if (s.code() != ErrorCode::kUnsupported) return s.ok() ? s : s.with_context(node_label(ctx.node()));
    }
    return matmul_integer(ctx);
  }

 private:
  std::unique_ptr<Int8MatMulBridge> bridge_;
};

// QLinearMatMul on oneDNN also needs its scales and y's zero point as constants: the output
// scale a_scale * b_scale[n] / y_scale is fixed in the primitive. Ties of the final rounding may
// land one step away from the reference (oneDNN adds the zero point before rounding).
class QLinearMatMulKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<QLinearMatMulKernel>();
    k->bridge_ = Int8MatMulBridge::create(ctx, 3, 5);
    const Tensor* a_scale = ctx.constant_input(1);
    const Tensor* b_scale = ctx.constant_input(4);
    const Tensor* y_scale = ctx.constant_input(6);
    const Tensor* y_zp = ctx.constant_input(7);
    if (!k->bridge_ || !a_scale || !b_scale || !y_scale || !y_zp) k->bridge_.reset();
    if (k->bridge_) {
      const int64_t n = k->bridge_->b.dim(1);
      const bool ok = a_scale->dtype() == DType::kFloat32 && a_scale->numel() == 1 &&
                      b_scale->dtype() == DType::kFloat32 && b_scale->rank() <= 1 &&
                      (b_scale->numel() == 1 || b_scale->numel() == n) && y_scale->dtype() == DType::kFloat32 &&
                      y_scale->numel() == 1 && is_8bit(y_zp->dtype()) && y_zp->numel() == 1;
      if (!ok) {
        k->bridge_.reset();
      } else {
        for (int64_t j = 0; j < b_scale->numel(); ++j) {
          const float mult = a_scale->data<float>()[0] * b_scale->data<float>()[j] / y_scale->data<float>()[0];
          if (!std::isfinite(mult)) k->bridge_.reset();
          k->desc_.out_scales.push_back(mult);
        }
        k->desc_.per_column = b_scale->numel() > 1;
        k->desc_.dst = y_zp->dtype() == DType::kUInt8 ? onednn::Int8Dst::kU8 : onednn::Int8Dst::kS8;
        k->desc_.y_zero_point =
            y_zp->dtype() == DType::kUInt8 ? int32_t{y_zp->data<uint8_t>()[0]} : int32_t{y_zp->data<int8_t>()[0]};
      }
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(3);
    int64_t m = 0;
    int32_t zp = 0;
    if (bridge_ && a && b && bridge_->fits(*a, ctx.input(2), *b, &m, &zp)) {
      onednn::MatMulInt8Desc d = desc_;
      d.m = m;
      d.n = b->dim(1);
      d.k = b->dim(0);
      d.a_zero_point = zp != 0;
      // oneDNN writes all of y; on kUnsupported the reference allocates and writes it again.
      HONE_ASSIGN_OR_RETURN(Tensor * y,
                            ctx.allocate_output_overwritten(0, ctx.input(7)->dtype(), bridge_->y_shape(*a)));
      Status s = bridge_->mm.run(d, a->data<uint8_t>(), zp, nullptr, nullptr, y->raw());
      if (s.code() != ErrorCode::kUnsupported) return s.ok() ? s : s.with_context(node_label(ctx.node()));
    }
    return qlinear_matmul(ctx);
  }

 private:
  std::unique_ptr<Int8MatMulBridge> bridge_;
  onednn::MatMulInt8Desc desc_;
};

}  // namespace

// Opset 21 adds block quantization and an output_dtype attribute, which this does not implement.
HONE_REGISTER_FN("", QuantizeLinear, 10, 20, quantize_linear);
HONE_REGISTER_FN("", DequantizeLinear, 10, 20, dequantize_linear);
HONE_REGISTER_FN("", DynamicQuantizeLinear, 11, kMaxOpset, dynamic_quantize_linear);
HONE_REGISTER_KERNEL("", MatMulInteger, 10, kMaxOpset, MatMulIntegerKernel);
HONE_REGISTER_KERNEL("", QLinearMatMul, 10, kMaxOpset, QLinearMatMulKernel);

}  // namespace hone::rt
