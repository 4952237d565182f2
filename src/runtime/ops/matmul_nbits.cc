// com.microsoft.MatMulNBits (ONNX Runtime's contrib op, version 1): Y = A x dequant(B) (+ bias),
// B quantized blockwise along K to 2, 4 or 8 bits. Layout and semantics: kernels/ref/nbits_ref.h
// and docs/nbits.md.
//
// Creation checks every constant input against the attributes (exit 2 on a mismatch) and
// prepares the weights once: B and float32 scales are kept as they are (shared buffers), packed
// uint8 zero points are unpacked to one byte per block, float16 scales/zero points widened.
// Weights given at run time are checked and prepared on each run instead (errors exit 3).
//
// Run: few rows of A (token generation: M = 1) go to the streaming kernels of
// kernels/x86/nbits_kernels.h, split over the session's threads by columns (on VNNI, 4-bit
// weights take the vpdpbusd kernels: A as 3 int8 digits, or 1 with accuracy_level 4); many rows
// (prompt processing) dequantize B a tile of columns at a time into fp32 and multiply through
// oneDNN, where the dequantization is cheap next to the product.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "kernels/dnnl/matmul_dnnl.h"
#include "kernels/ref/nbits_ref.h"
#include "kernels/x86/nbits_kernels.h"
#include "runtime/op_registry.h"
#include "runtime/ops/half_convert.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

namespace nb = kernels::nbits;
namespace onednn = kernels::onednn;

// From this many rows of A on, B is dequantized (scalar dequantize_ref at the time of the
// measurements below; q4/q8_dequant_avx512 since) and multiplied on
// oneDNN. The streaming kernels re-read each column's codes (from L1) for every 2-4 rows, so their
// cost grows with M while a dequantized tile feeds a blocked GEMM. Crossovers measured with
// `hone bench` on a 1-node model (K = N = 2048, block 32, 1 thread, on the loaded 2-vCPU
// development machine, so +-20%): the VNNI kernel beat dequantize + oneDNN at M = 32 (7.8 vs
// 26 ms) and 64 (18 vs 24 ms), tied at 128, lost at 256 (47-52 vs 40 ms); the fp32 AVX2 kernel
// won at 32 (16 vs 23 ms) and lost at 64 (24 vs 20 ms).
constexpr int64_t kDnnlMinRowsVnni = 128;
constexpr int64_t kDnnlMinRows = 48;

struct Attrs {
  int64_t k = 0, n = 0, bits = 4, block_size = 0, k_blocks = 0, blob_size = 0;
};

Result<Attrs> read_attrs(const ir::Node& node) {
  Attrs a;
  for (const char* name : {"K", "N", "block_size"})
    if (!node.attr(name)) return invalid_model(std::string("attribute ") + name + " is required");
  a.k = node.attr_int("K", 0);
  a.n = node.attr_int("N", 0);
  a.bits = node.attr_int("bits", 4);
  a.block_size = node.attr_int("block_size", 0);
  if (a.k < 1 || a.n < 1)
    return invalid_model("K and N must be positive, got K=" + std::to_string(a.k) + " N=" + std::to_string(a.n));
  if (a.bits != 2 && a.bits != 4 && a.bits != 8)
    return unsupported("bits=" + std::to_string(a.bits) + " is not supported (2, 4 or 8)");
  if (a.block_size < 16 || (a.block_size & (a.block_size - 1)) != 0 || a.block_size > (int64_t{1} << 24))
    return invalid_model("block_size must be a power of two >= 16, got " + std::to_string(a.block_size));
  a.k_blocks = (a.k + a.block_size - 1) / a.block_size;
  a.blob_size = a.block_size * a.bits / 8;
  // N * k_blocks * blob_size bytes of B must be addressable; N * K floats of a dequantized tile
  // are bounded separately (tiles).
  auto kb_n = checked_mul(a.n, a.k_blocks);
  if (!kb_n || !checked_mul(*kb_n, a.blob_size)) return invalid_model("N * k_blocks * blob_size overflows");
  return a;
}

std::vector<float> as_floats(const Tensor& t) {
  if (t.dtype() == DType::kFloat32) return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
  return widen_to_float(t);
}

bool is_float_like(DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; }

// The weights prepared for the kernels, and what keeps their memory alive.
struct Weights {
  Tensor b;
  Tensor scales_tensor;  // float32 scales used in place
  std::vector<float> scales;
  std::vector<uint8_t> zp_u8;
  std::vector<float> zp_f32;
  nb::NBitsWeights view;
};

