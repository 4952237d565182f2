#include "kernels/dnnl/conv_int8_dnnl.h"

#include <unordered_map>

#include <oneapi/dnnl/dnnl_types.h>

#include "kernels/dnnl/dnnl_engine.h"

namespace hone::kernels::onednn {

namespace {

using ::dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

dt dst_type(Int8Dst d) {
  switch (d) {
    case Int8Dst::kF32: return dt::f32;
    case Int8Dst::kS32: return dt::s32;
    case Int8Dst::kU8: return dt::u8;
    case Int8Dst::kS8: return dt::s8;
  }
  return dt::s32;
}

bool requantizes(const ConvInt8Desc& d) { return d.dst == Int8Dst::kU8 || d.dst == Int8Dst::kS8; }

std::string key_of(const ConvInt8Desc& d) {
  const ConvDesc& g = d.geometry;
  KeyBuilder k("conv_u8s8");
  k.add(g.batch).add(g.in_channels).add(g.out_channels).add(g.groups).add(g.in_spatial).add(g.kernel);
  k.add(g.out_spatial).add(g.strides).add(g.dilations).add(g.pads_begin).add(g.pads_end);
  k.add(static_cast<int64_t>(g.has_bias)).add(g.post_ops).add(static_cast<int64_t>(d.dst));
  k.add(static_cast<int64_t>(d.x_zero_point)).add(static_cast<int64_t>(d.out_scales.size()));
  for (float s : d.out_scales) k.add(s);
  k.add(static_cast<int64_t>(d.y_zero_point)).add(static_cast<int64_t>(d.nhwc));
  return k.str();
}

// The cache key's fields compared directly (building the key each run costs tens of
// microseconds with per-channel scales).
bool same_desc(const ConvInt8Desc& a, const ConvInt8Desc& b) {
  return a.geometry == b.geometry && a.dst == b.dst && a.x_zero_point == b.x_zero_point &&
         a.out_scales == b.out_scales && a.y_zero_point == b.y_zero_point && a.nhwc == b.nhwc;
}

memory::dims weights_dims(const ConvDesc& g) {
  if (g.groups == 1) return {g.out_channels, g.in_channels, g.kernel[0], g.kernel[1]};
  return {g.groups, g.out_channels / g.groups, g.in_channels / g.groups, g.kernel[0], g.kernel[1]};
}


}  // namespace

struct ConvU8S8Dnnl::State {
  struct Prepared {
    std::shared_ptr<const CachedPrimitive> prim;
    memory packed_w;
    ::dnnl::reorder x_reorder, y_reorder;
    memory::desc x_nchw, y_nchw;
    memory x_nhwc, y_nhwc;  // scratch buffers of this kernel
    // The run's memory objects and argument map, made on the first run and kept: each run only
    // points them at its buffers (set_data_handle). Made anew every run they were a few
    // microseconds of serial work per conv while the other threads waited.
    memory x_mem, y_mem, bias_mem;  // x and y: the user's buffers (NHWC, or NCHW around the reorders)
    int32_t x_zp = 0, y_zp = 0;     // what the zero-point memories read; a node's address never moves
    std::unordered_map<int, memory> args;
    bool args_made = false, with_x_zp = false, with_y_zp = false, with_bias = false;
  };
  std::unordered_map<std::string, Prepared> by_shape;
  std::vector<memory> packed;
  Prepared* current = nullptr;  // what the last successful prepare() found; map nodes do not move
  ConvInt8Desc current_desc;    // and for which descriptor
  std::string impl;
};

ConvU8S8Dnnl::ConvU8S8Dnnl() : state_(std::make_unique<State>()) {}
ConvU8S8Dnnl::~ConvU8S8Dnnl() = default;

const std::string& ConvU8S8Dnnl::impl_name() const { return state_->impl; }

bool ConvU8S8Dnnl::supports(const ConvInt8Desc& d) {
  if (!int8_exact_isa()) return false;  // see matmul_int8_dnnl.h
  const ConvDesc& g = d.geometry;
  if (g.transposed || g.in_spatial.size() != 2 || g.kernel.size() != 2 || g.out_spatial.size() != 2) return false;
  if (g.strides.size() != 2 || g.dilations.size() != 2 || g.pads_begin.size() != 2 || g.pads_end.size() != 2) return false;
  if (g.batch <= 0 || g.in_channels <= 0 || g.out_channels <= 0 || g.groups <= 0) return false;
  if (g.in_channels % g.groups != 0 || g.out_channels % g.groups != 0) return false;
  for (int64_t v : g.out_spatial)
    if (v <= 0) return false;
  for (const PostOp& p : g.post_ops)
    if (p.kind == PostOp::Kind::kSum) return false;
  if (requantizes(d)) {
    if (d.out_scales.size() != 1 && d.out_scales.size() != static_cast<size_t>(g.out_channels)) return false;
    if (d.dst == Int8Dst::kU8 && (d.y_zero_point < 0 || d.y_zero_point > 255)) return false;
    if (d.dst == Int8Dst::kS8 && (d.y_zero_point < -128 || d.y_zero_point > 127)) return false;
  } else if (d.dst != Int8Dst::kS32 || !d.out_scales.empty() || g.has_bias) {
    return false;
  }
  return true;
}

Status ConvU8S8Dnnl::prepare(const ConvInt8Desc& d) {
  if (state_->current && same_desc(d, state_->current_desc)) return Status::Ok();
  if (!supports(d) || !w_) return unsupported("u8s8_conv_dnnl: shape not supported");
  const ConvDesc& g = d.geometry;
  const std::string key = key_of(d);
  auto it = state_->by_shape.find(key);
  if (it == state_->by_shape.end()) {
    State::Prepared p;
    const memory::dims x_dims{g.batch, g.in_channels, g.in_spatial[0], g.in_spatial[1]};
    const memory::dims y_dims{g.batch, g.out_channels, g.out_spatial[0], g.out_spatial[1]};
    p.prim = cached_primitive(key, [&] {
      CachedPrimitive c;
      c.src_md = memory::desc(x_dims, dt::u8, tag::nhwc);
      c.dst_md = memory::desc(y_dims, dst_type(d.dst), tag::nhwc);
      const memory::desc w_any(weights_dims(g), dt::s8, tag::any);
      const ::dnnl::primitive_attr user_attr = make_attr(g.post_ops);  // outlives the view below
      ::dnnl::primitive_attr attr = user_attr;
      if (requantizes(d)) {
        attr.set_output_scales(d.out_scales.size() > 1 ? 2 : 0, d.out_scales);
        if (d.y_zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
        if (g.has_bias) c.bias_md = memory::desc({g.out_channels}, dt::s32, tag::a);
      }
      if (d.x_zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
      const memory::dims strides(g.strides.begin(), g.strides.end());
      const memory::dims dil{g.dilations[0] - 1, g.dilations[1] - 1};
      const memory::dims pl(g.pads_begin.begin(), g.pads_begin.end()), pr(g.pads_end.begin(), g.pads_end.end());
      const auto desc = g.has_bias ? ::dnnl::convolution_forward::desc(::dnnl::prop_kind::forward_inference,
                                                                       ::dnnl::algorithm::convolution_direct, c.src_md,
                                                                       w_any, c.bias_md, c.dst_md, strides, dil, pl, pr)
                                   : ::dnnl::convolution_forward::desc(::dnnl::prop_kind::forward_inference,
                                                                       ::dnnl::algorithm::convolution_direct, c.src_md,
                                                                       w_any, c.dst_md, strides, dil, pl, pr);
      const ::dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
      c.primitive = ::dnnl::convolution_forward(pd);
      c.weights_md = pd.weights_desc();
      c.impl = pd.impl_info_str();
      return c;
    });
    if (p.prim) {
      HONE_RETURN_IF_ERROR(guarded("int8 conv setup", [&] {
        const memory::desc w_user(weights_dims(g), dt::s8, g.groups == 1 ? tag::oihw : tag::goihw);
        for (const memory& m : state_->packed)
          if (m.get_desc() == p.prim->weights_md) p.packed_w = m;
        if (!p.packed_w) {
          memory user(w_user, cpu_engine(), const_cast<int8_t*>(w_));
          memory packed(p.prim->weights_md, cpu_engine());
          ::dnnl::reorder(user, packed).execute(cpu_stream(), user, packed);
          cpu_stream().wait();
          p.packed_w = packed;
          state_->packed.push_back(packed);
        }
        if (d.nhwc) return;  // the caller's buffers are the primitive's: no scratch, no reorders
        p.x_nchw = memory::desc(x_dims, dt::u8, tag::nchw);
        p.y_nchw = memory::desc(y_dims, dst_type(d.dst), tag::nchw);
        p.x_nhwc = memory(p.prim->src_md, cpu_engine());
        p.y_nhwc = memory(p.prim->dst_md, cpu_engine());
        p.x_reorder = ::dnnl::reorder(::dnnl::reorder::primitive_desc(cpu_engine(), p.x_nchw, cpu_engine(), p.prim->src_md));
        p.y_reorder = ::dnnl::reorder(::dnnl::reorder::primitive_desc(cpu_engine(), p.prim->dst_md, cpu_engine(), p.y_nchw));
      }));
    }
    it = state_->by_shape.emplace(key, std::move(p)).first;
  }
  if (!it->second.prim) {
    state_->current = nullptr;
    return unsupported("u8s8_conv_dnnl: no oneDNN implementation for this shape");
  }
  state_->current = &it->second;
  state_->current_desc = d;
  state_->impl = it->second.prim->impl;
  return Status::Ok();
}

Status ConvU8S8Dnnl::run(const ConvInt8Desc& d, const uint8_t* x, int32_t x_zero_point, const int32_t* bias, void* y) {
  HONE_RETURN_IF_ERROR(prepare(d));
  return run_prepared(x, x_zero_point, bias, y);
}

Status ConvU8S8Dnnl::run_prepared(const uint8_t* x, int32_t x_zero_point, const int32_t* bias, void* y) {
  if (!state_->current) return runtime_error("u8s8_conv_dnnl: run_prepared() before prepare()");
  const ConvInt8Desc& d = state_->current_desc;
  const ConvDesc& g = d.geometry;
  State::Prepared& p = *state_->current;
  return guarded("int8 conv", [&] {
    ::dnnl::stream& s = cpu_stream();
    const bool with_x_zp = d.x_zero_point, with_y_zp = requantizes(d) && d.y_zero_point != 0;
    if (!p.args_made || p.with_x_zp != with_x_zp || p.with_y_zp != with_y_zp || p.with_bias != g.has_bias) {
      p.x_mem = memory(d.nhwc ? p.prim->src_md : p.x_nchw, cpu_engine(), const_cast<uint8_t*>(x));
      p.y_mem = memory(d.nhwc ? p.prim->dst_md : p.y_nchw, cpu_engine(), y);
      p.args = {{DNNL_ARG_SRC, d.nhwc ? p.x_mem : p.x_nhwc},
                {DNNL_ARG_WEIGHTS, p.packed_w},
                {DNNL_ARG_DST, d.nhwc ? p.y_mem : p.y_nhwc}};
      if (with_x_zp)
        p.args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, memory({{1}, dt::s32, tag::a}, cpu_engine(), &p.x_zp));
      if (with_y_zp)
        p.args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, memory({{1}, dt::s32, tag::a}, cpu_engine(), &p.y_zp));
      if (g.has_bias) {
        p.bias_mem = memory(p.prim->bias_md, cpu_engine(), const_cast<int32_t*>(bias));
        p.args.emplace(DNNL_ARG_BIAS, p.bias_mem);
      }
      p.with_x_zp = with_x_zp;
      p.with_y_zp = with_y_zp;
      p.with_bias = g.has_bias;
      p.args_made = true;
    }
    p.x_zp = x_zero_point;
    p.y_zp = d.y_zero_point;
    p.x_mem.set_data_handle(const_cast<uint8_t*>(x));
    p.y_mem.set_data_handle(y);
    if (g.has_bias) p.bias_mem.set_data_handle(const_cast<int32_t*>(bias));
    if (!d.nhwc) p.x_reorder.execute(s, p.x_mem, p.x_nhwc);
    p.prim->primitive.execute(s, p.args);
    if (!d.nhwc) p.y_reorder.execute(s, p.y_nhwc, p.y_mem);
    s.wait();
  });
}

}  // namespace hone::kernels::onednn
