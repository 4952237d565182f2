// Status and Result<T>: how every fallible call in hone reports failure.
//
// hone never aborts on bad input. A function that can fail returns Status (or Result<T> when it
// also produces a value); the message is one line that names the file, node or input and says what
// was expected. The code tells the CLI which exit status to use (docs/cli.md has the table).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace hone {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // bad command-line or API argument (exit 2)
  kInvalidModel,     // the model file is malformed, hostile or inconsistent (exit 2)
  kIoError,          // a file could not be read or written (exit 2)
  kUnsupported,      // valid, but hone cannot execute it (exit 2)
  kRuntimeError,     // failed while running: wrong input shape/dtype, bad index (exit 3)
  kOutOfMemory,      // an allocation failed or would pass a limit (exit 3)
  kCheckFailed,      // a check ran and failed: output mismatch, error above a bound (exit 1)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context ("node 'conv1': ") so errors read from the outside in.
  Status with_context(const std::string& context) const {
    if (ok()) return *this;
    return {code_, context + ": " + message_};
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status invalid_model(std::string m) { return {ErrorCode::kInvalidModel, std::move(m)}; }
inline Status invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status io_error(std::string m) { return {ErrorCode::kIoError, std::move(m)}; }
inline Status unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
inline Status runtime_error(std::string m) { return {ErrorCode::kRuntimeError, std::move(m)}; }
inline Status out_of_memory(std::string m) { return {ErrorCode::kOutOfMemory, std::move(m)}; }
inline Status check_failed(std::string m) { return {ErrorCode::kCheckFailed, std::move(m)}; }

// A value or the Status that explains why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}     // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hone

#define HONE_CONCAT_INNER_(a, b) a##b
#define HONE_CONCAT_(a, b) HONE_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` failed.
#define HONE_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::hone::Status hone_status_ = (expr);     \
    if (!hone_status_.ok()) return hone_status_; \
  } while (0)

// `HONE_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result or returns its Status.
#define HONE_ASSIGN_OR_RETURN(lhs, expr) \
  HONE_ASSIGN_OR_RETURN_IMPL_(HONE_CONCAT_(hone_result_, __LINE__), lhs, expr)
#define HONE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
