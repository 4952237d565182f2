// libFuzzer target: the .npy parser (the .npz reader hands each archive entry to it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eval/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto t = hone::eval::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  if (t.ok()) (void)hone::eval::to_npy(*t);
  return 0;
}
