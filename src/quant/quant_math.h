// Scale / zero-point arithmetic shared by every quantization mode (dynamic, static, weight-only).
//
// Semantics follow ONNX QuantizeLinear / DequantizeLinear exactly, so that what hone computes
// offline is what ONNX Runtime (or hone's runtime) computes when it runs the model:
//   q = saturate(round_half_to_even(x / scale) + zero_point)      (x / scale in float)
//   x' = (q - zero_point) * scale
//
// Conventions (docs/formats.md):
//   * symmetric int8 weights: range [-127, 127] (not -128: keeps the range symmetric, as ONNX
//     Runtime's quantizer does with reduce_range off), zero point 0, scale = max|w| / 127;
//   * asymmetric uint8: [lo, hi] widened to include 0 so that 0.0 is exact (padding, ReLU),
//     scale = (hi - lo) / 255, zero_point = round(-lo / scale) clamped to [0, 255];
//   * int4 signed symmetric: [-7, 7] (scale = max|w| / 7); uint4 asymmetric: [0, 15].
//   * Blockwise (weight-only): blocks of `block` consecutive elements along the reduction axis.
//
// Degenerate ranges: an all-zero range (max|w| == 0, or lo == hi == 0) gets scale 1 and the
// natural zero point, which quantizes every element to the zero point exactly — a safe, finite
// answer rather than an error, because all-zero weight rows are common (pruned channels).
// Non-finite inputs (NaN, +-Inf) are an error: a scale derived from them would poison the model.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "hone/status.hpp"

namespace hone::quant {

// The integer grid a quantized tensor lives on.
struct QRange {
  int32_t qmin = 0;
  int32_t qmax = 0;
};

enum class QType { kInt8, kUInt8, kInt4, kUInt4 };
const char* qtype_name(QType t);  // "int8" | "uint8" | "int4" | "uint4"
Result<QType> parse_qtype(const std::string& s);
int qtype_bits(QType t);
// Full integer range of the type ([-128,127], [0,255], [-8,7], [0,15]).
QRange qtype_range(QType t);
// Range used for symmetric quantization: [-127,127] for int8, [-7,7] for int4 (one code short of
// the full range so that +x and -x quantize to +q and -q). Unsigned types have no symmetric range
// (qmin == qmax == 0 returned); scale_symmetric refuses them.
QRange qtype_symmetric_range(QType t);

struct ScaleZp {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// Symmetric: scale = absmax / qmax of the symmetric range, zero point 0 (signed types only).
// absmax == 0 -> scale 1. Fails on non-finite absmax or an unsigned type.
Result<ScaleZp> scale_symmetric(float absmax, QType t);
// Asymmetric: [lo, hi] widened to include 0, scale = (hi - lo) / (qmax - qmin),
// zero_point = qmin - round_half_even(lo / scale), clamped to [qmin, qmax]. lo == hi == 0 ->
// scale 1 and zero point qmin (the code 0.0 maps to when the range starts at 0).
// Fails on non-finite bounds or lo > hi.
Result<ScaleZp> scale_asymmetric(float lo, float hi, QType t);

// Round half to even, as std::nearbyint under the default rounding mode (ONNX QuantizeLinear).
inline float round_half_even(float v) {
  // rint honours the current rounding mode; hone never changes it from round-to-nearest-even.
  return std::nearbyint(v);
}

// One element, saturating. NaN quantizes to the zero point (ONNX leaves it unspecified; this is
// the deterministic choice ONNX Runtime's scalar path makes via lrintf of 0).
inline int32_t quantize_value(float x, float scale, int32_t zero_point, QRange r) {
  float v = x / scale;
  if (std::isnan(v)) return zero_point;
  v = round_half_even(v) + static_cast<float>(zero_point);
  if (v < static_cast<float>(r.qmin)) return r.qmin;
  if (v > static_cast<float>(r.qmax)) return r.qmax;
  return static_cast<int32_t>(v);
}
inline float dequantize_value(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(q - zero_point) * scale;
}

// Min / max / absmax of a float span; fails on any non-finite element (naming `what`).
struct MinMax {
  float lo = 0, hi = 0, absmax = 0;
};
Result<MinMax> min_max(const float* x, int64_t n, const std::string& what);

// Quantization parameters of a whole tensor or of slices of it. A 2-D view [outer, inner] with a
// channel axis is the common case; every function takes the tensor's shape and an axis.
//
// Per tensor: one ScaleZp.
// Per channel along `axis`: shape[axis] ScaleZps, each over every element with that index.
// Blockwise along `axis` (the reduction axis) in blocks of `block`: for a 2-D [K, N] weight with
// axis 0 there are N * ceil(K / block) parameters ordered [n][block] (ONNX Runtime MatMulNBits
// order: column-major over blocks); for general shapes the order is [other dims ...][block] with
// the blocked axis moved last.
struct QuantParams {
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
};

Result<QuantParams> params_per_tensor(const float* x, int64_t n, QType t, bool symmetric,
                                      const std::string& what);
Result<QuantParams> params_per_channel(const float* x, const std::vector<int64_t>& shape, int64_t axis,
                                       QType t, bool symmetric, const std::string& what);
// Blockwise for a 2-D [K, N] matrix, blocks along K (axis 0). Parameters ordered [n][kb],
// n_blocks = ceil(K / block); the padded tail of the last block counts as zeros (does not widen
// the range since 0 is always inside it).
Result<QuantParams> params_blockwise_kn(const float* w, int64_t K, int64_t N, int64_t block, QType t,
                                        bool symmetric, const std::string& what);

// Quantizes a whole tensor with per-tensor (1 scale), per-channel (axis >= 0) parameters.
// `shape` is used only for per-channel; out receives one int32 per element.
Status quantize_tensor(const float* x, const std::vector<int64_t>& shape, int64_t axis, const QuantParams& p,
                       QType t, std::vector<int32_t>* out);
// Blockwise [K, N] along K: q[k*N + n] with parameters [n][k / block].
Status quantize_blockwise_kn(const float* w, int64_t K, int64_t N, int64_t block, const QuantParams& p, QType t,
                             std::vector<int32_t>* out);

// Index helpers: size of the blocked axis after padding, number of blocks.
inline int64_t num_blocks(int64_t k, int64_t block) { return (k + block - 1) / block; }

}  // namespace hone::quant
