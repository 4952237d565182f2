// BatchNormalization (inference, and the training_mode of opset 14+), InstanceNormalization and
// LayerNormalization. Statistics are accumulated in double; X of a half type runs through a
// float copy. fp32 LayerNormalization with per-normalized-element Scale/B runs on kernels/x86's
// f32_layernorm_* (float statistics, two passes), split by rows over threads.
#include <cmath>

#include "kernels/x86/f32_kernels.h"
#include "runtime/op_registry.h"
#include "runtime/ops/conv_util.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/parallel_rows.h"

namespace hone::rt {

namespace {

// Work (elements) below which threading costs more than it saves.
constexpr int64_t kParallelElements = int64_t{1} << 16;

// The values of a float-typed parameter tensor (scale, bias, mean, variance) as doubles.
Result<std::vector<double>> read_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  switch (t.dtype()) {
    case DType::kFloat32:
      for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<float>()[i];
      break;
    case DType::kFloat64:
      for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<double>()[i];
      break;
    case DType::kFloat16:
      for (size_t i = 0; i < v.size(); ++i) v[i] = half_to_float(t.data<uint16_t>()[i]);
      break;
    case DType::kBFloat16:
      for (size_t i = 0; i < v.size(); ++i) v[i] = bfloat16_to_float(t.data<uint16_t>()[i]);
      break;
    default: return runtime_error("element type " + std::string(dtype_name(t.dtype())) + " is not a float type");
  }
  return v;
}

// Elements per (n, c) plane of X; N * C may overflow when a later dim is 0 and X empty.
Result<int64_t> plane_size(const KernelContext& ctx, const Tensor& x) {
  auto planes = checked_mul(x.dim(0), x.dim(1));
  if (!planes) return ctx.error("X " + shape_to_string(x.shape()) + " has too many (N, C) planes");
  return *planes == 0 ? 0 : x.numel() / *planes;
}

// Stores doubles into a float-typed tensor of the same element count.
void write_doubles(const std::vector<double>& v, Tensor* t) {
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t->dtype()) {
      case DType::kFloat32: t->data<float>()[i] = static_cast<float>(v[i]); break;
      case DType::kFloat64: t->data<double>()[i] = v[i]; break;
      case DType::kFloat16: t->data<uint16_t>()[i] = float_to_half(static_cast<float>(v[i])); break;
      case DType::kBFloat16: t->data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(v[i])); break;
      default: break;
    }
  }
}

// Computes output 0 = f(X) with f given float/double data: `compute(x, y)` receives X and Y of
// the same dtype (float or double); half types are staged through float copies.
template <class Compute>
Status run_staged(KernelContext& ctx, const Tensor& x, Compute compute) {
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  if (!is_half(x.dtype())) {
    return dispatch_float(x.dtype(), [&](auto zero) -> Status {
      using T = decltype(zero);
      return compute(x.data<T>(), y->data<T>());
    });
  }
  HONE_ASSIGN_OR_RETURN(Tensor xf, half_to_float_tensor(x));
  HONE_ASSIGN_OR_RETURN(Tensor yf, Tensor::create(DType::kFloat32, x.shape()));
  HONE_RETURN_IF_ERROR(compute(xf.data<float>(), yf.data<float>()));
  float_to_half_tensor(yf, y);
  return Status::Ok();
}

// y = x * a[p] + b[p] where p is the parameter index of x's element: the channel, or for
// BatchNormalization's spatial=0 form, the element within one sample.
template <class T>
void affine_per_channel(const T* x, T* y, int64_t batch, int64_t channels, int64_t plane, bool per_element,
                        const std::vector<double>& a, const std::vector<double>& b, int threads) {
  const int64_t rows = batch * channels;
#pragma omp parallel for num_threads(threads) if (rows * plane > kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r % channels;
    const T* xr = x + r * plane;
    T* yr = y + r * plane;
    for (int64_t i = 0; i < plane; ++i) {
      const size_t p = static_cast<size_t>(per_element ? c * plane + i : c);
      yr[i] = static_cast<T>(static_cast<double>(xr[i]) * a[p] + b[p]);
    }
  }
}

