// Calibration: streaming histograms and the four range methods (calibrate.h, docs/calibration.md).
#include "quant/calibrate.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/cpu_features.h"
#include "quant/quant_math.h"
#include "runtime/session_impl.h"

namespace hone::quant {

// ---------------------------------------------------------------------------------------------
// StreamingHistogram

StreamingHistogram::StreamingHistogram(int bins) {
  // Folding needs bins / 2 even (pairs of bins fold into the middle half); clamp odd requests.
  if (bins < 16) bins = 16;
  bins -= bins % 4;
  hist_.assign(static_cast<size_t>(bins), 0);
}

void StreamingHistogram::grow_to(double amax) {
  const size_t B = hist_.size();
  if (range_ == 0) {
    // Smallest power of two >= amax: frexp gives amax = m * 2^e with m in [0.5, 1).
    int e = 0;
    double m = std::frexp(amax, &e);
    range_ = m == 0.5 ? amax : std::ldexp(1.0, e);
    hist_[B / 2] += pending_zeros_;  // 0 is the lower edge of bin B/2
    pending_zeros_ = 0;
    return;
  }
  while (range_ < amax) {
    // Range [-R, R] -> [-2R, 2R]: old bin i covers new bin B/4 + i/2 exactly (B is a multiple of 4).
    std::vector<uint64_t> folded(B, 0);
    for (size_t i = 0; i < B; ++i) folded[B / 4 + i / 2] += hist_[i];
    hist_.swap(folded);
    range_ *= 2;
  }
}

Status StreamingHistogram::add(const float* x, int64_t n) {
  if (n <= 0) return Status::Ok();
  float lo = x[0], hi = x[0];
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) return runtime_error("non-finite value (" + std::to_string(v) + ") in an activation");
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (count_ == 0) {
    min_ = lo;
    max_ = hi;
  } else {
    min_ = std::min(min_, static_cast<double>(lo));
    max_ = std::max(max_, static_cast<double>(hi));
  }
  count_ += n;
  const double amax = std::max(std::fabs(static_cast<double>(lo)), std::fabs(static_cast<double>(hi)));
  if (amax > range_) grow_to(amax);
  if (range_ == 0) {  // every value so far is 0
    pending_zeros_ += static_cast<uint64_t>(n);
    return Status::Ok();
  }
  const int64_t B = static_cast<int64_t>(hist_.size());
  const double inv_w = static_cast<double>(B) / (2 * range_);  // a power of two: exact
  const double R = range_;
  uint64_t* h = hist_.data();
  for (int64_t i = 0; i < n; ++i) {
    int64_t b = static_cast<int64_t>((static_cast<double>(x[i]) + R) * inv_w);
    b = b < 0 ? 0 : (b >= B ? B - 1 : b);  // +R lands one past the end: it belongs to the last bin
    ++h[b];
  }
  return Status::Ok();
}

