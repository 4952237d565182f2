// com.microsoft.QLinearGlobalAveragePool(X, x_scale, x_zero_point, y_scale, y_zero_point) -> Y:
// the mean of every (n, c) plane of a quantized 8-bit tensor, requantized (ONNX Runtime's contrib
// op; fuse_qdq_ops makes it from DQ -> GlobalAveragePool -> QuantizeLinear inside a Session).
// Attribute channels_last: X is [N, spatial..., C] and Y [N, 1..., C] (else [N, C, spatial...]
// and [N, C, 1...]). Per-tensor scales and zero points; X and Y both uint8 or both int8.
//
//   y = saturate(round(float(double(sum(x - x_zero_point)) * x_scale / count) / y_scale) + y_zero_point)
//
// The sum is exact (integers), where the QDQ chain sums dequantized floats: results agree with
// the chain except on rounding ties, one quantization step at most.
//
// hone.NhwcQLinearGlobalAveragePool (session only, made by the layout pass from this op) is the
// same with X channels last whatever its channels_last attribute says.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

template <class Q>
Q requantize_mean(int64_t sum, int64_t count, float x_scale, float y_scale, int32_t y_zero_point) {
  constexpr float lo = std::numeric_limits<Q>::min(), hi = std::numeric_limits<Q>::max();
  const float mean = count > 0 ? static_cast<float>(static_cast<double>(sum) * x_scale / static_cast<double>(count)) : 0.0f;
  float q = std::nearbyint(mean / y_scale) + static_cast<float>(y_zero_point);
  q = std::isnan(q) ? static_cast<float>(y_zero_point) : q < lo ? lo : q > hi ? hi : q;
  return static_cast<Q>(q);
}

Status qlinear_global_average_pool(KernelContext& ctx, bool channels_last) {
  const Tensor* x = ctx.input(0);
  const Tensor* xs = ctx.input(1);
  const Tensor* xz = ctx.input(2);
  const Tensor* ys = ctx.input(3);
  const Tensor* yz = ctx.input(4);
  if (!x || !xs || !ys) return ctx.error("X, x_scale and y_scale are required");
  if (!is_8bit(x->dtype())) return ctx.error("X must be uint8 or int8");
  if (x->rank() < 3) return ctx.error("X must have rank >= 3, got " + shape_to_string(x->shape()));
  for (const Tensor* s : {xs, ys})
    if (s->dtype() != DType::kFloat32 || s->numel() != 1 || !std::isfinite(s->data<float>()[0]) || s->data<float>()[0] == 0)
      return ctx.error("scales must be finite non-zero float scalars");
  for (const Tensor* z : {xz, yz})
    if (z && (z->dtype() != x->dtype() || z->numel() != 1)) return ctx.error("zero points must be scalars of X's type");
  const int64_t batch = x->dim(0), channels = channels_last ? x->shape().back() : x->dim(1);
  const int64_t planes = batch * channels;
  const int64_t count = planes == 0 ? 0 : x->numel() / planes;
  Shape y_shape(x->shape().size(), 1);
  y_shape[0] = batch;
  y_shape[channels_last ? y_shape.size() - 1 : 1] = channels;
  // Every plane is written below (an empty spatial extent gives the zero point): no zero fill.
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, x->dtype(), y_shape));
  const float x_scale = xs->data<float>()[0], y_scale = ys->data<float>()[0];
  const bool is_signed = x->dtype() == DType::kInt8;
  auto zp = [&](const Tensor* z) -> int32_t {
    if (!z) return 0;
    return is_signed ? int32_t{z->data<int8_t>()[0]} : int32_t{z->data<uint8_t>()[0]};
  };
  const int32_t x_zp = zp(xz), y_zp = zp(yz);
  const int threads = ctx.threads() > 0 ? ctx.threads() : 1;
  auto body = [&](auto zero) {
    using Q = decltype(zero);
    const Q* in = x->data<Q>();
    Q* out = y->data<Q>();
    if (channels_last) {
      // Rows of C contiguous bytes added into C sums: the inner loop runs over channels and
      // vectorizes (a walk per channel would stride by C through the whole tensor). int32 sums
      // while count * 255 fits (widening bytes to int64 vectorizes poorly); private copies of the
      // sizes, which OpenMP's outlined body would otherwise reload after every store.
      const int64_t C = channels, rows = count;
      const bool narrow = rows <= (int64_t{1} << 23);
#pragma omp parallel for num_threads(threads) if (x->numel() > (int64_t{1} << 17))
      for (int64_t n = 0; n < batch; ++n) {
        const Q* base = in + n * rows * C;
        std::vector<int64_t> sum(static_cast<size_t>(C), 0);
        if (narrow) {
          std::vector<int32_t> sum32(static_cast<size_t>(C), 0);
          int32_t* s = sum32.data();
          for (int64_t i = 0; i < rows; ++i) {
            const Q* row = base + i * C;
            for (int64_t c = 0; c < C; ++c) s[c] += row[c];
          }
          std::copy(sum32.begin(), sum32.end(), sum.begin());
        } else {
          int64_t* s = sum.data();
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t c = 0; c < C; ++c) s[c] += base[i * C + c];
        }
        for (int64_t c = 0; c < C; ++c)
          out[n * C + c] =
              requantize_mean<Q>(sum[static_cast<size_t>(c)] - int64_t{x_zp} * rows, rows, x_scale, y_scale, y_zp);
      }
      return;
    }
#pragma omp parallel for num_threads(threads) if (x->numel() > (int64_t{1} << 17))
    for (int64_t p = 0; p < planes; ++p) {
      const Q* base = in + p * count;
      int64_t sum = 0;
      for (int64_t i = 0; i < count; ++i) sum += base[i];
      out[p] = requantize_mean<Q>(sum - int64_t{x_zp} * count, count, x_scale, y_scale, y_zp);
    }
  };
  if (is_signed)
    body(int8_t{});
  else
    body(uint8_t{});
  return Status::Ok();
}

Status qlinear_global_average_pool_onnx(KernelContext& ctx) {
  return qlinear_global_average_pool(ctx, ctx.node().attr_int("channels_last", 0) != 0);
}
Status nhwc_qlinear_global_average_pool(KernelContext& ctx) { return qlinear_global_average_pool(ctx, true); }

}  // namespace

HONE_REGISTER_FN("com.microsoft", QLinearGlobalAveragePool, 1, kMaxOpset, qlinear_global_average_pool_onnx);
HONE_REGISTER_FN("hone", NhwcQLinearGlobalAveragePool, 1, kMaxOpset, nhwc_qlinear_global_average_pool);

}  // namespace hone::rt
