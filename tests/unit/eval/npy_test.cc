#include "eval/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace hone::eval {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("hone_npy_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

Tensor make_floats(const Shape& s) {
  Tensor t = Tensor::create(DType::kFloat32, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i) * 0.5f - 3.0f;
  return t;
}

TEST(Npy, RoundTripsEveryNumericDtype) {
  for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt8, DType::kInt16, DType::kInt32,
                   DType::kInt64, DType::kUInt8, DType::kUInt16, DType::kUInt32, DType::kUInt64, DType::kBool}) {
    Tensor t = Tensor::create(dt, {2, 3}).value();
    for (size_t i = 0; i < t.nbytes(); ++i) static_cast<uint8_t*>(t.raw())[i] = static_cast<uint8_t>(dt == DType::kBool ? i % 2 : i * 7);
    auto bytes = to_npy(t);
    ASSERT_TRUE(bytes.ok());
    auto back = parse_npy(*bytes, "mem");
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_TRUE(back->bit_equal(t)) << dtype_name(dt);
  }
}

TEST(Npy, ScalarAndEmpty) {
  for (const Shape& s : {Shape{}, Shape{0}, Shape{3, 0, 2}}) {
    Tensor t = make_floats(s);
    auto back = parse_npy(to_npy(t).value(), "mem");
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->shape(), s);
  }
}

TEST(Npy, RefusesPickleAndBadSizes) {
  std::string good = to_npy(make_floats({4})).value();
  std::string object = good;
  object.replace(object.find("<f4"), 3, "|O8");
  auto r = parse_npy(object, "obj.npy");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("pickle"), std::string::npos);
  EXPECT_FALSE(parse_npy(good.substr(0, good.size() - 1), "short").ok());  // truncated data
  EXPECT_FALSE(parse_npy(good + "x", "long").ok());                         // trailing bytes
  EXPECT_FALSE(parse_npy(good.substr(0, 9), "tiny").ok());                  // truncated header
  std::string huge = good;
  huge.replace(huge.find("(4,)"), 4, "(9999999999999,99999999)");
  EXPECT_FALSE(parse_npy(huge, "huge").ok());  // shape product overflows / exceeds data
  EXPECT_FALSE(parse_npy("not numpy at all", "junk").ok());
}

TEST(Npz, RoundTripKeepsNamesAndOrder) {
  fs::path dir = temp_dir();
  std::string path = (dir / "a.npz").string();
  NamedTensors arrays = {{"input", make_floats({2, 3})}, {"labels", make_floats({2})}};
  ASSERT_TRUE(write_npz(path, arrays).ok());
  auto back = read_npz(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].first, "input");
  EXPECT_EQ((*back)[1].first, "labels");
  EXPECT_TRUE((*back)[0].second.bit_equal(arrays[0].second));
  // No temporary files left beside the output.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  fs::remove_all(dir);
}

TEST(Npz, TruncatedArchiveIsAnError) {
  fs::path dir = temp_dir();
  std::string path = (dir / "t.npz").string();
  ASSERT_TRUE(write_npz(path, {{"x", make_floats({64})}}).ok());
  auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
  auto r = read_npz(path);
  EXPECT_FALSE(r.ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hone::eval
