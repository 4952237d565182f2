#include "quant/quant_math.h"

#include <algorithm>
#include <limits>

namespace hone::quant {

const char* qtype_name(QType t) {
  switch (t) {
    case QType::kInt8: return "int8";
    case QType::kUInt8: return "uint8";
    case QType::kInt4: return "int4";
    case QType::kUInt4: return "uint4";
  }
  return "?";
}

Result<QType> parse_qtype(const std::string& s) {
  if (s == "int8") return QType::kInt8;
  if (s == "uint8") return QType::kUInt8;
  if (s == "int4") return QType::kInt4;
  if (s == "uint4") return QType::kUInt4;
  return invalid_argument("unknown quantized type '" + s + "' (int8, uint8, int4, uint4)");
}

int qtype_bits(QType t) { return (t == QType::kInt8 || t == QType::kUInt8) ? 8 : 4; }

QRange qtype_range(QType t) {
  switch (t) {
    case QType::kInt8: return {-128, 127};
    case QType::kUInt8: return {0, 255};
    case QType::kInt4: return {-8, 7};
    case QType::kUInt4: return {0, 15};
  }
  return {0, 0};
}

QRange qtype_symmetric_range(QType t) {
  switch (t) {
    case QType::kInt8: return {-127, 127};
    case QType::kInt4: return {-7, 7};
    default: return {0, 0};
  }
}

Result<ScaleZp> scale_symmetric(float absmax, QType t) {
  const QRange r = qtype_symmetric_range(t);
  if (r.qmax == 0) return invalid_argument(std::string("symmetric quantization needs a signed type, not ") + qtype_name(t));
  if (!std::isfinite(absmax) || absmax < 0) return invalid_argument("non-finite or negative range " + std::to_string(absmax));
  ScaleZp s;
  s.zero_point = 0;
  s.scale = absmax / static_cast<float>(r.qmax);
  // A range so small that the scale underflows to 0 (or denormal garbage) is treated as all zero.
  if (!(s.scale > 0) || !std::isfinite(s.scale) || s.scale < std::numeric_limits<float>::min()) s.scale = 1.0f;
  return s;
}

Result<ScaleZp> scale_asymmetric(float lo, float hi, QType t) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return invalid_argument("non-finite range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  if (lo > hi) return invalid_argument("empty range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  const QRange r = qtype_range(t);
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  ScaleZp s;
  // (hi - lo) can overflow to +inf for ranges near FLT_MAX; compute in double then narrow.
  const double span = static_cast<double>(hi) - static_cast<double>(lo);
  s.scale = static_cast<float>(span / static_cast<double>(r.qmax - r.qmin));
  if (!(s.scale >= std::numeric_limits<float>::min()) || !std::isfinite(s.scale)) {
    if (span > 0 && !std::isfinite(s.scale)) return invalid_argument("range too wide to quantize");
    s.scale = 1.0f;
    s.zero_point = r.qmin;
    if (r.qmin < 0) s.zero_point = 0;  // signed: 0.0 is the code 0
    return s;
  }
  // ONNX DynamicQuantizeLinear / ORT quantizer: zp = saturate(round(qmin - lo / scale)).
  float zp = round_half_even(static_cast<float>(r.qmin) - lo / s.scale);
  zp = std::clamp(zp, static_cast<float>(r.qmin), static_cast<float>(r.qmax));
  s.zero_point = static_cast<int32_t>(zp);
  return s;
}

Result<MinMax> min_max(const float* x, int64_t n, const std::string& what) {
  MinMax m;
  if (n <= 0) return m;
  m.lo = x[0];
  m.hi = x[0];
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) return invalid_argument(what + ": non-finite value at element " + std::to_string(i));
    m.lo = std::min(m.lo, v);
    m.hi = std::max(m.hi, v);
  }
  m.absmax = std::max(std::fabs(m.lo), std::fabs(m.hi));
  return m;
}

