// GPTQ for weight-only blocks (gptq.h has the algorithm and why).
#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace hone::quant {

HessianAccumulator::HessianAccumulator(int64_t k) : k_(k), xtx_(static_cast<size_t>(k * k), 0.0) {}

void HessianAccumulator::add(const float* x, int64_t rows) {
  const int64_t K = k_;
  std::vector<double> xd(static_cast<size_t>(K));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * K;
    for (int64_t i = 0; i < K; ++i) xd[static_cast<size_t>(i)] = row[i];
    // Upper triangle only (symmetric); rank-1 update row by row in a fixed order.
    for (int64_t i = 0; i < K; ++i) {
      const double xi = xd[static_cast<size_t>(i)];
      if (xi == 0) continue;
      double* h = xtx_.data() + i * K;
      for (int64_t j = i; j < K; ++j) h[j] += xi * xd[static_cast<size_t>(j)];
    }
  }
  rows_ += rows;
}

std::vector<double> HessianAccumulator::hessian() const {
  const int64_t K = k_;
  std::vector<double> h(static_cast<size_t>(K * K), 0.0);
  if (rows_ == 0) return h;
  const double f = 2.0 / static_cast<double>(rows_);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i; j < K; ++j) {
      const double v = xtx_[static_cast<size_t>(i * K + j)] * f;
      h[static_cast<size_t>(i * K + j)] = v;
      h[static_cast<size_t>(j * K + i)] = v;
    }
  return h;
}

namespace {

// In place: a (n x n, symmetric positive definite) -> its lower Cholesky factor L (a = L L^T);
// the strict upper triangle is zeroed. False when a pivot is not positive (not SPD).
bool cholesky_lower(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[static_cast<size_t>(j * n + j)];
    for (int64_t p = 0; p < j; ++p) d -= a[static_cast<size_t>(j * n + p)] * a[static_cast<size_t>(j * n + p)];
    if (!(d > 0) || !std::isfinite(d)) return false;
    const double ljj = std::sqrt(d);
    a[static_cast<size_t>(j * n + j)] = ljj;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[static_cast<size_t>(i * n + j)];
      const double* ri = a.data() + i * n;
      const double* rj = a.data() + j * n;
      for (int64_t p = 0; p < j; ++p) s -= ri[p] * rj[p];
      a[static_cast<size_t>(i * n + j)] = s / ljj;
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) a[static_cast<size_t>(i * n + j)] = 0;
  return true;
}

// U (upper, row-major) with H^-1 = U^T U, from a damped SPD H. False when H is not SPD.
bool inverse_cholesky_upper(std::vector<double> h, int64_t n, std::vector<double>* u) {
  if (!cholesky_lower(h, n)) return false;  // h = L
  // Linv = L^-1 (lower), column by column by forward substitution.
  std::vector<double> linv(static_cast<size_t>(n * n), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    linv[static_cast<size_t>(c * n + c)] = 1.0 / h[static_cast<size_t>(c * n + c)];
    for (int64_t i = c + 1; i < n; ++i) {
      double s = 0;
      for (int64_t p = c; p < i; ++p) s += h[static_cast<size_t>(i * n + p)] * linv[static_cast<size_t>(p * n + c)];
      linv[static_cast<size_t>(i * n + c)] = -s / h[static_cast<size_t>(i * n + i)];
    }
  }
  // H^-1 = Linv^T Linv (symmetric): entry (i, j) = sum_{p >= max(i, j)} Linv[p, i] Linv[p, j].
  std::vector<double> hinv(static_cast<size_t>(n * n), 0.0);
  for (int64_t p = 0; p < n; ++p) {
    const double* row = linv.data() + p * n;
    for (int64_t i = 0; i <= p; ++i) {
      const double a = row[i];
      if (a == 0) continue;
      double* out = hinv.data() + i * n;
      for (int64_t j = i; j <= p; ++j) out[j] += a * row[j];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) hinv[static_cast<size_t>(i * n + j)] = hinv[static_cast<size_t>(j * n + i)];
  if (!cholesky_lower(hinv, n)) return false;  // hinv = Lh, H^-1 = Lh Lh^T, so U = Lh^T
  u->assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) (*u)[static_cast<size_t>(j * n + i)] = hinv[static_cast<size_t>(i * n + j)];
  return true;
}

}  // namespace