class BatchNormalization final : public Kernel {
 public:
  explicit BatchNormalization(int64_t opset) : opset_(opset) {}
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    return std::unique_ptr<Kernel>(std::make_unique<BatchNormalization>(ctx.opset()));
  }

  Status run(KernelContext& ctx) override {
    const ir::Node& node = ctx.node();
    for (size_t i = 0; i < 5; ++i)
      if (!ctx.has_input(i)) return ctx.error("inputs X, scale, B, mean and var are all required");
    const Tensor& x = *ctx.input(0);
    if (x.rank() < 2) return ctx.error("X must have rank >= 2 (N, C, ...), got " + shape_to_string(x.shape()));
    if (!dtype_info(x.dtype()).is_float) return ctx.error("X must be a float tensor");
    const int64_t batch = x.dim(0), channels = x.dim(1);
    HONE_ASSIGN_OR_RETURN(const int64_t plane, plane_size(ctx, x));
    const double epsilon = node.attr_float("epsilon", 1e-5f);
    const double momentum = node.attr_float("momentum", 0.9f);
    // Before opset 9, spatial=0 gives every element of a sample its own parameters.
    const bool per_element = opset_ < 9 && node.attr_int("spatial", 1) == 0;
    const bool training = opset_ >= 14 && node.attr_int("training_mode", 0) != 0;
    if (opset_ < 14) {
      for (size_t i = 1; i < 5; ++i)
        if (ctx.wants_output(i)) return ctx.error("the training outputs of BatchNormalization before opset 14 are not supported");
    }

    const int64_t params = per_element ? channels * plane : channels;
    std::vector<double> stats[4];  // scale, B, mean, var
    for (size_t i = 0; i < 4; ++i) {
      const Tensor& t = *ctx.input(i + 1);
      if (t.numel() != params)
        return ctx.error("parameter input " + std::to_string(i + 1) + " " + shape_to_string(t.shape()) + " must have " +
                         std::to_string(params) + " elements for X " + shape_to_string(x.shape()));
      auto v = read_doubles(t);
      if (!v.ok()) return ctx.error(v.status().message());
      stats[i] = std::move(v).value();
    }
    std::vector<double>& scale = stats[0];
    std::vector<double>& bias = stats[1];
    std::vector<double> mean = stats[2], var = stats[3];
    if (training) HONE_RETURN_IF_ERROR(batch_statistics(ctx, x, batch, channels, plane, &mean, &var));

    std::vector<double> a(static_cast<size_t>(params)), b(static_cast<size_t>(params));
    for (size_t p = 0; p < a.size(); ++p) {
      a[p] = scale[p] / std::sqrt(var[p] + epsilon);
      b[p] = bias[p] - mean[p] * a[p];
    }
    const int threads = std::max(1, ctx.threads());
    HONE_RETURN_IF_ERROR(run_staged(ctx, x, [&](const auto* xd, auto* yd) -> Status {
      affine_per_channel(xd, yd, batch, channels, plane, per_element, a, b, threads);
      return Status::Ok();
    }));
    if (!training) return Status::Ok();
    // Running statistics: the inputs moved towards this batch's statistics by (1 - momentum).
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.wants_output(i)) continue;
      const std::vector<double>& running = stats[i + 1];
      const std::vector<double>& current = i == 1 ? mean : var;
      std::vector<double> updated(running.size());
      for (size_t c = 0; c < updated.size(); ++c) updated[c] = running[c] * momentum + current[c] * (1 - momentum);
      HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(i, ctx.input(i + 2)->dtype(), {channels}));
      write_doubles(updated, out);
    }
    return Status::Ok();
  }

 private:
  // Per-channel mean and population variance over the batch and spatial dims.
  static Status batch_statistics(KernelContext& ctx, const Tensor& x, int64_t batch, int64_t channels, int64_t plane,
                                 std::vector<double>* mean, std::vector<double>* var) {
    auto xs = read_doubles(x);
    if (!xs.ok()) return ctx.error(xs.status().message());
    const double count = static_cast<double>(batch * plane);
    if (count == 0) return ctx.error("training-mode statistics of an empty batch");
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0, sq = 0;
      for (int64_t n = 0; n < batch; ++n) {
        const double* row = xs->data() + (n * channels + c) * plane;
        for (int64_t i = 0; i < plane; ++i) sum += row[i];
      }
      const double m = sum / count;
      for (int64_t n = 0; n < batch; ++n) {
        const double* row = xs->data() + (n * channels + c) * plane;
        for (int64_t i = 0; i < plane; ++i) sq += (row[i] - m) * (row[i] - m);
      }
      (*mean)[static_cast<size_t>(c)] = m;
      (*var)[static_cast<size_t>(c)] = sq / count;
    }
    return Status::Ok();
  }

  int64_t opset_;
};

