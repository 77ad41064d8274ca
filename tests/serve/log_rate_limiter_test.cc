#include "serve/log_rate_limiter.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(LogRateLimiter, QuotaIsPerKind) {
  LogRateLimiter limiter;
  for (size_t i = 0; i < LogRateLimiter::kPerSecond; ++i) EXPECT_EQ(limiter.Admit(LogKind::kClientError), 0u);
  EXPECT_EQ(limiter.Admit(LogKind::kClientError), LogRateLimiter::kRejected);
  // A flood of client errors leaves the quota of server errors and shed requests whole.
  EXPECT_EQ(limiter.Admit(LogKind::kServerError), 0u);
  EXPECT_EQ(limiter.Admit(LogKind::kShed), 0u);
}

TEST(LogRateLimiter, ReportsRejectedCountOnNextAdmit) {
  LogRateLimiter limiter;
  for (size_t i = 0; i < LogRateLimiter::kPerSecond; ++i) ASSERT_EQ(limiter.Admit(LogKind::kSlowRequest), 0u);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limiter.Admit(LogKind::kSlowRequest), LogRateLimiter::kRejected);
  // NOTE: waits for the next one-second window of the real steady clock.
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  EXPECT_EQ(limiter.Admit(LogKind::kSlowRequest), 3u);
  EXPECT_EQ(limiter.Admit(LogKind::kSlowRequest), 0u);
}

}  // namespace
}  // namespace tessera
