// ONNX conformance: every case of Debian's libonnx-testdata (node, pytorch-converted,
// pytorch-operator, simple) whose ops hone registers runs through a Session and is compared with
// the suite's expected outputs at the suite's tolerance (rtol 1e-3, atol 1e-7).
// Cases using an op hone does not register are skipped (and counted in docs/ops.md); cases of
// registered ops that hone knowingly cannot pass are listed with a reason in conformance_skips.txt.
// Every data set runs twice, so that the second run exercises the memory planner's arena.
// Each case writes one result line to $HONE_CONFORMANCE_RESULTS/<case>.txt for tools/gen_ops_doc.py.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "eval/compare.h"
#include "onnx/import.h"
#include "runtime/op_registry.h"
#include "runtime/session_impl.h"

namespace fs = std::filesystem;

namespace hone {
namespace {

const char* kSuiteRoot = "/usr/share/libonnx-testdata/data";
const char* kSuites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

struct Case {
  std::string suite;
  std::string name;
  fs::path dir;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.suite << "/" << c.name; }

std::vector<Case> list_cases() {
  std::vector<Case> cases;
  for (const char* suite : kSuites) {
    fs::path root = fs::path(kSuiteRoot) / suite;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root, ec))
      if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) cases.push_back({suite, d.filename().string(), d});
  }
  return cases;
}

std::map<std::string, std::string> known_skips() {
  std::map<std::string, std::string> skips;
  std::ifstream in(std::string(HONE_SOURCE_DIR) + "/tests/ops/conformance_skips.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find(' ');
    skips[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
  }
  return skips;
}

void record(const Case& c, const std::string& status, const std::set<std::string>& ops, const std::string& detail) {
  const char* dir = std::getenv("HONE_CONFORMANCE_RESULTS");
  if (!dir) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream out(fs::path(dir) / (c.suite + "__" + c.name + ".txt"));
  out << c.suite << ' ' << c.name << ' ' << status << ' ';
  bool first = true;
  for (const auto& op : ops) out << (first ? "" : ",") << op, first = false;
  out << ' ' << detail << '\n';
}

// Empty string when equal within tolerance; otherwise what differs.
std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype() != want.dtype())
    return "dtype " + std::string(dtype_name(got.dtype())) + " != expected " + std::string(dtype_name(want.dtype()));
  if (got.shape() != want.shape()) return "shape " + shape_to_string(got.shape()) + " != expected " + shape_to_string(want.shape());
  if (got.dtype() == DType::kString) return got.strings() == want.strings() ? "" : "strings differ";
  const bool exact = !dtype_info(got.dtype()).is_float;
  double worst = 0;
  int64_t worst_i = -1;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double a = eval::element_as_double(got, i), b = eval::element_as_double(want, i);
    if (std::isnan(a) && std::isnan(b)) continue;
    if (a == b) continue;
    double err = std::fabs(a - b);
    if (exact || !(err <= atol + rtol * std::fabs(b))) {
      if (worst_i < 0 || err > worst || std::isnan(err)) worst = err, worst_i = i;
    }
  }
  if (worst_i < 0) return "";
  return "element " + std::to_string(worst_i) + ": got " + std::to_string(eval::element_as_double(got, worst_i)) + ", expected " +
         std::to_string(eval::element_as_double(want, worst_i));
}

class Conformance : public testing::TestWithParam<Case> {};

TEST_P(Conformance, MatchesExpectedOutputs) {
  const Case& c = GetParam();
  auto model = onnxio::load_model((c.dir / "model.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  std::set<std::string> ops, missing;
  std::map<std::string, int64_t> opsets;
  for (const auto& o : model->opsets) opsets[ir::canonical_domain(o.domain)] = o.version;
  ir::for_each_graph(model->graph, [&](const ir::Graph& g, int) {
    for (const auto& n : g.nodes) {
      ops.insert(n.qualified_op());
      auto it = opsets.find(n.domain);
      if (!rt::OpRegistry::global().find(n.domain, n.op_type, it == opsets.end() ? 0 : it->second))
        missing.insert(n.qualified_op() + "-" + std::to_string(it == opsets.end() ? 0 : it->second));
    }
  });
  if (!missing.empty()) {
    std::string m;
    for (const auto& x : missing) m += (m.empty() ? "" : ",") + x;
    record(c, "unregistered", ops, m);
    GTEST_SKIP() << "ops not registered: " << m;
  }
  static const auto skips = known_skips();
  if (auto it = skips.find(c.suite + "/" + c.name); it != skips.end()) {
    record(c, "skipped", ops, it->second);
    GTEST_SKIP() << it->second;
  }
  auto session = create_session(std::move(model).value(), {});
  if (!session.ok()) record(c, "failed", ops, session.status().message());
  ASSERT_TRUE(session.ok()) << session.status().message();

  int sets = 0;
  std::vector<fs::path> set_dirs;
  for (const auto& e : fs::directory_iterator(c.dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) set_dirs.push_back(e.path());
  std::sort(set_dirs.begin(), set_dirs.end());
  for (const auto& set : set_dirs) {
    std::vector<Tensor> inputs, expected;
    for (size_t i = 0;; ++i) {
      fs::path p = set / ("input_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) break;
      auto t = onnxio::load_tensor_file(p.string());
      ASSERT_TRUE(t.ok()) << t.status().message();
      inputs.push_back(std::move(t).value());
    }
    for (size_t i = 0;; ++i) {
      fs::path p = set / ("output_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) break;
      auto t = onnxio::load_tensor_file(p.string());
      ASSERT_TRUE(t.ok()) << t.status().message();
      expected.push_back(std::move(t).value());
    }
    // Twice: the first run with these shapes records the memory plan, the second runs in the arena.
    for (const char* pass : {"first run", "second run (arena)"}) {
      auto out = session->run(inputs);
      if (!out.ok()) record(c, "failed", ops, std::string(pass) + ": " + out.status().message());
      ASSERT_TRUE(out.ok()) << set.filename() << " " << pass << ": " << out.status().message();
      ASSERT_EQ(out->size(), expected.size());
      for (size_t i = 0; i < expected.size(); ++i) {
        std::string diff = compare((*out)[i], expected[i], 1e-3, 1e-7);
        if (!diff.empty()) record(c, "failed", ops, std::string(pass) + ": output " + std::to_string(i) + ": " + diff);
        ASSERT_EQ(diff, "") << set.filename() << " " << pass << " output " << i;
      }
    }
    ++sets;
  }
  record(c, "passed", ops, std::to_string(sets) + " data sets");
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string s = info.param.suite + "_" + info.param.name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Onnx, Conformance, testing::ValuesIn(list_cases()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conformance);

}  // namespace
}  // namespace hone
