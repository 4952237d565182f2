// The op registry. Each op family file (src/runtime/ops/*.cc) registers its ops with their ONNX
// domain and opset range at static-initialization time — there is no central list to keep in
// sync. (The hone binary and the tests link libhone with --whole-archive so that no registration
// is dropped.)
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace hone::rt {

using KernelFactory = std::function<Result<std::unique_ptr<Kernel>>(const KernelCreateContext&)>;

inline constexpr int kMaxOpset = 1000;  // "every later version too"

struct OpRegistration {
  std::string domain;   // "" = ai.onnx, "com.microsoft", ...
  std::string op_type;
  int since_version = 1;               // first opset this implementation serves
  int until_version = kMaxOpset;       // last opset it serves (inclusive)
  KernelFactory factory;
};

class OpRegistry {
 public:
  static OpRegistry& global();
  bool add(OpRegistration r);
  // The registration serving (domain, op) at `opset`; nullptr when hone cannot run it.
  const OpRegistration* find(const std::string& domain, const std::string& op_type, int64_t opset) const;
  const std::vector<OpRegistration>& all() const { return ops_; }

 private:
  std::vector<OpRegistration> ops_;
};

// Registers a plain function for an opset range: HONE_REGISTER_FN("", Relu, 6, kMaxOpset, relu);
#define HONE_REGISTER_FN(domain, op, since, until, fn)                                                  \
  static const bool HONE_CONCAT_(hone_reg_, __COUNTER__) = ::hone::rt::OpRegistry::global().add(      \
      {domain, #op, since, until, [](const ::hone::rt::KernelCreateContext&)                          \
           -> ::hone::Result<std::unique_ptr<::hone::rt::Kernel>> {                                    \
         return std::unique_ptr<::hone::rt::Kernel>(std::make_unique<::hone::rt::FunctionKernel>(fn)); \
       }})

// Registers a Kernel class with `static Result<std::unique_ptr<Kernel>> create(const KernelCreateContext&)`.
#define HONE_REGISTER_KERNEL(domain, op, since, until, KernelClass)                                \
  static const bool HONE_CONCAT_(hone_reg_, __COUNTER__) =                                         \
      ::hone::rt::OpRegistry::global().add({domain, #op, since, until, &KernelClass::create})

}  // namespace hone::rt
