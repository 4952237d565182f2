#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <new>
#include <unordered_map>

#include <omp.h>

#include "kernels/dnnl/dnnl_engine.h"

namespace hone::kernels::onednn {

bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("HONE_DNNL");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

void cap_cpu_isa() {
  static const bool capped = [] {
    // oneDNN reads its own ONEDNN_MAX_CPU_ISA; HONE_ONEDNN_AMX=1 lifts hone's cap (at one's risk).
    if (std::getenv("ONEDNN_MAX_CPU_ISA") || std::getenv("DNNL_MAX_CPU_ISA") || std::getenv("HONE_ONEDNN_AMX"))
      return false;
    try {
      ::dnnl::set_max_cpu_isa(::dnnl::cpu_isa::avx512_core_bf16);
    } catch (const ::dnnl::error&) {
      return false;  // oneDNN already dispatched (set only before its first use): nothing to do
    }
    return true;
  }();
  (void)capped;
}

::dnnl::engine& cpu_engine() {
  cap_cpu_isa();
  static ::dnnl::engine engine(::dnnl::engine::kind::cpu, 0);
  return engine;
}

::dnnl::stream& cpu_stream() {
  thread_local ::dnnl::stream stream(cpu_engine());
  return stream;
}

KeyBuilder::KeyBuilder(const char* kind) : key_(kind) { add(static_cast<int64_t>(omp_get_max_threads())); }

KeyBuilder& KeyBuilder::add(int64_t v) {
  key_ += ',';
  key_ += std::to_string(v);
  return *this;
}

KeyBuilder& KeyBuilder::add(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return add(static_cast<int64_t>(bits));
}

KeyBuilder& KeyBuilder::add(const std::vector<int64_t>& v) {
  key_ += '[';
  for (int64_t x : v) add(x);
  key_ += ']';
  return *this;
}

KeyBuilder& KeyBuilder::add(const PostOps& post_ops) {
  key_ += "{";
  for (const PostOp& op : post_ops) add(static_cast<int64_t>(op.kind)).add(op.alpha).add(op.beta);
  key_ += "}";
  return *this;
}

std::shared_ptr<const CachedPrimitive> cached_primitive(const std::string& key,
                                                        const std::function<CachedPrimitive()>& make) {
  // Sessions with dynamic shapes could otherwise grow the cache without bound; dropping it all is
  // crude but correct (kernels keep their own references to what they use).
  constexpr size_t kMaxEntries = 4096;
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const CachedPrimitive>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  // Created outside the lock: creation can take milliseconds (JIT) and other shapes need not wait.
  std::shared_ptr<const CachedPrimitive> made;
  try {
    made = std::make_shared<const CachedPrimitive>(make());
  } catch (const ::dnnl::error&) {
    made = nullptr;  // no implementation for this case: the caller takes the reference path
  } catch (const std::bad_alloc&) {
    return nullptr;  // not remembered: memory may be available next time
  }
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxEntries) cache.clear();
  return cache.emplace(key, made).first->second;
}

::dnnl::primitive_attr make_attr(const PostOps& post_ops, float scale) {
  using alg = ::dnnl::algorithm;
  ::dnnl::primitive_attr attr;
  if (scale != 1.0f) attr.set_output_scales(0, {scale});
  if (post_ops.empty()) return attr;
  ::dnnl::post_ops ops;
  for (const PostOp& op : post_ops) {
    switch (op.kind) {
      case PostOp::Kind::kRelu: ops.append_eltwise(1.0f, alg::eltwise_relu, op.alpha, 0.0f); break;
      case PostOp::Kind::kClip: ops.append_eltwise(1.0f, alg::eltwise_clip, op.alpha, op.beta); break;
      case PostOp::Kind::kSigmoid: ops.append_eltwise(1.0f, alg::eltwise_logistic, 0.0f, 0.0f); break;
      case PostOp::Kind::kTanh: ops.append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f); break;
      case PostOp::Kind::kElu: ops.append_eltwise(1.0f, alg::eltwise_elu, op.alpha, 0.0f); break;
      case PostOp::Kind::kSwish: ops.append_eltwise(1.0f, alg::eltwise_swish, op.alpha, 0.0f); break;
      case PostOp::Kind::kGeluErf: ops.append_eltwise(1.0f, alg::eltwise_gelu_erf, 0.0f, 0.0f); break;
      case PostOp::Kind::kGeluTanh: ops.append_eltwise(1.0f, alg::eltwise_gelu_tanh, 0.0f, 0.0f); break;
      case PostOp::Kind::kSum: ops.append_sum(op.alpha); break;
    }
  }
  attr.set_post_ops(ops);
  return attr;
}

::dnnl::memory::format_tag plain_tag(size_t ndims) {
  using tag = ::dnnl::memory::format_tag;
  static constexpr tag kTags[] = {tag::undef, tag::a,      tag::ab,      tag::abc,      tag::abcd,      tag::abcde,
                                  tag::abcdef, tag::abcdefg, tag::abcdefgh, tag::abcdefghi, tag::abcdefghij,
                                  tag::abcdefghijk, tag::abcdefghijkl};
  return ndims < std::size(kTags) ? kTags[ndims] : tag::undef;
}

Status guarded(const char* what, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ::dnnl::error& e) {
    return runtime_error(std::string("oneDNN ") + what + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return out_of_memory(std::string("oneDNN ") + what + ": out of memory");
  }
  return Status::Ok();
}

}  // namespace hone::kernels::onednn
