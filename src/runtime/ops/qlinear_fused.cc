// Fused integer ops of hone's internal domain "hone", made by the level-2 passes
// fuse_dynamic_quant_matmul and fuse_qdq inside a Session (never exported to a file):
//
//   hone.QLookup(xq, table[256]) -> yq: DQ -> Relu/Clip/LeakyRelu -> Q as a table lookup.
//   hone.DynQuantMatMul(x float[..., K], w int8[K, N], w_zero_point?, w_scale, bias?) -> y float[..., N]
//     = DynamicQuantizeLinear(x) -> MatMulInteger(xq, w, xzp, w_zero_point) -> Cast(float)
//       -> Mul(., x_scale * w_scale) (-> Add(., bias)), ONNX Runtime's dynamic-int8 chain.
//     Optional inputs 5-7 (xq, x_scale, x_zero_point): x already quantized by the op that made it
//     (hone.LayerNormDynQuant, hone.GeluDynQuant; pass fuse_dynamic_quant_producer), shared by every
//     GEMM that reads x. With attribute xq_perm, x is Transpose(perm = xq_perm) of the quantized
//     value: its bytes are used when that transpose keeps memory order (it only moves size-1
//     dims), else x is quantized here as without them (same values, so the same scale and bytes).
//     Optional input 8 (residual, float): y = Add(chain, residual), the skip connection after
//     the GEMM, added in its epilogue (a oneDNN binary post-op) instead of by a pass of its own;
//     a residual that broadcasts to another shape is added after the GEMM instead.
//     Attributes select_axis, select_index: y = Gather(the above, select_index, axis =
//     select_axis), x's axis select_axis < rank - 1 (hoist_gather moved a Gather of one slice
//     above the GEMM; fuse_dynamic_quant_matmul found it between the DynamicQuantizeLinear and
//     the MatMulInteger). x is quantized whole, as the chain does, and the GEMM runs on the
//     selected rows only; the residual has y's (gathered) shape.
//     Attribute activation = "Gelu" (with approximate "none" | "tanh"): y = Gelu(the above), by
//     the unfused hone.Gelu's own kernel. Optional outputs 1-3 (yq, y_scale, y_zero_point):
//     DynamicQuantizeLinear(y) as well, for the GEMMs that read y (pass
//     fuse_dynamic_quant_activation folds hone.GeluDynQuant into the GEMM before it this way).
//     On the qgemm path each thread applies the GELU and scans the range on the part of y it has
//     just computed, and quantizes that part once every range is known (qgemm::OwnedPartWork),
//     so y is not read back from another core; the other paths run the unfused op's code after
//     the GEMM. Either way y, yq and the parameters are the unfused ops', bit for bit.
//
// x is quantized with the vectorized DynamicQuantizeLinear kernel (kernels/x86), then the GEMM
// runs on the first of:
//   - hone's u8 x s8 kernel (kernels/x86/qgemm_u8s8.h) where the CPU has AVX-512 VNNI or AVX2:
//     w packed at session creation, the scale, bias and residual applied in registers;
//   - u8s8_matmul_dnnl with the scale and bias as post-ops (oneDNN; exact only with VNNI), on a
//     CPU with neither;
//   - the packed scalar variant of qgemm_u8s8 (HONE_DNNL=0 there);
//   - the chain in plain C++ (reference(): a non-zero weight zero point, or a shape oneDNN refuses).
// All give the chain's results to the last bit: the quantized bytes and the int32 accumulators
// are exact, and the float epilogue is the chain's operations in its order.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

#include "kernels/dnnl/matmul_int8_dnnl.h"
#include "kernels/x86/byte_lookup.h"
#include "kernels/x86/dynamic_quant.h"
#include "kernels/x86/f32_kernels.h"
#include "kernels/x86/qgemm_u8s8.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {

