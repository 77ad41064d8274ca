#include "serve/rate_limiter.h"

#include <algorithm>

namespace tessera {
namespace {

double Refilled(double tokens, RateLimiter::Clock::time_point from, RateLimiter::Clock::time_point to,
                const RateLimit& limit) {
  const double seconds = std::chrono::duration<double>(to - from).count();
  return std::min(limit.burst, tokens + std::max(0.0, seconds) * limit.per_second);
}

}  // namespace

double RateLimiter::Acquire(const std::string& caller, const RateLimit& limit, Clock::time_point now) {
  if (limit.per_second <= 0) return 0;
  // A burst below one token would reject every request.
  const RateLimit bucket_limit{limit.per_second, std::max(1.0, limit.burst)};

  std::lock_guard lock(mutex_);
  auto it = buckets_.find(caller);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_buckets_) EvictForNewBucket(now, bucket_limit);
    it = buckets_.emplace(caller, Bucket{bucket_limit.burst, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket.tokens, bucket.updated, now, bucket_limit);
  bucket.updated = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return (1 - bucket.tokens) / bucket_limit.per_second;
}

size_t RateLimiter::bucket_count() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

void RateLimiter::EvictForNewBucket(Clock::time_point now, const RateLimit& limit) {
  // A full bucket is the same as no bucket, so dropping it changes no caller's limit. Buckets of
  // other roles are judged by `limit` here, which at worst drops a partly spent bucket early.
  std::erase_if(buckets_, [&](const auto& item) {
    return Refilled(item.second.tokens, item.second.updated, now, limit) >= limit.burst;
  });
  if (buckets_.size() < max_buckets_) return;
  auto oldest = std::min_element(buckets_.begin(), buckets_.end(),
                                 [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
  buckets_.erase(oldest);
}

}  // namespace tessera
