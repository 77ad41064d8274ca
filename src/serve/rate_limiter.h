// RateLimiter: token buckets keyed by caller (an API key, or a client address when the server is
// open), for the per-caller request limits of the HTTP API.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tessera {

// A token bucket's size: `per_second` tokens are added a second up to `burst`, and each request
// takes one. per_second <= 0 means no limit.
struct RateLimit {
  double per_second = 0;
  double burst = 0;
};

// Thread-safe. The clock is passed in, so that tests can step time.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // Keeps at most `max_buckets` buckets: when a new caller would exceed it, full buckets (callers
  // idle long enough to have refilled) are dropped first, then the least recently used one.
  explicit RateLimiter(size_t max_buckets = 100000) : max_buckets_(max_buckets) {}

  // Takes a token from the bucket of `caller`, created full on first use. Returns 0 when the
  // request is admitted, otherwise the seconds until the next token is available (> 0).
  double Acquire(const std::string& caller, const RateLimit& limit, Clock::time_point now);

  size_t bucket_count() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };

  void EvictForNewBucket(Clock::time_point now, const RateLimit& limit);

  const size_t max_buckets_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace tessera
