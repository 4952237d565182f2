// Transpose, DepthToSpace, SpaceToDepth (all permutations of a reshaped tensor) and Trilu.
// Transpose sits on transformer hot paths: it merges dims that stay adjacent, copies whole rows
// when the last dim stays last, and otherwise walks cache-sized tiles of the two innermost
// moving dims.
#include "kernels/dnnl/permute_dnnl.h"
#include "runtime/op_registry.h"
#include "runtime/ops/shape_util.h"

namespace hone::rt {
namespace {

// dst = src (of shape in_shape) with its dims permuted: out dim i is in dim perm[i].
template <class T>
void permute(const T* src, const Shape& in_shape, const std::vector<int64_t>& perm, T* dst) {
  const auto in_strides = strides_of(in_shape);
  Shape out_shape(perm.size());
  std::vector<int64_t> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = in_shape[static_cast<size_t>(perm[i])];
    strides[i] = in_strides[static_cast<size_t>(perm[i])];
  }
  // Find the output dim that reads input's contiguous innermost dim. When it is not the last
  // output dim, a plain row walk reads with a large stride: tile the 2-D transpose of that dim
  // and the output's last dim instead.
  int64_t numel = 1;
  for (int64_t d : out_shape) numel *= d;
  size_t contiguous = perm.size();
  for (size_t i = 0; i < perm.size(); ++i)
    if (strides[i] == 1 && out_shape[i] > 1) contiguous = i;
  const size_t last = perm.size() - 1;
  if (numel == 0) return;
  if (perm.empty() || contiguous == perm.size() || contiguous == last || out_shape[last] < 8 ||
      out_shape[contiguous] < 8) {
    strided_copy(src, 0, out_shape, strides, dst);
    return;
  }
  // Tiled: iterate over all output dims except `contiguous` and `last` ("outer"), and within
  // each, over tiles of (contiguous, last).
  constexpr int64_t kTile = 32;
  const auto out_strides = strides_of(out_shape);
  Shape outer_dims;
  std::vector<int64_t> outer_src, outer_dst;
  for (size_t i = 0; i < last; ++i) {
    if (i == contiguous) continue;
    outer_dims.push_back(out_shape[i]);
    outer_src.push_back(strides[i]);
    outer_dst.push_back(out_strides[i]);
  }
  const int64_t rows = out_shape[contiguous], cols = out_shape[last];
  const int64_t src_col_stride = strides[last], dst_row_stride = out_strides[contiguous];
  const int64_t outer = numel / (rows * cols);
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  const int64_t work = outer * row_tiles * col_tiles;
#pragma omp parallel for if (numel > (1 << 16))
  for (int64_t w = 0; w < work; ++w) {
    const int64_t o = w / (row_tiles * col_tiles);
    const int64_t r0 = (w / col_tiles % row_tiles) * kTile, c0 = (w % col_tiles) * kTile;
    int64_t src_off = 0, dst_off = 0, rem = o;
    for (size_t d = outer_dims.size(); d-- > 0;) {
      const int64_t c = rem % outer_dims[d];
      rem /= outer_dims[d];
      src_off += c * outer_src[d];
      dst_off += c * outer_dst[d];
    }
    const int64_t r1 = std::min(r0 + kTile, rows), c1 = std::min(c0 + kTile, cols);
    for (int64_t c = c0; c < c1; ++c) {
      const T* s = src + src_off + c * src_col_stride;
      T* d = dst + dst_off + c;
      for (int64_t r = r0; r < r1; ++r) d[r * dst_row_stride] = s[r];
    }
  }
}

Status permute_into(KernelContext& ctx, const Tensor& x, const Shape& view_shape, const std::vector<int64_t>& perm,
                    const Shape& out_shape) {
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output_overwritten(0, x.dtype(), out_shape));
  // Large float and byte tensors (the NCHW <-> NHWC transposes at the edges of a channels-last
  // region, docs/layout.md) go to oneDNN's JIT reorder; below ~16 KiB its per-call cost is not
  // worth it, and other types (a reorder may compute on values) always take the loop below.
  constexpr int64_t kMinReorderElements = 4096;
  const bool reorderable = x.dtype() == DType::kFloat32 || x.dtype() == DType::kUInt8 || x.dtype() == DType::kInt8;
  if (reorderable && x.numel() >= kMinReorderElements) {
    Status s = kernels::onednn::permute_dnnl(x.raw(), view_shape, perm, dtype_size(x.dtype()), out->raw());
    if (s.code() != ErrorCode::kUnsupported) return s.ok() ? s : s.with_context(node_label(ctx.node()));
  }
  return dispatch_by_size(x.dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    permute(elements<T>(x), view_shape, perm, elements<T>(*out));
    return Status::Ok();
  });
}

