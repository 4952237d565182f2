// Reference N-d convolution (1D/2D/3D and beyond) on plain row-major NC<spatial> buffers: the
// correctness oracle that faster backends (oneDNN) are checked against. Plain scalar C++:
// im2col over blocks of output positions and a register-blocked GEMM loop, OpenMP across
// (batch, group, output-position block, output-channel block) tasks.
//
// The caller validates shapes; these functions trust `ConvParams` to describe the buffers.
#pragma once

#include <cstdint>
#include <vector>

namespace hone::kernels::ref {

struct ConvParams {
  int64_t batch = 1;
  int64_t in_channels = 0;   // C (all groups)
  int64_t out_channels = 0;  // M (all groups)
  int64_t groups = 1;
  // Spatial geometry, one value per spatial dim. For conv_transpose, `in_spatial` is the size of
  // x and `out_spatial` the size of y; pads_begin is the padding cropped from y's begin.
  std::vector<int64_t> in_spatial, kernel, out_spatial, strides, dilations, pads_begin;
  int threads = 0;  // OpenMP team size; 0 = OpenMP's default
};

// y[N, M, out...] = sum over c in the group, k: x[N, C, in...] * w[M, C/groups, k...] + b[M].
// b may be null.
template <class T>
void conv_nd_ref(const ConvParams& p, const T* x, const T* w, const T* b, T* y);

// Transposed convolution (the gradient of conv_nd_ref with respect to x):
// x[N, C, in...], w[C, M/groups, k...], b[M] (may be null), y[N, M, out...].
template <class T>
void conv_transpose_nd_ref(const ConvParams& p, const T* x, const T* w, const T* b, T* y);

// For every position of the row-major grid `grid`, coordinate d scaled and shifted:
// table[d * count + pos] = coord_d(pos) * scale[d] - shift[d] (shift may be null). Gives the window
// origins of output positions (scale = strides, shift = pads) and the offsets of kernel taps
// (scale = dilations); also used by the pooling ops.
std::vector<int64_t> window_coordinate_table(const std::vector<int64_t>& grid, const std::vector<int64_t>& scale,
                                             const std::vector<int64_t>* shift);

// The common fp32 2D case under a fixed name, for backends to compare against.
inline void conv2d_f32_ref(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  conv_nd_ref<float>(p, x, w, b, y);
}

extern template void conv_nd_ref<float>(const ConvParams&, const float*, const float*, const float*, float*);
extern template void conv_nd_ref<double>(const ConvParams&, const double*, const double*, const double*, double*);
extern template void conv_nd_ref<int64_t>(const ConvParams&, const int64_t*, const int64_t*, const int64_t*, int64_t*);
extern template void conv_transpose_nd_ref<float>(const ConvParams&, const float*, const float*, const float*, float*);
extern template void conv_transpose_nd_ref<double>(const ConvParams&, const double*, const double*, const double*,
                                                   double*);

}  // namespace hone::kernels::ref
