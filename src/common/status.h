// Status and Result: how every fallible call in Tessera reports failure.
//
// A Status is either OK or carries a code and a message. The message names the offending value
// and, where there is one, the fix ("price -3 is negative: send a price >= 0"). The codes are
// transport-neutral; the HTTP layer maps them to status codes in one place.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace tessera {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller sent something malformed or out of range
  kNotFound,          // the named object does not exist
  kUnsupported,       // well-formed input of a kind Tessera does not handle (e.g. a HEIC photo)
  kTooLarge,          // input beyond a configured limit
  kIoError,           // the file system or store failed
  kCorruption,        // stored data fails its checks (magic, version, checksum)
  kDeadlineExceeded,  // a time budget ran out
  kUnavailable,       // a component is not ready (e.g. no speech model built yet)
  // The shared profile store (Redis) cannot be reached or timed out; retrying later may succeed.
  kProfileStoreUnavailable,
  kInternal,          // a bug: an invariant did not hold
};

// Returns the lower-case snake_case name of `code`, e.g. "invalid_argument".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ProfileStoreUnavailable(std::string m) { return {StatusCode::kProfileStoreUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  // Returns a copy that names `field`, the request field or parameter the error is about, so that
  // the HTTP layer can report it beside the message.
  Status WithField(std::string field) const {
    Status copy = *this;
    copy.field_ = std::move(field);
    return copy;
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The request field or parameter the error is about; "" when there is none.
  const std::string& field() const { return field_; }

  // "invalid_argument: price -3 is negative ..." or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

// A value or the Status explaining why there is none. Constructing a Result from an OK Status is a
// bug and asserts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // Preconditions: ok().
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace tessera

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define TESSERA_RETURN_IF_ERROR(expr)        \
  do {                                       \
    ::tessera::Status tessera_status_ = (expr); \
    if (!tessera_status_.ok()) return tessera_status_; \
  } while (0)