Status transpose(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  const int64_t rank = x->rank();
  std::vector<int64_t> perm = ctx.node().attr_ints("perm");
  if (!ctx.node().attr("perm"))
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != rank)
    return ctx.error("perm has " + std::to_string(perm.size()) + " values for rank " + std::to_string(rank));
  std::vector<bool> used(static_cast<size_t>(rank), false);
  Shape shape;
  for (int64_t& p : perm) {
    if (p < 0) p += rank;  // opset 1 left negative values undefined; reading them as numpy does is harmless
    if (p < 0 || p >= rank || used[static_cast<size_t>(p)]) return ctx.error("perm is not a permutation");
    used[static_cast<size_t>(p)] = true;
    shape.push_back(x->dim(p));
  }
  // A permutation that only moves axes of size 1 leaves every element where it is ([1, S, E] ->
  // [S, 1, E], PyTorch's switch between batch-first and sequence-first layouts at batch 1): the
  // output is the input under the new shape, without a copy (as Reshape gives it).
  int64_t last_moved = -1;
  bool same_order = true;
  for (int64_t p : perm) {
    if (x->dim(p) == 1) continue;
    same_order &= p > last_moved;
    last_moved = p;
  }
  if (same_order) {
    auto view = x->reshaped(shape);
    if (!view.ok()) return ctx.error(view.status().message());
    return ctx.set_output(0, std::move(view).value());
  }
  return permute_into(ctx, *x, x->shape(), perm, shape);
}

// DepthToSpace / SpaceToDepth on NCHW: a reshape to 6-D, a permutation, a reshape back.
Status depth_to_space(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  if (x->rank() != 4) return ctx.error("input must have rank 4");
  const int64_t b = ctx.node().attr_int("blocksize", 0);
  const int64_t n = x->dim(0), c = x->dim(1), h = x->dim(2), w = x->dim(3);
  if (b < 1 || b > c || c % (b * b) != 0)  // b <= c keeps b * b from overflowing
    return ctx.error("channels " + std::to_string(c) + " are not a multiple of blocksize^2");
  const std::string mode = ctx.node().attr_string("mode", "DCR");
  const int64_t oc = c / (b * b);
  const Shape out_shape{n, oc, h * b, w * b};
  if (mode == "DCR") return permute_into(ctx, *x, {n, b, b, oc, h, w}, {0, 3, 4, 1, 5, 2}, out_shape);
  if (mode == "CRD") return permute_into(ctx, *x, {n, oc, b, b, h, w}, {0, 1, 4, 2, 5, 3}, out_shape);
  return ctx.error("unknown mode '" + mode + "'");
}

Status space_to_depth(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  if (x->rank() != 4) return ctx.error("input must have rank 4");
  const int64_t b = ctx.node().attr_int("blocksize", 0);
  const int64_t n = x->dim(0), c = x->dim(1), h = x->dim(2), w = x->dim(3);
  if (b < 1 || h % b != 0 || w % b != 0) return ctx.error("height and width must be multiples of blocksize");
  const auto bb = checked_mul(b, b);
  if (!bb || !checked_mul(c, *bb)) return ctx.error("output channels overflow");
  return permute_into(ctx, *x, {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}, {n, c * b * b, h / b, w / b});
}

// ---- Trilu ----

Status trilu(KernelContext& ctx) {
  HONE_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  if (x->rank() < 2) return ctx.error("input must have rank >= 2");
  int64_t k = 0;
  if (const Tensor* kt = ctx.input(1)) {
    auto v = read_ints(*kt);
    if (!v.ok() || v->size() != 1) return ctx.error("k must be an integer scalar");
    k = (*v)[0];
  }
  const bool upper = ctx.node().attr_int("upper", 1) != 0;
  const int64_t rows = x->dim(x->rank() - 2), cols = x->dim(x->rank() - 1);
  const int64_t matrices = rows * cols == 0 ? 0 : x->numel() / (rows * cols);
  HONE_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), x->shape()));
  return dispatch_by_size(x->dtype(), [&](auto zero) -> Status {
    using T = decltype(zero);
    const T* src = elements<T>(*x);
    T* dst = elements<T>(*out);
    // Kept: j - i >= k (upper) or j - i <= k (lower); the rest stays zero from allocation.
#pragma omp parallel for if (x->numel() > (1 << 16))
    for (int64_t m = 0; m < matrices * rows; ++m) {
      const int64_t i = m % rows;
      const int64_t lo = upper ? std::clamp<int64_t>(i + k, 0, cols) : 0;
      const int64_t hi = upper ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
      std::copy(src + m * cols + lo, src + m * cols + hi, dst + m * cols + lo);
    }
    return Status::Ok();
  });
}

}  // namespace

HONE_REGISTER_FN("", Transpose, 1, kMaxOpset, transpose);
HONE_REGISTER_FN("", DepthToSpace, 1, kMaxOpset, depth_to_space);
HONE_REGISTER_FN("", SpaceToDepth, 1, kMaxOpset, space_to_depth);
HONE_REGISTER_FN("", Trilu, 14, kMaxOpset, trilu);

}  // namespace hone::rt
