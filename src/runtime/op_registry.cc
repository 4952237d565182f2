#include "runtime/op_registry.h"

namespace hone::rt {

OpRegistry& OpRegistry::global() {
  static OpRegistry r;
  return r;
}

bool OpRegistry::add(OpRegistration r) {
  ops_.push_back(std::move(r));
  return true;
}

const OpRegistration* OpRegistry::find(const std::string& domain, const std::string& op_type, int64_t opset) const {
  const std::string d = ir::canonical_domain(domain);
  for (const auto& r : ops_)
    if (r.op_type == op_type && r.domain == d && opset >= r.since_version && opset <= r.until_version) return &r;
  return nullptr;
}

}  // namespace hone::rt
