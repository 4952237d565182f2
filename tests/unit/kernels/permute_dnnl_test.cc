// permute_dnnl (oneDNN reorder as Transpose) against an index-by-index definition: every
// permutation of a rank-4 tensor with odd sizes, the NCHW <-> NHWC pairs the layout pass inserts
// (3-channel image, wide activation), ranks 2, 3, 5 and 6, float32 and bytes. Exact equality:
// a permutation moves values, it computes nothing. Also what it must refuse.
#include "kernels/dnnl/permute_dnnl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "kernels/dnnl/dnnl_common.h"

namespace hone::kernels::onednn {
namespace {

// out[i_0..i_{r-1}] = in[j] with j_{perm[k]} = i_k.
template <class T>
std::vector<T> permute_by_definition(const std::vector<T>& in, const std::vector<int64_t>& shape,
                                     const std::vector<int64_t>& perm) {
  const size_t r = shape.size();
  std::vector<int64_t> in_strides(r, 1), out_shape(r);
  for (size_t i = r - 1; i > 0; --i) in_strides[i - 1] = in_strides[i] * shape[i];
  for (size_t i = 0; i < r; ++i) out_shape[i] = shape[static_cast<size_t>(perm[i])];
  std::vector<T> out(in.size());
  std::vector<int64_t> idx(r, 0);
  for (size_t o = 0; o < out.size(); ++o) {
    int64_t src = 0;
    for (size_t k = 0; k < r; ++k) src += idx[k] * in_strides[static_cast<size_t>(perm[k])];
    out[o] = in[static_cast<size_t>(src)];
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < out_shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

template <class T>
std::vector<T> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<T> v(n);
  for (auto& x : v) {
    if constexpr (std::is_floating_point_v<T>) x = std::uniform_real_distribution<T>(-100, 100)(gen);
    else x = static_cast<T>(gen());
  }
  return v;
}

template <class T>
void check(const std::vector<int64_t>& shape, const std::vector<int64_t>& perm) {
  const auto n = static_cast<size_t>(std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>()));
  const std::vector<T> in = random_values<T>(n, static_cast<uint32_t>(n + perm[0]));
  std::vector<T> out(n, T{});
  const Status s = permute_dnnl(in.data(), shape, perm, sizeof(T), out.data());
  ASSERT_TRUE(s.ok()) << s.message();
  const std::vector<T> want = permute_by_definition(in, shape, perm);
  // Bit equality (memcmp), so that a value changed in passing (denormal flushed) would show.
  EXPECT_EQ(std::memcmp(out.data(), want.data(), n * sizeof(T)), 0);
}

TEST(PermuteDnnl, EveryRank4PermutationFloatAndBytes) {
  if (!enabled()) GTEST_SKIP() << "oneDNN switched off (HONE_DNNL=0)";
  std::vector<int64_t> perm{0, 1, 2, 3};
  int count = 0;
  do {
    SCOPED_TRACE(testing::Message() << "perm " << perm[0] << perm[1] << perm[2] << perm[3]);
    check<float>({2, 5, 7, 9}, perm);
    check<uint8_t>({3, 4, 17, 5}, perm);
    check<int8_t>({1, 33, 6, 7}, perm);
    ++count;
  } while (std::next_permutation(perm.begin(), perm.end()));
  EXPECT_EQ(count, 24);
}

TEST(PermuteDnnl, LayoutPassBoundaries) {
  if (!enabled()) GTEST_SKIP() << "oneDNN switched off (HONE_DNNL=0)";
  check<float>({1, 3, 224, 224}, {0, 2, 3, 1});
  check<float>({1, 256, 28, 28}, {0, 2, 3, 1});
  check<float>({1, 28, 28, 64}, {0, 3, 1, 2});
  check<float>({1, 7, 7, 2048}, {0, 3, 1, 2});
  check<uint8_t>({1, 3, 224, 224}, {0, 2, 3, 1});
  check<uint8_t>({2, 14, 14, 96}, {0, 3, 1, 2});
}

TEST(PermuteDnnl, OtherRanks) {
  if (!enabled()) GTEST_SKIP() << "oneDNN switched off (HONE_DNNL=0)";
  check<float>({300, 77}, {1, 0});
  check<float>({128, 12, 64}, {1, 0, 2});  // BERT's head split
  check<float>({2, 3, 4, 5, 6}, {4, 2, 0, 3, 1});
  check<float>({2, 3, 2, 3, 2, 5}, {0, 3, 5, 1, 2, 4});  // SpaceToDepth's 6-D view
}

TEST(PermuteDnnl, KeepsNonFiniteAndDenormalFloats) {
  if (!enabled()) GTEST_SKIP() << "oneDNN switched off (HONE_DNNL=0)";
  std::vector<float> in(64 * 64);
  for (size_t i = 0; i < in.size(); ++i) {
    uint32_t bits = 0x00000001u + static_cast<uint32_t>(i);  // denormals
    if (i % 7 == 0) bits = 0x7fc00001u;                        // a NaN with payload
    if (i % 11 == 0) bits = 0xff800000u;                       // -inf
    std::memcpy(&in[i], &bits, sizeof bits);
  }
  std::vector<float> out(in.size());
  ASSERT_TRUE(permute_dnnl(in.data(), {64, 64}, {1, 0}, 4, out.data()).ok());
  const std::vector<float> want = permute_by_definition(in, {64, 64}, {1, 0});
  EXPECT_EQ(std::memcmp(out.data(), want.data(), in.size() * 4), 0);
}

TEST(PermuteDnnl, RefusesWhatItDoesNotCover) {
  std::vector<int64_t> in(16), out(16);
  // 8-byte elements, rank 7, empty dims, mismatched perm: kUnsupported, nothing written.
  EXPECT_EQ(permute_dnnl(in.data(), {4, 4}, {1, 0}, 8, out.data()).code(), ErrorCode::kUnsupported);
  EXPECT_EQ(permute_dnnl(in.data(), {1, 1, 1, 1, 1, 1, 16}, {0, 1, 2, 3, 4, 5, 6}, 1, out.data()).code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(permute_dnnl(in.data(), {0, 4}, {1, 0}, 4, out.data()).code(), ErrorCode::kUnsupported);
  EXPECT_EQ(permute_dnnl(in.data(), {4, 4}, {0}, 4, out.data()).code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace hone::kernels::onednn
