// Internals of the oneDNN bridge (and of benchmarks that call oneDNN directly): the CPU engine
// and stream, the process-wide primitive cache, post-op translation and exception fencing.
// oneDNN's C++ API throws dnnl::error; nothing here lets one escape into hone (see guarded()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "hone/status.hpp"
#include "kernels/dnnl/dnnl_common.h"

namespace hone::kernels::onednn {

// Caps oneDNN at AVX-512 with VNNI/BF16, once, before its first use (cpu_engine() calls it):
// oneDNN 2.6's AMX int8 convolution (jit_1x1:avx512_core_amx_int8) corrupted the heap in hone's
// int8 conv tests on an AMX-capable Intel Xeon (16 cores), where the same tests pass
// with the cap. No AMX kernel runs in CI, so none is trusted. ONEDNN_MAX_CPU_ISA set by the
// user wins; HONE_ONEDNN_AMX=1 lifts the cap.
void cap_cpu_isa();
::dnnl::engine& cpu_engine();
// One stream per calling thread: CPU streams are cheap and this keeps sessions that run on
// different threads from sharing one.
::dnnl::stream& cpu_stream();

// A created primitive with the memory descriptors its callers need. Primitives hold no weights
// (those are per kernel), so kernels with the same shapes and attributes share one.
struct CachedPrimitive {
  ::dnnl::primitive primitive;
  ::dnnl::memory::desc src_md, weights_md, bias_md, dst_md;
  std::string impl;  // oneDNN's implementation name, e.g. "brgconv:avx512_core"
};

// Builds cache keys from the values that decide a primitive: kind, dims, flags, attributes and
// the OpenMP team size (some implementations plan their work split at creation).
class KeyBuilder {
 public:
  explicit KeyBuilder(const char* kind);
  KeyBuilder& add(int64_t v);
  KeyBuilder& add(float v);
  KeyBuilder& add(const std::vector<int64_t>& v);
  KeyBuilder& add(const PostOps& post_ops);
  const std::string& str() const { return key_; }

 private:
  std::string key_;
};

// The primitive cached under `key`, created with `make` on the first request. A primitive that
// oneDNN cannot create (no implementation for these shapes) is remembered as nullptr so callers
// fall back without asking oneDNN again (out of memory gives nullptr too, not remembered).
// Thread-safe. `make` may throw dnnl::error or std::bad_alloc.
std::shared_ptr<const CachedPrimitive> cached_primitive(const std::string& key,
                                                        const std::function<CachedPrimitive()>& make);

// The attribute carrying `post_ops` (and an output scale when scale != 1).
::dnnl::primitive_attr make_attr(const PostOps& post_ops, float scale = 1.0f);

// The plain row-major layout tag for a tensor of `ndims` dims (a, ab, abc ...).
::dnnl::memory::format_tag plain_tag(size_t ndims);

// Runs fn, converting a dnnl::error (or std::bad_alloc) into a runtime Status.
Status guarded(const char* what, const std::function<void()>& fn);

}  // namespace hone::kernels::onednn
