// report.html from a plain Report: Pareto front, one mark per measured variant in every
// per-variant chart, escaping, skipped variants kept out of the charts and the table.
#include "eval/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>

namespace hone::eval {
namespace {

ReportVariant variant(const std::string& name, double metric, double ms, uint64_t bytes) {
  ReportVariant v;
  v.name = name;
  v.command = "hone quantize m.onnx -o " + name + ".onnx";
  v.metric = metric;
  v.latency_ms = ms;
  v.bytes = bytes;
  v.sqnr_db = 30;
  return v;
}

ModelReport sample_model() {
  ModelReport m;
  m.name = "net";
  m.metric = "accuracy";
  m.variants = {variant("fp32", 0.99, 2.0, 1000), variant("a", 0.985, 1.0, 300), variant("b", 0.97, 1.5, 300),
                variant("c", 0.99, 1.9, 500)};
  ReportVariant skipped;
  skipped.name = "d";
  skipped.ok = false;
  skipped.skipped = "quantize: not built";
  m.variants.push_back(skipped);
  m.best = 1;
  m.best_rule = "fastest within 1 point";
  ReportHistogram h;
  h.kind = "activation";
  h.title = "activation x";
  h.lo = 0;
  h.hi = 4;
  h.counts = {10, 0, 3, 1};
  h.clips = {{"minmax", 0, 4}, {"entropy", 0, 2.5}};
  m.histograms.push_back(h);
  m.sensitivity_note = "per-layer pending";
  return m;
}

// The value of attribute `attr` on the <svg data-chart="chart"> element of the page.
std::string chart_attr(const std::string& html, const std::string& chart, const std::string& attr) {
  std::smatch mm;
  std::regex re("<svg data-chart=\"" + chart + "\"[^>]*" + attr + "=\"([^\"]*)\"");
  if (!std::regex_search(html, mm, re)) return "<missing>";
  return mm[1];
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

TEST(Report, ParetoFrontHigherIsBetter) {
  ModelReport m = sample_model();
  // b (slower and worse than a) is dominated; c is not (better than a, faster than fp32);
  // fp32 ties c on accuracy but is slower: dominated. The skipped variant never counts.
  std::vector<size_t> f = pareto_front(m);
  EXPECT_EQ(f, (std::vector<size_t>{1, 3}));
}

TEST(Report, ParetoFrontLowerIsBetter) {
  ModelReport m;
  m.metric = "perplexity";
  m.higher_is_better = false;
  m.variants = {variant("fp32", 7.0, 3.0, 1), variant("q1", 7.1, 2.0, 1), variant("q2", 7.5, 2.5, 1),
                variant("q3", 9.0, 1.0, 1)};
  EXPECT_EQ(pareto_front(m), (std::vector<size_t>{3, 1, 0}));
}

TEST(Report, EveryPerVariantChartHasOneMarkPerTableRow) {
  Report r;
  r.models.push_back(sample_model());
  std::string html = report_html(r);
  EXPECT_EQ(count(html, "<tr class=\"variant"), 4u);  // the skipped one is listed, not tabled
  EXPECT_EQ(chart_attr(html, "pareto", "data-points"), "4");
  EXPECT_EQ(chart_attr(html, "size", "data-points"), "4");
  // Without per-layer data the sensitivity chart shows each quantized variant's output SQNR.
  EXPECT_EQ(chart_attr(html, "sensitivity", "data-points"), "3");
  EXPECT_EQ(chart_attr(html, "sensitivity", "data-kind"), "output");
  EXPECT_EQ(chart_attr(html, "histogram", "data-points"), "3");  // non-empty bins only
  EXPECT_EQ(count(html, "<circle class=\"pt"), 4u);
  EXPECT_EQ(count(html, "class=\"clip\""), 4u);  // two ranges, two lines each
  EXPECT_NE(html.find("quantize: not built"), std::string::npos);
  EXPECT_NE(html.find("class=\"variant best\" data-variant=\"a\""), std::string::npos);
  // Self-contained: no external resource of any kind.
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);
}

TEST(Report, PerLayerChartWhenLayersGiven) {
  ModelReport m = sample_model();
  m.sensitivity_variant = "a";
  m.layers = {{"conv1_out", "Conv", 40.0, 0.01}, {"fc_out", "Gemm", INFINITY, 0.0}};
  Report r;
  r.models.push_back(m);
  std::string html = report_html(r);
  EXPECT_EQ(chart_attr(html, "sensitivity", "data-kind"), "layer");
  EXPECT_EQ(chart_attr(html, "sensitivity", "data-points"), "2");
  EXPECT_NE(html.find("exact"), std::string::npos);
}

TEST(Report, LongModelsShowTheMostDamagedLayers) {
  ModelReport m = sample_model();
  m.sensitivity_variant = "a";
  for (int i = 0; i < 50; ++i) m.layers.push_back({"v" + std::to_string(i) + "_", "MatMul", 100.0 - i, 0.0});
  Report r;
  r.models.push_back(m);
  std::string html = report_html(r);
  EXPECT_EQ(chart_attr(html, "sensitivity", "data-points"), "40");
  EXPECT_EQ(html.find(">v9_ (MatMul)<"), std::string::npos);  // SQNR 91 dB: among the 10 best, left out
  EXPECT_NE(html.find(">v10_ (MatMul)<"), std::string::npos);
  EXPECT_NE(html.find(">v49_ (MatMul)<"), std::string::npos);
  EXPECT_NE(html.find("the 40 most damaged of 50"), std::string::npos);
}

TEST(Report, NamesAreEscaped) {
  ModelReport m = sample_model();
  m.name = "<script>alert(1)</script>";
  m.variants[1].command = "hone quantize \"a&b\".onnx";
  Report r;
  r.models.push_back(m);
  std::string html = report_html(r);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&quot;a&amp;b&quot;"), std::string::npos);
}

TEST(Report, NoMeasuredVariantStillWritesAPage) {
  ModelReport m;
  m.name = "empty";
  ReportVariant v;
  v.name = "fp32";
  v.ok = false;
  v.skipped = "x";
  m.variants.push_back(v);
  Report r;
  r.models.push_back(m);
  std::string html = report_html(r);
  EXPECT_EQ(chart_attr(html, "pareto", "data-points"), "0");
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

}  // namespace
}  // namespace hone::eval
