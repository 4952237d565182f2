// report.html from eval::Report: a table per model and inline SVG charts (see report.h).
#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/file_util.h"

namespace hone::eval {
namespace {

std::string esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// SVG coordinates: 1 decimal is plenty and keeps the page small.
std::string num(double v) { return fmt("%.1f", std::isfinite(v) ? v : 0.0); }

std::string human_bytes(double b) {
  if (b >= 1024.0 * 1024.0) return fmt("%.2f MiB", b / (1024.0 * 1024.0));
  if (b >= 1024.0) return fmt("%.1f KiB", b / 1024.0);
  return fmt("%.0f B", b);
}

std::string metric_text(const ModelReport& m, double v) {
  if (!std::isfinite(v)) return "—";
  if (m.metric == "perplexity") return fmt("%.3f", v);
  return fmt("%.2f %%", v * 100.0);
}

double metric_plot(const ModelReport& m, double v) { return m.metric == "perplexity" ? v : v * 100.0; }

std::string metric_axis(const ModelReport& m) {
  if (m.metric == "perplexity") return "perplexity (lower is better)";
  if (m.metric == "top5") return "top-5 accuracy % (higher is better)";
  return "accuracy % (higher is better)";
}

std::string delta_text(const ModelReport& m, const ReportVariant& v, size_t index) {
  if (index == 0) return "—";
  if (m.metric == "perplexity") return fmt("%+.2f %%", v.delta);
  return fmt("%+.2f pt", v.delta);
}

// Round tick steps (1, 2, 5 x 10^k) covering [lo, hi] with about `n` ticks.
std::vector<double> ticks(double lo, double hi, int n) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  double raw = (hi - lo) / n;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double k : {1.0, 2.0, 5.0, 10.0})
    if (raw <= k * mag) {
      step = k * mag;
      break;
    }
  for (double x = std::ceil(lo / step) * step; x <= hi + step * 1e-9; x += step) t.push_back(std::abs(x) < step * 1e-9 ? 0 : x);
  return t;
}

std::string tick_label(double v) {
  double a = std::abs(v);
  if (a == 0) return "0";
  if (a >= 100) return fmt("%.0f", v);
  if (a >= 10) return fmt("%.1f", v);
  if (a >= 1) return fmt("%.2f", v);
  return fmt("%.3g", v);
}

// Map from [d0, d1] to [r0, r1]: linear, or logarithmic (d0, d1 then are log10 of the range).
struct Scale {
  double d0, d1, r0, r1;
  bool log = false;
  double operator()(double v) const {
    if (log) v = std::log10(std::max(v, 1e-12));
    return d1 == d0 ? (r0 + r1) / 2 : r0 + (v - d0) / (d1 - d0) * (r1 - r0);
  }
};

// 1, 2, 5 x 10^k inside [10^lo, 10^hi] (a log axis).
std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> t;
  for (int k = static_cast<int>(std::floor(lo)); k <= static_cast<int>(std::ceil(hi)); ++k)
    for (double f : {1.0, 2.0, 5.0}) {
      double v = f * std::pow(10.0, k);
      if (std::log10(v) >= lo - 1e-9 && std::log10(v) <= hi + 1e-9) t.push_back(v);
    }
  return t;
}

// Padded data range; a single value gets a small window around it.
std::pair<double, double> padded(double lo, double hi, double frac, bool from_zero) {
  if (from_zero) lo = std::min(lo, 0.0);
  double span = hi - lo;
  if (!(span > 0)) span = std::max(std::abs(hi) * 0.1, 1e-3);
  return {from_zero && lo >= 0 ? lo : lo - span * frac, hi + span * frac};
}

constexpr double kW = 620, kH = 340, kL = 64, kR = 24, kT = 20, kB = 48;

