#include "personalize/session_table.h"

#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kStartMs = 1717200000000;  // 2024-06-01T00:00:00Z

SessionOptions SmallOptions() {
  SessionOptions options;
  options.half_life_minutes = 10;
  options.expire_half_lives = 3;  // idle after 30 minutes
  options.max_sessions = 3;
  return options;
}

TEST(SessionTableTest, FindsNamedSessionOrTheLatest) {
  SessionTable table(SmallOptions());
  ASSERT_TRUE(table.Add("u1", "a", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  ASSERT_TRUE(table.Add("u1", "b", std::vector<float>{0, 1}, 1.0, kStartMs + kMinuteMs, kStartMs + kMinuteMs).ok());
  const int64_t now = kStartMs + 2 * kMinuteMs;

  std::optional<SessionVector> a = table.Find("u1", "a", now);
  ASSERT_TRUE(a.has_value());
  EXPECT_NEAR(a->Cosine(std::vector<float>{1, 0}), 1.0, 1e-9);
  std::optional<SessionVector> latest = table.Find("u1", "", now);
  ASSERT_TRUE(latest.has_value());
  EXPECT_NEAR(latest->Cosine(std::vector<float>{0, 1}), 1.0, 1e-9);
  EXPECT_FALSE(table.Find("u1", "c", now).has_value());
  EXPECT_FALSE(table.Find("u2", "", now).has_value());
}

TEST(SessionTableTest, IdleSessionIsNotFoundAndDropped) {
  SessionTable table(SmallOptions());
  ASSERT_TRUE(table.Add("u1", "a", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  EXPECT_TRUE(table.Find("u1", "a", kStartMs + 30 * kMinuteMs).has_value());
  EXPECT_FALSE(table.Find("u1", "a", kStartMs + 30 * kMinuteMs + 1).has_value());
  EXPECT_FALSE(table.Find("u1", "", kStartMs + 30 * kMinuteMs + 1).has_value());

  // The next update of any session drops the idle one.
  const int64_t later = kStartMs + 31 * kMinuteMs;
  ASSERT_TRUE(table.Add("u2", "a", std::vector<float>{1, 0}, 1.0, later, later).ok());
  EXPECT_EQ(table.size(), 1u);
}

TEST(SessionTableTest, LeastRecentlyUpdatedGoesBeyondTheCap) {
  SessionTable table(SmallOptions());
  for (const char* user : {"u1", "u2", "u3"}) {
    ASSERT_TRUE(table.Add(user, "a", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  }
  // u1 is updated again, so u2 is now the least recently updated.
  ASSERT_TRUE(table.Add("u1", "a", std::vector<float>{0, 1}, 1.0, kStartMs, kStartMs).ok());
  ASSERT_TRUE(table.Add("u4", "a", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  EXPECT_EQ(table.size(), 3u);
  EXPECT_TRUE(table.Find("u1", "a", kStartMs).has_value());
  EXPECT_FALSE(table.Find("u2", "a", kStartMs).has_value());
  EXPECT_TRUE(table.Find("u3", "a", kStartMs).has_value());
  EXPECT_TRUE(table.Find("u4", "a", kStartMs).has_value());
}

TEST(SessionTableTest, EraseUserDropsOnlyTheirSessions) {
  SessionTable table(SmallOptions());
  ASSERT_TRUE(table.Add("u1", "a", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  ASSERT_TRUE(table.Add("u1", "b", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  ASSERT_TRUE(table.Add("u10", "a", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  table.EraseUser("u1");
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(table.Find("u1", "", kStartMs).has_value());
  EXPECT_TRUE(table.Find("u10", "a", kStartMs).has_value());
}

TEST(SessionTableTest, MoveUserHandsSessionsToTheAccount) {
  SessionTable table(SmallOptions());
  ASSERT_TRUE(table.Add("anonymous", "a", std::vector<float>{1, 0}, 1.0, kStartMs + kMinuteMs, kStartMs).ok());
  ASSERT_TRUE(table.Add("anonymous", "b", std::vector<float>{0, 1}, 1.0, kStartMs, kStartMs).ok());
  // The account's own session "b" is older than the anonymous one, so the anonymous one stays.
  ASSERT_TRUE(table.Add("account", "b", std::vector<float>{1, 1}, 1.0, kStartMs - kMinuteMs, kStartMs).ok());

  table.MoveUser("anonymous", "account");
  const int64_t now = kStartMs + 2 * kMinuteMs;
  EXPECT_FALSE(table.Find("anonymous", "", now).has_value());
  std::optional<SessionVector> a = table.Find("account", "a", now);
  ASSERT_TRUE(a.has_value());
  EXPECT_NEAR(a->Cosine(std::vector<float>{1, 0}), 1.0, 1e-9);
  std::optional<SessionVector> b = table.Find("account", "b", now);
  ASSERT_TRUE(b.has_value());
  EXPECT_NEAR(b->Cosine(std::vector<float>{0, 1}), 1.0, 1e-9);
  EXPECT_EQ(table.size(), 2u);
  // The latest session is still "a", the one updated last.
  std::optional<SessionVector> latest = table.Find("account", "", now);
  ASSERT_TRUE(latest.has_value());
  EXPECT_NEAR(latest->Cosine(std::vector<float>{1, 0}), 1.0, 1e-9);
}

TEST(SessionTableTest, ZeroVectorCreatesNoSession) {
  SessionTable table(SmallOptions());
  ASSERT_TRUE(table.Add("u1", "a", std::vector<float>{0, 0}, 1.0, kStartMs, kStartMs).ok());
  EXPECT_EQ(table.size(), 0u);
  ASSERT_TRUE(table.Add("u1", "a", std::vector<float>{1, 0}, 1.0, kStartMs, kStartMs).ok());
  EXPECT_FALSE(table.Add("u1", "a", std::vector<float>{1, 0, 0}, 1.0, kStartMs, kStartMs).ok());
  EXPECT_EQ(table.size(), 1u);
}

}  // namespace
}  // namespace tessera
