// Atomic writes: the target appears whole or not at all, and no temporary file survives a failure.
#include "core/file_util.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../test_models.h"
#include "onnx/export.h"

namespace fs = std::filesystem;

namespace hone {
namespace {

using testing_models::ScratchDir;

TEST(AtomicWrite, WritesAndReplacesWholeFile) {
  ScratchDir dir;
  ASSERT_TRUE(write_file_atomic(dir / "f", "first version, longer").ok());
  ASSERT_TRUE(write_file_atomic(dir / "f", "second").ok());
  auto back = read_file(dir / "f", 1024);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "second");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"f"});
}

TEST(AtomicWrite, NoTemporaryLeftWhenRenameFails) {
  ScratchDir dir;
  fs::create_directory(dir.path() / "target");
  fs::create_directory(dir.path() / "target" / "keep");  // a non-empty folder cannot be renamed over
  Status s = write_file_atomic(dir / "target", "bytes");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"target"}) << "the temporary file was left behind";
  EXPECT_TRUE(fs::is_directory(dir.path() / "target"));
}

TEST(AtomicWrite, UncommittedFileLeavesNothing) {
  ScratchDir dir;
  {
    auto f = AtomicFile::open(dir / "never");
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->write("partial").ok());
    EXPECT_EQ(dir.entries().size(), 1u) << "the temporary exists while writing";
  }  // destroyed without commit()
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicWrite, FailsCleanlyWhenFolderIsMissing) {
  ScratchDir dir;
  Status s = write_file_atomic(dir / "no/such/folder/f", "x");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicWrite, SaveModelLeavesNoTemporaryOnFailure) {
  ScratchDir dir;
  fs::create_directory(dir.path() / "model.onnx");
  fs::create_directory(dir.path() / "model.onnx" / "keep");
  onnxio::SaveOptions options;
  for (bool external : {false, true}) {
    options.external_data = external;
    Status s = onnxio::save_model(testing_models::add_mul_model(300), dir / "model.onnx", options);
    EXPECT_FALSE(s.ok()) << "external=" << external;
    for (const auto& name : dir.entries())
      EXPECT_EQ(name.find(".tmp-"), std::string::npos) << "left behind: " << name << " (external=" << external << ")";
  }
}

TEST(ReadFile, RefusesFolderAndOversizedFile) {
  ScratchDir dir;
  EXPECT_FALSE(read_file(dir.path().string(), 1024).ok());
  ASSERT_TRUE(write_file_atomic(dir / "f", std::string(100, 'x')).ok());
  EXPECT_FALSE(read_file(dir / "f", 99).ok());
  EXPECT_TRUE(read_file(dir / "f", 100).ok());
}

}  // namespace
}  // namespace hone
