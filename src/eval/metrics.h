// Ranking metrics over judged queries. The definitions are written out in docs/evaluation.md.
//
// All functions are pure and safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "eval/judgments.h"

namespace tessera {

// Returns nDCG@k of `ranked_ids` (best first) against the grades of `q`. That is DCG@k divided
// by the DCG@k of the ideal ranking, which sorts all judged grades of `q` in descending order.
// Gain is 2^grade - 1, and the result at 1-based rank r is discounted by log2(r + 1). Only the first
// occurrence of a repeated id counts, so the value stays in [0, 1]. Returns 0 when k is 0 or
// `q` has no grade above 0. A list shorter than k is scored as it is, with no penalty beyond
// the relevant products it misses.
double NdcgAtK(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k);

// Returns 1 / rank of the first result whose grade is at least `min_grade`, or 0 when no result
// qualifies. A `min_grade` below 1 is treated as 1, because grade 0 means not relevant.
double ReciprocalRank(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, int min_grade);

// Returns the share of the fully relevant products of `q` (grade == q.max_grade) that appear
// among the first k of `ranked_ids`. A repeated id counts once. Returns 0 when k is 0 or no
// product of `q` is at max_grade.
double RecallAtK(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k);

struct MetricSummary {
  double mean = 0;
  double median = 0;  // mean of the two middle values when count is even
  double p95 = 0;     // nearest-rank 95th percentile: the ceil(0.95 * count)-th smallest value
  double p99 = 0;     // nearest-rank 99th percentile: the ceil(0.99 * count)-th smallest value
  size_t count = 0;
};

// Summarizes per-query metric values. An empty input returns all zeros. Precondition: no value
// is NaN (asserted).
MetricSummary Summarize(std::vector<double> values);

}  // namespace tessera