// Mean and 1/sqrt(variance + epsilon) of x[0..n), two-pass for accuracy.
template <class T>
std::pair<double, double> moments(const T* x, int64_t n, double epsilon) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  const double mean = n > 0 ? sum / static_cast<double>(n) : 0;
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += (static_cast<double>(x[i]) - mean) * (static_cast<double>(x[i]) - mean);
  const double var = n > 0 ? sq / static_cast<double>(n) : 0;
  return {mean, 1.0 / std::sqrt(var + epsilon)};
}

Status instance_normalization(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x || !ctx.has_input(1) || !ctx.has_input(2)) return ctx.error("inputs input, scale and B are required");
  if (x->rank() < 3) return ctx.error("input must have rank >= 3 (N, C, spatial...), got " + shape_to_string(x->shape()));
  if (!dtype_info(x->dtype()).is_float) return ctx.error("input must be a float tensor");
  const int64_t batch = x->dim(0), channels = x->dim(1);
  HONE_ASSIGN_OR_RETURN(const int64_t plane, plane_size(ctx, *x));
  const double epsilon = ctx.node().attr_float("epsilon", 1e-5f);
  std::vector<double> params[2];
  for (size_t i = 0; i < 2; ++i) {
    const Tensor& t = *ctx.input(i + 1);
    if (t.rank() != 1 || t.dim(0) != channels)
      return ctx.error("scale and B must have shape [" + std::to_string(channels) + "], got " + shape_to_string(t.shape()));
    auto v = read_doubles(t);
    if (!v.ok()) return ctx.error(v.status().message());
    params[i] = std::move(v).value();
  }
  const int threads = std::max(1, ctx.threads());
  return run_staged(ctx, *x, [&](const auto* xd, auto* yd) -> Status {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(xd)>>;
    const int64_t rows = batch * channels;
#pragma omp parallel for num_threads(threads) if (x->numel() > kParallelElements) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const size_t c = static_cast<size_t>(r % channels);
      const auto [mean, inv_std] = moments(xd + r * plane, plane, epsilon);
      const double a = params[0][c] * inv_std, b = params[1][c] - mean * a;
      for (int64_t i = 0; i < plane; ++i) yd[r * plane + i] = static_cast<T>(static_cast<double>(xd[r * plane + i]) * a + b);
    }
    return Status::Ok();
  });
}

// Whether LayerNormalization can run on kernels/x86's f32_layernorm_*: fp32 throughout, Scale and
// B holding exactly one value per normalized element (constant along the leading dims), and the
// Mean / InvStdDev outputs unused (the kernel does not write them).
bool layer_norm_fast_path_applies(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* bias,
                                  int64_t axis, int64_t cols) {
  if (x.dtype() != DType::kFloat32 || ctx.wants_output(1) || ctx.wants_output(2) || cols == 0) return false;
  for (const Tensor* t : {&scale, bias}) {
    if (!t) continue;
    if (t->dtype() != DType::kFloat32 || t->numel() != cols || t->rank() > x.rank()) return false;
    auto shape = broadcast_shapes(x.shape(), t->shape());
    if (!shape.ok() || *shape != x.shape()) return false;
    const std::vector<int64_t> strides = broadcast_strides(t->shape(), x.shape());
    for (int64_t d = 0; d < axis; ++d)
      if (strides[static_cast<size_t>(d)] != 0) return false;
  }
  return true;
}

