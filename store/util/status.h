// mailkeep's one error type.
//
// Every fallible function returns Status (no value) or Result<T> (a value or
// an Error). Error carries a code that tells the caller how to react:
//   kInvalidArgument     the input is wrong; do not retry (usage, bad id)
//   kNotFound            the thing asked for does not exist
//   kCorruption          stored data failed a check (hash, CRC, format)
//   kIoError             the OS refused a read/write/fsync; retry later
//   kUnavailable         a transient condition (locked, network); retry the call
//   kFailedPrecondition  the system is not in a state to do this; don't retry
//   kInternal            a bug or an unexpected library failure
// Messages are one line, meant for a person, and never contain a password.
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace mailkeep {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kCorruption,
  kIoError,
  kUnavailable,
  kFailedPrecondition,
  // The server throttles or a quota is used up (e.g. max_bytes_per_run):
  // nothing is wrong, the rest waits for the next run.
  kResourceExhausted,
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corruption: pack 3 offset 1024: bad CRC"
  std::string ToString() const;

  // Returns a copy whose message is "context: message".
  Error WithContext(const std::string& context) const {
    return Error(code_, context + ": " + message_);
  }

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error(code, std::move(message)));
}
inline Status OkStatus() { return {}; }

}  // namespace mailkeep

// Propagates an error from an expression returning Status or Result<T>.
#define MK_RETURN_IF_ERROR(expr)                             \
  do {                                                       \
    auto mk_status_ = (expr);                                \
    if (!mk_status_) return std::unexpected(mk_status_.error()); \
  } while (0)

#define MK_CONCAT_INNER_(a, b) a##b
#define MK_CONCAT_(a, b) MK_CONCAT_INNER_(a, b)
// MK_ASSIGN_OR_RETURN(auto x, Foo()) — x is the value or the function returns
// Foo()'s error.
#define MK_ASSIGN_OR_RETURN(lhs, expr) \
  MK_ASSIGN_OR_RETURN_IMPL_(MK_CONCAT_(mk_result_, __LINE__), lhs, expr)
#define MK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)        \
  auto tmp = (expr);                                     \
  if (!tmp) return std::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)
