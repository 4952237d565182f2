// com.microsoft.GatherBlockQuantized (ONNX Runtime's contrib op, version 1): Gather on a
// blockwise-quantized table (token embeddings stored as 4-bit codes), dequantizing only the rows
// gathered. hone supports ORT's uint8 form, the one its tools write:
//   data         uint8 [d0, ..., packed], codes packed low bits first along the last axis
//                (bits 4: two per byte, bits 2: four, bits 8: one); the logical last dim is
//                packed * 8 / bits
//   indices      int32/int64, any shape; negative values count from the end of axis 0
//   scales       float/float16 [d0, ..., ceil(logical_last / block_size)]
//   zero_points  optional uint8, scales' shape with the last axis packed like data's codes;
//                default 2^(bits-1) (8 for 4 bits, 128 for 8 bits), as MatMulNBits
//   output       scales' type, indices.shape + data.shape[1:] (last dim logical)
//   out = (code - zero_point) * scale of the block along the last axis
// with gather_axis = 0 and quantize_axis = the last axis (ORT requires both for uint8 data).
// ORT writes zeros for an out-of-range index; hone refuses it (exit 3), as ONNX Gather does.
// int4/uint4 data have no hone dtype yet, so those forms are refused at load.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/ref/nbits_ref.h"
#include "runtime/op_registry.h"
#include "runtime/ops/half_convert.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

namespace nb = kernels::nbits;

struct GbqAttrs {
  int64_t bits = 4, block_size = 128, gather_axis = 0, quantize_axis = 1;
};

Result<GbqAttrs> read_gbq_attrs(const ir::Node& n) {
  GbqAttrs a;
  a.bits = n.attr_int("bits", 4);
  a.block_size = n.attr_int("block_size", 128);
  a.gather_axis = n.attr_int("gather_axis", 0);
  a.quantize_axis = n.attr_int("quantize_axis", 1);
  if (a.bits != 2 && a.bits != 4 && a.bits != 8)
    return unsupported("bits=" + std::to_string(a.bits) + " is not supported for uint8 data (2, 4 or 8)");
  if (a.block_size < 16 || (a.block_size & (a.block_size - 1)) != 0 || a.block_size > (int64_t{1} << 24))
    return invalid_model("block_size must be a power of two >= 16, got " + std::to_string(a.block_size));
  return a;
}

// Everything derived from data, scales and zero points; checked once per distinct tensor set.
struct Layout {
  int64_t rows = 0;          // data.shape[0]
  int64_t row_elems = 0;     // logical elements per row of axis 0
  int64_t last = 0;          // logical length of the quantized (last) axis
  int64_t last_blocks = 0;   // ceil(last / block_size)
  int64_t zp_row_bytes = 0;  // bytes per packed row of zero points
  Shape out_tail;            // data.shape[1:] with the logical last dim
};

Result<Layout> check_tables(const GbqAttrs& at, const Tensor& data, const Tensor& scales, const Tensor* zp) {
  if (data.dtype() != DType::kUInt8)
    return unsupported("data must be uint8 (int4/uint4 data are not supported), got " +
                       std::string(dtype_name(data.dtype())));
  const int64_t rank = data.rank();
  if (rank < 2) return invalid_model("data must have rank >= 2, got " + shape_to_string(data.shape()));
  HONE_ASSIGN_OR_RETURN(int64_t gaxis, normalize_axis(at.gather_axis, rank));
  HONE_ASSIGN_OR_RETURN(int64_t qaxis, normalize_axis(at.quantize_axis, rank));
  if (gaxis != 0) return unsupported("gather_axis must be 0 for uint8 data, got " + std::to_string(at.gather_axis));
  if (qaxis != rank - 1)
    return unsupported("quantize_axis must be the last axis for uint8 data, got " + std::to_string(at.quantize_axis));
  if (scales.dtype() != DType::kFloat32 && scales.dtype() != DType::kFloat16)
    return invalid_model("scales must be float or float16, got " + std::string(dtype_name(scales.dtype())));
  const int64_t per_byte = 8 / at.bits;
  Layout l;
  l.rows = data.dim(0);
  auto last = checked_mul(data.dim(rank - 1), per_byte);
  if (!last) return invalid_model("data's last dim overflows");
  l.last = *last;
  l.last_blocks = (l.last + at.block_size - 1) / at.block_size;
  Shape want_scales = data.shape();
  want_scales.back() = l.last_blocks;
  if (scales.shape() != want_scales)
    return invalid_model("scales has shape " + shape_to_string(scales.shape()) + ", expected " +
                         shape_to_string(want_scales) + " (data's, last axis in blocks of " +
                         std::to_string(at.block_size) + ")");
  if (zp) {
    if (zp->dtype() != DType::kUInt8)
      return invalid_model("zero_points must be uint8 like data, got " + std::string(dtype_name(zp->dtype())));
    Shape want_zp = want_scales;
    l.zp_row_bytes = (l.last_blocks + per_byte - 1) / per_byte;
    want_zp.back() = l.zp_row_bytes;
    if (zp->shape() != want_zp)
      return invalid_model("zero_points has shape " + shape_to_string(zp->shape()) + ", expected " +
                           shape_to_string(want_zp));
  }
  l.out_tail.assign(data.shape().begin() + 1, data.shape().end());
  l.out_tail.back() = l.last;
  HONE_ASSIGN_OR_RETURN(l.row_elems, shape_numel(l.out_tail));
  return l;
}

class GatherBlockQuantizedKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext& ctx) {
    auto k = std::make_unique<GatherBlockQuantizedKernel>();
    auto at = read_gbq_attrs(ctx.node());
    if (!at.ok()) return at.status().with_context(node_label(ctx.node()));
    k->at_ = *at;
    const ir::Node& n = ctx.node();
    if (n.inputs.size() < 3 || n.input(0).empty() || n.input(1).empty() || n.input(2).empty())
      return ctx.error("needs inputs data, indices and scales");
    if (n.inputs.size() > 4) return ctx.error("takes at most 4 inputs, got " + std::to_string(n.inputs.size()));
    const Tensor* data = ctx.constant_input(0);
    const Tensor* scales = ctx.constant_input(2);
    const bool has_zp = n.inputs.size() > 3 && !n.input(3).empty();
    const Tensor* zp = has_zp ? ctx.constant_input(3) : nullptr;
    if (data && scales && (!has_zp || zp)) {
      auto l = check_tables(k->at_, *data, *scales, zp);
      if (!l.ok()) return l.status().with_context(node_label(n));
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    const Tensor* data = ctx.input(0);
    const Tensor* indices = ctx.input(1);
    const Tensor* scales = ctx.input(2);
    const Tensor* zp = ctx.input(3);
    if (!data || !indices || !scales) return ctx.error("needs inputs data, indices and scales");
    auto l = check_tables(at_, *data, *scales, zp);
    if (!l.ok()) return ctx.error(l.status().message());
    if (indices->dtype() != DType::kInt32 && indices->dtype() != DType::kInt64)
      return ctx.error("indices must be int32 or int64, got " + std::string(dtype_name(indices->dtype())));
    HONE_ASSIGN_OR_RETURN(std::vector<int64_t> idx, read_ints(*indices));
    for (int64_t& i : idx) {
      if (i < -l->rows || i >= l->rows)
        return ctx.error("index " + std::to_string(i) + " is out of range for " + std::to_string(l->rows) + " rows");
      if (i < 0) i += l->rows;
    }
    Shape out_shape = indices->shape();
    out_shape.insert(out_shape.end(), l->out_tail.begin(), l->out_tail.end());
    HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, scales->dtype(), out_shape));
    const std::vector<float> s32 =
        scales->dtype() == DType::kFloat32
            ? std::vector<float>()
            : widen_to_float(*scales);  // float16 tables are small next to data; widen once per run
    const float* sp = scales->dtype() == DType::kFloat32 ? scales->data<float>() : s32.data();
    const int bits = static_cast<int>(at_.bits);
    const int64_t per_byte = 8 / bits;
    const int64_t packed_last = l->last / per_byte;
    const int64_t lines = l->last > 0 ? l->row_elems / l->last : 0;  // quantized lines per gathered row
    const uint8_t* dp = data->data<uint8_t>();
    const uint8_t* zpp = zp ? zp->data<uint8_t>() : nullptr;
    const int64_t count = static_cast<int64_t>(idx.size());
    const bool f16 = y->dtype() == DType::kFloat16;
#pragma omp parallel for num_threads(std::max(1, ctx.threads())) if (count * l->row_elems > (1 << 16))
    for (int64_t i = 0; i < count; ++i) {
      const int64_t row = idx[static_cast<size_t>(i)];
      for (int64_t line = 0; line < lines; ++line) {
        const int64_t q = row * lines + line;  // index of this line among all lines of data
        const uint8_t* codes = dp + q * packed_last;
        const float* ls = sp + q * l->last_blocks;
        const uint8_t* lz = zpp ? zpp + q * l->zp_row_bytes : nullptr;
        const int64_t out0 = (i * lines + line) * l->last;
        for (int64_t j = 0; j < l->last; ++j) {
          const int64_t blk = j / at_.block_size;
          const int zero = lz ? nb::code_at(lz, bits, blk) : nb::default_zero_point(bits);
          const float v = static_cast<float>(nb::code_at(codes, bits, j) - zero) * ls[blk];
          if (f16) y->data<uint16_t>()[out0 + j] = float_to_half(v);
          else y->data<float>()[out0 + j] = v;
        }
      }
    }
    return Status::Ok();
  }

 private:
  GbqAttrs at_;
};

}  // namespace

HONE_REGISTER_KERNEL("com.microsoft", GatherBlockQuantized, 1, kMaxOpset, GatherBlockQuantizedKernel);

}  // namespace hone::rt
