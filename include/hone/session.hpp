// hone::Session — runs a model on the CPU.
//
//   auto s = hone::Session::load("model.onnx");           // create: bind kernels, pack weights
//   if (!s.ok()) { puts(s.status().message().c_str()); }
//   auto out = s->run({input_tensor});                     // run: any number of times
//
// The first run with given input shapes plans the memory of the intermediate values; later runs
// with the same shapes reuse that plan (new shapes plan again; a few plans are kept).
//
// Inputs are checked against the model's declared types before anything runs: a wrong name,
// dtype or shape is a clear error, never a crash. Symbolic dims take whatever size the first
// input that uses them gives, and must agree across inputs.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "hone/tensor.hpp"

namespace hone {

struct SessionOptions {
  int threads = 0;  // 0: one per physical core
  // Intermediates in one planned arena from the second run of an input-shape signature on
  // (docs/architecture.md); false keeps every intermediate on the heap.
  bool use_arena = true;
};

struct IoInfo {
  std::string name;
  DType dtype = DType::kUndefined;  // kUndefined when the model does not declare it
  bool has_shape = false;
  std::vector<int64_t> dims;           // -1 where symbolic or unknown
  std::vector<std::string> dim_names;  // symbolic names ("" where known or anonymous)
  std::string to_string() const;       // "float[batch,3,224,224]"
};

class Session {
 public:
  static Result<Session> load(const std::string& model_path, const SessionOptions& options = {});

  const std::vector<IoInfo>& inputs() const;
  const std::vector<IoInfo>& outputs() const;
  int threads() const;
  // Bytes of the intermediate-value arena planned for the most recent input shapes (subgraphs'
  // arenas included); 0 before the first run, or without use_arena.
  size_t arena_bytes() const;

  // Inputs in declaration order (inputs()); returns outputs in declaration order.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs);
  // Inputs by name; every input must be given, unknown names are an error.
  Result<std::vector<Tensor>> run(const std::map<std::string, Tensor>& feeds);

  struct Impl;
  explicit Session(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hone
