// libFuzzer target: the quantization rules file (`hone quantize --rules`), JSON read by
// quant::parse_rules. Any text must give Rules or a Status, never a crash, an escaping exception
// or unbounded memory. Accepted rules must also survive a write/read round trip: rules_to_json of
// what was read must read back, and writing that again must give the same bytes (the rules file
// promises byte-identical re-application, so what hone writes must be what it reads).
#include <cstddef>
#include <cstdint>
#include <string>

#include "quant/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto rules = hone::quant::parse_rules(text, "fuzz");
  if (!rules.ok()) return 0;
  const std::string once = hone::quant::rules_to_json(*rules);
  auto again = hone::quant::parse_rules(once, "fuzz (round trip)");
  if (!again.ok()) __builtin_trap();  // hone wrote a rules file it cannot read
  if (hone::quant::rules_to_json(*again) != once) __builtin_trap();  // the round trip changed it
  return 0;
}
