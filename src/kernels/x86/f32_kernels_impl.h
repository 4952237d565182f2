// Declarations of every variant named in f32_kernels.inc (internal to the dispatcher and tests).
#pragma once

#include <type_traits>

#include "kernels/x86/f32_kernels.h"

namespace hone::kernels::x86 {

#define HONE_F32_SIGNATURE(family, Fn) using family##_sig = std::remove_pointer_t<Fn>;
HONE_F32_FAMILIES(HONE_F32_SIGNATURE)
#undef HONE_F32_SIGNATURE

#define HONE_F32_KERNEL(family, isa, fn) family##_sig fn;
#include "kernels/x86/f32_kernels.inc"
#undef HONE_F32_KERNEL

}  // namespace hone::kernels::x86
