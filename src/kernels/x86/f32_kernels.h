// hone's own fp32 kernels for the ops around the dense math (docs/naming.md has the names):
// softmax and LayerNorm over the last axis, GELU (erf and tanh forms), erf, and the binary
// arithmetic ops with the broadcasts transformers and CNNs use. Each family has a scalar
// reference (kernels/ref/f32_ops_ref.cc) and AVX2 / AVX-512 variants, one translation unit per
// ISA; the variants are listed once in f32_kernels.inc, which both the dispatcher below and the
// kernel tests read, so a new variant is tested the day it is added.
//
// Kernels are single-threaded over the range they are given; callers (src/runtime/ops) split
// large tensors over OpenMP threads by rows or by chunks.
#pragma once

#include <cstdint>
#include <vector>

namespace hone::kernels::x86 {

// y[r, :] = softmax(x[r, :]) for r < rows, rows of n contiguous floats; x may equal y.
using SoftmaxFn = void (*)(const float* x, float* y, int64_t rows, int64_t n);
// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * scale + bias, statistics per row of n; bias may
// be null; x may equal y.
using LayerNormFn = void (*)(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
                             float eps);
// y[i] = f(x[i]) for i < n (GELU, erf); x may equal y.
using UnaryFn = void (*)(const float* x, float* y, int64_t n);
// y[i] = a[i * sa] op b[i * sb] for i < n, with sa, sb in {0, 1} (0: a scalar operand).
using BinaryFn = void (*)(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);

enum class Isa { kScalar, kAvx2, kAvx512 };
const char* isa_name(Isa isa);
// Whether this CPU (as capped by HONE_ISA) runs code of `isa`.
bool isa_available(Isa isa);

template <class Fn>
struct Variant {
  const char* name;  // "f32_softmax_avx2"
  Isa isa;
  Fn fn;
};

// The families. Each list runs from the scalar reference to the widest ISA (f32_kernels.inc).
#define HONE_F32_FAMILIES(X) \
  X(softmax, SoftmaxFn)      \
  X(layernorm, LayerNormFn)  \
  X(gelu_erf, UnaryFn)       \
  X(gelu_tanh, UnaryFn)      \
  X(erf, UnaryFn)            \
  X(add, BinaryFn)           \
  X(sub, BinaryFn)           \
  X(mul, BinaryFn)           \
  X(div, BinaryFn)

#define HONE_F32_DECLARE_FAMILY(family, Fn)                  \
  const std::vector<Variant<Fn>>& family##_variants();       \
  /* The widest variant this CPU runs, chosen once. */       \
  Fn family##_best();                                        \
  const char* family##_best_name();
HONE_F32_FAMILIES(HONE_F32_DECLARE_FAMILY)
#undef HONE_F32_DECLARE_FAMILY

}  // namespace hone::kernels::x86
