#include "eval/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "eval/npy.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace hone::eval {
namespace {

namespace fs = std::filesystem;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hone_dataset_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

IoInfo input(const std::string& name, DType dt, std::vector<int64_t> dims) {
  IoInfo i;
  i.name = name;
  i.dtype = dt;
  i.has_shape = true;
  i.dims = std::move(dims);
  i.dim_names.assign(i.dims.size(), "");
  return i;
}

template <class T>
Tensor filled(DType dt, const Shape& s, T start) {
  Tensor t = Tensor::create(dt, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(start + static_cast<T>(i));
  return t;
}

TEST_F(DatasetTest, NpzSamplesWithBatchDimAndExtras) {
  std::string path = (dir_ / "d.npz").string();
  NamedTensors arrays;
  arrays.emplace_back("x", filled<float>(DType::kFloat32, {4, 3, 2}, 0.f));
  arrays.emplace_back("labels", filled<int64_t>(DType::kInt64, {4}, 7));
  ASSERT_TRUE(write_npz(path, arrays).ok());
  // Symbolic batch: the first axis is the samples, each sample gets batch 1.
  auto ds = Dataset::open(path, {input("x", DType::kFloat32, {-1, 3, 2})});
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->size(), 4);
  auto s = ds->sample(2);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].shape(), (Shape{1, 3, 2}));
  EXPECT_EQ((*s)[0].data<float>()[0], 12.f);
  EXPECT_EQ((*s)[0].data<float>()[5], 17.f);
  const Tensor* labels = ds->extra("labels");
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ(labels->data<int64_t>()[3], 10);
  EXPECT_EQ(ds->extra("x"), nullptr);  // inputs are not extras
  EXPECT_EQ(ds->extra("tokens"), nullptr);
  EXPECT_FALSE(ds->sample(4).ok());
  EXPECT_FALSE(ds->sample(-1).ok());
}

TEST_F(DatasetTest, ExtraLeadingAxisForInputsWithoutBatch) {
  std::string path = (dir_ / "d.npz").string();
  NamedTensors arrays;
  arrays.emplace_back("x", filled<float>(DType::kFloat32, {3, 2, 5}, 0.f));
  ASSERT_TRUE(write_npz(path, arrays).ok());
  // Input fixes batch 2: samples come on an extra leading axis.
  auto ds = Dataset::open(path, {input("x", DType::kFloat32, {2, 5})});
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->size(), 3);
  auto s = ds->sample(1).value();
  EXPECT_EQ(s[0].shape(), (Shape{2, 5}));
  EXPECT_EQ(s[0].data<float>()[0], 10.f);
  // Same rank but a fixed batch of 2: cannot be fed one sample at a time.
  auto bad = Dataset::open(path, {input("x", DType::kFloat32, {3, 2, 5})});
  ASSERT_FALSE(bad.ok());
  auto bad2 = Dataset::open(path, {input("x", DType::kFloat32, {-1, 2, 4})});
  ASSERT_FALSE(bad2.ok());
  EXPECT_NE(bad2.status().message().find("dim 2"), std::string::npos) << bad2.status().message();
}

TEST_F(DatasetTest, ConversionsAndRefusals) {
  std::string path = (dir_ / "d.npz").string();
  NamedTensors arrays;
  arrays.emplace_back("f", filled<double>(DType::kFloat64, {2, 3}, 0.25));
  arrays.emplace_back("ids", filled<int64_t>(DType::kInt64, {2, 3}, 1));
  arrays.emplace_back("big", filled<int64_t>(DType::kInt64, {2, 3}, int64_t{1} << 40));
  ASSERT_TRUE(write_npz(path, arrays).ok());
  auto ds = Dataset::open(path, {input("f", DType::kFloat32, {-1, 3}), input("ids", DType::kInt32, {-1, 3})});
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  auto s = ds->sample(1).value();
  EXPECT_EQ(s[0].dtype(), DType::kFloat32);
  EXPECT_EQ(s[0].data<float>()[0], 3.25f);
  EXPECT_EQ(s[1].dtype(), DType::kInt32);
  EXPECT_EQ(s[1].data<int32_t>()[2], 6);
  // Out-of-range integers: an error at sample time, naming the value.
  auto ds2 = Dataset::open(path, {input("big", DType::kInt32, {-1, 3})});
  ASSERT_TRUE(ds2.ok());
  auto s2 = ds2->sample(0);
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.status().message().find("does not fit"), std::string::npos);
  // Integer data for a float input is refused with a hint.
  auto ds3 = Dataset::open(path, {input("ids", DType::kFloat32, {-1, 3})});
  ASSERT_FALSE(ds3.ok());
  EXPECT_EQ(ds3.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(ds3.status().message().find("integer data"), std::string::npos);
}

