#include "kernels/dnnl/matmul_int8_dnnl.h"

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
  return dt::f32;
}

bool requantizes(const MatMulInt8Desc& d) { return d.dst == Int8Dst::kU8 || d.dst == Int8Dst::kS8; }

std::string key_of(const MatMulInt8Desc& d) {
  KeyBuilder k("matmul_u8s8");
  k.add(d.m).add(d.n).add(d.k).add(static_cast<int64_t>(d.dst)).add(static_cast<int64_t>(d.a_zero_point));
  k.add(static_cast<int64_t>(d.per_column)).add(static_cast<int64_t>(d.has_bias)).add(static_cast<int64_t>(d.has_residual));
  k.add(static_cast<int64_t>(d.out_scales.size()));
  for (float s : d.out_scales) k.add(s);
  k.add(static_cast<int64_t>(d.y_zero_point)).add(d.post_ops);
  return k.str();
}

// Whether two descriptors ask for the same primitive (the cache key's fields, compared directly:
// building the key string each run costs more than a small GEMM when there are per-column scales).
bool same_desc(const MatMulInt8Desc& a, const MatMulInt8Desc& b) {
  return a.m == b.m && a.n == b.n && a.k == b.k && a.dst == b.dst && a.a_zero_point == b.a_zero_point &&
         a.per_column == b.per_column && a.has_bias == b.has_bias && a.has_residual == b.has_residual &&
         a.out_scales == b.out_scales &&
         a.y_zero_point == b.y_zero_point && a.post_ops == b.post_ops;
}

// The [1, n] (or [1, 1]) operand of a binary post-op.
memory::desc row_md(int64_t n) { return memory::desc({1, n}, dt::f32, tag::ab); }

