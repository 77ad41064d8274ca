// Tests of the held-out retrieval metrics on hand-made vectors with known results.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "encode/joint_space_metrics.h"

namespace tessera {
namespace {

// Unit vectors along the axes of a 4-dimensional space.
std::vector<float> Axes(const std::vector<size_t>& axis_of_row) {
  std::vector<float> rows(axis_of_row.size() * 4, 0.0f);
  for (size_t i = 0; i < axis_of_row.size(); ++i) rows[i * 4 + axis_of_row[i]] = 1.0f;
  return rows;
}

TEST(JointSpaceMetrics, PerfectMatchGivesFullRecall) {
  const std::vector<PairLabels> labels = {{"Shirts", "Blue"}, {"Shirts", "Red"}, {"Watches", "Blue"}, {"Jeans", "Blue"}};
  const JointSpaceMetrics m = EvaluateJointSpace(Axes({0, 1, 2, 3}), Axes({0, 1, 2, 3}), 4, labels);
  EXPECT_EQ(m.pairs, 4u);
  EXPECT_DOUBLE_EQ(m.text_to_photo.recall_at_1, 1.0);
  EXPECT_DOUBLE_EQ(m.photo_to_text.mean_reciprocal_rank, 1.0);
}

TEST(JointSpaceMetrics, SwappedPairsRankFourth) {
  // Texts 0 and 1 point at each other's photos. Ties count against the query, so the own photo
  // ranks fourth: behind the swapped one and the two orthogonal ones.
  const std::vector<PairLabels> labels = {{"Shirts", ""}, {"Shirts", ""}, {"Watches", ""}, {"Jeans", ""}};
  const JointSpaceMetrics m = EvaluateJointSpace(Axes({1, 0, 2, 3}), Axes({0, 1, 2, 3}), 4, labels);
  EXPECT_DOUBLE_EQ(m.text_to_photo.recall_at_1, 0.5);
  EXPECT_DOUBLE_EQ(m.text_to_photo.recall_at_10, 1.0);
  EXPECT_DOUBLE_EQ(m.text_to_photo.mean_reciprocal_rank, (1.0 / 4 + 1.0 / 4 + 1 + 1) / 4);
}

TEST(JointSpaceMetrics, PrecisionCountsSameTypeAmongOthers) {
  // Each query has 3 other candidates, so k = 3: text 0 (Shirts) finds one other shirt.
  const std::vector<PairLabels> labels = {{"Shirts", "Blue"}, {"Shirts", "Blue"}, {"Watches", "Blue"}, {"Jeans", "Red"}};
  const JointSpaceMetrics m = EvaluateJointSpace(Axes({0, 1, 2, 3}), Axes({0, 1, 2, 3}), 4, labels);
  EXPECT_DOUBLE_EQ(m.text_to_photo.precision_at_10_type, (1.0 / 3 + 1.0 / 3 + 0 + 0) / 4);
  EXPECT_DOUBLE_EQ(m.text_to_photo.precision_at_10_type_colour, (1.0 / 3 + 1.0 / 3 + 0 + 0) / 4);
  // Two of the 12 ordered pairs share a type.
  EXPECT_DOUBLE_EQ(m.chance_type, 2.0 / 12);
}

TEST(JointSpaceMetrics, UnlabelledQueriesAreSkipped) {
  const std::vector<PairLabels> labels = {{"Shirts", "Blue"}, {"Shirts", "Blue"}, {"", ""}, {"", ""}};
  const JointSpaceMetrics m = EvaluateJointSpace(Axes({0, 1, 2, 3}), Axes({0, 1, 2, 3}), 4, labels);
  EXPECT_DOUBLE_EQ(m.text_to_photo.precision_at_10_type, 1.0 / 3);
}

TEST(JointSpaceMetrics, AttributeQueriesAreDistinctPairs) {
  const std::vector<PairLabels> labels = {{"Shirts", "Blue"}, {"Shirts", "Blue"}, {"Shirts", ""}, {"Jeans", "Blue"}};
  const std::vector<std::pair<std::string, PairLabels>> queries = AttributeQueries(labels);
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].first, "Blue Shirts");
  EXPECT_EQ(queries[1].first, "Blue Jeans");
}

TEST(JointSpaceMetrics, AttributeQueryPrecisionCountsMatches) {
  // Four photos; the query points at photo 0, and the rest tie, so all four are in the top 10.
  const std::vector<PairLabels> labels = {{"Shirts", "Blue"}, {"Shirts", "Red"}, {"Jeans", "Blue"}, {"Shirts", "Blue"}};
  JointSpaceMetrics m;
  EvaluateAttributeQueries(Axes({0}), {{"Shirts", "Blue"}}, Axes({0, 1, 2, 3}), 4, labels, &m);
  EXPECT_EQ(m.attribute_query_to_photo.queries, 1u);
  EXPECT_DOUBLE_EQ(m.attribute_query_to_photo.precision_at_10_type, 3.0 / 4);
  EXPECT_DOUBLE_EQ(m.attribute_query_to_photo.precision_at_10_type_colour, 2.0 / 4);
}

}  // namespace
}  // namespace tessera
