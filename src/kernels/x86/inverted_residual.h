// fp32 MobileNet-v2 inverted-residual block in one pass over channels-last data:
//   Y = clip_p(project1x1(clip_d(dw3x3_s(clip_e(expand1x1(X))))) + Sum)
// where expand is optional (MobileNet-v2's first block has none), dw3x3 is depthwise with pad 1
// and stride 1 or 2, and Sum (optional) is the residual. Three oneDNN convolutions write the
// 6x-expanded tensor to memory and read it back twice; here each thread owns a band of output
// rows and keeps only what the next step needs in cache: a ring of the 3 expanded input rows the
// depthwise row needs (each computed once, on demand), one depthwise output row, and the
// projection of that row goes straight into Y (docs/kernels_fp32.md).
//
// Two micro-kernels per ISA, listed once in inverted_residual.inc (which the dispatcher and
// tests/unit/kernels/inverted_residual_test.cc both read):
//  - f32_gemm_bias_clip_sum_c48_<isa>: a 1x1 convolution of a row of pixels, i.e. the small GEMM
//    [pixels x K] x [K x N] against weights packed once into panels of 48 columns, with bias,
//    optional residual and clamp in the epilogue;
//  - f32_dwconv3x3_bias_clip_<isa>: one output row of the depthwise 3x3 from 3 padded input rows.
// The scalar variant (kernels/ref) runs the same driver and is what HONE_ISA=scalar uses.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <vector>

#include "kernels/x86/f32_kernels.h"  // Isa, isa_available

namespace hone::kernels::x86 {

// Width of a packed weight panel: 48 floats = 3 AVX-512 vectors (every MobileNet-v2 expanded
// width, 96 ... 960, is a multiple of it). The last panel of a matrix may be 8 .. 40 wide (a
// multiple of 8).
constexpr int64_t kIrPanelCols = 48;
// Channel counts are padded to whole 16-float vectors inside the block's buffers.
constexpr int64_t kIrChannelAlign = 16;

inline int64_t ir_pad_channels(int64_t c) { return (c + kIrChannelAlign - 1) / kIrChannelAlign * kIrChannelAlign; }

// Where a GEMM writes its output row i: out.row(i) = c + (i / group) * group_pitch + (i % group) * ldc
// (i counted from `first`).
// Several image rows of pixels in one GEMM land in the padded row buffers (one zero pixel either
// side of each image row) with group = width, group_pitch = (width + 2) * ldc; group = m for a
// plain matrix.
struct IrOut {
  float* c;
  int64_t ldc;
  int64_t group;
  int64_t group_pitch;
  int64_t first = 0;  // row i is row first + i of the layout (a GEMM that starts mid-row)
  float* row(int64_t i) const { return c + ((first + i) / group) * group_pitch + ((first + i) % group) * ldc; }
};

// out.row(i)[j] = clamp(sum_k a[i * lda + k] * B[k][j] + bias[j] (+ sum[i * lds + j]), lo, hi)
// for i < m, j < n. B is packed (IrPackedMatrix): panel p holds columns 48p .. 48p + pw - 1 as
// [k][pw], pw = min(48, n_pad - 48p), panel p starting at panels + 48 p k. bias has n_pad floats;
// sum may be null.
using IrGemmFn = void (*)(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels, int64_t n_pad,
                          const float* bias, const float* sum, int64_t lds, float lo, float hi, IrOut out, int64_t n);
// out[x * cpad + ch] = clamp(bias[ch] + sum_{dy,dx} rows[dy][(x * stride + dx) * cpad + ch] *
// w9[(dy * 3 + dx) * cpad + ch], lo, hi) for x < wo, ch < cpad. rows[dy] holds an input row with
// one zero pixel of padding on the left (pixel 0) and enough on the right.
using IrDepthwiseFn = void (*)(const float* const rows[3], int64_t wo, int64_t stride, int64_t cpad, const float* w9,
                               const float* bias, float lo, float hi, float* out);

struct InvertedResidualVariant {
  const char* name;  // "f32_inverted_residual_avx512"
  Isa isa;
  IrGemmFn gemm;
  IrDepthwiseFn depthwise;
};
// Every variant of inverted_residual.inc, scalar first.
const std::vector<InvertedResidualVariant>& inverted_residual_variants();
// The widest variant this CPU runs (as capped by HONE_ISA), chosen once.
const InvertedResidualVariant& inverted_residual_best();

// Clamp bounds of a fused activation: none (-inf, inf), Relu (0, inf), Clip (min, max).
struct IrClamp {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};

// A 64-byte aligned float buffer.
class IrBuffer {
 public:
  IrBuffer() = default;
  explicit IrBuffer(int64_t floats);
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t size_ = 0;
};

// A 1x1 convolution's weights W[n][k] (ONNX [N, K, 1, 1]) as panels of B = Wᵀ, k rows padded to
// k_pad (zeros), columns to n_pad, a multiple of n_align (8 or 16); bias padded to n_pad (zeros
// when absent).
struct IrPackedMatrix {
  int64_t k = 0, k_pad = 0, n = 0, n_pad = 0;
  IrBuffer panels, bias;
  static IrPackedMatrix pack(const float* w, const float* bias, int64_t n, int64_t n_align, int64_t k, int64_t k_pad);
};

// The block's geometry and its weights, packed once (session creation).
struct InvertedResidualWeights {
  int64_t c_in = 0, c_mid = 0, c_out = 0, c_mid_pad = 0;
  int64_t stride = 1;
  bool has_expand = false;
  IrClamp expand_clamp, depthwise_clamp, project_clamp;
  IrPackedMatrix expand, project;
  IrBuffer dw_weights;  // [9][c_mid_pad]
  IrBuffer dw_bias;     // [c_mid_pad]

