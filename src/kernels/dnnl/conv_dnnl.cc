#include "kernels/dnnl/conv_dnnl.h"

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
::dnnl::primitive_attr residual_attr(const ConvDesc& d, const memory::desc& dst) {
  if (d.residual == ConvDesc::Residual::kNone) return make_attr(d.post_ops);
  PostOps with_sum;
  if (d.residual == ConvDesc::Residual::kSumIntoY) with_sum.push_back(PostOp::sum());
  with_sum.insert(with_sum.end(), d.post_ops.begin(), d.post_ops.end());
  ::dnnl::primitive_attr attr = make_attr(with_sum);
  if (d.residual != ConvDesc::Residual::kBinaryAdd) return attr;
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

CachedPrimitive make_primitive(const ConvDesc& d) {
  using ::dnnl::algorithm;
  using ::dnnl::prop_kind;
  const memory::desc src(concat({d.batch, d.in_channels}, d.in_spatial), memory::data_type::f32, activation_tag(d));
  const memory::desc dst(concat({d.batch, d.out_channels}, d.out_spatial), memory::data_type::f32, activation_tag(d));
  memory::dims w_dims = d.groups > 1 ? memory::dims{d.groups, d.out_channels / d.groups, d.in_channels / d.groups}
                                     : memory::dims{d.out_channels, d.in_channels};
  const memory::desc weights(concat(w_dims, d.kernel), memory::data_type::f32, memory::format_tag::any);
  const memory::desc bias = d.has_bias ? memory::desc({d.out_channels}, memory::data_type::f32, memory::format_tag::a)
                                       : memory::desc();
  const memory::dims strides(d.strides.begin(), d.strides.end());
  const memory::dims dil = spatial_minus_one(d.dilations);
  const memory::dims pl(d.pads_begin.begin(), d.pads_begin.end()), pr(d.pads_end.begin(), d.pads_end.end());
  const ::dnnl::primitive_attr attr = residual_attr(d, dst);
  CachedPrimitive c;
  if (d.transposed) {
    ::dnnl::deconvolution_forward::desc desc(prop_kind::forward_inference, algorithm::deconvolution_direct, src,
                                             weights, bias, dst, strides, dil, pl, pr);
    ::dnnl::deconvolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    c.primitive = ::dnnl::deconvolution_forward(pd);
    c.weights_md = pd.weights_desc();
    c.impl = pd.impl_info_str();
  } else {
    ::dnnl::convolution_forward::desc desc(prop_kind::forward_inference, algorithm::convolution_direct, src, weights,
                                           bias, dst, strides, dil, pl, pr);
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

}  // namespace

struct ConvF32Dnnl::State {
  struct Prepared {
    std::shared_ptr<const CachedPrimitive> prim;  // nullptr: oneDNN has no implementation
    memory packed_weights;
  };
  std::unordered_map<std::string, Prepared> by_shape;
  // Packed weights by layout: shapes whose primitives want the same layout share one copy.
  std::vector<memory> packed;
  const Prepared* current = nullptr;  // what the last prepare() found; map nodes do not move
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
  if (!supports(d)) return unsupported("f32_conv_dnnl: shape not supported");
  const std::string key = key_of(d);
  auto it = state_->by_shape.find(key);
  if (it == state_->by_shape.end()) {
    State::Prepared p;
    p.prim = cached_primitive(key, [&] { return make_primitive(d); });
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
    it = state_->by_shape.emplace(key, std::move(p)).first;
  }
  state_->current = &it->second;
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
  return guarded("convolution", [&] {
    memory src(p.prim->src_md, cpu_engine(), const_cast<float*>(x));
    memory dst(p.prim->dst_md, cpu_engine(), y);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p.packed_weights}, {DNNL_ARG_DST, dst}};
    if (d.has_bias) args.emplace(DNNL_ARG_BIAS, memory(p.prim->bias_md, cpu_engine(), const_cast<float*>(b)));
    if (d.residual == ConvDesc::Residual::kBinaryAdd)
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                   memory(p.prim->dst_md, cpu_engine(), const_cast<float*>(r)));
    p.prim->primitive.execute(cpu_stream(), args);
    cpu_stream().wait();
  });
}

}  // namespace hone::kernels::onednn
