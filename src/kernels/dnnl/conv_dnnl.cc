#include "kernels/dnnl/conv_dnnl.h"

#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "kernels/dnnl/dnnl_engine.h"

namespace hone::kernels::onednn {

namespace {

using ::dnnl::memory;

memory::dims spatial_minus_one(const std::vector<int64_t>& v) {
  memory::dims out(v.begin(), v.end());
  for (auto& x : out) x -= 1;
  return out;
}

memory::dims concat(memory::dims a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Weights as ONNX stores them, in oneDNN's logical order: [G,] O/G, I/G, k... (oneDNN's O and I
// are output and input channels for both conv and deconv).
memory::desc user_weights_md(const ConvDesc& d) {
  const int64_t g = d.groups;
  const int64_t in_g = d.in_channels / g, out_g = d.out_channels / g;
  memory::dims k_strides(d.kernel.size());
  int64_t ks = 1;
  for (size_t i = d.kernel.size(); i-- > 0;) {
    k_strides[i] = ks;
    ks *= d.kernel[i];
  }
  memory::dims dims, strides;
  if (g > 1) {
    dims = {g, out_g, in_g};
    // Conv: w[G, O/G, I/G, k]; ConvTranspose: w[G, I/G, O/G, k] read with O/G and I/G swapped.
    strides = d.transposed ? memory::dims{in_g * out_g * ks, ks, out_g * ks} : memory::dims{out_g * in_g * ks, in_g * ks, ks};
  } else {
    dims = {out_g, in_g};
    strides = d.transposed ? memory::dims{ks, out_g * ks} : memory::dims{in_g * ks, ks};
  }
  return memory::desc(concat(dims, d.kernel), memory::data_type::f32, concat(strides, k_strides));
}

std::string key_of(const ConvDesc& d) {
  KeyBuilder k(d.transposed ? "deconv" : "conv");
  k.add(d.batch).add(d.in_channels).add(d.out_channels).add(d.groups).add(d.in_spatial).add(d.kernel);
  k.add(d.out_spatial).add(d.strides).add(d.dilations).add(d.pads_begin).add(d.pads_end);
  k.add(static_cast<int64_t>(d.has_bias)).add(static_cast<int64_t>(d.channels_last));
  k.add(static_cast<int64_t>(d.residual)).add(d.post_ops);
  return k.str();
}

// oneDNN's blocked activation layout with 16 channels per block (nChw16c), the only one its f32
// Winograd convolutions take.
constexpr memory::format_tag kWinogradTag = memory::format_tag::aBcd16b;

// The activation layout: plain NC<spatial>, or channels last (nwc, nhwc, ndhwc).
memory::format_tag activation_tag(const ConvDesc& d) {
  using tag = memory::format_tag;
  if (!d.channels_last) return plain_tag(d.kernel.size() + 2);
  switch (d.kernel.size()) {
    case 1: return tag::acb;
    case 2: return tag::acdb;
    case 3: return tag::acdeb;
    default: return tag::undef;
  }
}

// The residual (binary add or sum) first, so that an activation post-op applies to conv + r.
// Winograd primitives refuse binary post-ops, so `winograd` turns a kBinaryAdd residual into a sum
// post-op on the blocked destination, which run() fills with r first.
::dnnl::primitive_attr residual_attr(const ConvDesc& d, const memory::desc& dst, bool winograd) {
  if (d.residual == ConvDesc::Residual::kNone) return make_attr(d.post_ops);
  PostOps with_sum;
  if (d.residual == ConvDesc::Residual::kSumIntoY || winograd) with_sum.push_back(PostOp::sum());
  with_sum.insert(with_sum.end(), d.post_ops.begin(), d.post_ops.end());
  ::dnnl::primitive_attr attr = make_attr(with_sum);
  if (d.residual != ConvDesc::Residual::kBinaryAdd || winograd) return attr;
  ::dnnl::post_ops ops;
  ops.append_binary(::dnnl::algorithm::binary_add, dst);
  const ::dnnl::post_ops rest = attr.get_post_ops();
  for (int i = 0; i < rest.len(); ++i) {  // make_attr built eltwise entries only
    float scale, alpha, beta;
    ::dnnl::algorithm alg;
    rest.get_params_eltwise(i, scale, alg, alpha, beta);
    ops.append_eltwise(scale, alg, alpha, beta);
  }
  attr.set_post_ops(ops);
  return attr;
}

// The primitive for d: oneDNN's direct algorithm on d's layout or, with `winograd`, its Winograd
// algorithm on the blocked layout (throws dnnl::error where oneDNN has no such implementation).
CachedPrimitive make_primitive(const ConvDesc& d, bool winograd) {
  using ::dnnl::algorithm;
  using ::dnnl::prop_kind;
  const memory::format_tag layout = winograd ? kWinogradTag : activation_tag(d);
  const memory::desc src(concat({d.batch, d.in_channels}, d.in_spatial), memory::data_type::f32, layout);
  const memory::desc dst(concat({d.batch, d.out_channels}, d.out_spatial), memory::data_type::f32, layout);
  memory::dims w_dims = d.groups > 1 ? memory::dims{d.groups, d.out_channels / d.groups, d.in_channels / d.groups}
                                     : memory::dims{d.out_channels, d.in_channels};
  const memory::desc weights(concat(w_dims, d.kernel), memory::data_type::f32, memory::format_tag::any);
  const memory::desc bias = d.has_bias ? memory::desc({d.out_channels}, memory::data_type::f32, memory::format_tag::a)
                                       : memory::desc();
  const memory::dims strides(d.strides.begin(), d.strides.end());
  const memory::dims dil = spatial_minus_one(d.dilations);
  const memory::dims pl(d.pads_begin.begin(), d.pads_begin.end()), pr(d.pads_end.begin(), d.pads_end.end());
  const ::dnnl::primitive_attr attr = residual_attr(d, dst, winograd);
  CachedPrimitive c;
  if (d.transposed) {
    ::dnnl::deconvolution_forward::desc desc(prop_kind::forward_inference, algorithm::deconvolution_direct, src,
                                             weights, bias, dst, strides, dil, pl, pr);
    ::dnnl::deconvolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    c.primitive = ::dnnl::deconvolution_forward(pd);
    c.weights_md = pd.weights_desc();
    c.impl = pd.impl_info_str();
  } else {
    ::dnnl::convolution_forward::desc desc(prop_kind::forward_inference,
                                           winograd ? algorithm::convolution_winograd : algorithm::convolution_direct,
                                           src, weights, bias, dst, strides, dil, pl, pr);
    ::dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    c.primitive = ::dnnl::convolution_forward(pd);
    c.weights_md = pd.weights_desc();
    c.impl = pd.impl_info_str();
  }
  c.src_md = src;
  c.dst_md = dst;
  c.bias_md = bias;
  return c;
}

// Where a Winograd convolution keeps its blocked copies of x (kWinogradSrc) and y
// (kWinogradDst): one buffer each per thread, grown to the largest size asked for, instead of a
// pair per node (a thread runs one convolution at a time, and the copies live only during it).
enum ScratchSlot { kWinogradSrc = 0, kWinogradDst = 1 };
float* winograd_scratch(ScratchSlot slot, size_t bytes) {
  struct Buffer {
    void* data = nullptr;
    size_t bytes = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffers[2];
  Buffer& b = buffers[slot];
  if (b.bytes < bytes) {
    std::free(b.data);
    b.bytes = (bytes + 63) / 64 * 64;
    b.data = std::aligned_alloc(64, b.bytes);
    if (!b.data) b.bytes = 0;
  }
  return static_cast<float*>(b.data);
}

}  // namespace

bool winograd_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("HONE_WINOGRAD");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

bool winograd_shape(const ConvDesc& d) {
  if (d.transposed || d.kernel.size() != 2 || d.groups != 1) return false;
  if (d.in_channels < 16 || d.out_channels < 16) return false;
  for (size_t i = 0; i < 2; ++i)
    if (d.kernel[i] != 3 || d.strides[i] != 1 || d.dilations[i] != 1) return false;
  // A kSum post-op would need y's prior contents in the blocked layout as well as the residual.
  for (const PostOp& op : d.post_ops)
    if (op.kind == PostOp::Kind::kSum) return false;
  return true;
}

struct ConvF32Dnnl::State {
  struct Prepared {
    std::shared_ptr<const CachedPrimitive> prim;  // nullptr: oneDNN has no implementation
    memory packed_weights;
    // Winograd (prim runs on the blocked layout): x's and y's layouts at the op boundary and the
    // reorders from x, from the residual (r or y) and back into y.
    bool blocked = false;
    memory::desc user_src_md, user_dst_md;
    ::dnnl::reorder src_in, residual_in, dst_out;
  };
  std::unordered_map<std::string, Prepared> by_shape;
  // Packed weights by layout: shapes whose primitives want the same layout share one copy.
  std::vector<memory> packed;
  const Prepared* current = nullptr;  // what the last prepare() found; map nodes do not move
  ConvDesc current_desc;              // and for which descriptor
  std::string impl;
};

ConvF32Dnnl::ConvF32Dnnl() : state_(std::make_unique<State>()) {}
ConvF32Dnnl::~ConvF32Dnnl() = default;

const std::string& ConvF32Dnnl::impl_name() const { return state_->impl; }

bool ConvF32Dnnl::supports(const ConvDesc& d) {
  const size_t nd = d.kernel.size();
  if (d.channels_last && d.transposed) return false;
  if (nd < 1 || nd > 3 || d.groups < 1 || d.in_channels % d.groups != 0 || d.out_channels % d.groups != 0) return false;
  if (d.batch <= 0 || d.in_channels <= 0 || d.out_channels <= 0) return false;
  for (size_t i = 0; i < nd; ++i)
    if (d.in_spatial[i] <= 0 || d.out_spatial[i] <= 0 || d.kernel[i] <= 0) return false;
  return true;
}

Status ConvF32Dnnl::prepare(const ConvDesc& d, const float* w) {
  // Compared field by field before any key is built: a node runs one shape again and again, and
  // building and hashing the key string every run was most of hone's own per-call work around a
  // convolution (callgrind on mobilenet_v2).
  if (state_->current && d == state_->current_desc)
    return state_->current->prim ? Status::Ok() : unsupported("f32_conv_dnnl: no oneDNN implementation for this shape");
  if (!supports(d)) return unsupported("f32_conv_dnnl: shape not supported");
  const bool try_winograd = d.allow_winograd && winograd_enabled() && winograd_shape(d);
  const std::string key = key_of(d);
  const std::string shape_key = try_winograd ? key + "|winograd" : key;
  auto it = state_->by_shape.find(shape_key);
  if (it == state_->by_shape.end()) {
    State::Prepared p;
    if (try_winograd) {
      // A shape oneDNN has no Winograd implementation for (or whose reorders fail) runs direct.
      p.prim = cached_primitive(shape_key, [&] { return make_primitive(d, true); });
      if (p.prim) {
        const Status made = guarded("winograd reorders", [&] {
          p.user_src_md = memory::desc(concat({d.batch, d.in_channels}, d.in_spatial), memory::data_type::f32,
                                       activation_tag(d));
          p.user_dst_md = memory::desc(concat({d.batch, d.out_channels}, d.out_spatial), memory::data_type::f32,
                                       activation_tag(d));
          p.src_in = ::dnnl::reorder(::dnnl::reorder::primitive_desc(cpu_engine(), p.user_src_md, cpu_engine(),
                                                                     p.prim->src_md));
          p.residual_in = ::dnnl::reorder(::dnnl::reorder::primitive_desc(cpu_engine(), p.user_dst_md, cpu_engine(),
                                                                          p.prim->dst_md));
          p.dst_out = ::dnnl::reorder(::dnnl::reorder::primitive_desc(cpu_engine(), p.prim->dst_md, cpu_engine(),
                                                                      p.user_dst_md));
        });
        p.blocked = made.ok();
        if (!made.ok()) p.prim = nullptr;
      }
    }
    if (!p.prim) p.prim = cached_primitive(key, [&] { return make_primitive(d, false); });
    if (p.prim) {
      for (const memory& m : state_->packed)
        if (m.get_desc() == p.prim->weights_md) p.packed_weights = m;
      if (!p.packed_weights) {
        HONE_RETURN_IF_ERROR(guarded("weight reorder", [&] {
          const memory::desc user_md = user_weights_md(d);
          memory user(user_md, cpu_engine(), const_cast<float*>(w));
          memory packed(p.prim->weights_md, cpu_engine());
          ::dnnl::reorder(user, packed).execute(cpu_stream(), user, packed);
          cpu_stream().wait();
          p.packed_weights = packed;
        }));
        state_->packed.push_back(p.packed_weights);
      }
    }
    it = state_->by_shape.emplace(shape_key, std::move(p)).first;
  }
  state_->current = &it->second;
  state_->current_desc = d;
  return state_->current->prim ? Status::Ok() : unsupported("f32_conv_dnnl: no oneDNN implementation for this shape");
}

Status ConvF32Dnnl::run(const ConvDesc& d, const float* x, const float* w, const float* b, float* y) {
  return run(d, x, w, b, y, nullptr);
}

Status ConvF32Dnnl::run(const ConvDesc& d, const float* x, const float* w, const float* b, float* y,
                        const float* r) {
  if (d.residual == ConvDesc::Residual::kBinaryAdd && r == nullptr)
    return invalid_argument("f32_conv_dnnl: the binary-add residual is missing");
  HONE_RETURN_IF_ERROR(prepare(d, w));
  const State::Prepared& p = *state_->current;
  state_->impl = p.prim->impl;
  float* src_scratch = nullptr;
  float* dst_scratch = nullptr;
  if (p.blocked) {
    src_scratch = winograd_scratch(kWinogradSrc, p.prim->src_md.get_size());
    dst_scratch = winograd_scratch(kWinogradDst, p.prim->dst_md.get_size());
    if (!src_scratch || !dst_scratch) return runtime_error("f32_conv_dnnl: out of memory for the Winograd buffers");
  }
  return guarded("convolution", [&] {
    ::dnnl::stream& stream = cpu_stream();
    memory src(p.prim->src_md, cpu_engine(), p.blocked ? src_scratch : const_cast<float*>(x));
    memory dst(p.prim->dst_md, cpu_engine(), p.blocked ? dst_scratch : y);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p.packed_weights}, {DNNL_ARG_DST, dst}};
    if (d.has_bias) args.emplace(DNNL_ARG_BIAS, memory(p.prim->bias_md, cpu_engine(), const_cast<float*>(b)));
    if (p.blocked) {
      memory user_src(p.user_src_md, cpu_engine(), const_cast<float*>(x));
      p.src_in.execute(stream, user_src, src);
      // The residual reaches the Winograd primitive as a sum post-op over the blocked y.
      if (d.residual != ConvDesc::Residual::kNone) {
        const float* residual = d.residual == ConvDesc::Residual::kBinaryAdd ? r : y;
        memory user_residual(p.user_dst_md, cpu_engine(), const_cast<float*>(residual));
        p.residual_in.execute(stream, user_residual, dst);
      }
    } else if (d.residual == ConvDesc::Residual::kBinaryAdd) {
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                   memory(p.prim->dst_md, cpu_engine(), const_cast<float*>(r)));
    }
    p.prim->primitive.execute(stream, args);
    if (p.blocked) {
      memory user_dst(p.user_dst_md, cpu_engine(), y);
      p.dst_out.execute(stream, dst, user_dst);
    }
    stream.wait();
  });
}

}  // namespace hone::kernels::onednn
