#include <omp.h>

#include <unordered_map>

#include "core/cpu_features.h"
#include "onnx/import.h"
#include "runtime/session_impl.h"

namespace hone {
namespace {

IoInfo io_info(const ir::ValueInfo& v) {
  IoInfo r;
  r.name = v.name;
  r.dtype = v.type.is_tensor() ? v.type.elem : DType::kUndefined;
  r.has_shape = v.type.has_shape;
  for (const auto& d : v.type.dims) {
    r.dims.push_back(d.known() ? d.value : -1);
    r.dim_names.push_back(d.known() ? std::string() : d.param);
  }
  return r;
}

}  // namespace

std::string IoInfo::to_string() const {
  std::string s(dtype_name(dtype));
  if (!has_shape) return s + "[...]";
  s += '[';
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += dims[i] >= 0 ? std::to_string(dims[i]) : (dim_names[i].empty() ? "?" : dim_names[i]);
  }
  return s + ']';
}

Result<Session> create_session(ir::Model model, const SessionOptions& options) {
  auto impl = std::make_shared<Session::Impl>();
  impl->model = std::move(model);
  impl->threads = options.threads > 0 ? options.threads : cpu_features().physical_cores;
  std::map<std::string, int64_t> opsets;
  for (const auto& o : impl->model.opsets) opsets[ir::canonical_domain(o.domain)] = o.version;
  rt::ExecutorConfig config;
  config.threads = impl->threads;
  config.use_arena = options.use_arena;
  HONE_ASSIGN_OR_RETURN(impl->executor, rt::GraphExecutor::create(impl->model.graph, opsets, config));
  for (const auto* v : impl->model.graph.real_inputs()) impl->inputs.push_back(io_info(*v));
  for (const auto& v : impl->model.graph.outputs) impl->outputs.push_back(io_info(v));
  return Session(impl);
}

Result<Session> Session::load(const std::string& path, const SessionOptions& options) {
  HONE_ASSIGN_OR_RETURN(ir::Model m, onnxio::load_model(path));
  auto s = create_session(std::move(m), options);
  if (!s.ok()) return s.status().with_context(path);
  return s;
}

const std::vector<IoInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<IoInfo>& Session::outputs() const { return impl_->outputs; }
int Session::threads() const { return impl_->threads; }
size_t Session::arena_bytes() const { return impl_->executor->arena_bytes(); }

Result<std::vector<Tensor>> Session::run(const std::vector<Tensor>& inputs) {
  const auto& decl = impl_->inputs;
  if (inputs.size() != decl.size())
    return runtime_error("the model takes " + std::to_string(decl.size()) + " inputs, got " + std::to_string(inputs.size()));
  std::unordered_map<std::string, int64_t> symbols;  // symbolic dim -> size seen in this run
  for (size_t i = 0; i < decl.size(); ++i) {
    const IoInfo& d = decl[i];
    const Tensor& t = inputs[i];
    auto mismatch = [&](const std::string& why) {
      return runtime_error("input '" + d.name + "': expected " + d.to_string() + ", got " + std::string(dtype_name(t.dtype())) +
                           "[" + (t.rank() ? shape_to_string(t.shape()) : "") + "]" + (why.empty() ? "" : " (" + why + ")"));
    };
    if (!t.defined()) return runtime_error("input '" + d.name + "' is missing");
    if (d.dtype != DType::kUndefined && t.dtype() != d.dtype) return mismatch("wrong dtype");
    if (!d.has_shape) continue;
    if (t.rank() != static_cast<int64_t>(d.dims.size())) return mismatch("wrong rank");
    for (size_t k = 0; k < d.dims.size(); ++k) {
      if (d.dims[k] >= 0 && d.dims[k] != t.dim(static_cast<int64_t>(k)))
        return mismatch("dimension " + std::to_string(k) + " must be " + std::to_string(d.dims[k]));
      if (d.dims[k] < 0 && !d.dim_names[k].empty()) {
        auto [it, inserted] = symbols.emplace(d.dim_names[k], t.dim(static_cast<int64_t>(k)));
        if (!inserted && it->second != t.dim(static_cast<int64_t>(k)))
          return mismatch("dimension '" + d.dim_names[k] + "' is " + std::to_string(it->second) + " in another input");
      }
    }
  }
  omp_set_num_threads(impl_->threads);
  return impl_->executor->run(inputs);
}

Result<std::vector<Tensor>> Session::run(const std::map<std::string, Tensor>& feeds) {
  std::vector<Tensor> ordered;
  for (const auto& d : impl_->inputs) {
    auto it = feeds.find(d.name);
    if (it == feeds.end()) return runtime_error("input '" + d.name + "' (" + d.to_string() + ") was not given");
    ordered.push_back(it->second);
  }
  for (const auto& [name, _] : feeds) {
    bool known = false;
    for (const auto& d : impl_->inputs) known |= d.name == name;
    if (!known) {
      std::string names;
      for (const auto& d : impl_->inputs) names += (names.empty() ? "" : ", ") + d.name;
      return runtime_error("the model has no input named '" + name + "' (inputs: " + names + ")");
    }
  }
  return run(ordered);
}

}  // namespace hone
