#include "eval/next_item_predictors.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eval/replay.h"

namespace tessera {
namespace {

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kStartMs = 1396860669000;

ClickSession Session(std::vector<std::string> items) {
  ClickSession session;
  session.id = "s";
  for (size_t i = 0; i < items.size(); ++i) session.times_ms.push_back(kStartMs + static_cast<int64_t>(i) * kMinuteMs);
  session.item_ids = std::move(items);
  return session;
}

std::vector<uint32_t> Predict(const NextItemPredictor& predictor, std::vector<uint32_t> items,
                              std::vector<int64_t> times_ms, size_t k) {
  std::vector<uint32_t> ranked = {999};  // Predict must replace, not append
  predictor.Predict({items, times_ms}, k, &ranked);
  return ranked;
}

std::vector<uint32_t> Predict(const NextItemPredictor& predictor, std::vector<uint32_t> items, size_t k) {
  std::vector<int64_t> times_ms(items.size(), kStartMs);
  return Predict(predictor, std::move(items), std::move(times_ms), k);
}

// Items a, b, c, d, e get indices 0 to 4. Clicks: a 3, b 4, c 2, d 3, e 2.
TrainingLog HandMadeLog() {
  return BuildTrainingLog({Session({"a", "b", "a"}), Session({"a", "c", "b"}), Session({"b", "c"}),
                           Session({"b", "d"}), Session({"e", "d"}), Session({"e", "d"})});
}

TEST(PopularityPredictor, RanksByClickCount) {
  const TrainingLog log = HandMadeLog();
  ASSERT_EQ(log.click_counts, (std::vector<uint64_t>{3, 4, 2, 3, 2}));
  const PopularityPredictor popularity(log);
  EXPECT_EQ(Predict(popularity, {2}, 3), (std::vector<uint32_t>{1, 0, 3}));
  EXPECT_EQ(Predict(popularity, {}, 10), (std::vector<uint32_t>{1, 0, 3, 2, 4}));
}

TEST(PopularityPredictor, TiesGoToLowerIndex) {
  const PopularityPredictor popularity(BuildTrainingLog({Session({"x", "y", "z"})}));
  EXPECT_EQ(Predict(popularity, {}, 3), (std::vector<uint32_t>{0, 1, 2}));
}

TEST(CooccurrencePredictor, RanksFollowersOfLastClick) {
  const CooccurrencePredictor cooccurrence(HandMadeLog());
  // b was followed by a, c and d once each: ties go to the more clicked a and d (3 clicks each,
  // then the lower index first), then c (2 clicks).
  EXPECT_EQ(Predict(cooccurrence, {2, 1}, 10), (std::vector<uint32_t>{0, 3, 2}));
  EXPECT_EQ(Predict(cooccurrence, {1}, 2), (std::vector<uint32_t>{0, 3}));
  // a was followed by b once and c once.
  EXPECT_EQ(Predict(cooccurrence, {0}, 10), (std::vector<uint32_t>{1, 2}));
}

TEST(CooccurrencePredictor, EmptyForUnknownOrNeverFollowedItem) {
  const CooccurrencePredictor cooccurrence(HandMadeLog());
  EXPECT_TRUE(Predict(cooccurrence, {0, kUnknownItem}, 10).empty());
  EXPECT_TRUE(Predict(cooccurrence, {3}, 10).empty()) << "d ends every session it is in";
  EXPECT_TRUE(Predict(cooccurrence, {}, 10).empty());
}

// Five items in two dimensions: 0 = (1, 0), 1 = (0, 1), 2 = (1, 1), and 3 and 4 have no vector.
ItemEmbedding HandMadeEmbedding() {
  ItemEmbedding embedding;
  embedding.item_count = 5;
  embedding.dimensions = 2;
  embedding.values = {1, 0, 0, 1, 1, 1, 0, 0, 0, 0};
  return embedding;
}

TEST(SessionVectorPredictor, RanksByCosineToSession) {
  const TrainingLog log = HandMadeLog();
  const ItemEmbedding embedding = HandMadeEmbedding();
  const SessionVectorPredictor model(log, embedding, SessionOptions{});
  // Cosines to (1, 0): item 0 is 1, item 2 is 0.71, item 1 is 0. Items 3 and 4 have no vector
  // and come last, the more clicked 3 first.
  EXPECT_EQ(Predict(model, {0}, 10), (std::vector<uint32_t>{0, 2, 1, 3, 4}));
  EXPECT_EQ(Predict(model, {0}, 2), (std::vector<uint32_t>{0, 2}));
  // The session (1, 1) points at item 2; items 0 and 1 tie and the more clicked 1 goes first.
  EXPECT_EQ(Predict(model, {0, 1}, 10), (std::vector<uint32_t>{2, 1, 0, 3, 4}));
}

TEST(SessionVectorPredictor, DecaysOlderClicksByRealTime) {
  const TrainingLog log = HandMadeLog();
  const ItemEmbedding embedding = HandMadeEmbedding();
  // Item 0 clicked 30 minutes before item 1: with a 1-minute half-life only item 1 counts, with
  // a 10-day half-life both count nearly alike and the session points at item 2.
  const std::vector<int64_t> times_ms = {kStartMs, kStartMs + 30 * kMinuteMs};
  const SessionVectorPredictor short_memory(log, embedding, SessionOptions{.half_life_minutes = 1});
  EXPECT_EQ(Predict(short_memory, {0, 1}, times_ms, 1), (std::vector<uint32_t>{1}));
  const SessionVectorPredictor long_memory(log, embedding, SessionOptions{.half_life_minutes = 14400});
  EXPECT_EQ(Predict(long_memory, {0, 1}, times_ms, 1), (std::vector<uint32_t>{2}));
}

TEST(SessionVectorPredictor, SkipsItemsWithoutVector) {
  const TrainingLog log = HandMadeLog();
  const ItemEmbedding embedding = HandMadeEmbedding();
  const SessionVectorPredictor model(log, embedding, SessionOptions{});
  EXPECT_TRUE(Predict(model, {kUnknownItem, 3}, 10).empty());
  EXPECT_EQ(Predict(model, {1, kUnknownItem}, 1), (std::vector<uint32_t>{1}));
}

TEST(SessionVectorPredictor, MatchesRankingBySessionCosine) {
  // The predictor scores with a dot product of unit vectors; SessionVector::Cosine is the
  // reference it must agree with.
  const TrainingLog log = HandMadeLog();
  ItemEmbedding embedding;
  embedding.item_count = 5;
  embedding.dimensions = 3;
  embedding.values = {0.9f, -0.2f, 0.4f, 0.1f, 0.8f, -0.3f, 2.0f, 1.5f, 0.2f, -0.7f, 0.3f, 0.9f, 0.5f, 0.5f, -0.6f};
  const SessionOptions options{.half_life_minutes = 2};
  const SessionVectorPredictor model(log, embedding, options);
  const std::vector<uint32_t> items = {3, 0, 4};
  const std::vector<int64_t> times_ms = {kStartMs, kStartMs + kMinuteMs, kStartMs + 5 * kMinuteMs};

  SessionVector session;
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(session.Add(embedding.Vector(items[i]), 1.0, times_ms[i], options).ok());
  }
  std::vector<uint32_t> expected = {0, 1, 2, 3, 4};
  std::stable_sort(expected.begin(), expected.end(), [&](uint32_t a, uint32_t b) {
    return session.Cosine(embedding.Vector(a)) > session.Cosine(embedding.Vector(b));
  });
  EXPECT_EQ(Predict(model, items, times_ms, 5), expected);
}

TEST(FallbackPredictor, FillsWithoutRepeats) {
  const TrainingLog log = HandMadeLog();
  const CooccurrencePredictor cooccurrence(log);
  const PopularityPredictor popularity(log);
  const FallbackPredictor combined(cooccurrence, popularity);
  EXPECT_EQ(combined.name(), "cooccurrence+popularity");
  // a was followed by b and c. Popularity adds a, then d (b is already listed).
  EXPECT_EQ(Predict(combined, {0}, 4), (std::vector<uint32_t>{1, 2, 0, 3}));
  EXPECT_EQ(Predict(combined, {0}, 1), (std::vector<uint32_t>{1}));
  EXPECT_EQ(Predict(combined, {3}, 2), (std::vector<uint32_t>{1, 0}));
}

}  // namespace
}  // namespace tessera
