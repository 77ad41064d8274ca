#include "eval/metrics.h"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

// The expected values below follow from gain 2^g - 1 and discount log2(rank + 1), with
// log2(3) = 1.5849625007211563. Tests whose value is not obvious state the formula.
constexpr double kTolerance = 1e-12;

JudgedQuery Query(std::unordered_map<std::string, int> grades, int max_grade) {
  JudgedQuery q;
  q.id = "q";
  q.text = "test";
  q.grades = std::move(grades);
  q.max_grade = max_grade;
  return q;
}

TEST(NdcgAtK, IdealOrderScoresOne) {
  const JudgedQuery q = Query({{"a", 3}, {"b", 2}, {"c", 1}}, 3);
  EXPECT_NEAR(NdcgAtK({"a", "b", "c"}, q, 3), 1.0, kTolerance);
  EXPECT_NEAR(NdcgAtK({"a", "b", "c"}, q, 1), 1.0, kTolerance);
}

TEST(NdcgAtK, ReversedOrderMatchesHandComputedValue) {
  const JudgedQuery q = Query({{"a", 3}, {"b", 2}, {"c", 1}}, 3);
  // DCG = 1/1 + 3/log2(3) + 7/2 and ideal DCG = 7/1 + 3/log2(3) + 1/2.
  EXPECT_NEAR(NdcgAtK({"c", "b", "a"}, q, 3), 0.6806060567602009, kTolerance);
}

TEST(NdcgAtK, EqualGradesInEitherOrderScoreOne) {
  const JudgedQuery q = Query({{"a", 2}, {"b", 2}, {"c", 1}}, 2);
  EXPECT_NEAR(NdcgAtK({"a", "b", "c"}, q, 3), 1.0, kTolerance);
  EXPECT_NEAR(NdcgAtK({"b", "a", "c"}, q, 3), 1.0, kTolerance);
}

TEST(NdcgAtK, EmptyRankingScoresZero) {
  const JudgedQuery q = Query({{"a", 1}}, 1);
  EXPECT_EQ(NdcgAtK({}, q, 10), 0.0);
}

TEST(NdcgAtK, QueryWithoutRelevantProductsScoresZero) {
  const JudgedQuery q = Query({}, 0);
  EXPECT_EQ(NdcgAtK({"a", "b"}, q, 10), 0.0);
}

TEST(NdcgAtK, ZeroCutoffScoresZero) {
  const JudgedQuery q = Query({{"a", 1}}, 1);
  EXPECT_EQ(NdcgAtK({"a"}, q, 0), 0.0);
}

TEST(NdcgAtK, CutoffBeyondListUsesFullIdeal) {
  // One of two relevant products is returned: DCG = 1 and ideal DCG = 1 + 1/log2(3).
  const JudgedQuery q = Query({{"a", 1}, {"b", 1}}, 1);
  EXPECT_NEAR(NdcgAtK({"a"}, q, 10), 0.6131471927654584, kTolerance);
}

TEST(NdcgAtK, UnjudgedProductsHaveGradeZero) {
  const JudgedQuery q = Query({{"a", 1}}, 1);
  EXPECT_NEAR(NdcgAtK({"unjudged", "a"}, q, 2), 0.6309297535714575, kTolerance);
  EXPECT_EQ(NdcgAtK({"unjudged", "a"}, q, 1), 0.0);
}

TEST(NdcgAtK, CutoffLimitsIdealToo) {
  // At k = 2 the ideal is {2, 1}: ideal DCG = 3 + 1/log2(3), DCG = 0 + 3/log2(3).
  const JudgedQuery q = Query({{"a", 2}, {"b", 1}, {"c", 1}}, 2);
  EXPECT_NEAR(NdcgAtK({"x", "a", "b"}, q, 2), 0.52129602861432, kTolerance);
}

TEST(NdcgAtK, IdealCountsProductsNotRetrieved) {
  const JudgedQuery q = Query({{"a", 1}, {"b", 3}}, 3);
  EXPECT_NEAR(NdcgAtK({"a"}, q, 1), 1.0 / 7.0, kTolerance);
}

TEST(NdcgAtK, RepeatedIdCountsOnce) {
  const JudgedQuery q = Query({{"a", 3}, {"b", 1}}, 3);
  const double value = NdcgAtK({"a", "a", "b"}, q, 3);
  EXPECT_LE(value, 1.0);
  // DCG = 7 + 0 + 1/2 and ideal DCG = 7 + 1/log2(3).
  EXPECT_NEAR(value, 7.5 / (7.0 + 0.6309297535714575), kTolerance);
}

TEST(ReciprocalRank, FirstRelevantAtThirdRank) {
  const JudgedQuery q = Query({{"c", 1}, {"d", 2}}, 2);
  EXPECT_NEAR(ReciprocalRank({"a", "b", "c", "d"}, q, 1), 1.0 / 3.0, kTolerance);
}

TEST(ReciprocalRank, MinGradeSkipsLowerGrades) {
  const JudgedQuery q = Query({{"a", 1}, {"b", 2}}, 2);
  EXPECT_EQ(ReciprocalRank({"a", "b"}, q, 1), 1.0);
  EXPECT_EQ(ReciprocalRank({"a", "b"}, q, 2), 0.5);
  EXPECT_EQ(ReciprocalRank({"a", "b"}, q, 3), 0.0);
}

