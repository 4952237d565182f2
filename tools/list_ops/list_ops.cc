// hone_list_ops: prints every op registration of the runtime, one per line, sorted:
//   DOMAIN OP SINCE UNTIL
// DOMAIN is "ai.onnx" for the default domain; UNTIL is "max" for "every later opset too".
// tools/gen_ops_doc.py reads this to write docs/ops.md.
#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/op_registry.h"

int main() {
  using hone::rt::OpRegistration;
  std::vector<const OpRegistration*> regs;
  for (const auto& r : hone::rt::OpRegistry::global().all()) regs.push_back(&r);
  std::sort(regs.begin(), regs.end(), [](const OpRegistration* a, const OpRegistration* b) {
    return std::tie(a->domain, a->op_type, a->since_version) < std::tie(b->domain, b->op_type, b->since_version);
  });
  for (const OpRegistration* r : regs) {
    std::string until = r->until_version >= hone::rt::kMaxOpset ? "max" : std::to_string(r->until_version);
    std::printf("%s %s %d %s\n", r->domain.empty() ? "ai.onnx" : r->domain.c_str(), r->op_type.c_str(),
                r->since_version, until.c_str());
  }
  return 0;
}
