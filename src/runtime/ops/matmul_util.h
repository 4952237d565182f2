// Shape rules of numpy matmul shared by MatMul, MatMulInteger and QLinearMatMul: 1-D operands are
// promoted to matrices (and the added dim dropped from the result), and the leading "batch" dims
// broadcast against each other.
#pragma once

#include <cstdint>
#include <vector>

#include "hone/tensor.hpp"
#include "kernels/ref/gemm_ref.h"

namespace hone::rt {

struct MatMulPlan {
  int64_t m = 0, n = 0, k = 0;
  Shape out_shape;
  // For each batch entry of the output, the index of the A and the B matrix it multiplies.
  std::vector<int64_t> a_matrix, b_matrix;
  int64_t batch() const { return static_cast<int64_t>(a_matrix.size()); }
};

// The plan for matmul(a, b), or an error when the shapes do not fit (rank 0, K mismatch,
// batch dims that do not broadcast, an overflowing size).
Result<MatMulPlan> plan_matmul(const Shape& a, const Shape& b);

// c (batch x m x n, contiguous) = a @ b for every batch entry of the plan.
template <class T>
void run_matmul(const MatMulPlan& plan, const T* a, const T* b, T* c) {
  const int64_t a_size = plan.m * plan.k, b_size = plan.k * plan.n, c_size = plan.m * plan.n;
  // Many small products: parallelize over the batch and keep each gemm on its thread.
  const bool over_batch = plan.batch() > 1 && c_size * plan.k < (1 << 18) && plan.batch() * c_size * plan.k > (1 << 18);
#pragma omp parallel for if (over_batch)
  for (int64_t i = 0; i < plan.batch(); ++i)
    kernels::ref::gemm<T>(false, false, plan.m, plan.n, plan.k, T{1}, a + plan.a_matrix[i] * a_size, plan.k,
                          b + plan.b_matrix[i] * b_size, plan.n, T{0}, c + i * c_size, plan.n, over_batch ? 1 : 0);
}

}  // namespace hone::rt