  // w_expand [c_mid, c_in, 1, 1] (null: no expand, c_mid = c_in), w_dw [c_mid, 1, 3, 3],
  // w_project [c_out, c_mid, 1, 1]; biases may be null.
  static InvertedResidualWeights pack(int64_t c_in, int64_t c_mid, int64_t c_out, int64_t stride,
                                      const float* w_expand, const float* b_expand, const float* w_dw,
                                      const float* b_dw, const float* w_project, const float* b_project);
};

// Output size of the 3x3 pad-1 depthwise: floor((in + 2 - 3) / stride) + 1, 0 for an empty input.
inline int64_t ir_out_size(int64_t in, int64_t stride) { return in <= 0 ? 0 : (in - 1) / stride + 1; }

// How the threads share the work. kRows: each thread a band of output rows, one row at a time,
// the 3 input rows the depthwise row needs in a ring, each expanded once, on demand (only 3
// expanded rows live at once). kImage, for several threads on small images: the threads split
// the expand GEMM's pixels, then the depthwise rows, then the projection's pixels, between
// barriers, over buffers for the whole image; no input row is expanded twice, as the rows at the
// edges of kRows' bands are (at 7x7 on 2 threads, 9 expanded rows instead of 7), and each weight
// matrix is read in one GEMM per thread.
enum class IrSchedule { kRows, kImage };
// The schedule for a shape: kImage with several threads when the image's buffers take at most
// half of L2, else kRows.
IrSchedule inverted_residual_schedule(const InvertedResidualWeights& w, int64_t height, int64_t width, int threads);

// Floats of scratch the block needs for `threads` threads on an input of height x width.
int64_t inverted_residual_scratch_floats(const InvertedResidualWeights& w, int64_t height, int64_t width,
                                         int threads, IrSchedule schedule);

// Runs the block on x[n, h, w, c_in] into y[n, ho, wo, c_out] (sum: y's shape, or null) with
// variant v, each thread a band of output rows. scratch: inverted_residual_scratch_floats floats,
// 64-byte aligned. y must not overlap x or sum.
void inverted_residual(const InvertedResidualVariant& v, const InvertedResidualWeights& w, const float* x,
                       int64_t batch, int64_t height, int64_t width, const float* sum, float* y, float* scratch,
                       int threads, IrSchedule schedule);

// Whether fuse_inverted_residual should fuse a block of these channel counts (c_in = 0 for a
// block without an expand conv): within the range of 1x1 weight
// sizes where the fused AVX-512 kernel measured faster than oneDNN's three convolutions
// (docs/kernels_fp32.md). The pass does not know the spatial size; MobileNet-v2 blocks of every
// stage, 112x112 to 7x7, measured faster.
bool inverted_residual_fusion_pays(int64_t c_in, int64_t c_mid, int64_t c_out);

// The micro-kernels (inverted_residual.inc).
void f32_gemm_bias_clip_sum_c48_ref(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels,
                                    int64_t n_pad, const float* bias, const float* sum, int64_t lds, float lo, float hi, IrOut out, int64_t n);
void f32_gemm_bias_clip_sum_c48_avx2(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels,
                                     int64_t n_pad, const float* bias, const float* sum, int64_t lds, float lo,
                                     float hi, IrOut out, int64_t n);
void f32_gemm_bias_clip_sum_c48_avx512(const float* a, int64_t lda, int64_t m, int64_t k, const float* panels,
                                       int64_t n_pad, const float* bias, const float* sum, int64_t lds, float lo,
                                       float hi, IrOut out, int64_t n);
void f32_dwconv3x3_bias_clip_ref(const float* const rows[3], int64_t wo, int64_t stride, int64_t cpad, const float* w9,
                                 const float* bias, float lo, float hi, float* out);
void f32_dwconv3x3_bias_clip_avx2(const float* const rows[3], int64_t wo, int64_t stride, int64_t cpad,
                                  const float* w9, const float* bias, float lo, float hi, float* out);
void f32_dwconv3x3_bias_clip_avx512(const float* const rows[3], int64_t wo, int64_t stride, int64_t cpad,
                                    const float* w9, const float* bias, float lo, float hi, float* out);

// The oracle for tests: the three convolutions one after the other, in plain loops over
// unpacked ONNX weights, with full intermediate tensors (kernels/ref/inverted_residual_ref.cc).
void f32_inverted_residual_naive_ref(const float* x, int64_t batch, int64_t height, int64_t width, int64_t c_in,
                                     int64_t c_mid, int64_t c_out, int64_t stride, const float* w_expand,
                                     const float* b_expand, IrClamp ce, const float* w_dw, const float* b_dw,
                                     IrClamp cd, const float* w_project, const float* b_project, IrClamp cp,
                                     const float* sum, float* y);

}  // namespace hone::kernels::x86