namespace {

Result<ScaleZp> params_from(const MinMax& m, QType t, bool symmetric) {
  if (symmetric) return scale_symmetric(m.absmax, t);
  return scale_asymmetric(m.lo, m.hi, t);
}

void push(QuantParams* p, const ScaleZp& s) {
  p->scales.push_back(s.scale);
  p->zero_points.push_back(s.zero_point);
}

// shape[axis] and the products of the dims before and after it.
Status split_axis(const std::vector<int64_t>& shape, int64_t axis, int64_t* outer, int64_t* ch, int64_t* inner) {
  const auto rank = static_cast<int64_t>(shape.size());
  if (axis < 0 || axis >= rank) return invalid_argument("channel axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  int64_t o = 1, in = 1;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t v = shape[static_cast<size_t>(d)];
    if (v < 0) return invalid_argument("negative dimension");
    int64_t* acc = d < axis ? &o : (d > axis ? &in : nullptr);
    if (acc && __builtin_mul_overflow(*acc, v, acc)) return invalid_argument("tensor size overflows");
  }
  *outer = o;
  *ch = shape[static_cast<size_t>(axis)];
  *inner = in;
  return Status::Ok();
}

}  // namespace

Result<QuantParams> params_per_tensor(const float* x, int64_t n, QType t, bool symmetric, const std::string& what) {
  HONE_ASSIGN_OR_RETURN(MinMax m, min_max(x, n, what));
  HONE_ASSIGN_OR_RETURN(ScaleZp s, params_from(m, t, symmetric));
  QuantParams p;
  push(&p, s);
  return p;
}

Result<QuantParams> params_per_channel(const float* x, const std::vector<int64_t>& shape, int64_t axis, QType t,
                                       bool symmetric, const std::string& what) {
  int64_t outer = 0, ch = 0, inner = 0;
  HONE_RETURN_IF_ERROR(split_axis(shape, axis, &outer, &ch, &inner));
  // One pass in memory order with lo/hi per channel (a channel is strided when inner is small).
  std::vector<float> lo(static_cast<size_t>(ch), 0.0f), hi(static_cast<size_t>(ch), 0.0f);
  std::vector<char> seen(static_cast<size_t>(ch), 0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < ch; ++c) {
      const float* row = x + (o * ch + c) * inner;
      float l = lo[static_cast<size_t>(c)], h = hi[static_cast<size_t>(c)];
      if (!seen[static_cast<size_t>(c)] && inner > 0) {
        l = h = row[0];
        seen[static_cast<size_t>(c)] = 1;
      }
      for (int64_t i = 0; i < inner; ++i) {
        const float v = row[i];
        if (!std::isfinite(v))
          return invalid_argument(what + " channel " + std::to_string(c) + ": non-finite value at element " +
                                  std::to_string((o * ch + c) * inner + i));
        l = std::min(l, v);
        h = std::max(h, v);
      }
      lo[static_cast<size_t>(c)] = l;
      hi[static_cast<size_t>(c)] = h;
    }
  QuantParams p;
  for (int64_t c = 0; c < ch; ++c) {
    MinMax m;
    m.lo = lo[static_cast<size_t>(c)];
    m.hi = hi[static_cast<size_t>(c)];
    m.absmax = std::max(std::fabs(m.lo), std::fabs(m.hi));
    HONE_ASSIGN_OR_RETURN(ScaleZp s, params_from(m, t, symmetric));
    push(&p, s);
  }
  return p;
}

