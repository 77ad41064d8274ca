#include "eval/item_embedding.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

double Cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0, norm_a = 0, norm_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    norm_a += static_cast<double>(a[i]) * a[i];
    norm_b += static_cast<double>(b[i]) * b[i];
  }
  return dot / std::sqrt(norm_a * norm_b);
}

TEST(TrainPpmiEmbedding, TwoItemsMatchHandComputedEigenvector) {
  // One session "0 1": counts c01 = c10 = 1, both marginals 1 and total 2, so
  // PMI = log(1/2) - 2 log(1/2) = log 2 and the matrix is [[0, log 2], [log 2, 0]]. Its positive
  // eigenvalue log 2 has eigenvector (1, 1) / sqrt(2), so each item's first coordinate is
  // +-sqrt(log 2 / 2). The eigenvalue -log 2 is dropped, which leaves the second coordinate 0.
  const ItemEmbedding embedding = TrainPpmiEmbedding({{0, 1}}, 2, {});
  ASSERT_EQ(embedding.item_count, 2u);
  ASSERT_EQ(embedding.dimensions, 2u);
  const double expected = std::sqrt(std::log(2.0) / 2);
  EXPECT_NEAR(std::abs(embedding.Vector(0)[0]), expected, 1e-6);
  EXPECT_FLOAT_EQ(embedding.Vector(0)[0], embedding.Vector(1)[0]);
  EXPECT_NEAR(embedding.Vector(0)[1], 0.0, 1e-6);
  EXPECT_NEAR(embedding.Vector(1)[1], 0.0, 1e-6);
}

TEST(TrainPpmiEmbedding, ItemsOfOneClusterPointTogether) {
  // Two groups of items that never share a session.
  const std::vector<std::vector<uint32_t>> sessions = {{0, 1, 2}, {1, 2, 0}, {2, 0}, {3, 4, 5}, {5, 3, 4}, {4, 5}};
  ItemEmbeddingOptions options;
  options.dimensions = 4;
  const ItemEmbedding embedding = TrainPpmiEmbedding(sessions, 6, options);
  ASSERT_EQ(embedding.dimensions, 4u);
  EXPECT_GT(Cosine(embedding.Vector(0), embedding.Vector(1)), 0.9);
  EXPECT_GT(Cosine(embedding.Vector(3), embedding.Vector(5)), 0.9);
  EXPECT_NEAR(Cosine(embedding.Vector(0), embedding.Vector(3)), 0.0, 1e-6);
}

TEST(TrainPpmiEmbedding, ItemWithoutCooccurrenceGetsZeroVector) {
  const ItemEmbedding embedding = TrainPpmiEmbedding({{0, 1}, {2}, {3, 3}}, 4, {});
  for (float x : embedding.Vector(2)) EXPECT_EQ(x, 0.0f);
  for (float x : embedding.Vector(3)) EXPECT_EQ(x, 0.0f) << "a click next to the same item does not count";
}

TEST(TrainPpmiEmbedding, ZeroWindowSeesNoCooccurrence) {
  const std::vector<std::vector<uint32_t>> sessions = {{0, 1, 2, 3}, {3, 4}};
  ItemEmbeddingOptions options;
  options.window = 0;
  const ItemEmbedding none = TrainPpmiEmbedding(sessions, 5, options);
  for (float x : none.values) EXPECT_EQ(x, 0.0f);
  options.window = 1;
  const ItemEmbedding adjacent = TrainPpmiEmbedding(sessions, 5, options);
  for (size_t item = 0; item < 5; ++item) {
    double norm = 0;
    for (float x : adjacent.Vector(item)) norm += static_cast<double>(x) * x;
    EXPECT_GT(norm, 0.0) << "item " << item;
  }
}

TEST(TrainPpmiEmbedding, SameSeedGivesSameVectors) {
  std::vector<std::vector<uint32_t>> sessions;
  for (uint32_t i = 0; i < 200; ++i) sessions.push_back({i % 50, (i * 7 + 3) % 50, (i * 13 + 5) % 50});
  ItemEmbeddingOptions options;
  options.dimensions = 8;
  const ItemEmbedding first = TrainPpmiEmbedding(sessions, 50, options);
  const ItemEmbedding second = TrainPpmiEmbedding(sessions, 50, options);
  EXPECT_EQ(first.values, second.values);
  EXPECT_EQ(first.dimensions, 8u);
}

}  // namespace
}  // namespace tessera