TEST(ReciprocalRank, NoRelevantResultScoresZero) {
  const JudgedQuery q = Query({{"z", 1}}, 1);
  EXPECT_EQ(ReciprocalRank({"a", "b"}, q, 1), 0.0);
  EXPECT_EQ(ReciprocalRank({}, q, 1), 0.0);
  EXPECT_EQ(ReciprocalRank({"a"}, Query({}, 0), 1), 0.0);
}

TEST(ReciprocalRank, MinGradeBelowOneActsAsOne) {
  const JudgedQuery q = Query({{"a", 1}}, 1);
  EXPECT_EQ(ReciprocalRank({"unjudged", "a"}, q, 0), 0.5);
  EXPECT_EQ(ReciprocalRank({"unjudged", "a"}, q, -3), 0.5);
}

TEST(RecallAtK, CountsOnlyFullyRelevant) {
  // Fully relevant (grade 3): a, b, c, d. In the top 3 of {a, x, e, b}: a and b, so 2 of 4.
  const JudgedQuery q = Query({{"a", 3}, {"b", 3}, {"c", 3}, {"d", 3}, {"e", 2}}, 3);
  EXPECT_EQ(RecallAtK({"a", "x", "e", "b"}, q, 3), 0.25);
  EXPECT_EQ(RecallAtK({"a", "x", "e", "b"}, q, 4), 0.5);
  EXPECT_EQ(RecallAtK({"a", "x", "e", "b"}, q, 100), 0.5);
}

TEST(RecallAtK, AllFoundScoresOne) {
  const JudgedQuery q = Query({{"a", 2}, {"b", 2}, {"c", 1}}, 2);
  EXPECT_EQ(RecallAtK({"b", "c", "a"}, q, 3), 1.0);
}

TEST(RecallAtK, RepeatedIdCountsOnce) {
  const JudgedQuery q = Query({{"a", 1}, {"b", 1}}, 1);
  EXPECT_EQ(RecallAtK({"a", "a", "a"}, q, 3), 0.5);
}

TEST(RecallAtK, ZeroCutoffOrNoRelevantScoresZero) {
  const JudgedQuery q = Query({{"a", 1}}, 1);
  EXPECT_EQ(RecallAtK({"a"}, q, 0), 0.0);
  EXPECT_EQ(RecallAtK({"a"}, Query({}, 0), 10), 0.0);
  EXPECT_EQ(RecallAtK({}, q, 10), 0.0);
}

TEST(Summarize, EmptyInputIsAllZero) {
  const MetricSummary summary = Summarize({});
  EXPECT_EQ(summary.count, 0u);
  EXPECT_EQ(summary.mean, 0.0);
  EXPECT_EQ(summary.median, 0.0);
  EXPECT_EQ(summary.p95, 0.0);
  EXPECT_EQ(summary.p99, 0.0);
}

TEST(Summarize, OddCountTakesMiddleValue) {
  const MetricSummary summary = Summarize({0.3, 0.1, 0.2});
  EXPECT_EQ(summary.count, 3u);
  EXPECT_NEAR(summary.mean, 0.2, kTolerance);
  EXPECT_EQ(summary.median, 0.2);
  EXPECT_EQ(summary.p95, 0.3);
}

TEST(Summarize, EvenCountAveragesMiddleValues) {
  const MetricSummary summary = Summarize({4, 1, 3, 2});
  EXPECT_EQ(summary.count, 4u);
  EXPECT_EQ(summary.mean, 2.5);
  EXPECT_EQ(summary.median, 2.5);
  EXPECT_EQ(summary.p95, 4.0);  // ceil(0.95 * 4) = 4th smallest
}

TEST(Summarize, P95UsesNearestRank) {
  std::vector<double> twenty;
  for (int i = 1; i <= 20; ++i) twenty.push_back(i);
  EXPECT_EQ(Summarize(twenty).p95, 19.0);  // ceil(0.95 * 20) = 19th smallest

  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_EQ(Summarize(hundred).p95, 95.0);
  EXPECT_EQ(Summarize(hundred).median, 50.5);

  std::vector<double> twenty_one;
  for (int i = 1; i <= 21; ++i) twenty_one.push_back(i);
  EXPECT_EQ(Summarize(twenty_one).p95, 20.0);  // ceil(0.95 * 21) = ceil(19.95) = 20th smallest
}

TEST(Summarize, P99UsesNearestRank) {
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);
  EXPECT_EQ(Summarize(hundred).p99, 99.0);  // ceil(0.99 * 100) = 99th smallest

  std::vector<double> two_hundred_one;
  for (int i = 1; i <= 201; ++i) two_hundred_one.push_back(i);
  EXPECT_EQ(Summarize(two_hundred_one).p99, 199.0);  // ceil(0.99 * 201) = ceil(198.99) = 199th smallest

  std::vector<double> twenty;
  for (int i = 1; i <= 20; ++i) twenty.push_back(i);
  EXPECT_EQ(Summarize(twenty).p99, 20.0);  // ceil(0.99 * 20) = 20th smallest
}

TEST(Summarize, SingleValue) {
  const MetricSummary summary = Summarize({0.7});
  EXPECT_EQ(summary.count, 1u);
  EXPECT_EQ(summary.mean, 0.7);
  EXPECT_EQ(summary.median, 0.7);
  EXPECT_EQ(summary.p95, 0.7);
  EXPECT_EQ(summary.p99, 0.7);
}

}  // namespace
}  // namespace tessera
