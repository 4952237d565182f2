// libFuzzer target: the ONNX loader on raw bytes. Any input must give a model or a Status,
// never a crash, a sanitizer report or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ir/stats.h"
#include "onnx/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // No model folder: external data references are refused, so the fuzzer cannot touch files.
  auto model = hone::onnxio::parse_model(bytes, "");
  if (model.ok()) (void)hone::ir::compute_stats(*model);
  return 0;
}