Status gptq_blockwise_kn(const std::vector<float>& kn, int64_t K, int64_t N, int64_t block, QType qt,
                         const std::vector<double>& hessian, double damp, QuantParams* p, std::vector<int32_t>* q) {
  if (K <= 0 || N <= 0 || block <= 0) return invalid_argument("gptq: empty weight or block");
  if (static_cast<int64_t>(kn.size()) != K * N) return invalid_argument("gptq: weight size");
  if (static_cast<int64_t>(hessian.size()) != K * K) return invalid_argument("gptq: Hessian is not K x K");
  if (!(damp > 0) || !std::isfinite(damp)) return invalid_argument("gptq: damping must be positive");
  const bool sym = qt == QType::kInt4 || qt == QType::kInt8;
  std::vector<double> w(kn.begin(), kn.end());
  std::vector<double> h = hessian;
  double mean_diag = 0;
  for (int64_t k = 0; k < K; ++k) {
    double& d = h[static_cast<size_t>(k * K + k)];
    if (!std::isfinite(d)) return invalid_argument("gptq: non-finite calibration statistics");
    if (d == 0) {
      // An input channel that never fired: its weights never mattered on the data.
      d = 1;
      std::fill(w.begin() + k * N, w.begin() + (k + 1) * N, 0.0);
    }
    mean_diag += d;
  }
  mean_diag /= static_cast<double>(K);
  // Damping; when H is still not positive definite (rounding on a rank-deficient H), grow it.
  std::vector<double> u;
  bool ok = false;
  for (int attempt = 0; attempt < 6 && !ok; ++attempt) {
    std::vector<double> hd = h;
    const double add = damp * mean_diag * std::pow(10.0, attempt);
    for (int64_t k = 0; k < K; ++k) hd[static_cast<size_t>(k * K + k)] += add;
    ok = inverse_cholesky_upper(std::move(hd), K, &u);
  }
  if (!ok) return runtime_error("gptq: the calibration Hessian is not positive definite even with damping");

  const int64_t nb = num_blocks(K, block);
  // Symmetric codes stay on [-7, 7] / [-127, 127] as rtn's do (error feedback could otherwise push
  // a value to -8 / -128 and break the +w / -w symmetry docs/formats.md promises).
  const QRange r = sym ? qtype_symmetric_range(qt) : qtype_range(qt);
  p->scales.assign(static_cast<size_t>(N * nb), 1.0f);
  p->zero_points.assign(static_cast<size_t>(N * nb), 0);
  q->assign(static_cast<size_t>(K * N), 0);
  std::vector<float> block_rows;
  std::vector<double> err(static_cast<size_t>(N));
  for (int64_t k = 0; k < K; ++k) {
    const int64_t b = k / block;
    if (k % block == 0) {
      // The block's parameters from its current (error-corrected) rows, exactly as rtn does.
      const int64_t rows = std::min(block, K - k);
      block_rows.resize(static_cast<size_t>(rows * N));
      for (int64_t i = 0; i < rows * N; ++i) block_rows[static_cast<size_t>(i)] = static_cast<float>(w[static_cast<size_t>(k * N + i)]);
      HONE_ASSIGN_OR_RETURN(QuantParams bp, params_blockwise_kn(block_rows.data(), rows, N, block, qt, sym, "gptq"));
      for (int64_t n = 0; n < N; ++n) {
        p->scales[static_cast<size_t>(n * nb + b)] = bp.scales[static_cast<size_t>(n)];
        p->zero_points[static_cast<size_t>(n * nb + b)] = bp.zero_points[static_cast<size_t>(n)];
      }
    }
    const double ukk = u[static_cast<size_t>(k * K + k)];
    double* wk = w.data() + k * N;
    for (int64_t n = 0; n < N; ++n) {
      const size_t pi = static_cast<size_t>(n * nb + b);
      const int32_t code = quantize_value(static_cast<float>(wk[n]), p->scales[pi], p->zero_points[pi], r);
      (*q)[static_cast<size_t>(k * N + n)] = code;
      err[static_cast<size_t>(n)] = (wk[n] - dequantize_value(code, p->scales[pi], p->zero_points[pi])) / ukk;
    }
    // Error feedback onto the rows not yet quantized (row by row: the inner loop vectorizes).
    for (int64_t j = k + 1; j < K; ++j) {
      const double c = u[static_cast<size_t>(k * K + j)];
      if (c == 0) continue;
      double* wj = w.data() + j * N;
      for (int64_t n = 0; n < N; ++n) wj[n] -= c * err[static_cast<size_t>(n)];
    }
  }
  return Status::Ok();
}

}  // namespace hone::quant
