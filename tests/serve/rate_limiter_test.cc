#include "serve/rate_limiter.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

using std::chrono::milliseconds;

TEST(RateLimiter, BurstThenRefillAtRate) {
  RateLimiter limiter;
  const RateLimit limit{2, 3};  // 2 a second, bursts of 3
  const RateLimiter::Clock::time_point t0{};

  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("a", limit, t0), 0) << "request " << i;
  const double wait = limiter.Acquire("a", limit, t0);
  EXPECT_NEAR(wait, 0.5, 1e-9);

  // Half a second adds one token; it is taken, and the next request waits again.
  EXPECT_EQ(limiter.Acquire("a", limit, t0 + milliseconds(500)), 0);
  EXPECT_GT(limiter.Acquire("a", limit, t0 + milliseconds(500)), 0);

  // A long pause refills only up to the burst.
  const auto later = t0 + std::chrono::seconds(60);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("a", limit, later), 0) << "request " << i;
  EXPECT_GT(limiter.Acquire("a", limit, later), 0);
}

TEST(RateLimiter, CallersHaveSeparateBuckets) {
  RateLimiter limiter;
  const RateLimit limit{1, 1};
  const RateLimiter::Clock::time_point t0{};
  EXPECT_EQ(limiter.Acquire("a", limit, t0), 0);
  EXPECT_GT(limiter.Acquire("a", limit, t0), 0);
  EXPECT_EQ(limiter.Acquire("b", limit, t0), 0);
}

TEST(RateLimiter, ZeroRateMeansNoLimit) {
  RateLimiter limiter;
  const RateLimiter::Clock::time_point t0{};
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.Acquire("a", RateLimit{0, 0}, t0), 0);
  EXPECT_EQ(limiter.bucket_count(), 0u);
}

TEST(RateLimiter, BucketCountStaysBounded) {
  RateLimiter limiter(/*max_buckets=*/10);
  const RateLimit limit{1, 5};
  const RateLimiter::Clock::time_point t0{};
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(limiter.Acquire("caller-" + std::to_string(i), limit, t0 + milliseconds(i)), 0);
    EXPECT_LE(limiter.bucket_count(), 10u);
  }
  // The most recent caller kept its partly spent bucket.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.Acquire("caller-99", limit, t0 + milliseconds(99)), 0);
  EXPECT_GT(limiter.Acquire("caller-99", limit, t0 + milliseconds(99)), 0);
}

}  // namespace
}  // namespace tessera
