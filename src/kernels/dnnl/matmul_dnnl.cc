#include "kernels/dnnl/matmul_dnnl.h"

#include <unordered_map>

#include <oneapi/dnnl/dnnl_types.h>

#include "kernels/dnnl/dnnl_engine.h"

namespace hone::kernels::onednn {

namespace {

using ::dnnl::memory;

// A row-major [batch..., rows, cols] matrix stack, stored transposed ([batch..., cols, rows]) when
// `trans`, as a oneDNN descriptor over logical [batch..., rows, cols].
memory::desc matrix_md(const std::vector<int64_t>& batch, int64_t rows, int64_t cols, bool trans) {
  memory::dims dims(batch.begin(), batch.end());
  dims.push_back(rows);
  dims.push_back(cols);
  memory::dims strides(dims.size());
  const size_t r = dims.size() - 2, c = dims.size() - 1;
  strides[trans ? r : c] = 1;
  strides[trans ? c : r] = trans ? rows : cols;
  int64_t stride = rows * cols;
  for (size_t i = r; i-- > 0;) {
    strides[i] = stride;
    stride *= dims[i];
  }
  return memory::desc(dims, memory::data_type::f32, strides);
}

std::vector<int64_t> batch_of_y(const MatMulDesc& d) {
  std::vector<int64_t> out(d.batch_a.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = d.batch_a[i] == 1 ? d.batch_b[i] : d.batch_a[i];
  return out;
}

std::string key_of(const MatMulDesc& d) {
  KeyBuilder k("matmul");
  k.add(d.batch_a).add(d.batch_b).add(d.m).add(d.n).add(d.k).add(static_cast<int64_t>(d.trans_a));
  k.add(static_cast<int64_t>(d.trans_b)).add(d.alpha).add(static_cast<int64_t>(d.has_bias));
  k.add(static_cast<int64_t>(d.b_constant)).add(d.post_ops);
  return k.str();
}

CachedPrimitive make_primitive(const MatMulDesc& d) {
  CachedPrimitive c;
  c.src_md = matrix_md(d.batch_a, d.m, d.k, d.trans_a);
  const memory::desc b_plain = matrix_md(d.batch_b, d.k, d.n, d.trans_b);
  const memory::desc weights = d.b_constant ? memory::desc(b_plain.dims(), memory::data_type::f32, memory::format_tag::any)
                                            : b_plain;
  c.dst_md = matrix_md(batch_of_y(d), d.m, d.n, false);
  if (d.has_bias) {
    memory::dims bias_dims(c.dst_md.dims().size(), 1);
    bias_dims.back() = d.n;
    c.bias_md = memory::desc(bias_dims, memory::data_type::f32, plain_tag(bias_dims.size()));
  }
  const ::dnnl::matmul::desc desc = d.has_bias ? ::dnnl::matmul::desc(c.src_md, weights, c.bias_md, c.dst_md)
                                               : ::dnnl::matmul::desc(c.src_md, weights, c.dst_md);
  const ::dnnl::matmul::primitive_desc pd(desc, make_attr(d.post_ops, d.alpha), cpu_engine());
  c.primitive = ::dnnl::matmul(pd);
  c.weights_md = pd.weights_desc();
  c.impl = pd.impl_info_str();
  return c;
}

}  // namespace

struct MatMulF32Dnnl::State {
  struct Prepared {
    std::shared_ptr<const CachedPrimitive> prim;  // nullptr: oneDNN has no implementation
    memory packed_b;                              // constant b only
  };
  std::unordered_map<std::string, Prepared> by_shape;
  std::vector<memory> packed;  // packed b by layout, shared between shapes that want the same
  const Prepared* current = nullptr;  // what the last prepare() found; map nodes do not move
  MatMulDesc current_desc;            // and for which descriptor
  std::string impl;
};

MatMulF32Dnnl::MatMulF32Dnnl() : state_(std::make_unique<State>()) {}
MatMulF32Dnnl::~MatMulF32Dnnl() = default;

const std::string& MatMulF32Dnnl::impl_name() const { return state_->impl; }

bool MatMulF32Dnnl::supports(const MatMulDesc& d) {
  if (d.batch_a.size() != d.batch_b.size() || d.batch_a.size() + 2 > DNNL_MAX_NDIMS) return false;
  if (d.m <= 0 || d.n <= 0 || d.k <= 0) return false;
  for (size_t i = 0; i < d.batch_a.size(); ++i) {
    if (d.batch_a[i] <= 0 || d.batch_b[i] <= 0) return false;
    if (d.batch_a[i] != d.batch_b[i] && d.batch_a[i] != 1 && d.batch_b[i] != 1) return false;
  }
  return true;
}

Status MatMulF32Dnnl::prepare(const MatMulDesc& d, const float* b) {
  // The descriptor alone decides whether the prepared state still fits: a constant b was packed
  // from the same values, and a non-constant one is read in place on every run.
  if (state_->current && d == state_->current_desc)
    return state_->current->prim ? Status::Ok() : unsupported("f32_matmul_dnnl: no oneDNN implementation for this shape");
  if (!supports(d)) return unsupported("f32_matmul_dnnl: shape not supported");
  const std::string key = key_of(d);
  auto it = state_->by_shape.find(key);
  if (it == state_->by_shape.end()) {
    State::Prepared p;
    p.prim = cached_primitive(key, [&] { return make_primitive(d); });
    if (p.prim && d.b_constant) {
      const memory::desc user_md = matrix_md(d.batch_b, d.k, d.n, d.trans_b);
      for (const memory& m : state_->packed)
        if (m.get_desc() == p.prim->weights_md) p.packed_b = m;
      if (!p.packed_b && p.prim->weights_md == user_md) {
        // oneDNN wants b as stored: use it in place (the caller keeps constant b alive).
        HONE_RETURN_IF_ERROR(
            guarded("matmul weights", [&] { p.packed_b = memory(user_md, cpu_engine(), const_cast<float*>(b)); }));
        state_->packed.push_back(p.packed_b);
      } else if (!p.packed_b) {
        HONE_RETURN_IF_ERROR(guarded("weight reorder", [&] {
          memory user(user_md, cpu_engine(), const_cast<float*>(b));
          memory packed(p.prim->weights_md, cpu_engine());
          ::dnnl::reorder(user, packed).execute(cpu_stream(), user, packed);
          cpu_stream().wait();
          p.packed_b = packed;
        }));
        state_->packed.push_back(p.packed_b);
      }
    }
    it = state_->by_shape.emplace(key, std::move(p)).first;
  }
  state_->current = &it->second;
  state_->current_desc = d;
  return state_->current->prim ? Status::Ok() : unsupported("f32_matmul_dnnl: no oneDNN implementation for this shape");
}

Status MatMulF32Dnnl::run(const MatMulDesc& d, const float* a, const float* b, const float* bias, float* y) {
  HONE_RETURN_IF_ERROR(prepare(d, b));
  const State::Prepared& p = *state_->current;
  state_->impl = p.prim->impl;
  return guarded("matmul", [&] {
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(p.prim->src_md, cpu_engine(), const_cast<float*>(a))},
        {DNNL_ARG_WEIGHTS, d.b_constant ? p.packed_b : memory(p.prim->weights_md, cpu_engine(), const_cast<float*>(b))},
        {DNNL_ARG_DST, memory(p.prim->dst_md, cpu_engine(), y)}};
    if (d.has_bias) args.emplace(DNNL_ARG_BIAS, memory(p.prim->bias_md, cpu_engine(), const_cast<float*>(bias)));
    p.prim->primitive.execute(cpu_stream(), args);
    cpu_stream().wait();
  });
}

}  // namespace hone::kernels::onednn