RangeStats StreamingHistogram::stats() const {
  RangeStats s;
  s.min = min_;
  s.max = max_;
  s.count = count_;
  s.hist_min = -range_;
  s.hist_max = range_;
  s.histogram = hist_;
  if (range_ == 0) s.histogram[hist_.size() / 2] += pending_zeros_;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Range methods

namespace {

// Value below which `target` of the histogram's counts lie, linear inside the bin.
double quantile(const std::vector<double>& h, double lo_edge, double w, double target) {
  double cum = 0;
  for (size_t b = 0; b < h.size(); ++b) {
    if (h[b] <= 0) continue;
    if (cum + h[b] >= target) {
      double frac = std::clamp((target - cum) / h[b], 0.0, 1.0);
      return lo_edge + w * (static_cast<double>(b) + frac);
    }
    cum += h[b];
  }
  return lo_edge + w * static_cast<double>(h.size());
}

// |x| histogram from the signed one: bin k of |x| covers [k w, (k+1) w).
std::vector<double> fold_abs(const std::vector<uint64_t>& h) {
  const size_t half = h.size() / 2;
  std::vector<double> a(half);
  for (size_t k = 0; k < half; ++k) a[k] = static_cast<double>(h[half + k]) + static_cast<double>(h[half - 1 - k]);
  return a;
}

// TensorRT's entropy calibration: the threshold (in bins of `a`) whose nq-level quantization of
// the clipped distribution has the least KL divergence from it.
size_t kl_threshold_bins(const std::vector<double>& a, size_t used, size_t nq) {
  std::vector<double> suffix(used + 1, 0);  // suffix[i] = sum of a[i..used)
  for (size_t i = used; i-- > 0;) suffix[i] = suffix[i + 1] + a[i];
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = used;
  std::vector<double> p(used), q(used);
  for (size_t i = nq; i <= used; ++i) {
    // Reference P: the first i bins, everything beyond folded into the last one.
    for (size_t k = 0; k < i; ++k) p[k] = a[k];
    p[i - 1] += suffix[i];
    // Candidate Q: the first i bins merged into nq levels, each level spread evenly over the
    // bins of P that are non-zero (TensorRT's expansion).
    const size_t merged = i / nq;
    for (size_t j = 0; j < nq; ++j) {
      size_t start = j * merged;
      const size_t end = j + 1 == nq ? i : start + merged;
      if (start == 0) {
        // 0 is exact in every scheme hone writes (the zero point is an integer), so the bin at 0
        // is never merged: otherwise ReLU's spike of zeros, spread over a level, would push the
        // threshold down to wherever a level is one bin wide (a quarter of the range or less).
        q[0] = a[0];
        start = 1;
      }
      double sum = 0;
      size_t nz = 0;
      for (size_t k = start; k < end; ++k) {
        sum += a[k];
        nz += p[k] != 0;
      }
      for (size_t k = start; k < end; ++k) q[k] = (p[k] != 0 && nz) ? sum / static_cast<double>(nz) : 0;
    }
    double ps = 0, qs = 0;
    for (size_t k = 0; k < i; ++k) {
      ps += p[k];
      qs += q[k];
    }
    if (ps <= 0) continue;
    double kl = 0;
    for (size_t k = 0; k < i; ++k) {
      if (p[k] <= 0) continue;
      const double pk = p[k] / ps;
      // A level with no mass where P has some (only the outlier bin can do that): a large but
      // finite penalty, so such thresholds lose without poisoning the comparison.
      const double qk = qs > 0 && q[k] > 0 ? q[k] / qs : 1e-12;
      kl += pk * std::log(pk / qk);
    }
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return best_i;
}

// Squared error of quantize -> dequantize over bin centres, weighted by counts.
double histogram_mse(const RangeStats& s, double w, float lo, float hi, bool symmetric) {
  Result<ScaleZp> p = symmetric ? scale_symmetric(std::max(std::fabs(lo), std::fabs(hi)), QType::kInt8)
                                : scale_asymmetric(lo, hi, QType::kUInt8);
  if (!p.ok()) return std::numeric_limits<double>::infinity();
  const QRange r = qtype_range(symmetric ? QType::kInt8 : QType::kUInt8);
  double err = 0;
  for (size_t b = 0; b < s.histogram.size(); ++b) {
    if (!s.histogram[b]) continue;
    const float c = static_cast<float>(s.hist_min + w * (static_cast<double>(b) + 0.5));
    const float d = dequantize_value(quantize_value(c, p->scale, p->zero_point, r), p->scale, p->zero_point);
    const double e = static_cast<double>(c) - static_cast<double>(d);
    err += static_cast<double>(s.histogram[b]) * e * e;
  }
  return err;
}

}  // namespace

Result<ClipRange> compute_range(const RangeStats& s, CalibMethod method, double percentile, bool symmetric) {
  if (!std::isfinite(s.min) || !std::isfinite(s.max) || s.min > s.max)
    return invalid_argument("range statistics: min " + std::to_string(s.min) + " / max " + std::to_string(s.max) +
                            " are not a range");
  const double amax = std::max(std::fabs(s.min), std::fabs(s.max));
  auto make = [&](double lo, double hi) {
    return symmetric ? ClipRange{static_cast<float>(-std::max(std::fabs(lo), std::fabs(hi))),
                                 static_cast<float>(std::max(std::fabs(lo), std::fabs(hi)))}
                     : ClipRange{static_cast<float>(lo), static_cast<float>(hi)};
  };
  if (method == CalibMethod::kPercentile && !(percentile > 0 && percentile <= 100))
    return invalid_argument("percentile " + std::to_string(percentile) + " is outside (0, 100]");
  if (s.count == 0 || amax == 0) return ClipRange{0, 0};
  if (method == CalibMethod::kMinMax) return make(s.min, s.max);

  const size_t B = s.histogram.size();
  if (B < 4 || B % 2 != 0)
    return invalid_argument("range statistics: histogram of " + std::to_string(B) +
                            " bins (needs an even number >= 4)");
  if (!(s.hist_max > 0) || s.hist_min != -s.hist_max)
    return invalid_argument("range statistics: histogram range [" + std::to_string(s.hist_min) + ", " +
                            std::to_string(s.hist_max) + "] is not symmetric around 0");
  const double w = (s.hist_max - s.hist_min) / static_cast<double>(B);
  double total = 0;
  for (uint64_t c : s.histogram) total += static_cast<double>(c);
  if (total <= 0) return make(s.min, s.max);

  switch (method) {
    case CalibMethod::kPercentile: {
      if (percentile >= 100) return make(s.min, s.max);
      const double f = percentile / 100.0;
      if (symmetric) {
        const double t = std::min(quantile(fold_abs(s.histogram), 0.0, w, total * f), amax);
        return ClipRange{static_cast<float>(-t), static_cast<float>(t)};
      }
      std::vector<double> h(s.histogram.begin(), s.histogram.end());
      const double hi = std::clamp(quantile(h, s.hist_min, w, total * f), s.min, s.max);
      const double lo = std::clamp(quantile(h, s.hist_min, w, total * (1 - f)), s.min, s.max);
      return ClipRange{static_cast<float>(std::min(lo, hi)), static_cast<float>(hi)};
    }
    case CalibMethod::kEntropy: {
      std::vector<double> a = fold_abs(s.histogram);
      size_t used = a.size();
      while (used > 0 && a[used - 1] == 0) --used;
      const bool one_sided = s.min >= 0 || s.max <= 0;
      const size_t nq = !symmetric && one_sided ? 256 : 128;
      double t = amax;
      if (used > nq) t = std::min(amax, w * static_cast<double>(kl_threshold_bins(a, used, nq)));
      if (symmetric) return ClipRange{static_cast<float>(-t), static_cast<float>(t)};
      return ClipRange{static_cast<float>(std::max(s.min, -t)), static_cast<float>(std::min(s.max, t))};
    }
    case CalibMethod::kMse: {
      const double lo_full = symmetric ? -amax : s.min, hi_full = symmetric ? amax : s.max;
      auto err_at = [&](double alpha) {
        return histogram_mse(s, w, static_cast<float>(alpha * lo_full), static_cast<float>(alpha * hi_full), symmetric);
      };
      // Coarse grid, then a finer one around the best point; ties keep the wider range (the first
      // found scanning downward from 1), which clips less.
      double best_a = 1.0, best = err_at(1.0);
      for (int k = 99; k >= 1; --k) {
        const double a = k / 100.0;
        const double e = err_at(a);
        if (e < best) {
          best = e;
          best_a = a;
        }
      }
      const double center = best_a;
      for (int k = 20; k >= -20; --k) {
        const double a = center + k * 0.0005;
        if (a <= 0 || a > 1) continue;
        const double e = err_at(a);
        if (e < best) {
          best = e;
          best_a = a;
        }
      }
      return ClipRange{static_cast<float>(best_a * lo_full), static_cast<float>(best_a * hi_full)};
    }
    case CalibMethod::kMinMax:
      break;
  }
  return make(s.min, s.max);
}

// ---------------------------------------------------------------------------------------------
// Running the model

Result<CalibrationResult> calibrate(const ir::Model& model, const std::vector<std::string>& tensors,
                                    const eval::Dataset& data, const CalibrateOptions& options) {
  CalibrationResult result;
  ir::Model m = model;
  ir::Graph& g = m.graph;
  std::set<std::string> inputs, produced, outputs;
  for (const auto* v : g.real_inputs()) inputs.insert(v->name);
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (!o.empty()) produced.insert(o);
  for (const auto& o : g.outputs) outputs.insert(o.name);

  // What each tracked tensor is read from: a sample input (by input name) or a session output.
  struct Track {
    std::string name;
    bool from_input = false;
    size_t index = 0;  // output index, or position in the dataset's inputs
    StreamingHistogram hist;
    bool dead = false;  // not float32: dropped after the first sample
  };
  std::vector<Track> tracks;
  const std::vector<std::string> data_inputs = data.input_names();
  std::set<std::string> seen;
  for (const std::string& t : tensors) {
    if (!seen.insert(t).second) continue;
    Track tr{t, false, 0, StreamingHistogram(options.bins), false};
    if (inputs.count(t)) {
      auto it = std::find(data_inputs.begin(), data_inputs.end(), t);
      if (it == data_inputs.end()) return invalid_argument(data.path() + ": no data for model input '" + t + "'");
      tr.from_input = true;
      tr.index = static_cast<size_t>(it - data_inputs.begin());
    } else if (!produced.count(t)) {
      result.skipped[t] = "not produced by any node of the main graph";
      continue;
    } else {
      size_t idx = 0;
      for (; idx < g.outputs.size(); ++idx)
        if (g.outputs[idx].name == t) break;
      if (idx == g.outputs.size()) {
        ir::ValueInfo v;
        v.name = t;
        if (const ir::TypeInfo* ty = g.find_type(t)) v.type = *ty;
        g.outputs.push_back(std::move(v));
      }
      tr.index = idx;
    }
    tracks.push_back(std::move(tr));
  }

  SessionOptions so;
  so.threads = options.threads;
  HONE_ASSIGN_OR_RETURN(Session session, create_session(std::move(m), so));
  int64_t n = data.size();
  if (options.limit > 0) n = std::min(n, options.limit);
  if (n <= 0) return invalid_argument(data.path() + ": no calibration samples");
  for (const IoInfo& in : session.inputs())
    if (std::find(data_inputs.begin(), data_inputs.end(), in.name) == data_inputs.end())
      return invalid_argument(data.path() + ": no data for model input '" + in.name + "'");

  const int threads = options.threads > 0 ? options.threads : std::max(1, cpu_features().physical_cores);
  std::vector<Status> status(tracks.size());
  for (int64_t i = 0; i < n; ++i) {
    HONE_ASSIGN_OR_RETURN(std::vector<Tensor> sample, data.sample(i));
    std::map<std::string, Tensor> feeds;
    for (size_t k = 0; k < sample.size() && k < data_inputs.size(); ++k) feeds[data_inputs[k]] = sample[k];
    auto outs = session.run(feeds);
    if (!outs.ok()) return outs.status().with_context("calibration sample " + std::to_string(i));
      // One histogram per tensor: tensors are independent, so they fill in parallel.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (size_t k = 0; k < tracks.size(); ++k) {
      Track& tr = tracks[k];
      if (tr.dead) continue;
      const Tensor& t = tr.from_input ? sample[tr.index] : (*outs)[tr.index];
      if (t.dtype() != DType::kFloat32) {
        tr.dead = true;
        continue;
      }
      status[k] = tr.hist.add(t.data<float>(), t.numel());
    }
    for (size_t k = 0; k < tracks.size(); ++k)
      if (!status[k].ok())
        return runtime_error("calibration sample " + std::to_string(i) + ": tensor '" + tracks[k].name +
                             "': " + status[k].message());
    if (options.progress) options.progress("calibrate", i + 1, n);
  }
  for (const Track& tr : tracks) {
    if (tr.dead)
      result.skipped[tr.name] = "not float32";
    else
      result.stats[tr.name] = tr.hist.stats();
  }
  result.samples = n;
  return result;
}

}  // namespace hone::quant
