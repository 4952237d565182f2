// Scalar reference GEMM: C = alpha * op(A) * op(B) + beta * C on row-major matrices, where op(X) is
// X or its transpose. Plain C++ with cache blocking and OpenMP: the correctness oracle that the
// optimized backends (oneDNN ...) are checked against, and the fallback path for every type.
#pragma once

#include <cstdint>

namespace hone::kernels::ref {

// op(A) is m x k, op(B) is k x n, C is m x n. lda/ldb/ldc are the row strides (in elements) of
// A, B and C as stored (so lda >= k when A is not transposed, lda >= m when it is).
// beta == 0 overwrites C without reading it (NaN/Inf already in C do not propagate), as in BLAS.
// threads <= 0: OpenMP's default; 1: run on the calling thread (for callers already parallel).
// Instantiated for float, double, int32_t, int64_t, uint32_t and uint64_t; integer types wrap
// on overflow exactly as their unsigned arithmetic would (callers own the range).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc, int threads = 0);

inline void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int threads = 0) {
  gemm<float>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
}

}  // namespace hone::kernels::ref