namespace {

namespace onednn = kernels::onednn;
namespace dynq = kernels::dynq;
namespace qgemm = kernels::qgemm;

class DynQuantMatMulKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<DynQuantMatMulKernel>();
    const Tensor* w = ctx.constant_input(1);
    const Tensor* w_scale = ctx.constant_input(3);
    if (!w || !w_scale) return ctx.error("w and w_scale must be constant initializers");
    if (w->dtype() != DType::kInt8 || w->rank() != 2) return ctx.error("w must be a 2-D int8 tensor");
    k->k_ = w->dim(0);
    k->n_ = w->dim(1);
    auto per_column = [&](const Tensor& t) { return t.rank() <= 1 && (t.numel() == 1 || t.numel() == k->n_); };
    if (w_scale->dtype() != DType::kFloat32 || !per_column(*w_scale))
      return ctx.error("w_scale must be float with 1 or " + std::to_string(k->n_) + " values");
    k->w_ = *w;
    k->w_scale_ = *w_scale;
    if (!ctx.node().input(2).empty()) {
      const Tensor* zp = ctx.constant_input(2);
      if (!zp || zp->dtype() != DType::kInt8 || !per_column(*zp))
        return ctx.error("w_zero_point must be a constant int8 tensor with 1 or " + std::to_string(k->n_) + " values");
      k->w_zp_ = *zp;
      for (int64_t i = 0; i < zp->numel(); ++i) k->w_zp_nonzero_ |= zp->data<int8_t>()[i] != 0;
    }
    if (!ctx.node().input(4).empty()) {
      const Tensor* bias = ctx.constant_input(4);
      if (!bias || bias->dtype() != DType::kFloat32 || bias->rank() != 1 || bias->dim(0) != k->n_)
        return ctx.error("bias must be a constant float tensor of " + std::to_string(k->n_) + " values");
      k->bias_ = *bias;
    }
    // oneDNN's int8 matmul takes no weight zero point here: such weights stay on the reference path.
    k->xq_perm_ = ctx.node().attr_ints("xq_perm");
    if (ctx.node().attr("select_axis") || ctx.node().attr("select_index")) {
      if (!ctx.node().attr("select_axis") || !ctx.node().attr("select_index"))
        return ctx.error("attributes select_axis and select_index go together");
      k->select_ = true;
      k->select_axis_ = ctx.node().attr_int("select_axis", 0);
      k->select_index_ = ctx.node().attr_int("select_index", 0);
    }
    const std::string activation = ctx.node().attr_string("activation", "");
    if (activation == "Gelu") {
      const std::string approximate = ctx.node().attr_string("approximate", "none");
      if (approximate != "none" && approximate != "tanh")
        return ctx.error("attribute approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
      k->activation_ = approximate == "none" ? kernels::x86::gelu_erf_best() : kernels::x86::gelu_tanh_best();
    } else if (!activation.empty()) {
      return ctx.error("attribute activation must be \"Gelu\" or absent, got \"" + activation + "\"");
    }
    if (!k->w_zp_nonzero_) {
      if (!qgemm::has_fast_variant() && onednn::enabled()) {
        k->dnnl_ = std::make_unique<onednn::MatMulU8S8Dnnl>();
        k->dnnl_->set_weights(k->w_.data<int8_t>());
      } else {
        k->packed_ = std::make_unique<qgemm::PackedWeights>(qgemm::pack_weights(k->w_.data<int8_t>(), k->k_, k->n_));
      }
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x || x->dtype() != DType::kFloat32) return ctx.error("x must be a float tensor");
    if (x->rank() < 1 || x->shape().back() != k_)
      return ctx.error("x " + shape_to_string(x->shape()) + " does not have " + std::to_string(k_) + " columns");
    Shape y_shape(x->shape().begin(), x->shape().end() - 1);
    y_shape.push_back(n_);
    rows_ = Rows{};
    for (size_t d = 0; d + 1 < x->shape().size(); ++d) rows_.inner *= x->dim(static_cast<int64_t>(d));
    if (select_) HONE_RETURN_IF_ERROR(select_rows(ctx, *x, &y_shape));
    const int64_t m = rows_.outer * rows_.inner;  // rows of y (k_ may be 0, so not numel / k_)
    const Tensor* residual = nullptr;
    if (!ctx.node().input(8).empty()) {
      residual = ctx.input(8);
      if (!residual || residual->dtype() != DType::kFloat32) return ctx.error("residual must be a float tensor");
      if (residual->shape() != y_shape) return run_then_add(ctx, *x, y_shape, m, *residual);
    }
    // Every path below writes all of y (oneDNN, or the reference's rows): no zero fill first,
    // which would be one more pass over the widest tensor of the layer (128 x 3072 in BERT).
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, DType::kFloat32, y_shape));
    HONE_ASSIGN_OR_RETURN(Quantized yq, quantized_outputs(ctx, y_shape));
    return gemm(ctx, *x, m, residual ? residual->data<float>() : nullptr, y->data<float>(), yq);
  }

 private:
  // The rows of x the GEMM reads: `outer` runs of `inner` consecutive rows, run o starting at
  // row (o * dim + index) * inner. Without select_axis: one run of all rows.
  struct Rows {
    int64_t outer = 1, dim = 1, inner = 1, index = 0;
  };

  // rows_ and y's shape for select_axis / select_index on this x.
  Status select_rows(const KernelContext& ctx, const Tensor& x, Shape* y_shape) {
    const int64_t rank = x.rank();
    int64_t axis = select_axis_;
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank - 1)
      return ctx.error("select_axis " + std::to_string(select_axis_) + " is not a row axis of x " + shape_to_string(x.shape()));
    Rows r;
    for (int64_t d = 0; d < axis; ++d) r.outer *= x.dim(d);
    r.dim = x.dim(axis);
    for (int64_t d = axis + 1; d < rank - 1; ++d) r.inner *= x.dim(d);
    r.index = select_index_ < 0 ? select_index_ + r.dim : select_index_;
    if (r.index < 0 || r.index >= r.dim)
      return ctx.error("select_index " + std::to_string(select_index_) + " is out of range for axis " +
                       std::to_string(select_axis_) + " of x " + shape_to_string(x.shape()));
    y_shape->erase(y_shape->begin() + axis);
    rows_ = r;
    return Status::Ok();
  }

  // The selected rows of the quantized x (all of it without select_axis): xq itself when they are
  // consecutive, else copied together into xq_rows_.
  const uint8_t* selected(const uint8_t* xq) {
    if (!select_) return xq;
    const Rows& r = rows_;
    const int64_t run = r.inner * k_;
    if (r.outer == 1) return xq + r.index * run;
    xq_rows_.resize(static_cast<size_t>(r.outer * run));
    for (int64_t o = 0; o < r.outer; ++o)
      std::memcpy(xq_rows_.data() + o * run, xq + (o * r.dim + r.index) * run, static_cast<size_t>(run));
    return xq_rows_.data();
  }

  // Outputs 1-3 when the node has them: DynamicQuantizeLinear of y.
  struct Quantized {
    uint8_t* bytes = nullptr;  // nullptr: the node has no quantized outputs
    float* scale = nullptr;
    uint8_t* zero_point = nullptr;
  };
  static Result<Quantized> quantized_outputs(KernelContext& ctx, const Shape& y_shape) {
    Quantized q;
    if (ctx.node().outputs.size() < 2 || ctx.node().outputs[1].empty()) return q;
    if (ctx.node().outputs.size() != 4) return ctx.error("needs all of yq, y_scale and y_zero_point, or none");
    HONE_ASSIGN_OR_RETURN(Tensor * bytes, ctx.allocate_output_overwritten(1, DType::kUInt8, y_shape));
    HONE_ASSIGN_OR_RETURN(Tensor * scale, ctx.allocate_output_overwritten(2, DType::kFloat32, Shape{}));
    HONE_ASSIGN_OR_RETURN(Tensor * zero_point, ctx.allocate_output_overwritten(3, DType::kUInt8, Shape{}));
    q.bytes = bytes->data<uint8_t>();
    q.scale = scale->data<float>();
    q.zero_point = zero_point->data<uint8_t>();
    return q;
  }

  // The activation and the quantization on finished rows y[m, n], the unfused ops' way: their
  // row kernels, and the fused range scan of hone.GeluDynQuant.
  void finish_rows(float* y, int64_t m, int64_t n, const Quantized& yq, int threads) const {
    auto activate = [&](int64_t begin, int64_t end) {
      if (activation_) activation_(y + begin * n, y + begin * n, (end - begin) * n);
    };
    if (!yq.bytes) {
      if (activation_) activate(0, m);
      return;
    }
    const dynq::QuantParams p = dynq::u8_dynamic_quantize_produced(activate, m, n, y, yq.bytes, threads);
    *yq.scale = p.scale;
    *yq.zero_point = p.zero_point;
  }

  // The same on the qgemm path, by each thread on the part of y it has computed.
  qgemm::OwnedPartWork owned_part_work(float* y, const Quantized& yq, int threads, std::vector<float>& ranges,
                                       dynq::QuantParams& params) const {
    qgemm::OwnedPartWork work;
    const int64_t n = n_;
    const dynq::Variant& dq = dynq::best_variant();
    ranges.assign(2 * static_cast<size_t>(threads), 0.0f);  // [lo, hi] per thread; the range holds 0
    work.after_product = [this, y, n, &ranges, &dq, yq](int t, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* row = y + r * n + c0;
        if (activation_) activation_(row, row, c1 - c0);
        if (yq.bytes) dq.minmax(row, c1 - c0, &ranges[2 * static_cast<size_t>(t)], &ranges[2 * static_cast<size_t>(t) + 1]);
      }
    };
    if (!yq.bytes) return work;
    work.between = [&ranges, &params, yq] {
      float lo = 0.0f, hi = 0.0f;
      for (size_t i = 0; i < ranges.size(); i += 2) {
        lo = std::min(lo, ranges[i]);
        hi = std::max(hi, ranges[i + 1]);
      }
      params = dynq::params_from_range(lo, hi);
      *yq.scale = params.scale;
      *yq.zero_point = params.zero_point;
    };
    work.after_between = [y, n, &dq, &params, yq](int, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      for (int64_t r = r0; r < r1; ++r) {
        uint8_t* out = yq.bytes + r * n + c0;
        if (params.scale > 0)
          dq.quantize(y + r * n + c0, c1 - c0, params.scale, params.zero_point, out);
        else
          std::fill(out, out + (c1 - c0), uint8_t{0});  // no range: all zeros, as the op
      }
    };
    return work;
  }

  // y[m, n_] = the chain on x (+ residual[m, n_] when given), every element written; then the
  // activation and yq when the node has them.
  // finish = false: neither (run_then_add finishes after its Add).
  Status gemm(const KernelContext& ctx, const Tensor& x_tensor, int64_t m, const float* residual, float* y_out,
              const Quantized& yq, bool finish = true) {
    const Tensor* x = &x_tensor;
    if (m == 0 || n_ == 0) {
      if (finish) finish_rows(y_out, 0, n_, yq, 1);  // the parameters of an empty tensor: 0 and 0
      return Status::Ok();
    }
    const uint8_t* xq = nullptr;
    dynq::QuantParams q;
    HONE_RETURN_IF_ERROR(prequantized(ctx, *x, &xq, &q));
    if (!xq) {
      xq_.resize(static_cast<size_t>(x->numel()));
      q = dynq::u8_dynamic_quantize(x->data<float>(), x->numel(), xq_.data(), ctx.threads());
      xq = xq_.data();
    }
    xq = selected(xq);
    // s = x_scale * w_scale, as the chain's Mul computes it.
    const int64_t scales = w_scale_.numel();
    scale_.resize(static_cast<size_t>(scales));
    for (int64_t j = 0; j < scales; ++j) scale_[static_cast<size_t>(j)] = q.scale * w_scale_.data<float>()[j];
    const float* bias = bias_.defined() ? bias_.data<float>() : nullptr;
    if (packed_) {
      qgemm::Epilogue e;
      e.a_zero_point = q.zero_point;
      e.scale = scale_.data();
      e.per_column = scales > 1;
      e.bias = bias;
      e.residual = residual;
      if (!finish || (!activation_ && !yq.bytes)) {
        qgemm::qgemm_u8s8(*packed_, xq, k_, m, e, y_out, n_, ctx.threads());
        return Status::Ok();
      }
      std::vector<float> ranges;
      dynq::QuantParams params;
      const qgemm::OwnedPartWork work = owned_part_work(y_out, yq, ctx.threads(), ranges, params);
      qgemm::qgemm_u8s8(*packed_, xq, k_, m, e, y_out, n_, ctx.threads(), &work);
      return Status::Ok();
    }
    if (dnnl_) {
      onednn::MatMulInt8Desc d;
      d.m = m;
      d.n = n_;
      d.k = k_;
      d.dst = onednn::Int8Dst::kF32;
      d.a_zero_point = true;
      d.per_column = scales > 1;
      d.has_bias = bias != nullptr;
      d.has_residual = residual != nullptr;
      Status s = dnnl_->run(d, xq, q.zero_point, scale_.data(), bias, y_out, residual);
      if (!s.ok() && s.code() != ErrorCode::kUnsupported) return s.with_context(node_label(ctx.node()));
      if (s.ok()) {
        if (finish) finish_rows(y_out, m, n_, yq, ctx.threads());
        return s;
      }
    }
    reference(xq, m, q.zero_point, bias, residual, y_out, ctx.threads());
    if (finish) finish_rows(y_out, m, n_, yq, ctx.threads());
    return Status::Ok();
  }

  // A residual of another shape than the GEMM's (Add broadcasts it, possibly to a larger
  // output): the GEMM into a scratch buffer, then Add's broadcast over both operands.
  Status run_then_add(KernelContext& ctx, const Tensor& x, const Shape& y_shape, int64_t m, const Tensor& residual) {
    HONE_ASSIGN_OR_RETURN(Shape out_shape, broadcast_shapes(y_shape, residual.shape()));
    std::vector<float> g(static_cast<size_t>(m * n_));
    HONE_RETURN_IF_ERROR(gemm(ctx, x, m, nullptr, g.data(), Quantized{}, /*finish=*/false));
    HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(0, DType::kFloat32, out_shape));
    const std::vector<int64_t> gs = broadcast_strides(y_shape, out_shape), rs = broadcast_strides(residual.shape(), out_shape);
    const float* r = residual.data<float>();
    float* o = out->data<float>();
    std::vector<int64_t> index(out_shape.size(), 0);
    for (int64_t i = 0; i < out->numel(); ++i) {
      int64_t gi = 0, ri = 0;
      for (size_t d = 0; d < index.size(); ++d) {
        gi += index[d] * gs[d];
        ri += index[d] * rs[d];
      }
      o[i] = g[static_cast<size_t>(gi)] + r[ri];
      for (size_t d = index.size(); d-- > 0;) {  // next index, last dim fastest
        if (++index[d] < out_shape[d]) break;
        index[d] = 0;
      }
    }
    HONE_ASSIGN_OR_RETURN(Quantized yq, quantized_outputs(ctx, out_shape));
    const int64_t cols = out_shape.empty() ? 1 : out_shape.back();
    finish_rows(o, cols == 0 ? 0 : out->numel() / cols, cols, yq, ctx.threads());
    return Status::Ok();
  }

  // x's quantized bytes and parameters from inputs 5-7 when the node has them and they describe
  // x's memory order; *xq stays null otherwise (x is then quantized by the caller).
  Status prequantized(const KernelContext& ctx, const Tensor& x, const uint8_t** xq, dynq::QuantParams* q) const {
    if (ctx.node().input(5).empty()) return Status::Ok();
    const Tensor* xq_t = ctx.input(5);
    const Tensor* xs_t = ctx.input(6);
    const Tensor* xzp_t = ctx.input(7);
    if (!xq_t || !xs_t || !xzp_t || xq_t->dtype() != DType::kUInt8 || xs_t->dtype() != DType::kFloat32 ||
        xzp_t->dtype() != DType::kUInt8 || xs_t->numel() != 1 || xzp_t->numel() != 1)
      return ctx.error("xq, x_scale and x_zero_point must be uint8, one float and one uint8");
    if (xq_t->numel() != x.numel()) return ctx.error("xq " + shape_to_string(xq_t->shape()) + " does not hold x's values");
    if (!xq_perm_.empty()) {
      // x = Transpose(xq's float source, perm): the same bytes in the same order when the
      // dims that are not 1 keep their order.
      if (xq_perm_.size() != static_cast<size_t>(x.rank()) || xq_t->rank() != x.rank())
        return ctx.error("xq_perm does not match x's rank");
      int64_t last = -1;
      for (size_t i = 0; i < xq_perm_.size(); ++i) {
        const int64_t from = xq_perm_[i];
        if (from < 0 || from >= x.rank() || xq_t->dim(from) != x.dim(static_cast<int64_t>(i)))
          return ctx.error("xq_perm does not map xq's shape to x's");
        if (x.dim(static_cast<int64_t>(i)) == 1) continue;
        if (from < last) return Status::Ok();  // a real transpose: quantize x here instead
        last = from;
      }
    } else if (xq_t->shape() != x.shape()) {
      return ctx.error("xq " + shape_to_string(xq_t->shape()) + " and x " + shape_to_string(x.shape()) + " differ");
    }
    q->scale = xs_t->data<float>()[0];
    q->zero_point = xzp_t->data<uint8_t>()[0];
    *xq = xq_t->data<uint8_t>();
    return Status::Ok();
  }

  // The chain in plain C++: int32 sums of (xq - xzp)(w - wzp), Cast, Mul, Add.
  void reference(const uint8_t* xq, int64_t m, uint8_t x_zp, const float* bias, const float* residual, float* y,
                 int threads) const {
    const int8_t* w = w_.data<int8_t>();
    const int8_t* wzp = w_zp_.defined() ? w_zp_.data<int8_t>() : nullptr;
    const int64_t zps = w_zp_.defined() ? w_zp_.numel() : 0;
    const int64_t scales = w_scale_.numel();
    const int64_t n = n_, k = k_;
#pragma omp parallel num_threads(threads) if (m * n * k > (1 << 16))
    {
      std::vector<int32_t> acc(static_cast<size_t>(n));
#pragma omp for
      for (int64_t r = 0; r < m; ++r) {
        std::fill(acc.begin(), acc.end(), 0);
        for (int64_t kk = 0; kk < k; ++kk) {
          const int32_t a = static_cast<int32_t>(xq[r * k + kk]) - x_zp;
          const int8_t* wrow = w + kk * n;
          for (int64_t c = 0; c < n; ++c)
            acc[static_cast<size_t>(c)] += a * (static_cast<int32_t>(wrow[c]) - (wzp ? wzp[zps == 1 ? 0 : c] : 0));
        }
        for (int64_t c = 0; c < n; ++c) {
          float v = static_cast<float>(acc[static_cast<size_t>(c)]) * scale_[static_cast<size_t>(scales == 1 ? 0 : c)];
          if (bias) v = v + bias[c];
          if (residual) v = v + residual[r * n + c];
          y[r * n + c] = v;
        }
      }
    }
  }

  int64_t k_ = 0, n_ = 0;
  Tensor w_, w_zp_, w_scale_, bias_;  // constants, kept alive (oneDNN reads w_ when packing)
  bool w_zp_nonzero_ = false;
  std::vector<int64_t> xq_perm_;  // attribute xq_perm (empty: xq has x's shape)
  bool select_ = false;           // attributes select_axis and select_index
  int64_t select_axis_ = 0, select_index_ = 0;
  Rows rows_;                     // of the current run
  std::vector<uint8_t> xq_rows_;  // the selected rows of xq when they are not consecutive
  kernels::x86::UnaryFn activation_ = nullptr;    // attribute activation: the GELU kernel, or none
  std::unique_ptr<qgemm::PackedWeights> packed_;  // set: the GEMM runs on qgemm_u8s8
  std::unique_ptr<onednn::MatMulU8S8Dnnl> dnnl_;
  std::vector<uint8_t> xq_;   // the quantized x of the current run
  std::vector<float> scale_;  // x_scale * w_scale of the current run
};

// hone.QLookup(x uint8|int8, table[256] constant) -> y[i] = table[byte of x[i]]: an elementwise
// op between DequantizeLinear and QuantizeLinear with its result for every possible input
// precomputed by fuse_qdq.
Status qlookup(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* table = ctx.input(1);
  if (!x || !table) return ctx.error("needs x and table");
  if ((x->dtype() != DType::kUInt8 && x->dtype() != DType::kInt8) ||
      (table->dtype() != DType::kUInt8 && table->dtype() != DType::kInt8) || table->numel() != 256)
    return ctx.error("x must be 8-bit and table 256 8-bit values");
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_overwritten(0, table->dtype(), x->shape()));
  kernels::lookup::byte_lookup(static_cast<const uint8_t*>(table->raw()), static_cast<const uint8_t*>(x->raw()),
                               x->numel(), static_cast<uint8_t*>(y->raw()), ctx.threads());
  return Status::Ok();
}

}  // namespace

HONE_REGISTER_FN("hone", QLookup, 1, kMaxOpset, qlookup);
HONE_REGISTER_KERNEL("hone", DynQuantMatMul, 1, kMaxOpset, DynQuantMatMulKernel);

}  // namespace hone::rt
