#include "kernels/dnnl/permute_dnnl.h"

#include "kernels/dnnl/dnnl_engine.h"

namespace hone::kernels::onednn {

namespace {

using ::dnnl::memory;

// oneDNN memory descriptors hold at most DNNL_MAX_NDIMS (12) dims; transposes beyond 6 are rare
// enough that the generic loop serves them.
constexpr size_t kMaxRank = 6;

memory::data_type type_of_size(size_t bytes) {
  switch (bytes) {
    case 1: return memory::data_type::u8;
    case 4: return memory::data_type::f32;
    default: return memory::data_type::undef;
  }
}

}  // namespace

Status permute_dnnl(const void* src, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& perm,
                        size_t elem_bytes, void* dst) {
  const memory::data_type dt = type_of_size(elem_bytes);
  if (!enabled() || dt == memory::data_type::undef || perm.size() != in_shape.size() || perm.empty() ||
      perm.size() > kMaxRank)
    return unsupported("permute_dnnl: not covered");
  // The source seen in output order: dims permuted, each with the stride it has in the input.
  std::vector<int64_t> in_strides(in_shape.size(), 1);
  for (size_t i = in_shape.size() - 1; i > 0; --i) in_strides[i - 1] = in_strides[i] * in_shape[i];
  memory::dims dims(perm.size()), strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    const auto p = static_cast<size_t>(perm[i]);
    dims[i] = in_shape[p];
    strides[i] = in_strides[p];
    if (dims[i] <= 0) return unsupported("permute_dnnl: empty tensor");
  }
  KeyBuilder key("permute");
  key.add(static_cast<int64_t>(elem_bytes)).add(std::vector<int64_t>(dims.begin(), dims.end()));
  key.add(std::vector<int64_t>(strides.begin(), strides.end()));
  auto prim = cached_primitive(key.str(), [&] {
    CachedPrimitive c;
    c.src_md = memory::desc(dims, dt, strides);
    c.dst_md = memory::desc(dims, dt, plain_tag(dims.size()));
    ::dnnl::reorder::primitive_desc pd(cpu_engine(), c.src_md, cpu_engine(), c.dst_md);
    c.primitive = ::dnnl::reorder(pd);
    c.impl = pd.impl_info_str();
    return c;
  });
  if (!prim) return unsupported("permute_dnnl: no oneDNN reorder for this permutation");
  return guarded("reorder", [&] {
    memory s(prim->src_md, cpu_engine(), const_cast<void*>(src));
    memory d(prim->dst_md, cpu_engine(), dst);
    prim->primitive.execute(cpu_stream(), {{DNNL_ARG_FROM, s}, {DNNL_ARG_TO, d}});
    cpu_stream().wait();
  });
}

}  // namespace hone::kernels::onednn
