// LogRateLimiter: caps how many log lines of each kind the server writes a second, so that a
// misbehaving client or an overload cannot flood the log.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>

namespace tessera {

// The kinds of repeated log lines, each with its own quota.
enum class LogKind { kClientError, kServerError, kSlowRequest, kShed };

// Admits at most kPerSecond calls a second per kind. Thread-safe; one mutex per kind, taken only
// on the logging path (errors, slow and shed requests), never by a request that succeeds.
class LogRateLimiter {
 public:
  static constexpr size_t kPerSecond = 20;
  static constexpr size_t kRejected = static_cast<size_t>(-1);

  // Returns kRejected when this second's quota for `kind` is spent. Otherwise it returns the
  // number of calls of that kind rejected since the last admitted one, for the caller to report.
  size_t Admit(LogKind kind);

 private:
  struct Window {
    std::mutex mutex;
    std::chrono::steady_clock::time_point start;
    size_t admitted = 0;
    size_t rejected = 0;
  };
  std::array<Window, 4> windows_;
};

}  // namespace tessera
