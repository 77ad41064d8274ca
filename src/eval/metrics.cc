#include "eval/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>
#include <numeric>
#include <unordered_set>

namespace tessera {
namespace {

int GradeOf(const JudgedQuery& q, const std::string& product_id) {
  const auto it = q.grades.find(product_id);
  return it == q.grades.end() ? 0 : it->second;
}

double Gain(int grade) { return std::exp2(grade) - 1.0; }

// Discount of the 0-based position `index`, i.e. log2(rank + 1) with rank = index + 1.
double Discount(size_t index) { return std::log2(static_cast<double>(index) + 2.0); }

}  // namespace

double NdcgAtK(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k) {
  if (k == 0) return 0.0;

  std::vector<int> ideal_grades;
  ideal_grades.reserve(q.grades.size());
  for (const auto& [product_id, grade] : q.grades) {
    if (grade > 0) ideal_grades.push_back(grade);
  }
  std::sort(ideal_grades.begin(), ideal_grades.end(), std::greater<>());
  double ideal_dcg = 0.0;
  for (size_t i = 0; i < std::min(k, ideal_grades.size()); ++i) ideal_dcg += Gain(ideal_grades[i]) / Discount(i);
  if (ideal_dcg == 0.0) return 0.0;

  // A repeated id would otherwise collect its gain twice and could push the value above 1.
  std::unordered_set<std::string> seen;
  double dcg = 0.0;
  for (size_t i = 0; i < std::min(k, ranked_ids.size()); ++i) {
    if (!seen.insert(ranked_ids[i]).second) continue;
    dcg += Gain(GradeOf(q, ranked_ids[i])) / Discount(i);
  }
  return dcg / ideal_dcg;
}

double ReciprocalRank(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, int min_grade) {
  const int threshold = std::max(min_grade, 1);
  for (size_t i = 0; i < ranked_ids.size(); ++i) {
    if (GradeOf(q, ranked_ids[i]) >= threshold) return 1.0 / static_cast<double>(i + 1);
  }
  return 0.0;
}

double RecallAtK(const std::vector<std::string>& ranked_ids, const JudgedQuery& q, size_t k) {
  size_t fully_relevant = 0;
  for (const auto& [product_id, grade] : q.grades) fully_relevant += grade == q.max_grade && grade > 0;
  if (k == 0 || fully_relevant == 0) return 0.0;

  // A repeated id would otherwise count twice and could push the value above 1.
  std::unordered_set<std::string> seen;
  size_t found = 0;
  for (size_t i = 0; i < std::min(k, ranked_ids.size()); ++i) {
    if (!seen.insert(ranked_ids[i]).second) continue;
    const int grade = GradeOf(q, ranked_ids[i]);
    found += grade == q.max_grade && grade > 0;
  }
  return static_cast<double>(found) / static_cast<double>(fully_relevant);
}

MetricSummary Summarize(std::vector<double> values) {
  MetricSummary summary;
  if (values.empty()) return summary;
  assert(std::none_of(values.begin(), values.end(), [](double v) { return std::isnan(v); }) &&
         "Summarize: metric values must not be NaN");

  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  summary.count = n;
  summary.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(n);
  summary.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;

  // Nearest rank: the smallest value with at least 95% (99%) of the values at or below it.
  // Integer arithmetic avoids 0.95 * n landing just above a whole number in floating point.
  summary.p95 = values[(95 * n + 99) / 100 - 1];
  summary.p99 = values[(99 * n + 99) / 100 - 1];
  return summary;
}

}  // namespace tessera