void axes(std::ostringstream& o, const Scale& x, const Scale& y, const std::string& xlabel, const std::string& ylabel) {
  o << "<g class=\"axes\">";
  for (double t : ticks(y.d0, y.d1, 5)) {
    double py = y(t);
    o << "<line x1=\"" << num(kL) << "\" x2=\"" << num(kW - kR) << "\" y1=\"" << num(py) << "\" y2=\"" << num(py)
      << "\" class=\"grid\"/><text x=\"" << num(kL - 6) << "\" y=\"" << num(py + 4) << "\" text-anchor=\"end\">"
      << tick_label(t) << "</text>";
  }
  for (double t : x.log ? log_ticks(x.d0, x.d1) : ticks(x.d0, x.d1, 6)) {
    double px = x(t);
    o << "<line x1=\"" << num(px) << "\" x2=\"" << num(px) << "\" y1=\"" << num(kT) << "\" y2=\"" << num(kH - kB)
      << "\" class=\"grid\"/><text x=\"" << num(px) << "\" y=\"" << num(kH - kB + 16) << "\" text-anchor=\"middle\">"
      << tick_label(t) << "</text>";
  }
  o << "<line x1=\"" << num(kL) << "\" x2=\"" << num(kW - kR) << "\" y1=\"" << num(kH - kB) << "\" y2=\""
    << num(kH - kB) << "\" class=\"axis\"/><line x1=\"" << num(kL) << "\" x2=\"" << num(kL) << "\" y1=\"" << num(kT)
    << "\" y2=\"" << num(kH - kB) << "\" class=\"axis\"/>";
  o << "<text x=\"" << num((kL + kW - kR) / 2) << "\" y=\"" << num(kH - 8) << "\" text-anchor=\"middle\" class=\"label\">"
    << esc(xlabel) << "</text>";
  o << "<text transform=\"translate(14," << num((kT + kH - kB) / 2) << ") rotate(-90)\" text-anchor=\"middle\" class=\"label\">"
    << esc(ylabel) << "</text></g>";
}

std::vector<size_t> measured(const ModelReport& m) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < m.variants.size(); ++i)
    if (m.variants[i].ok) idx.push_back(i);
  return idx;
}