// LayerNormalization (opset 17): normalizes over the dims from `axis` on; Scale and B broadcast
// to X. Mean and InvStdDev keep X's leading dims with the normalized dims set to 1.
Status layer_normalization(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  const Tensor* x = ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* bias = ctx.input(2);
  if (!x || !scale) return ctx.error("inputs X and Scale are required");
  if (!dtype_info(x->dtype()).is_float) return ctx.error("X must be a float tensor");
  if (x->rank() < 1) return ctx.error("X must have rank >= 1");
  auto axis = normalize_axis(node.attr_int("axis", -1), x->rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  const double epsilon = node.attr_float("epsilon", 1e-5f);
  const int64_t stash_type = node.attr_int("stash_type", 1);
  auto stat_dtype = dtype_from_onnx(static_cast<int32_t>(stash_type));
  if (!stat_dtype || !dtype_info(*stat_dtype).is_float)
    return ctx.error("stash_type " + std::to_string(stash_type) + " is not a float type");

  int64_t rows = 1;
  for (int64_t d = 0; d < *axis; ++d) {
    auto r = checked_mul(rows, x->dim(d));  // may overflow when a later dim is 0
    if (!r) return ctx.error("X " + shape_to_string(x->shape()) + " has too many rows before axis");
    rows = *r;
  }
  const int64_t cols = rows == 0 ? 0 : x->numel() / rows;
  if (layer_norm_fast_path_applies(ctx, *x, *scale, bias, *axis, cols)) {
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, x->shape()));
    const auto layernorm = kernels::x86::layernorm_best();
    const float *xd = x->data<float>(), *sd = scale->data<float>(), *bd = bias ? bias->data<float>() : nullptr;
    float* yd = y->data<float>();
    const float eps = static_cast<float>(epsilon);
    parallel_rows(ctx, rows, cols, [&](int64_t begin, int64_t end) {
      layernorm(xd + begin * cols, sd, bd, yd + begin * cols, end - begin, cols, eps);
    });
    return Status::Ok();
  }
  // Scale and B expanded to one value per normalized element, or per X element when they also
  // vary along the leading dims (rare, but allowed by broadcasting).
  std::vector<double> params[2];
  bool per_element[2] = {false, false};
  const std::vector<int64_t> x_strides = strides_of(x->shape());
  for (size_t i = 0; i < 2; ++i) {
    const Tensor* t = i == 0 ? scale : bias;
    if (!t) continue;
    auto shape = broadcast_shapes(x->shape(), t->shape());
    if (!shape.ok() || *shape != x->shape())
      return ctx.error(std::string(i == 0 ? "Scale " : "B ") + shape_to_string(t->shape()) + " does not broadcast to X " +
                       shape_to_string(x->shape()));
    auto values = read_doubles(*t);
    if (!values.ok()) return ctx.error(values.status().message());
    const std::vector<int64_t> strides = broadcast_strides(t->shape(), x->shape());
    for (int64_t d = 0; d < *axis; ++d) per_element[i] = per_element[i] || strides[static_cast<size_t>(d)] != 0;
    params[i].resize(static_cast<size_t>(per_element[i] ? x->numel() : cols));
    for (size_t e = 0; e < params[i].size(); ++e) {
      int64_t offset = 0;
      for (size_t d = 0; d < strides.size(); ++d)
        offset += static_cast<int64_t>(e) / x_strides[d] % x->shape()[d] * strides[d];
      params[i][e] = (*values)[static_cast<size_t>(offset)];
    }
  }

  Shape stat_shape = x->shape();
  for (size_t d = static_cast<size_t>(*axis); d < stat_shape.size(); ++d) stat_shape[d] = 1;
  std::vector<double> means(static_cast<size_t>(rows)), inv_stds(static_cast<size_t>(rows));
  const int threads = std::max(1, ctx.threads());
  // Not inside HONE_RETURN_IF_ERROR: a pragma cannot appear in a macro argument.
  const Status normalized = run_staged(ctx, *x, [&](const auto* xd, auto* yd) -> Status {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(xd)>>;
#pragma omp parallel for num_threads(threads) if (x->numel() > kParallelElements) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const auto [mean, inv_std] = moments(xd + r * cols, cols, epsilon);
      means[static_cast<size_t>(r)] = mean;
      inv_stds[static_cast<size_t>(r)] = inv_std;
      for (int64_t i = 0; i < cols; ++i) {
        const int64_t e = r * cols + i;
        double v = (static_cast<double>(xd[e]) - mean) * inv_std * params[0][static_cast<size_t>(per_element[0] ? e : i)];
        if (bias) v += params[1][static_cast<size_t>(per_element[1] ? e : i)];
        yd[e] = static_cast<T>(v);
      }
    }
    return Status::Ok();
  });
  if (!normalized.ok()) return normalized;
  for (size_t i = 1; i <= 2; ++i) {
    if (!ctx.wants_output(i)) continue;
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(i, *stat_dtype, stat_shape));
    write_doubles(i == 1 ? means : inv_stds, out);
  }
  return Status::Ok();
}

}  // namespace

HONE_REGISTER_KERNEL("", BatchNormalization, 1, kMaxOpset, BatchNormalization);
HONE_REGISTER_FN("", InstanceNormalization, 1, kMaxOpset, instance_normalization);
HONE_REGISTER_FN("", LayerNormalization, 17, kMaxOpset, layer_normalization);
// What fuse_layernorm makes of the decomposed pattern, at any ONNX opset (internal to a Session).
HONE_REGISTER_FN("hone", LayerNormalization, 1, kMaxOpset, layer_normalization);

}  // namespace hone::rt
