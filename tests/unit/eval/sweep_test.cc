// The variant sweep on the committed demo models, kept tiny (a few samples) so it stays fast under
// sanitizers: every variant is accounted for (measured, or not measured with a reason), files are
// written, deltas follow the metric's direction, and the best trade-off obeys its rule.
#include "eval/sweep.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace hone::eval {
namespace {

namespace fs = std::filesystem;

const std::string kModels = std::string(HONE_SOURCE_DIR) + "/models/";

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("hone_sweep_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

const char* kExpected[] = {"fp32",
                           "dynamic-int8",
                           "static-int8-minmax",
                           "static-int8-percentile",
                           "static-int8-entropy",
                           "static-int8-mse",
                           "int4-rtn",
                           "int4-rtn-sym",
                           "int4-gptq",
                           "int4-awq"};

TEST(Sweep, DigitsEveryVariantAccountedFor) {
  if (!fs::exists(kModels + "digits_cnn.onnx")) GTEST_SKIP() << "models/digits_cnn.onnx absent";
  SweepOptions o;
  o.model_path = kModels + "digits_cnn.onnx";
  o.data_path = kModels + "digits_test.npz";  // no calib_path: a slice of the data, written out
  o.out_dir = temp_dir("digits");
  o.threads = 1;
  o.eval_limit = 4;
  o.calib_limit = 4;
  o.layer_samples = 2;
  auto r = run_sweep(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->name, "digits_cnn");
  EXPECT_EQ(r->metric, "accuracy");
  EXPECT_EQ(r->eval_samples, 4);
  ASSERT_EQ(r->variants.size(), std::size(kExpected));
  for (size_t i = 0; i < r->variants.size(); ++i) {
    const ReportVariant& v = r->variants[i];
    EXPECT_EQ(v.name, kExpected[i]);
    if (!v.ok) {
      EXPECT_FALSE(v.skipped.empty()) << v.name;
      continue;
    }
    EXPECT_GE(v.metric, 0.0);
    EXPECT_LE(v.metric, 1.0);
    EXPECT_GT(v.latency_ms, 0.0);
    EXPECT_GT(v.bytes, 0u);
    EXPECT_TRUE(fs::exists(v.file)) << v.file;
    EXPECT_NEAR(v.delta, (v.metric - r->variants[0].metric) * 100.0, 1e-9);
    if (i > 0) {
      EXPECT_LT(v.bytes, r->variants[0].bytes) << v.name << " should be smaller than fp32";
      EXPECT_NE(v.command.find(" -o " + v.file), std::string::npos) << v.command;
    }
  }
  ASSERT_TRUE(r->variants[0].ok);
  EXPECT_TRUE(std::isinf(r->variants[0].sqnr_db));
  // The calibration slice the printed commands name exists and holds calib_limit samples' worth.
  EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "digits_cnn.calib.npz"));
  EXPECT_NE(r->calib_note.find("first 4 samples"), std::string::npos) << r->calib_note;
  // Best: measured, within one point of fp32, and no qualifying variant is faster.
  ASSERT_GE(r->best, 0);
  const ReportVariant& best = r->variants[static_cast<size_t>(r->best)];
  EXPECT_GE(best.delta, -1.0 - 1e-9);
  for (const auto& v : r->variants)
    if (v.ok && v.delta >= -1.0) {
      EXPECT_GE(v.latency_ms, best.latency_ms) << v.name;
    }
  fs::remove_all(o.out_dir);
}

TEST(Sweep, LanguageModelUsesPerplexity) {
  if (!fs::exists(kModels + "charlm.onnx")) GTEST_SKIP() << "models/charlm.onnx absent";
  SweepOptions o;
  o.model_path = kModels + "charlm.onnx";
  o.data_path = kModels + "charlm_test.npz";
  o.calib_path = kModels + "charlm_calib.npz";
  o.out_dir = temp_dir("charlm");
  o.threads = 1;
  o.eval_limit = 2;
  o.calib_limit = 2;
  o.layer_samples = 0;
  o.only = {"dynamic-int8"};  // the LM's static variants are slow under sanitizers
  auto r = run_sweep(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->metric, "perplexity");
  EXPECT_FALSE(r->higher_is_better);
  ASSERT_TRUE(r->variants[0].ok);
  // A trained LM: far better than uniform over its 98 tokens, worse than perfect.
  EXPECT_GT(r->variants[0].metric, 1.0);
  EXPECT_LT(r->variants[0].metric, 20.0);
  for (const auto& v : r->variants)
    if (v.ok) {
      EXPECT_NEAR(v.delta, (v.metric / r->variants[0].metric - 1.0) * 100.0, 1e-9) << v.name;
    }
  ASSERT_EQ(r->variants.size(), 2u);
  EXPECT_EQ(r->variants[1].name, "dynamic-int8");
  EXPECT_FALSE(fs::exists(fs::path(o.out_dir) / "charlm.calib.npz"));  // given --calib: no slice written
  fs::remove_all(o.out_dir);
}

TEST(Sweep, BadInputsAreErrorsNotCrashes) {
  SweepOptions o;
  o.model_path = kModels + "does_not_exist.onnx";
  o.data_path = kModels + "digits_test.npz";
  o.out_dir = temp_dir("bad");
  EXPECT_FALSE(run_sweep(o).ok());
  if (!fs::exists(kModels + "digits_cnn.onnx")) return;
  o.model_path = kModels + "digits_cnn.onnx";
  o.data_path = kModels + "charlm_test.npz";  // no array for the model's input
  EXPECT_FALSE(run_sweep(o).ok());
  o.data_path = kModels + "digits_test.npz";
  o.metric = "bleu";
  EXPECT_FALSE(run_sweep(o).ok());
  o.metric = "";
  o.only = {"int3-magic"};
  EXPECT_FALSE(run_sweep(o).ok());
  fs::remove_all(o.out_dir);
}

}  // namespace
}  // namespace hone::eval
