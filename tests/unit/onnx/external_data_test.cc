// External data: save_model writes it and load_model reads it back bit for bit; a model whose
// external data path is hostile (.., absolute, symlink, hard link, out-of-bounds range) is refused
// before a byte is read.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../test_models.h"
#include "core/file_util.h"
#include "onnx/export.h"
#include "onnx/external_data.h"
#include "onnx/import.h"

namespace fs = std::filesystem;

namespace hone::onnxio {
namespace {

using testing_models::ScratchDir;

constexpr int64_t kWidth = 300;  // W: 1200 bytes, above the default 1024-byte threshold

void point_weight_at(const ScratchDir& dir, const std::string& location, const std::string& offset = "",
                     const std::string& length = "");

// The data files save_model wrote for dir/<model_file> ("<model_file>.<16 hex>.data").
std::vector<std::string> content_data_files(const ScratchDir& dir, const std::string& model_file) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    const std::string n = e.path().filename().string();
    if (n.size() == model_file.size() + 22 && n.rfind(model_file + ".", 0) == 0 && n.ends_with(".data")) out.push_back(n);
  }
  return out;
}

// Saves add_mul_model with external data as dir/model.onnx, then renames its content-named data
// file to the fixed name model.onnx.data so that the hostile-path cases below can point at it.
void save_external(const ScratchDir& dir) {
  SaveOptions options;
  options.external_data = true;
  Status s = save_model(testing_models::add_mul_model(kWidth), dir / "model.onnx", options);
  ASSERT_TRUE(s.ok()) << s.message();
  auto files = content_data_files(dir, "model.onnx");
  ASSERT_EQ(files.size(), 1u);
  fs::rename(dir / files[0], dir / "model.onnx.data");
  point_weight_at(dir, "model.onnx.data", "0", std::to_string(kWidth * 4));
}

// Rewrites W's external_data entries in dir/model.onnx (location, and offset/length when given).
void point_weight_at(const ScratchDir& dir, const std::string& location, const std::string& offset,
                     const std::string& length) {
  auto bytes = read_file(dir / "model.onnx", 1 << 20);
  ASSERT_TRUE(bytes.ok());
  onnx::ModelProto p;
  ASSERT_TRUE(p.ParseFromString(*bytes));
  onnx::TensorProto* w = nullptr;
  for (auto& t : *p.mutable_graph()->mutable_initializer())
    if (t.name() == "W") w = &t;
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(w->data_location(), onnx::TensorProto::EXTERNAL);
  w->clear_external_data();
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    auto* kv = w->add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add("location", location);
  add("offset", offset);
  add("length", length);
  ASSERT_TRUE(write_file_atomic(dir / "model.onnx", p.SerializeAsString()).ok());
}

std::string load_error(const ScratchDir& dir) {
  auto m = load_model(dir / "model.onnx");
  return m.ok() ? std::string("(loaded)") : m.status().message();
}

TEST(ExternalData, SaveThenReloadIsBitIdentical) {
  ScratchDir dir;
  save_external(dir);
  EXPECT_TRUE(fs::exists(dir / "model.onnx.data"));
  const ir::Model original = testing_models::add_mul_model(kWidth);
  auto loaded = load_model(dir / "model.onnx");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const ir::Initializer* w = loaded->graph.find_initializer("W");
  const ir::Initializer* b = loaded->graph.find_initializer("B");
  ASSERT_TRUE(w && b);
  EXPECT_TRUE(w->tensor.bit_equal(original.graph.find_initializer("W")->tensor));
  EXPECT_TRUE(b->tensor.bit_equal(original.graph.find_initializer("B")->tensor));
  ASSERT_TRUE(w->external.has_value()) << "W is above the threshold and should have gone to the data file";
  EXPECT_EQ(w->external->location, "model.onnx.data");
  EXPECT_EQ(w->external->length, kWidth * 4);
  EXPECT_EQ(w->external->offset % 64, 0) << "tensors in the data file are 64-byte aligned";
  EXPECT_FALSE(b->external.has_value()) << "B is below the threshold and stays inline";
  // Saving the reloaded model again (inline this time) keeps the same bytes.
  auto inline_bytes = serialize_model(*loaded);
  ASSERT_TRUE(inline_bytes.ok());
  auto again = parse_model(*inline_bytes, "");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->graph.find_initializer("W")->tensor.bit_equal(w->tensor));
}

// The data file is named after its content and the model's rename is the only commit point: saving
// new weights over an existing output never renames over the data file the old model reads, and
// the old data file is removed once the new model is in place.
TEST(ExternalData, ResavingWritesANewContentNamedDataFile) {
  ScratchDir dir;
  SaveOptions options;
  options.external_data = true;
  ir::Model first = testing_models::add_mul_model(kWidth);
  ASSERT_TRUE(save_model(first, dir / "out.onnx", options).ok());
  auto before = content_data_files(dir, "out.onnx");
  ASSERT_EQ(before.size(), 1u);
  ASSERT_TRUE(save_model(first, dir / "out.onnx", options).ok());
  EXPECT_EQ(content_data_files(dir, "out.onnx"), before) << "same content, same name: saving is deterministic";

  ir::Model second = testing_models::add_mul_model(kWidth);
  ir::Initializer* w = second.graph.find_initializer("W");
  ASSERT_NE(w, nullptr);
  w->tensor.data<float>()[0] += 1.0f;
  ASSERT_TRUE(save_model(second, dir / "out.onnx", options).ok());
  auto after = content_data_files(dir, "out.onnx");
  ASSERT_EQ(after.size(), 1u) << "the old data file should be gone";
  EXPECT_NE(after[0], before[0]);
  auto loaded = load_model(dir / "out.onnx");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_TRUE(loaded->graph.find_initializer("W")->tensor.bit_equal(w->tensor));
}

