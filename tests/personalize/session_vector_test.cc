#include "personalize/session_vector.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tessera {
namespace {

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kStartMs = 1717200000000;  // 2024-06-01T00:00:00Z

TEST(SessionVectorTest, EmptyUntilSomethingIsAdded) {
  SessionVector session;
  EXPECT_TRUE(session.empty());
  EXPECT_TRUE(session.Direction().empty());
  EXPECT_EQ(session.Cosine(std::vector<float>{1, 0}), 0);
  ASSERT_TRUE(session.Add(std::vector<float>{0, 0}, 1.0, kStartMs, {}).ok());
  EXPECT_TRUE(session.empty()) << "a zero vector adds nothing";
  ASSERT_TRUE(session.Add(std::vector<float>{1, 0}, 0.0, kStartMs, {}).ok());
  EXPECT_TRUE(session.empty()) << "a zero weight adds nothing";
}

TEST(SessionVectorTest, DirectionIsTheDecayedMeanOfUnitVectors) {
  SessionOptions options;
  options.half_life_minutes = 10;
  SessionVector session;
  // Lengths differ; each vector counts as its unit direction.
  ASSERT_TRUE(session.Add(std::vector<float>{5, 0}, 1.0, kStartMs, options).ok());
  ASSERT_TRUE(session.Add(std::vector<float>{0, 0.5}, 1.0, kStartMs + 10 * kMinuteMs, options).ok());
  // The first vector is one half-life old: sum = (0.5, 1).
  const std::vector<float> direction = session.Direction();
  ASSERT_EQ(direction.size(), 2u);
  EXPECT_NEAR(direction[0], 0.5 / std::sqrt(1.25), 1e-6);
  EXPECT_NEAR(direction[1], 1.0 / std::sqrt(1.25), 1e-6);
  EXPECT_NEAR(session.Weight(kStartMs + 10 * kMinuteMs, options), 1.5, 1e-9);
  EXPECT_NEAR(session.Weight(kStartMs + 20 * kMinuteMs, options), 0.75, 1e-9);
  EXPECT_NEAR(session.Cosine(std::vector<float>{0, 3}), 1.0 / std::sqrt(1.25), 1e-9);
}

TEST(SessionVectorTest, OlderEventsDecayToTheLatestOne) {
  SessionOptions options;
  options.half_life_minutes = 10;
  SessionVector session;
  ASSERT_TRUE(session.Add(std::vector<float>{1, 0}, 1.0, kStartMs + 10 * kMinuteMs, options).ok());
  ASSERT_TRUE(session.Add(std::vector<float>{0, 1}, 1.0, kStartMs, options).ok());
  EXPECT_EQ(session.updated_ms(), kStartMs + 10 * kMinuteMs);
  EXPECT_NEAR(session.Cosine(std::vector<float>{1, 1}), 1.0, 1e-9);
}

TEST(SessionVectorTest, RejectsAnotherDimension) {
  SessionVector session;
  ASSERT_TRUE(session.Add(std::vector<float>{1, 0}, 1.0, kStartMs, {}).ok());
  const Status status = session.Add(std::vector<float>{1, 0, 0}, 1.0, kStartMs, {});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("dimension 2"), std::string::npos) << status.message();
}

TEST(SessionVectorTest, RoundTripsThroughJson) {
  SessionVector session;
  ASSERT_TRUE(session.Add(std::vector<float>{1, 2, 3}, 2.0, kStartMs, {}).ok());
  Result<SessionVector> copy = SessionVector::FromJson(session.ToJson());
  ASSERT_TRUE(copy.ok()) << copy.status().message();
  EXPECT_EQ(copy->Direction(), session.Direction());
  EXPECT_EQ(copy->updated_ms(), session.updated_ms());
  EXPECT_FALSE(SessionVector::FromJson(nlohmann::json{{"sum", "x"}}).ok());
}

}  // namespace
}  // namespace tessera