TEST_F(DatasetTest, BadDatasets) {
  std::string path = (dir_ / "d.npz").string();
  NamedTensors arrays;
  arrays.emplace_back("a", filled<float>(DType::kFloat32, {4, 2}, 0.f));
  arrays.emplace_back("b", filled<float>(DType::kFloat32, {3, 2}, 0.f));
  ASSERT_TRUE(write_npz(path, arrays).ok());
  auto missing = Dataset::open(path, {input("zzz", DType::kFloat32, {-1, 2})});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("zzz"), std::string::npos);
  auto counts = Dataset::open(path, {input("a", DType::kFloat32, {-1, 2}), input("b", DType::kFloat32, {-1, 2})});
  ASSERT_FALSE(counts.ok());
  EXPECT_NE(counts.status().message().find("samples"), std::string::npos) << counts.status().message();
  auto rank = Dataset::open(path, {input("a", DType::kFloat32, {-1, 2, 1, 1})});
  ASSERT_FALSE(rank.ok());
  EXPECT_FALSE(Dataset::open((dir_ / "nope.npz").string(), {input("a", DType::kFloat32, {-1, 2})}).ok());
  std::ofstream(dir_ / "junk.npz") << "not a zip";
  EXPECT_FALSE(Dataset::open((dir_ / "junk.npz").string(), {input("a", DType::kFloat32, {-1, 2})}).ok());
  // An empty folder.
  fs::create_directories(dir_ / "empty");
  EXPECT_FALSE(Dataset::open((dir_ / "empty").string(), {input("a", DType::kFloat32, {-1, 2})}).ok());
}

TEST_F(DatasetTest, FolderOfNpyFiles) {
  fs::create_directories(dir_ / "f");
  ASSERT_TRUE(write_npy((dir_ / "f" / "in_0.npy").string(), filled<float>(DType::kFloat32, {2, 4}, 1.f)).ok());
  ASSERT_TRUE(write_npy((dir_ / "f" / "mask.npy").string(), filled<int64_t>(DType::kInt64, {2, 4}, 0)).ok());
  ASSERT_TRUE(write_npy((dir_ / "f" / "labels.npy").string(), filled<int64_t>(DType::kInt64, {2}, 0)).ok());
  // "in:0" cannot be a file name; in_0.npy stands for it.
  auto ds = Dataset::open((dir_ / "f").string(),
                          {input("in:0", DType::kFloat32, {-1, 4}), input("mask", DType::kInt64, {-1, 4})});
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->size(), 2);
  auto s = ds->sample(1).value();
  EXPECT_EQ(s[0].data<float>()[0], 5.f);
  EXPECT_EQ(s[1].data<int64_t>()[3], 7);
  ASSERT_NE(ds->extra("labels"), nullptr);
  // A preprocess recipe means images: refused for a folder of arrays, and for an array file.
  auto pre = Dataset::open((dir_ / "f").string(), {input("in:0", DType::kFloat32, {-1, 4})}, Preprocess{});
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.status().message().find("--preprocess"), std::string::npos) << pre.status().message();
  EXPECT_FALSE(
      Dataset::open((dir_ / "f" / "mask.npy").string(), {input("mask", DType::kInt64, {-1, 4})}, Preprocess{}).ok());
  // A single .npy feeds a single-input model.
  auto one = Dataset::open((dir_ / "f" / "mask.npy").string(), {input("mask", DType::kInt64, {-1, 4})});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->size(), 2);
}

// A 4x2 RGB image whose pixel (y, x) = (10*y + x, 100, 200).
void write_png(const fs::path& p, int w, int h) {
  std::vector<unsigned char> px(static_cast<size_t>(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      px[static_cast<size_t>((y * w + x) * 3)] = static_cast<unsigned char>(10 * y + x);
      px[static_cast<size_t>((y * w + x) * 3 + 1)] = 100;
      px[static_cast<size_t>((y * w + x) * 3 + 2)] = 200;
    }
  ASSERT_TRUE(stbi_write_png(p.string().c_str(), w, h, 3, px.data(), w * 3));
}

TEST_F(DatasetTest, ImageFolderNchwMeanStd) {
  write_png(dir_ / "b.png", 2, 4);
  write_png(dir_ / "a.png", 2, 4);
  auto pre = parse_preprocess("scale=1,mean=1:2:3,std=2:2:4,layout=nchw");
  ASSERT_TRUE(pre.ok()) << pre.status().message();
  auto ds = Dataset::open(dir_.string(), {input("img", DType::kFloat32, {-1, 3, -1, -1})}, *pre);
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->size(), 2);
  Tensor t = ds->sample(0).value()[0];
  EXPECT_EQ(t.shape(), (Shape{1, 3, 4, 2}));
  const float* d = t.data<float>();
  EXPECT_FLOAT_EQ(d[0 * 8 + 3 * 2 + 1], (31.f - 1.f) / 2.f);  // channel 0, y=3, x=1
  EXPECT_FLOAT_EQ(d[1 * 8 + 0], (100.f - 2.f) / 2.f);
  EXPECT_FLOAT_EQ(d[2 * 8 + 5], (200.f - 3.f) / 4.f);
}

