#include "serve/log_rate_limiter.h"

namespace tessera {

size_t LogRateLimiter::Admit(LogKind kind) {
  Window& window = windows_[static_cast<size_t>(kind)];
  std::lock_guard lock(window.mutex);
  const auto now = std::chrono::steady_clock::now();
  if (now - window.start >= std::chrono::seconds(1)) {
    window.start = now;
    window.admitted = 0;
  }
  if (window.admitted >= kPerSecond) {
    ++window.rejected;
    return kRejected;
  }
  ++window.admitted;
  const size_t rejected = window.rejected;
  window.rejected = 0;
  return rejected;
}

}  // namespace tessera