CachedPrimitive make_primitive(const MatMulInt8Desc& d) {
  CachedPrimitive c;
  c.src_md = memory::desc({d.m, d.k}, dt::u8, tag::ab);
  const memory::desc weights({d.k, d.n}, dt::s8, tag::any);
  c.dst_md = memory::desc({d.m, d.n}, dst_type(d.dst), tag::ab);
  // The user's post-ops, translated once by the shared helper, then re-appended after ours.
  // (get_post_ops() returns a view into the attribute, which must outlive it.)
  const ::dnnl::primitive_attr user_attr = make_attr(d.post_ops);
  const ::dnnl::post_ops user = user_attr.get_post_ops();
  ::dnnl::primitive_attr attr;
  ::dnnl::post_ops ops;
  if (d.dst == Int8Dst::kF32) {
    // float(acc) * scale[n] + bias[n] as two binary post-ops on run-time operands: oneDNN's own
    // bias would be added before the scale, and run-time output scales are not served by its
    // brgemm kernels (2.6 falls back to gemm:jit, measured about 2x slower).
    ops.append_binary(::dnnl::algorithm::binary_mul, row_md(d.per_column ? d.n : 1));
    if (d.has_bias) ops.append_binary(::dnnl::algorithm::binary_add, row_md(d.n));
    if (d.has_residual) ops.append_binary(::dnnl::algorithm::binary_add, c.dst_md);
  }
  if (requantizes(d)) {
    attr.set_output_scales(d.per_column ? 2 : 0, d.out_scales);
    // oneDNN 2.6's matmul takes zero points only as run-time values.
    if (d.y_zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
    if (d.has_bias) c.bias_md = memory::desc({1, d.n}, dt::s32, tag::ab);
  }
  for (int i = 0; i < user.len(); ++i) {
    float scale, alpha, beta;
    ::dnnl::algorithm alg;
    user.get_params_eltwise(i, scale, alg, alpha, beta);
    ops.append_eltwise(scale, alg, alpha, beta);
  }
  if (ops.len() > 0) attr.set_post_ops(ops);
  if (d.a_zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  const ::dnnl::matmul::desc desc = requantizes(d) && d.has_bias
                                        ? ::dnnl::matmul::desc(c.src_md, weights, c.bias_md, c.dst_md)
                                        : ::dnnl::matmul::desc(c.src_md, weights, c.dst_md);
  const ::dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
  c.primitive = ::dnnl::matmul(pd);
  c.weights_md = pd.weights_desc();
  c.impl = pd.impl_info_str();
  return c;
}

}  // namespace

bool int8_exact_isa() {
  static const bool exact = [] {
    try {
      using ::dnnl::cpu_isa;
      cap_cpu_isa();  // before the ISA is frozen by this first query
      const cpu_isa isa = ::dnnl::get_effective_cpu_isa();
      return isa == cpu_isa::avx512_core_vnni || isa == cpu_isa::avx512_core_bf16 || isa == cpu_isa::avx512_core_amx;
    } catch (const ::dnnl::error&) {
      return false;
    }
  }();
  return exact;
}

struct MatMulU8S8Dnnl::State {
  struct Prepared {
    std::shared_ptr<const CachedPrimitive> prim;
    memory packed_w;
  };
  std::unordered_map<std::string, Prepared> by_shape;
  std::vector<memory> packed;  // packed w by layout, shared between shapes that want the same
  std::string impl;
  MatMulInt8Desc last_desc;    // what the previous run asked for, and what it found
  const Prepared* last = nullptr;
};

MatMulU8S8Dnnl::MatMulU8S8Dnnl() : state_(std::make_unique<State>()) {}
MatMulU8S8Dnnl::~MatMulU8S8Dnnl() = default;

const std::string& MatMulU8S8Dnnl::impl_name() const { return state_->impl; }

bool MatMulU8S8Dnnl::supports(const MatMulInt8Desc& d) {
  if (!int8_exact_isa()) return false;
  if (d.m <= 0 || d.n <= 0 || d.k <= 0) return false;
  if (d.post_ops.size() > 0)
    for (const PostOp& p : d.post_ops)
      if (p.kind == PostOp::Kind::kSum) return false;  // not offered for int8 here
  if (requantizes(d)) {
    if (d.out_scales.size() != (d.per_column ? static_cast<size_t>(d.n) : 1u)) return false;
    if (d.dst == Int8Dst::kU8 && (d.y_zero_point < 0 || d.y_zero_point > 255)) return false;
    if (d.dst == Int8Dst::kS8 && (d.y_zero_point < -128 || d.y_zero_point > 127)) return false;
  } else if (!d.out_scales.empty()) {
    return false;
  }
  if (d.has_residual && d.dst != Int8Dst::kF32) return false;
  return true;
}

Status MatMulU8S8Dnnl::run(const MatMulInt8Desc& d, const uint8_t* a, int32_t a_zero_point, const float* scale,
                           const void* bias, void* y, const float* residual) {
  // Runs the prepared primitive p.
  auto execute = [&](const State::Prepared& p) -> Status {
    return guarded("int8 matmul", [&] {
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, memory(p.prim->src_md, cpu_engine(), const_cast<uint8_t*>(a))},
          {DNNL_ARG_WEIGHTS, p.packed_w},
          {DNNL_ARG_DST, memory(p.prim->dst_md, cpu_engine(), y)}};
      int32_t zp = a_zero_point;
      if (d.a_zero_point)
        args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, memory({{1}, dt::s32, tag::a}, cpu_engine(), &zp));
      if (d.dst == Int8Dst::kF32) {
        args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                     memory(row_md(d.per_column ? d.n : 1), cpu_engine(), const_cast<float*>(scale)));
        if (d.has_bias)
          args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1,
                       memory(row_md(d.n), cpu_engine(), const_cast<void*>(bias)));
        if (d.has_residual)
          args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(d.has_bias ? 2 : 1) | DNNL_ARG_SRC_1,
                       memory(p.prim->dst_md, cpu_engine(), const_cast<float*>(residual)));
      }
      int32_t y_zp = d.y_zero_point;
      if (requantizes(d) && d.y_zero_point != 0)
        args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, memory({{1}, dt::s32, tag::a}, cpu_engine(), &y_zp));
      if (requantizes(d) && d.has_bias)
        args.emplace(DNNL_ARG_BIAS, memory(p.prim->bias_md, cpu_engine(), const_cast<void*>(bias)));
      p.prim->primitive.execute(cpu_stream(), args);
      cpu_stream().wait();
    });
  };
  if (state_->last && same_desc(d, state_->last_desc)) return execute(*state_->last);
  if (!supports(d) || !w_ || (d.has_residual && !residual)) return unsupported("u8s8_matmul_dnnl: shape not supported");
  const std::string key = key_of(d);
  auto it = state_->by_shape.find(key);
  if (it == state_->by_shape.end()) {
    State::Prepared p;
    p.prim = cached_primitive(key, [&] { return make_primitive(d); });
    if (p.prim) {
      const memory::desc user_md({d.k, d.n}, dt::s8, tag::ab);
      for (const memory& m : state_->packed)
        if (m.get_desc() == p.prim->weights_md) p.packed_w = m;
      if (!p.packed_w) {
        HONE_RETURN_IF_ERROR(guarded("int8 weight reorder", [&] {
          if (p.prim->weights_md == user_md) {
            p.packed_w = memory(user_md, cpu_engine(), const_cast<int8_t*>(w_));
          } else {
            memory user(user_md, cpu_engine(), const_cast<int8_t*>(w_));
            memory packed(p.prim->weights_md, cpu_engine());
            ::dnnl::reorder(user, packed).execute(cpu_stream(), user, packed);
            cpu_stream().wait();
            p.packed_w = packed;
          }
        }));
        state_->packed.push_back(p.packed_w);
      }
    }
    it = state_->by_shape.emplace(key, std::move(p)).first;
  }
  const State::Prepared& p = it->second;
  if (!p.prim) return unsupported("u8s8_matmul_dnnl: no oneDNN implementation for this shape");
  state_->impl = p.prim->impl;
  state_->last_desc = d;
  state_->last = &p;  // map nodes do not move
  return execute(p);
}

}  // namespace hone::kernels::onednn
