// libFuzzer target: load AND run. Seeds are small valid models (tests/fuzz/corpus/model_run);
// the fuzzer mutates their shapes, attributes and initializers. Inputs get seeded random data of
// the declared shapes, bounded so that one execution stays small.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/checked_math.h"
#include "eval/random_inputs.h"
#include "onnx/import.h"
#include "runtime/session_impl.h"

namespace {
constexpr int64_t kMaxInputElements = 1 << 16;
constexpr size_t kMaxNodes = 64;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = hone::onnxio::parse_model(std::string_view(reinterpret_cast<const char*>(data), size), "");
  if (!model.ok() || model->graph.nodes.size() > kMaxNodes) return 0;
  // Keep big initializers out: a mutated dim can legitimately ask for a huge tensor.
  for (const auto& init : model->graph.initializers)
    if (init.tensor.numel() > kMaxInputElements) return 0;
  auto session = hone::create_session(std::move(model).value(), {.threads = 1});
  if (!session.ok()) return 0;
  // Bound the declared input shapes BEFORE making data: a mutated dim declares a 76 GB input, which
  // hone would rightly try to allocate (and libFuzzer's malloc limit reports as a crash).
  for (const auto& in : session->inputs()) {
    auto shape = hone::eval::resolve_input_shape(in, {});
    if (!shape.ok()) return 0;
    int64_t n = 1;
    for (int64_t d : *shape) {
      auto m = hone::checked_mul(n, d);
      if (!m || *m > kMaxInputElements) return 0;
      n = *m;
    }
  }
  auto inputs = hone::eval::random_inputs(session->inputs(), {}, 1);
  if (!inputs.ok()) return 0;
  (void)session->run(*inputs);
  return 0;
}