Result<QuantParams> params_blockwise_kn(const float* w, int64_t K, int64_t N, int64_t block, QType t, bool symmetric,
                                        const std::string& what) {
  if (block <= 0) return invalid_argument("block size must be positive");
  if (K < 0 || N < 0) return invalid_argument("negative dimension");
  const int64_t nb = num_blocks(K, block);
  QuantParams p;
  p.scales.resize(static_cast<size_t>(N * nb));
  p.zero_points.resize(static_cast<size_t>(N * nb));
  // Row by row (k), so that the [K, N] matrix is read in memory order; lo/hi per column.
  // The padded tail counts as zeros: starting from 0 keeps 0 inside every range.
  std::vector<float> lo(static_cast<size_t>(N)), hi(static_cast<size_t>(N));
  for (int64_t b = 0; b < nb; ++b) {
    std::fill(lo.begin(), lo.end(), 0.0f);
    std::fill(hi.begin(), hi.end(), 0.0f);
    const int64_t k_end = std::min(K, (b + 1) * block);
    for (int64_t k = b * block; k < k_end; ++k) {
      const float* row = w + k * N;
      for (int64_t n = 0; n < N; ++n) {
        const float v = row[n];
        if (!std::isfinite(v)) return invalid_argument(what + ": non-finite value at [" + std::to_string(k) + ", " + std::to_string(n) + "]");
        lo[static_cast<size_t>(n)] = std::min(lo[static_cast<size_t>(n)], v);
        hi[static_cast<size_t>(n)] = std::max(hi[static_cast<size_t>(n)], v);
      }
    }
    for (int64_t n = 0; n < N; ++n) {
      MinMax m;
      m.lo = lo[static_cast<size_t>(n)];
      m.hi = hi[static_cast<size_t>(n)];
      m.absmax = std::max(std::fabs(m.lo), std::fabs(m.hi));
      HONE_ASSIGN_OR_RETURN(ScaleZp s, params_from(m, t, symmetric));
      p.scales[static_cast<size_t>(n * nb + b)] = s.scale;
      p.zero_points[static_cast<size_t>(n * nb + b)] = s.zero_point;
    }
  }
  return p;
}

Status quantize_tensor(const float* x, const std::vector<int64_t>& shape, int64_t axis, const QuantParams& p, QType t,
                       std::vector<int32_t>* out) {
  const QRange r = qtype_range(t);
  if (p.scales.size() != p.zero_points.size() || p.scales.empty()) return invalid_argument("scales and zero points disagree");
  if (axis < 0) {
    if (p.scales.size() != 1) return invalid_argument("per-tensor quantization needs one scale");
    int64_t n = 1;
    for (int64_t d : shape)
      if (d < 0 || __builtin_mul_overflow(n, d, &n)) return invalid_argument("bad tensor shape");
    out->resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) (*out)[static_cast<size_t>(i)] = quantize_value(x[i], p.scales[0], p.zero_points[0], r);
    return Status::Ok();
  }
  int64_t outer = 0, ch = 0, inner = 0;
  HONE_RETURN_IF_ERROR(split_axis(shape, axis, &outer, &ch, &inner));
  if (static_cast<int64_t>(p.scales.size()) != ch) return invalid_argument("per-channel quantization needs " + std::to_string(ch) + " scales, got " + std::to_string(p.scales.size()));
  out->resize(static_cast<size_t>(outer * ch * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < ch; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t idx = (o * ch + c) * inner + i;
        (*out)[static_cast<size_t>(idx)] = quantize_value(x[idx], p.scales[static_cast<size_t>(c)], p.zero_points[static_cast<size_t>(c)], r);
      }
  return Status::Ok();
}

Status quantize_blockwise_kn(const float* w, int64_t K, int64_t N, int64_t block, const QuantParams& p, QType t,
                             std::vector<int32_t>* out) {
  if (block <= 0) return invalid_argument("block size must be positive");
  const int64_t nb = num_blocks(K, block);
  if (static_cast<int64_t>(p.scales.size()) != N * nb || p.zero_points.size() != p.scales.size())
    return invalid_argument("blockwise quantization needs " + std::to_string(N * nb) + " scales");
  const QRange r = qtype_range(t);
  out->resize(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) {
      const size_t pi = static_cast<size_t>(n * nb + k / block);
      (*out)[static_cast<size_t>(k * N + n)] = quantize_value(w[k * N + n], p.scales[pi], p.zero_points[pi], r);
    }
  return Status::Ok();
}

}  // namespace hone::quant