TEST_F(DatasetTest, ImageFolderResizeNhwcGrayscale) {
  write_png(dir_ / "a.png", 2, 4);
  // Resize to the model's fixed size (no resize in the recipe): 4x2 -> 2x2, nhwc.
  auto pre = parse_preprocess("layout=nhwc,scale=1").value();
  auto ds = Dataset::open(dir_.string(), {input("img", DType::kFloat32, {1, 2, 2, 3})}, pre);
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  Tensor t = ds->sample(0).value()[0];
  EXPECT_EQ(t.shape(), (Shape{1, 2, 2, 3}));
  // Output row 0 samples input y = 0.5 (half-pixel centres): red = (0 + 10) / 2 = 5 at x = 0.
  EXPECT_NEAR(t.data<float>()[0], 5.f, 1e-4);
  EXPECT_NEAR(t.data<float>()[1], 100.f, 1e-4);
  // Output row 1 samples y = 2.5: red = 25 at x = 0, 26 at x = 1.
  EXPECT_NEAR(t.data<float>()[2 * 3 + 0], 25.f, 1e-4);
  EXPECT_NEAR(t.data<float>()[3 * 3 + 0], 26.f, 1e-4);

  auto gray = Dataset::open(dir_.string(), {input("img", DType::kFloat32, {1, 1, 8, 8})},
                            parse_preprocess("grayscale,resize=8x8").value());
  ASSERT_TRUE(gray.ok()) << gray.status().message();
  EXPECT_EQ(gray->sample(0).value()[0].shape(), (Shape{1, 1, 8, 8}));
  // 3 channels against a 1-channel input: refused on open.
  EXPECT_FALSE(Dataset::open(dir_.string(), {input("img", DType::kFloat32, {1, 1, 8, 8})}, pre).ok());
  // Resize that disagrees with the input's fixed size.
  EXPECT_FALSE(Dataset::open(dir_.string(), {input("img", DType::kFloat32, {1, 3, 8, 8})},
                             parse_preprocess("resize=4x4").value())
                   .ok());
}

TEST_F(DatasetTest, BrokenImageRefusedOnOpen) {
  write_png(dir_ / "a.png", 2, 2);
  std::ofstream(dir_ / "b.png") << "definitely not a png";
  auto ds = Dataset::open(dir_.string(), {input("img", DType::kFloat32, {1, 3, -1, -1})}, Preprocess{});
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("b.png"), std::string::npos) << ds.status().message();
  // Images need exactly one input.
  fs::remove(dir_ / "b.png");
  EXPECT_FALSE(Dataset::open(dir_.string(),
                             {input("a", DType::kFloat32, {1, 3, 2, 2}), input("b", DType::kFloat32, {1, 3, 2, 2})},
                             Preprocess{})
                   .ok());
}

TEST(ParsePreprocess, FullRecipe) {
  auto p = parse_preprocess("resize=224x224,scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,layout=nchw");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->height, 224);
  EXPECT_EQ(p->width, 224);
  EXPECT_DOUBLE_EQ(p->scale, 1.0 / 255.0);
  ASSERT_EQ(p->mean.size(), 3u);
  EXPECT_FLOAT_EQ(p->mean[1], 0.456f);
  EXPECT_FLOAT_EQ(p->std[2], 0.225f);
  EXPECT_TRUE(p->nchw);
  auto q = parse_preprocess("resize=32,layout=NHWC");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->height, 32);
  EXPECT_EQ(q->width, 32);
  EXPECT_FALSE(q->nchw);
}

TEST(ParsePreprocess, BadSpecs) {
  for (const char* bad : {"", "resize=0x3", "resize=ax3", "resize=3x", "resize=99999999x2", "scale=1/0", "scale=abc",
                          "scale=nan", "mean=1:2", "std=1:0:1", "std=1:2:", "layout=nchw4", "colour=red", "scale",
                          "grayscale=maybe", "scale=1,scale=2", ",", "mean=1:2:3:4"}) {
    auto p = parse_preprocess(bad);
    EXPECT_FALSE(p.ok()) << "'" << bad << "' was accepted";
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(p.status().message().find('\n'), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace hone::eval
