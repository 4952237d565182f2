// Splits rows of a row-wise kernel (softmax, LayerNorm, elementwise maps) over OpenMP threads
// when the tensor is large enough for forking to pay; the kernels of kernels/x86 are
// single-threaded over the range they are given.
#pragma once

#include <algorithm>
#include <cstdint>

#include "runtime/kernel.h"

namespace hone::rt {

// Below this many elements one thread does it all: a fork/join costs a few microseconds.
inline constexpr int64_t kParallelRowsMin = int64_t{1} << 14;

// Calls f(begin, end) over [0, rows) in one contiguous range per thread.
template <class F>
void parallel_rows(const KernelContext& ctx, int64_t rows, int64_t row_elements, F f) {
  int64_t threads = rows * row_elements >= kParallelRowsMin ? std::max(1, ctx.threads()) : 1;
  threads = std::min(threads, rows);
  if (threads <= 1) {
    if (rows > 0) f(int64_t{0}, rows);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(threads)) schedule(static)
  for (int64_t t = 0; t < threads; ++t) {
    const int64_t begin = rows * t / threads, end = rows * (t + 1) / threads;
    if (end > begin) f(begin, end);
  }
}

// The same over a flat range of n elements, in chunks that are multiples of 64 elements (so
// that every chunk but the last runs without a vector tail).
template <class F>
void parallel_chunks(const KernelContext& ctx, int64_t n, F f) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_rows(ctx, blocks, kBlock, [&](int64_t b0, int64_t b1) {
    const int64_t begin = b0 * kBlock, end = std::min(n, b1 * kBlock);
    f(begin, end);
  });
}

}  // namespace hone::rt

namespace hone::rt {

// Output 0 = fn(input 0) elementwise for an fp32 input, on a kernels/x86 UnaryFn, in parallel
// chunks for large tensors.
inline Status map_f32(KernelContext& ctx, const Tensor& x, void (*fn)(const float*, float*, int64_t)) {
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DType::kFloat32, x.shape()));
  const float* xd = x.data<float>();
  float* yd = y->data<float>();
  parallel_chunks(ctx, x.numel(), [&](int64_t begin, int64_t end) { fn(xd + begin, yd + begin, end - begin); });
  return Status::Ok();
}

}  // namespace hone::rt