TEST(ExternalData, RefusesToOverwriteItsOwnDataFile) {
  ScratchDir dir;
  save_external(dir);
  auto loaded = load_model(dir / "model.onnx");
  ASSERT_TRUE(loaded.ok());
  Status s = save_model(*loaded, dir / "model.onnx.data");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("refusing to overwrite"), std::string::npos) << s.message();
}

TEST(ExternalData, RefusesDotDot) {
  ScratchDir dir;
  save_external(dir);
  fs::create_directory(dir.path() / "sub");
  fs::rename(dir / "model.onnx", dir / "sub/model.onnx");
  // The data file really is at sub/../model.onnx.data: only the path rule stops it.
  auto bytes = read_file(dir / "sub/model.onnx", 1 << 20);
  ASSERT_TRUE(bytes.ok());
  onnx::ModelProto p;
  ASSERT_TRUE(p.ParseFromString(*bytes));
  for (auto& t : *p.mutable_graph()->mutable_initializer())
    for (auto& kv : *t.mutable_external_data())
      if (kv.key() == "location") kv.set_value("../model.onnx.data");
  ASSERT_TRUE(write_file_atomic(dir / "sub/model.onnx", p.SerializeAsString()).ok());
  auto m = load_model(dir / "sub/model.onnx");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("escapes the model's folder"), std::string::npos) << m.status().message();
}

TEST(ExternalData, RefusesAbsolutePath) {
  ScratchDir dir;
  save_external(dir);
  point_weight_at(dir, dir / "model.onnx.data");  // exists, but absolute
  EXPECT_NE(load_error(dir).find("absolute path"), std::string::npos) << load_error(dir);
}

TEST(ExternalData, RefusesSymlinkedFile) {
  ScratchDir dir;
  save_external(dir);
  fs::create_symlink("model.onnx.data", dir.path() / "link.data");
  point_weight_at(dir, "link.data");
  EXPECT_NE(load_error(dir).find("is a symlink"), std::string::npos) << load_error(dir);
}

TEST(ExternalData, RefusesSymlinkedFolder) {
  ScratchDir dir;
  save_external(dir);
  fs::create_directory(dir.path() / "real");
  fs::rename(dir / "model.onnx.data", dir / "real/model.onnx.data");
  fs::create_directory_symlink("real", dir.path() / "alias");
  point_weight_at(dir, "real/model.onnx.data");
  EXPECT_EQ(load_error(dir), "(loaded)") << "control: the plain path must load";
  point_weight_at(dir, "alias/model.onnx.data");
  EXPECT_NE(load_error(dir).find("goes through a symlink"), std::string::npos) << load_error(dir);
}

TEST(ExternalData, RefusesHardLinkedFile) {
  ScratchDir dir;
  save_external(dir);
  EXPECT_EQ(load_error(dir), "(loaded)") << "control: a single link must load";
  ASSERT_EQ(::link((dir / "model.onnx.data").c_str(), (dir / "second_name.data").c_str()), 0);
  EXPECT_NE(load_error(dir).find("hard links"), std::string::npos) << load_error(dir);
}

TEST(ExternalData, RefusesRangePastEndOfFile) {
  ScratchDir dir;
  save_external(dir);
  const auto size = fs::file_size(dir / "model.onnx.data");
  const std::string nbytes = std::to_string(kWidth * 4);
  // Ends exactly at the end of the file: fine.
  point_weight_at(dir, "model.onnx.data", std::to_string(size - kWidth * 4), nbytes);
  EXPECT_EQ(load_error(dir), "(loaded)");
  // One byte further: refused.
  point_weight_at(dir, "model.onnx.data", std::to_string(size - kWidth * 4 + 1), nbytes);
  EXPECT_NE(load_error(dir).find("past the end of the file"), std::string::npos) << load_error(dir);
  // The largest offset the reader accepts (19 digits): offset + length is checked, not trusted.
  point_weight_at(dir, "model.onnx.data", "9999999999999999999", nbytes);
  EXPECT_NE(load_error(dir).find("past the end of the file"), std::string::npos) << load_error(dir);
  // An offset near 2^64, where offset + length would wrap around: refused as a number.
  point_weight_at(dir, "model.onnx.data", "18446744073709551000", nbytes);
  EXPECT_NE(load_error(dir).find("not a non-negative integer"), std::string::npos) << load_error(dir);
}

TEST(ExternalData, LocationRules) {
  EXPECT_TRUE(check_external_location("w.bin").ok());
  EXPECT_TRUE(check_external_location("sub/w.bin").ok());
  EXPECT_TRUE(check_external_location("./w.bin").ok());
  for (const char* bad : {"", "../w.bin", "a/../../w.bin", "..", "/etc/passwd", "\\\\server\\share", "C:\\w.bin",
                          "a//b"})
    EXPECT_FALSE(check_external_location(bad).ok()) << bad;
}

}  // namespace
}  // namespace hone::onnxio