// Checks B, scales and zero points against the attributes and prepares them. Messages name the
// input; the caller adds the node and chooses the error code (load or run time).
Result<Weights> prepare_weights(const Attrs& at, const Tensor& b, const Tensor& scales, const Tensor* zp) {
  if (b.dtype() != DType::kUInt8) return invalid_model("B must be uint8, got " + std::string(dtype_name(b.dtype())));
  const Shape want_b{at.n, at.k_blocks, at.blob_size};
  if (b.shape() != want_b)
    return invalid_model("B has shape " + shape_to_string(b.shape()) + ", expected " + shape_to_string(want_b) +
                         " (N, ceil(K / block_size), block_size * bits / 8)");
  const int64_t nblocks = at.n * at.k_blocks;
  if (!is_float_like(scales.dtype()))
    return invalid_model("scales must be float, got " + std::string(dtype_name(scales.dtype())));
  const bool scales_ok = (scales.rank() == 1 && scales.numel() == nblocks) ||
                         (scales.rank() == 2 && scales.dim(0) == at.n && scales.dim(1) == at.k_blocks);
  if (!scales_ok)
    return invalid_model("scales has shape " + shape_to_string(scales.shape()) + ", expected " +
                         std::to_string(nblocks) + " or " + std::to_string(at.n) + "x" + std::to_string(at.k_blocks) +
                         " (N * ceil(K / block_size))");
  Weights w;
  w.b = b;
  if (scales.dtype() == DType::kFloat32) w.scales_tensor = scales;
  else w.scales = as_floats(scales);
  if (zp) {
    if (zp->dtype() == DType::kUInt8) {
      // ORT packs zero points like the codes: per column, ceil(k_blocks * bits / 8) bytes.
      const int64_t row = (at.k_blocks * at.bits + 7) / 8;
      const bool ok = (zp->rank() == 1 && zp->numel() == at.n * row) ||
                      (zp->rank() == 2 && zp->dim(0) == at.n && zp->dim(1) == row);
      if (!ok)
        return invalid_model("zero_points (uint8) has shape " + shape_to_string(zp->shape()) + ", expected " +
                             std::to_string(at.n * row) + " (N * ceil(k_blocks * bits / 8))");
      w.zp_u8.resize(static_cast<size_t>(nblocks));
      const uint8_t* src = zp->data<uint8_t>();
      for (int64_t n = 0; n < at.n; ++n)
        for (int64_t blk = 0; blk < at.k_blocks; ++blk)
          w.zp_u8[static_cast<size_t>(n * at.k_blocks + blk)] =
              static_cast<uint8_t>(nb::code_at(src + n * row, static_cast<int>(at.bits), blk));
    } else if (is_float_like(zp->dtype())) {
      const bool ok = (zp->rank() == 1 && zp->numel() == nblocks) ||
                      (zp->rank() == 2 && zp->dim(0) == at.n && zp->dim(1) == at.k_blocks);
      if (!ok)
        return invalid_model("zero_points (float) has shape " + shape_to_string(zp->shape()) + ", expected " +
                             std::to_string(nblocks) + " (N * ceil(K / block_size))");
      w.zp_f32 = as_floats(*zp);
      // Whole zero points in the code range are stored as bytes: a quarter of the bytes to read.
      const float top = static_cast<float>((1 << at.bits) - 1);
      const bool integral = std::all_of(w.zp_f32.begin(), w.zp_f32.end(),
                                        [&](float v) { return v >= 0 && v <= top && std::floor(v) == v; });
      if (integral) {
        w.zp_u8.assign(w.zp_f32.begin(), w.zp_f32.end());
        w.zp_f32.clear();
      }
    } else {
      return invalid_model("zero_points must be uint8 or float, got " + std::string(dtype_name(zp->dtype())));
    }
  }
  nb::NBitsWeights& v = w.view;
  v.bits = static_cast<int>(at.bits);
  v.k = at.k;
  v.n = at.n;
  v.block_size = at.block_size;
  v.k_blocks = at.k_blocks;
  v.blob_size = at.blob_size;
  v.b = w.b.data<uint8_t>();
  v.scales = w.scales_tensor.defined() ? w.scales_tensor.data<float>() : w.scales.data();
  v.zp_u8 = w.zp_u8.empty() ? nullptr : w.zp_u8.data();
  v.zp_f32 = w.zp_f32.empty() ? nullptr : w.zp_f32.data();
  return w;
}