std::string pareto_chart(const ModelReport& m) {
  std::vector<size_t> idx = measured(m);
  std::vector<size_t> front = pareto_front(m);
  double xmin = INFINITY, xmax = 0, ymin = INFINITY, ymax = -INFINITY;
  for (size_t i : idx) {
    xmin = std::min(xmin, m.variants[i].latency_ms);
    xmax = std::max(xmax, m.variants[i].latency_ms);
    double y = metric_plot(m, m.variants[i].metric);
    ymin = std::min(ymin, y);
    ymax = std::max(ymax, y);
  }
  // Latencies more than 20x apart (a slow kernel path next to fast ones) go on a log axis, or the
  // fast variants would all sit in one corner.
  const bool xlog = xmin > 0 && xmax / xmin > 20;
  auto [x0, x1] = xlog ? padded(std::log10(xmin), std::log10(xmax), 0.06, false) : padded(0, xmax, 0.08, true);
  auto [y0, y1] = padded(ymin, ymax, 0.15, false);
  Scale x{x0, x1, kL, kW - kR, xlog}, y{y0, y1, kH - kB, kT};
  std::ostringstream o;
  o << "<svg data-chart=\"pareto\" data-model=\"" << esc(m.name) << "\" data-points=\"" << idx.size()
    << "\" viewBox=\"0 0 " << num(kW) << " " << num(kH) << "\" width=\"" << num(kW) << "\" height=\"" << num(kH)
    << "\" role=\"img\" aria-label=\"" << esc(metric_axis(m)) << " against latency\">";
  axes(o, x, y, xlog ? "latency, ms (median, batch 1; log scale)" : "latency, ms (median, batch 1)", metric_axis(m));
  if (front.size() > 1) {
    o << "<polyline class=\"front\" points=\"";
    for (size_t i : front) o << num(x(m.variants[i].latency_ms)) << "," << num(y(metric_plot(m, m.variants[i].metric))) << " ";
    o << "\"/>";
  }
  for (const size_t& i : idx) {
    const ReportVariant& v = m.variants[i];
    bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    double px = x(v.latency_ms), py = y(metric_plot(m, v.metric));
    if (static_cast<int>(i) == m.best)
      o << "<circle class=\"best-ring\" cx=\"" << num(px) << "\" cy=\"" << num(py) << "\" r=\"9\"/>";
    o << "<circle class=\"pt" << (on_front ? " on-front" : "") << "\" data-variant=\"" << esc(v.name) << "\" cx=\""
      << num(px) << "\" cy=\"" << num(py) << "\" r=\"5\"><title>" << esc(v.name) << ": " << metric_text(m, v.metric)
      << ", " << fmt("%.3f ms", v.latency_ms) << (on_front ? " (Pareto front)" : "") << "</title></circle>";
    // Labels alternate above and below their points: variants of equal quality sit on one line.
    const bool above = (&i - idx.data()) % 2 == 0;
    const bool left = px > kW - 130;  // near the right edge: label on the point's left
    o << "<text class=\"ptlabel\" x=\"" << num(left ? px - 7 : px + 7) << "\" y=\"" << num(above ? py - 8 : py + 16)
      << "\"" << (left ? " text-anchor=\"end\"" : "") << ">" << esc(v.name) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

std::string size_chart(const ModelReport& m) {
  std::vector<size_t> idx = measured(m);
  const double bar_h = 18, gap = 6, left = 170, right = 130;
  const double h = kT + static_cast<double>(idx.size()) * (bar_h + gap) + 10;
  double maxb = 1;
  for (size_t i : idx) maxb = std::max(maxb, static_cast<double>(m.variants[i].bytes));
  const double fp32 = m.variants.empty() ? 0 : static_cast<double>(m.variants[0].bytes);
  std::ostringstream o;
  o << "<svg data-chart=\"size\" data-model=\"" << esc(m.name) << "\" data-points=\"" << idx.size() << "\" viewBox=\"0 0 "
    << num(kW) << " " << num(h) << "\" width=\"" << num(kW) << "\" height=\"" << num(h)
    << "\" role=\"img\" aria-label=\"model size per variant\">";
  double yy = kT;
  for (size_t i : idx) {
    const ReportVariant& v = m.variants[i];
    double w = std::max(1.0, (kW - left - right) * static_cast<double>(v.bytes) / maxb);
    o << "<text x=\"" << num(left - 8) << "\" y=\"" << num(yy + bar_h - 5) << "\" text-anchor=\"end\">" << esc(v.name)
      << "</text>";
    o << "<rect class=\"bar\" data-variant=\"" << esc(v.name) << "\" x=\"" << num(left) << "\" y=\"" << num(yy)
      << "\" width=\"" << num(w) << "\" height=\"" << num(bar_h) << "\"><title>" << esc(v.name) << ": " << v.bytes
      << " bytes</title></rect>";
    o << "<text x=\"" << num(left + w + 6) << "\" y=\"" << num(yy + bar_h - 5) << "\">"
      << human_bytes(static_cast<double>(v.bytes))
      << (fp32 > 0 && i != 0 ? fmt(" (%.2fx)", static_cast<double>(v.bytes) / fp32) : std::string()) << "</text>";
    yy += bar_h + gap;
  }
  o << "</svg>";
  return o.str();
}

// Horizontal bars of SQNR (dB): per layer, or per variant's output when no layer data exists.
std::string sqnr_bars(const std::string& chart_kind, const std::string& model,
                      const std::vector<std::pair<std::string, double>>& rows, const std::vector<std::string>& tips) {
  const double bar_h = 14, gap = 4, left = 250, right = 80;
  const double h = kT + static_cast<double>(rows.size()) * (bar_h + gap) + 30;
  double maxv = 1;
  for (const auto& r : rows)
    if (std::isfinite(r.second)) maxv = std::max(maxv, r.second);
  // Infinite SQNR (bit-exact) draws as a full bar labelled "exact".
  std::ostringstream o;
  o << "<svg data-chart=\"sensitivity\" data-kind=\"" << chart_kind << "\" data-model=\"" << esc(model)
    << "\" data-points=\"" << rows.size() << "\" viewBox=\"0 0 " << num(kW) << " " << num(h) << "\" width=\"" << num(kW)
    << "\" height=\"" << num(h) << "\" role=\"img\" aria-label=\"SQNR per " << chart_kind << "\">";
  double worst = INFINITY;
  for (const auto& r : rows) worst = std::min(worst, r.second);
  double yy = kT;
  for (size_t i = 0; i < rows.size(); ++i) {
    double v = rows[i].second;
    double shown = std::isfinite(v) ? std::max(0.0, v) : maxv;
    double w = std::max(2.0, (kW - left - right) * shown / maxv);
    std::string label = rows[i].first.size() > 38 ? "…" + rows[i].first.substr(rows[i].first.size() - 37) : rows[i].first;
    o << "<text x=\"" << num(left - 6) << "\" y=\"" << num(yy + bar_h - 3) << "\" text-anchor=\"end\" class=\"small\">"
      << esc(label) << "</text>";
    o << "<rect class=\"bar" << (v == worst ? " worst" : "") << "\" x=\"" << num(left) << "\" y=\"" << num(yy)
      << "\" width=\"" << num(w) << "\" height=\"" << num(bar_h) << "\"><title>" << esc(rows[i].first) << ": "
      << (std::isfinite(v) ? fmt("%.1f dB", v) : std::string(v > 0 ? "exact" : "no signal"))
      << (i < tips.size() ? esc(tips[i]) : std::string()) << "</title></rect>";
    o << "<text x=\"" << num(left + w + 4) << "\" y=\"" << num(yy + bar_h - 3) << "\" class=\"small\">"
      << (std::isfinite(v) ? fmt("%.1f dB", v) : std::string(v > 0 ? "exact" : "—")) << "</text>";
    yy += bar_h + gap;
  }
  o << "<text x=\"" << num(left) << "\" y=\"" << num(h - 8)
    << "\" class=\"small\">SQNR, dB (higher is better; shortest bar = most damaged)</text>";
  o << "</svg>";
  return o.str();
}

std::string histogram_chart(const ModelReport& m, const ReportHistogram& hgram) {
  double lo = hgram.lo, hi = hgram.hi;
  for (const auto& c : hgram.clips) {
    lo = std::min(lo, c.lo);
    hi = std::max(hi, c.hi);
  }
  auto [x0, x1] = padded(lo, hi, 0.04, false);
  double cmax = 0;
  size_t drawn = 0;
  for (double c : hgram.counts) {
    cmax = std::max(cmax, c);
    if (c > 0) ++drawn;
  }
  const double top = kT + 14.0 * static_cast<double>(hgram.clips.size());
  Scale x{x0, x1, kL, kW - kR};
  // log10(1 + count): activations after ReLU put most of their mass in one bin.
  Scale y{0, std::log10(1 + std::max(cmax, 1.0)), kH - kB, top};
  std::ostringstream o;
  o << "<svg data-chart=\"histogram\" data-kind=\"" << esc(hgram.kind) << "\" data-model=\"" << esc(m.name)
    << "\" data-points=\"" << drawn << "\" viewBox=\"0 0 " << num(kW) << " " << num(kH) << "\" width=\"" << num(kW)
    << "\" height=\"" << num(kH) << "\" role=\"img\" aria-label=\"" << esc(hgram.title) << "\">";
  axes(o, x, y, "value", "log10(1 + count)");
  const size_t n = hgram.counts.size();
  const double bw = n ? (hgram.hi - hgram.lo) / static_cast<double>(n) : 0;
  for (size_t i = 0; i < n; ++i) {
    if (hgram.counts[i] <= 0) continue;
    double a = x(hgram.lo + bw * static_cast<double>(i)), b = x(hgram.lo + bw * static_cast<double>(i + 1));
    double py = y(std::log10(1 + hgram.counts[i]));
    o << "<rect class=\"bar\" x=\"" << num(a) << "\" y=\"" << num(py) << "\" width=\"" << fmt("%.2f", std::max(0.6, b - a))
      << "\" height=\"" << num(std::max(0.6, kH - kB - py)) << "\"/>";
  }
  static const char* kColors[] = {"#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"};
  for (size_t i = 0; i < hgram.clips.size(); ++i) {
    const auto& c = hgram.clips[i];
    const char* col = kColors[i % 6];
    double yl = kT + 12.0 * static_cast<double>(i) + 8;
    for (double v : {c.lo, c.hi})
      o << "<line class=\"clip\" x1=\"" << num(x(v)) << "\" x2=\"" << num(x(v)) << "\" y1=\"" << num(yl) << "\" y2=\""
        << num(kH - kB) << "\" stroke=\"" << col << "\"/>";
    // Labels of ranges ending near the right edge go on the line's left, inside the chart.
    const bool left = x(c.hi) > kW - 190;
    o << "<text x=\"" << num(left ? x(c.hi) - 3 : x(c.hi) + 3) << "\" y=\"" << num(yl + 4) << "\" fill=\"" << col
      << "\" class=\"small\"" << (left ? " text-anchor=\"end\"" : "") << ">"
      << esc(c.label) << " [" << tick_label(c.lo) << ", " << tick_label(c.hi) << "]</text>";
  }
  o << "</svg>";
  return o.str();
}

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{margin-top:40px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{margin-top:28px}
.sub{color:#666}table{border-collapse:collapse;margin:12px 0}td,th{padding:4px 10px;text-align:right;border-bottom:1px solid #eee;white-space:nowrap}
td:first-child,th:first-child{text-align:left}tr.best td{background:#eef7ee;font-weight:600}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:#f6f6f6;padding:6px 8px;overflow-x:auto;margin:2px 0 10px}
svg{display:block;max-width:100%;height:auto;font-size:11px;margin:8px 0}
svg .grid{stroke:#eee}svg .axis{stroke:#888}svg .label{font-size:12px;fill:#444}svg .small{font-size:10px}
svg .pt{fill:#fff;stroke:#1f77b4;stroke-width:2}svg .pt.on-front{fill:#1f77b4}svg .front{fill:none;stroke:#1f77b4;stroke-dasharray:4 3}
svg .best-ring{fill:none;stroke:#2ca02c;stroke-width:2.5}svg .ptlabel{font-size:10px;fill:#333}
svg .bar{fill:#7aa6d6}svg .bar.worst{fill:#d62728}svg .clip{stroke-width:1.5;stroke-dasharray:5 3}
.note{color:#555;font-style:italic}.skipped{color:#a33}
)";

// Measures every chart once laid out (see report.h): the page's own proof that it drew.
const char* kMeasure = R"(<script>
(function(){
  function measure(){
    var charts=document.querySelectorAll('svg[data-chart]');
    for(var i=0;i<charts.length;i++){
      var s=charts[i],r=s.getBoundingClientRect(),n=0,marks=s.querySelectorAll('.pt,.bar');
      for(var j=0;j<marks.length;j++){var b=marks[j].getBoundingClientRect();if(b.width>0&&b.height>0)n++;}
      s.setAttribute('data-measured',Math.round(r.width)+'x'+Math.round(r.height)+':'+n);
    }
    document.body.setAttribute('data-charts-measured',String(charts.length));
  }
  measure();
  window.addEventListener('load',measure);
})();
</script>)";

void model_section(std::ostringstream& o, const ModelReport& m) {
  o << "<section class=\"model\" data-model=\"" << esc(m.name) << "\">\n<h2>" << esc(m.name) << "</h2>\n";
  o << "<p>Model <code>" << esc(m.model_path) << "</code>, evaluated on <code>" << esc(m.data_path) << "</code> ("
    << m.eval_samples << " samples, batch 1). Metric: " << esc(m.metric) << ". " << esc(m.calib_note) << "</p>\n";
  o << "<table data-table=\"variants\"><thead><tr><th>variant</th><th>" << esc(m.metric) << "</th><th>Δ vs fp32</th>"
    << "<th>latency ms</th><th>speed-up</th><th>size</th><th>size ×</th><th>output SQNR dB</th></tr></thead><tbody>\n";
  const ReportVariant* fp32 = m.variants.empty() ? nullptr : &m.variants[0];
  for (size_t i = 0; i < m.variants.size(); ++i) {
    const ReportVariant& v = m.variants[i];
    if (!v.ok) continue;
    o << "<tr class=\"variant" << (static_cast<int>(i) == m.best ? " best" : "") << "\" data-variant=\"" << esc(v.name)
      << "\"><td>" << esc(v.name) << (static_cast<int>(i) == m.best ? " ★" : "") << "</td><td>" << metric_text(m, v.metric)
      << "</td><td>" << delta_text(m, v, i) << "</td><td>" << fmt("%.3f", v.latency_ms) << "</td><td>"
      << (fp32 && fp32->ok && v.latency_ms > 0 ? fmt("%.2fx", fp32->latency_ms / v.latency_ms) : "—") << "</td><td>"
      << human_bytes(static_cast<double>(v.bytes)) << "</td><td>"
      << (fp32 && fp32->bytes > 0 ? fmt("%.2fx", static_cast<double>(v.bytes) / static_cast<double>(fp32->bytes)) : "—")
      << "</td><td>" << (i == 0 ? "—" : std::isfinite(v.sqnr_db) ? fmt("%.1f", v.sqnr_db) : "exact") << "</td></tr>\n";
  }
  o << "</tbody></table>\n";
  if (m.best >= 0)
    o << "<p><b>Best trade-off</b> (" << esc(m.best_rule) << "): <b>" << esc(m.variants[static_cast<size_t>(m.best)].name)
      << "</b>.</p>\n";
  else
    o << "<p><b>Best trade-off</b> (" << esc(m.best_rule) << "): none of the quantized variants qualifies.</p>\n";
  bool any_skipped = false;
  for (const auto& v : m.variants) any_skipped |= !v.ok;
  if (any_skipped) {
    o << "<p>Not measured:</p><ul class=\"skipped\">";
    for (const auto& v : m.variants)
      if (!v.ok) o << "<li><b>" << esc(v.name) << "</b>: " << esc(v.skipped) << "</li>";
    o << "</ul>\n";
  }

  o << "<h3>" << esc(m.metric) << " against latency</h3>\n<p class=\"note\">Filled points: the Pareto front (no other "
    << "variant is both faster and better). Ringed: the best trade-off.</p>\n"
    << pareto_chart(m) << "\n";
  o << "<h3>Model size</h3>\n" << size_chart(m) << "\n";

  o << "<h3>Per-layer sensitivity</h3>\n";
  if (!m.layers.empty()) {
    // A long model shows its kMaxLayers most damaged values (lowest SQNR), still in graph order.
    constexpr size_t kMaxLayers = 40;
    std::vector<size_t> keep(m.layers.size());
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = i;
    if (keep.size() > kMaxLayers) {
      std::stable_sort(keep.begin(), keep.end(),
                       [&](size_t a, size_t b) { return m.layers[a].sqnr_db < m.layers[b].sqnr_db; });
      keep.resize(kMaxLayers);
      std::sort(keep.begin(), keep.end());
    }
    std::vector<std::pair<std::string, double>> rows;
    std::vector<std::string> tips;
    for (size_t i : keep) {
      const auto& l = m.layers[i];
      rows.emplace_back(l.value + " (" + l.op + ")", l.sqnr_db);
      tips.push_back(fmt("; adds %.4f relative RMS error", l.added_error));
    }
    o << "<p>Each value of <b>" << esc(m.sensitivity_variant) << "</b> against the same value of the fp32 model"
      << (keep.size() < m.layers.size()
              ? " (the " + std::to_string(keep.size()) + " most damaged of " + std::to_string(m.layers.size()) + ")"
              : std::string())
      << ". " << esc(m.sensitivity_note) << "</p>\n" << sqnr_bars("layer", m.name, rows, tips) << "\n";
  } else {
    std::vector<std::pair<std::string, double>> rows;
    for (size_t i = 1; i < m.variants.size(); ++i)
      if (m.variants[i].ok) rows.emplace_back(m.variants[i].name, m.variants[i].sqnr_db);
    o << "<p class=\"note\">" << esc(m.sensitivity_note)
      << " Shown instead: the SQNR of each variant's output against fp32's.</p>\n" << sqnr_bars("output", m.name, rows, {})
      << "\n";
  }

  o << "<h3>Weight and activation ranges</h3>\n";
  if (m.histograms.empty()) o << "<p class=\"note\">No histogram: no variant recorded ranges.</p>\n";
  for (const auto& h : m.histograms)
    o << "<h4>" << esc(h.title) << "</h4>\n" << histogram_chart(m, h) << "\n";

  o << "<h3>Reproduce</h3>\n";
  for (const auto& v : m.variants) {
    if (!v.ok) continue;
    o << "<div class=\"cmd\" data-variant=\"" << esc(v.name) << "\"><b>" << esc(v.name) << "</b>"
      << (v.note.empty() ? "" : " — " + esc(v.note)) << "<pre>" << esc(v.command);
    if (!v.eval_command.empty() && v.eval_command != v.command) o << "\n" << esc(v.eval_command);
    o << "</pre></div>\n";
  }
  o << fmt("<p class=\"sub\">Sweep took %.1f s.</p>\n", m.seconds) << "</section>\n";
}

}  // namespace

std::vector<size_t> pareto_front(const ModelReport& m) {
  auto better = [&](double a, double b) { return m.higher_is_better ? a > b : a < b; };
  std::vector<size_t> front;
  for (size_t i = 0; i < m.variants.size(); ++i) {
    const ReportVariant& a = m.variants[i];
    if (!a.ok || !std::isfinite(a.metric) || !std::isfinite(a.latency_ms)) continue;
    bool dominated = false;
    for (size_t j = 0; j < m.variants.size() && !dominated; ++j) {
      const ReportVariant& b = m.variants[j];
      if (j == i || !b.ok || !std::isfinite(b.metric) || !std::isfinite(b.latency_ms)) continue;
      bool no_worse = b.latency_ms <= a.latency_ms && !better(a.metric, b.metric);
      bool strictly = b.latency_ms < a.latency_ms || better(b.metric, a.metric);
      dominated = no_worse && strictly;
    }
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end(),
            [&](size_t a, size_t b) { return m.variants[a].latency_ms < m.variants[b].latency_ms; });
  return front;
}

std::string report_html(const Report& report) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" << esc(report.title)
    << "</title>\n<style>" << kStyle << "</style></head>\n<body>\n<h1>" << esc(report.title) << "</h1>\n<p class=\"sub\">"
    << esc(report.subtitle) << "</p>\n";
  o << "<p>Every variant is written as a standard ONNX file, evaluated on the same data at batch 1 in hone's runtime, "
    << "and timed (median of the evaluation runs). Latency depends on the machine and its load; accuracy and size do "
    << "not.</p>\n";
  for (const auto& m : report.models) model_section(o, m);
  o << kMeasure << "\n</body></html>\n";
  return o.str();
}

Status write_report_html(const std::string& path, const Report& report) {
  return write_file_atomic(path, report_html(report));
}

}  // namespace hone::eval
