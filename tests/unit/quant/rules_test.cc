#include "quant/rules.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "../test_models.h"

namespace hone::quant {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

Rules sample_rules() {
  Rules r;
  r.mode = "weight-only";
  r.options["bits"] = "4";
  r.model_sha256 = "abc";
  TensorRule t;
  t.tensor = "w";
  t.role = "weight";
  t.dtype = "int4";
  t.bits = 4;
  t.scheme = "symmetric";
  t.axis = 0;
  t.block = 32;
  // Floats that need all 9 significant digits, a denormal-adjacent one and the largest.
  t.scales = {0.1f, 1.0f / 3.0f, 1.17549435e-38f, 3.40282347e38f, 7.0f / 127.0f, 0.0123456789f};
  t.zero_points = {0, 0, 0, 0, -8, 7};
  t.method = "awq";
  t.extra["channel_scale"] = {0.7f, 1.3f, 2.0f / 3.0f};
  r.tensors.push_back(t);
  TensorRule a;
  a.tensor = "x";
  a.role = "activation";
  a.dtype = "uint8";
  a.bits = 8;
  a.scheme = "asymmetric";
  a.scales = {0.02f};
  a.zero_points = {128};
  a.method = "percentile";
  a.stats.min = -1.5;
  a.stats.max = 2.25;
  a.stats.count = 1000;
  a.stats.hist_min = -2.25;
  a.stats.hist_max = 2.25;
  a.stats.histogram = {1, 2, 3, 0, 5};
  r.tensors.push_back(a);
  return r;
}

TEST(Rules, RoundTripIsBitExact) {
  Rules r = sample_rules();
  auto back = parse_rules(rules_to_json(r), "mem");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->mode, "weight-only");
  EXPECT_EQ(back->version, kRulesVersion);
  EXPECT_EQ(back->options.at("bits"), "4");
  EXPECT_EQ(back->model_sha256, "abc");
  ASSERT_EQ(back->tensors.size(), 2u);
  const TensorRule& t = back->tensors[0];
  ASSERT_EQ(t.scales.size(), r.tensors[0].scales.size());
  for (size_t i = 0; i < t.scales.size(); ++i) EXPECT_EQ(bits_of(t.scales[i]), bits_of(r.tensors[0].scales[i])) << i;
  EXPECT_EQ(t.zero_points, r.tensors[0].zero_points);
  EXPECT_EQ(t.block, 32);
  EXPECT_EQ(t.axis, 0);
  ASSERT_EQ(t.extra.count("channel_scale"), 1u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(bits_of(t.extra.at("channel_scale")[i]), bits_of(r.tensors[0].extra.at("channel_scale")[i]));
  const TensorRule& a = back->tensors[1];
  EXPECT_EQ(a.stats.histogram, r.tensors[1].stats.histogram);
  EXPECT_EQ(a.stats.min, -1.5);
  EXPECT_EQ(a.stats.count, 1000);
  EXPECT_NE(back->find("x"), nullptr);
  EXPECT_EQ(back->find("nope"), nullptr);
  // Writing the parsed rules again gives the same text.
  EXPECT_EQ(rules_to_json(*back), rules_to_json(r));
}

TEST(Rules, FileRoundTripAndMissingFile) {
  testing_models::ScratchDir dir;
  const std::string path = dir / "rules.json";
  ASSERT_TRUE(write_rules(path, sample_rules()).ok());
  auto back = read_rules(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(rules_to_json(*back), rules_to_json(sample_rules()));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"rules.json"}));  // no temporary left behind
  auto missing = read_rules(dir / "absent.json");
  EXPECT_FALSE(missing.ok());
}

// Each malformed text must give an error (never a crash) that names the file and, for an entry,
// the entry.
TEST(Rules, MalformedAreErrors) {
  const std::string ok_entry =
      R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":[0.5],"zero_points":[0]})";
  auto doc = [](const std::string& entry) {
    return R"({"version":1,"mode":"dynamic","tensors":[)" + entry + "]}";
  };
  ASSERT_TRUE(parse_rules(doc(ok_entry), "r.json").ok());
  struct Case {
    std::string text;
    std::string expect;  // substring of the message
  };
  const std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[1,2]", "one JSON object"},
      {R"({"mode":"dynamic","tensors":[]})", "missing \"version\""},
      {R"({"version":2,"mode":"dynamic","tensors":[]})", "version 2"},
      {R"({"version":"1","mode":"dynamic","tensors":[]})", "must be an integer"},
      {R"({"version":1,"mode":"fast","tensors":[]})", "mode 'fast'"},
      {R"({"version":1,"mode":"dynamic"})", "tensors"},
      {R"({"version":1,"mode":"dynamic","tensors":[],"format":"x"})", "format"},
      {doc("3"), "tensors[0]: must be an object"},
      {doc(R"({"role":"weight"})"), "missing \"tensor\""},
      {doc(R"({"tensor":"w","role":"bias","dtype":"int8","scheme":"symmetric","scales":[1],"zero_points":[0]})"), "role 'bias'"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int3","scheme":"symmetric","scales":[1],"zero_points":[0]})"), "dtype 'int3'"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","bits":4,"scheme":"symmetric","scales":[1],"zero_points":[0]})"), "bits 4"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","zero_points":[0]})"), "missing \"scales\""},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":[],"zero_points":[]})"), "empty"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":[-1],"zero_points":[0]})"), "scales[0] is not positive"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":[1e60],"zero_points":[0]})"), "not a finite float"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":["a"],"zero_points":[0]})"), "must be a number"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":[1,2],"zero_points":[0]})"), "1 zero points for 2 scales"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":[1],"zero_points":[200]})"), "outside int8"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"uint4","scheme":"asymmetric","scales":[1],"zero_points":[18446744073709551615]})"), "outside uint4"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"odd","scales":[1],"zero_points":[0]})"), "scheme 'odd'"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","axis":-5,"scales":[1],"zero_points":[0]})"), "axis -5"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","block":-1,"scales":[1],"zero_points":[0]})"), "block -1"},
      {doc(R"({"tensor":"w","role":"weight","dtype":"int8","scheme":"symmetric","scales":[1],"zero_points":[0],"extra":{"s":[1,"x"]}})"), "extra.s[1]"},
      {doc(R"({"tensor":"w","role":"activation","dtype":"uint8","scheme":"asymmetric","scales":[1],"zero_points":[0],"stats":{"histogram":[-1]}})"), "histogram[0]"},
      {doc(ok_entry + "," + ok_entry), "appears twice"},
  };
  for (const auto& c : cases) {
    auto r = parse_rules(c.text, "r.json");
    ASSERT_FALSE(r.ok()) << c.text;
    const std::string& msg = r.status().message();
    EXPECT_EQ(msg.rfind("r.json", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "text: " << c.text << "\nmessage: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace hone::quant