// g_idx (input 4, deprecated in ORT) maps each k to its block; only the trivial map k /
// block_size is supported (what every exporter writes when act-order is off).
Status check_g_idx(const Attrs& at, const Tensor& g) {
  if (g.dtype() != DType::kInt32 && g.dtype() != DType::kInt64)
    return invalid_model("g_idx must be int32, got " + std::string(dtype_name(g.dtype())));
  if (g.numel() != at.k)
    return invalid_model("g_idx has " + std::to_string(g.numel()) + " elements, expected K=" + std::to_string(at.k));
  HONE_ASSIGN_OR_RETURN(std::vector<int64_t> idx, read_ints(g));
  for (int64_t k = 0; k < at.k; ++k)
    if (idx[static_cast<size_t>(k)] != k / at.block_size)
      return unsupported("g_idx that reorders K (act-order) is not supported; only g_idx[k] = k / block_size");
  return Status::Ok();
}

Status check_bias(const Attrs& at, const Tensor& bias) {
  if (!is_float_like(bias.dtype()))
    return invalid_model("bias must be float, got " + std::string(dtype_name(bias.dtype())));
  if (bias.numel() != at.n || bias.rank() != 1)
    return invalid_model("bias has shape " + shape_to_string(bias.shape()) + ", expected [" + std::to_string(at.n) +
                         "]");
  return Status::Ok();
}

class MatMulNBitsKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<MatMulNBitsKernel>();
    auto at = read_attrs(ctx.node());
    if (!at.ok()) return Status(at.status().code(), node_label(ctx.node()) + ": " + at.status().message());
    k->at_ = *at;
    const ir::Node& n = ctx.node();
    if (n.inputs.size() < 3 || n.input(0).empty() || n.input(1).empty() || n.input(2).empty())
      return ctx.error("needs inputs A, B and scales");
    if (n.inputs.size() > 6) return ctx.error("takes at most 6 inputs, got " + std::to_string(n.inputs.size()));
    const Tensor* b = ctx.constant_input(1);
    const Tensor* scales = ctx.constant_input(2);
    const bool has_zp = n.inputs.size() > 3 && !n.input(3).empty();
    const Tensor* zp = has_zp ? ctx.constant_input(3) : nullptr;
    if (b && scales && (!has_zp || zp)) {
      auto w = prepare_weights(k->at_, *b, *scales, zp);
      if (!w.ok()) return Status(w.status().code(), node_label(n) + ": " + w.status().message());
      k->weights_ = std::move(*w);
    }
    if (n.inputs.size() > 4 && !n.input(4).empty())
      if (const Tensor* g = ctx.constant_input(4)) {
        Status s = check_g_idx(k->at_, *g);
        if (!s.ok()) return Status(s.code(), node_label(n) + ": " + s.message());
      }
    if (n.inputs.size() > 5 && !n.input(5).empty())
      if (const Tensor* bias = ctx.constant_input(5)) {
        Status s = check_bias(k->at_, *bias);
        if (!s.ok()) return Status(s.code(), node_label(n) + ": " + s.message());
      }
    k->dnnl_ = onednn::enabled();
    // Where the CPU has VNNI, constant 4-bit weights are repacked once (nbits_kernels.h,
    // PackedC16) for the vpdpbusd kernels: activations as 3 int8 digits (fp32-level accuracy) by
    // default; as 1 int8 digit when the node says accuracy_level 4, ORT's licence to compute
    // with int8 activations (MLAS CompInt8).
    if (k->weights_.b.defined() && nb::c16_packable(k->weights_.view)) {
      k->s8_ = nb::best_s8_gemm(n.attr_int("accuracy_level", 0) >= 4 ? 1 : 3);
      if (k->s8_) k->c16_ = nb::pack_c16(k->weights_.view);
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    if (!a || !ctx.input(1) || !ctx.input(2)) return ctx.error("needs inputs A, B and scales");
    if (!is_float_like(a->dtype())) return ctx.error("A must be float, got " + std::string(dtype_name(a->dtype())));
    if (a->rank() < 1 || a->dim(a->rank() - 1) != at_.k)
      return ctx.error("A has shape " + shape_to_string(a->shape()) + ", its last dim must be K=" +
                       std::to_string(at_.k));
    std::optional<Weights> run_weights;
    const Weights* w = &weights_;
    if (!weights_.b.defined()) {
      auto prepared = prepare_weights(at_, *ctx.input(1), *ctx.input(2), ctx.input(3));
      if (!prepared.ok()) return ctx.error(prepared.status().message());
      run_weights = std::move(*prepared);
      w = &*run_weights;
    }
    if (const Tensor* g = ctx.input(4)) {
      Status s = check_g_idx(at_, *g);
      if (!s.ok()) return ctx.error(s.message());
    }
    std::vector<float> bias;
    if (const Tensor* bt = ctx.input(5)) {
      Status s = check_bias(at_, *bt);
      if (!s.ok()) return ctx.error(s.message());
      bias = as_floats(*bt);
    }
    Shape out_shape = a->shape();
    out_shape.back() = at_.n;
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), out_shape));
    const int64_t m = at_.k > 0 ? a->numel() / at_.k : 0;
    if (m == 0) return Status::Ok();

    std::vector<float> a32, y32;
    const float* ap = a->dtype() == DType::kFloat32 ? a->data<float>() : (a32 = widen_to_float(*a)).data();
    float* yp = y->dtype() == DType::kFloat32 ? y->data<float>() : (y32.resize(static_cast<size_t>(y->numel())), y32.data());
    const int threads = std::max(1, ctx.threads());
    Status s = Status(ErrorCode::kUnsupported, "");
    if (m >= (s8_ && w == &weights_ ? kDnnlMinRowsVnni : kDnnlMinRows) && dnnl_) s = run_dnnl(w->view, ap, m, bias.empty() ? nullptr : bias.data(), yp, threads);
    if (s.code() == ErrorCode::kUnsupported) {
      if (s8_ && w == &weights_) nb::s8_gemm(*s8_, c16_, ap, at_.k, m, yp, at_.n, threads);
      else nb::gemm(nb::best_gemm(w->view), w->view, ap, at_.k, m, yp, at_.n, threads);
      if (!bias.empty())
        for (int64_t r = 0; r < m; ++r)
          for (int64_t n = 0; n < at_.n; ++n) yp[r * at_.n + n] += bias[static_cast<size_t>(n)];
    } else if (!s.ok()) {
      return s.with_context(node_label(ctx.node()));
    }
    if (y->dtype() != DType::kFloat32) narrow_from_float(yp, *y);
    return Status::Ok();
  }

 private:
  // Dequantizes tiles of columns of B into fp32 [tile, K] and multiplies each on oneDNN
  // (B transposed). kUnsupported (nothing written) when oneDNN refuses.
  Status run_dnnl(const nb::NBitsWeights& w, const float* a, int64_t m, const float* bias, float* y, int threads) {
    // About 4 MiB of fp32 weights per tile, whole multiples of 64 columns.
    const int64_t tile = std::min(w.n, std::max<int64_t>(64, ((int64_t{1} << 20) / w.k) / 64 * 64));
    auto elems = checked_mul(tile, w.k);
    auto out_elems = checked_mul(m, tile);
    if (!elems || !out_elems) return Status(ErrorCode::kUnsupported, "");
    std::vector<float> wt(static_cast<size_t>(*elems));
    const nb::DequantVariant* dq = nb::best_dequant(w);
    std::vector<float> yt(tile == w.n ? 0 : static_cast<size_t>(*out_elems));
    for (int64_t n0 = 0; n0 < w.n; n0 += tile) {
      const int64_t nt = std::min(tile, w.n - n0);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t j = 0; j < nt; j += 8) {
        const int64_t j1 = std::min(n0 + nt, n0 + j + 8);
        if (dq) dq->fn(w, n0 + j, j1, wt.data() + j * w.k, w.k);
        else nb::dequantize_ref(w, n0 + j, j1, wt.data() + j * w.k, w.k);
      }
      onednn::MatMulDesc d;
      d.m = m;
      d.n = nt;
      d.k = w.k;
      d.trans_b = true;
      d.has_bias = bias != nullptr;
      float* out = tile == w.n ? y : yt.data();
      HONE_RETURN_IF_ERROR(bridge_.run(d, a, wt.data(), bias ? bias + n0 : nullptr, out));
      if (out != y)
        for (int64_t r = 0; r < m; ++r) std::copy(out + r * nt, out + (r + 1) * nt, y + r * w.n + n0);
    }
    return Status::Ok();
  }

  Attrs at_;
  Weights weights_;  // prepared at creation when B, scales (and zero points) are constants
  bool dnnl_ = false;
  onednn::MatMulF32Dnnl bridge_;
  const nb::S8GemmVariant* s8_ = nullptr;  // vpdpbusd kernel over c16_, when chosen at creation
  nb::PackedC16 c16_;
};

}  // namespace

HONE_REGISTER_KERNEL("com.microsoft", MatMulNBits, 1, kMaxOpset, MatMulNBitsKernel);

}  // namespace hone::rt
