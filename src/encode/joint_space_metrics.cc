#include "encode/joint_space_metrics.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

float Dot(const float* a, const float* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Queries are rows of `queries`, candidates rows of `candidates`; query i's own pair is candidate i.
RetrievalMetrics Evaluate(const std::vector<float>& queries, const std::vector<float>& candidates, size_t d,
                          const std::vector<PairLabels>& labels) {
  const size_t n = labels.size();
  RetrievalMetrics m;
  m.queries = n;
  size_t typed_queries = 0, coloured_queries = 0;
  std::vector<float> scores(n);
  std::vector<size_t> others;
  others.reserve(n);
  for (size_t q = 0; q < n; ++q) {
    for (size_t c = 0; c < n; ++c) scores[c] = Dot(&queries[q * d], &candidates[c * d], d);

    // Rank of the own pair: 1 + the candidates scoring at least as high.
    size_t rank = 1;
    for (size_t c = 0; c < n; ++c) {
      if (c != q && scores[c] >= scores[q]) ++rank;
    }
    m.recall_at_1 += rank <= 1 ? 1 : 0;
    m.recall_at_10 += rank <= 10 ? 1 : 0;
    m.mean_reciprocal_rank += 1.0 / static_cast<double>(rank);

    // The 10 best other candidates; ties broken by index so the result is deterministic.
    const PairLabels& label = labels[q];
    if (label.article_type.empty()) continue;
    others.clear();
    for (size_t c = 0; c < n; ++c) {
      if (c != q) others.push_back(c);
    }
    const size_t k = std::min<size_t>(10, others.size());
    if (k == 0) continue;
    std::partial_sort(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(k), others.end(),
                      [&](size_t a, size_t b) { return scores[a] != scores[b] ? scores[a] > scores[b] : a < b; });
    size_t same_type = 0, same_type_colour = 0;
    for (size_t i = 0; i < k; ++i) {
      const PairLabels& other = labels[others[i]];
      if (other.article_type != label.article_type) continue;
      ++same_type;
      if (!label.colour.empty() && other.colour == label.colour) ++same_type_colour;
    }
    m.precision_at_10_type += static_cast<double>(same_type) / static_cast<double>(k);
    ++typed_queries;
    if (!label.colour.empty()) {
      m.precision_at_10_type_colour += static_cast<double>(same_type_colour) / static_cast<double>(k);
      ++coloured_queries;
    }
  }
  if (n > 0) {
    m.recall_at_1 /= static_cast<double>(n);
    m.recall_at_10 /= static_cast<double>(n);
    m.mean_reciprocal_rank /= static_cast<double>(n);
  }
  if (typed_queries > 0) m.precision_at_10_type /= static_cast<double>(typed_queries);
  if (coloured_queries > 0) m.precision_at_10_type_colour /= static_cast<double>(coloured_queries);
  return m;
}

// The probability that a random other pair shares the key of a random labelled query.
double ChanceOfSameKey(const std::vector<std::string>& keys) {
  std::map<std::string, size_t> counts;
  for (const std::string& key : keys) counts[key]++;
  const double n = static_cast<double>(keys.size());
  if (n < 2) return 0;
  double same = 0, queries = 0;
  for (const auto& [key, count] : counts) {
    if (key.empty()) continue;
    same += static_cast<double>(count) * static_cast<double>(count - 1);
    queries += static_cast<double>(count);
  }
  return queries == 0 ? 0 : same / (queries * (n - 1));
}

}  // namespace

JointSpaceMetrics EvaluateJointSpace(const std::vector<float>& texts, const std::vector<float>& photos,
                                     size_t dimension, const std::vector<PairLabels>& labels) {
  JointSpaceMetrics m;
  m.pairs = labels.size();
  m.text_to_photo = Evaluate(texts, photos, dimension, labels);
  m.photo_to_text = Evaluate(photos, texts, dimension, labels);
  std::vector<std::string> types, type_colours;
  for (const PairLabels& l : labels) {
    types.push_back(l.article_type);
    type_colours.push_back(l.article_type.empty() || l.colour.empty() ? "" : l.article_type + "\n" + l.colour);
  }
  m.chance_type = ChanceOfSameKey(types);
  m.chance_type_colour = ChanceOfSameKey(type_colours);
  return m;
}

std::vector<std::pair<std::string, PairLabels>> AttributeQueries(const std::vector<PairLabels>& labels) {
  std::vector<std::pair<std::string, PairLabels>> queries;
  std::set<std::pair<std::string, std::string>> seen;
  for (const PairLabels& l : labels) {
    if (l.article_type.empty() || l.colour.empty()) continue;
    if (!seen.insert({l.article_type, l.colour}).second) continue;
    queries.push_back({l.colour + " " + l.article_type, l});
  }
  return queries;
}

void EvaluateAttributeQueries(const std::vector<float>& queries, const std::vector<PairLabels>& query_labels,
                              const std::vector<float>& photos, size_t d, const std::vector<PairLabels>& labels,
                              JointSpaceMetrics* metrics) {
  RetrievalMetrics& m = metrics->attribute_query_to_photo;
  m = {};
  m.queries = query_labels.size();
  if (m.queries == 0) return;
  const size_t n = labels.size();
  const size_t k = std::min<size_t>(10, n);
  std::vector<float> scores(n);
  std::vector<size_t> order(n);
  for (size_t q = 0; q < query_labels.size(); ++q) {
    for (size_t c = 0; c < n; ++c) {
      scores[c] = Dot(&queries[q * d], &photos[c * d], d);
      order[c] = c;
    }
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](size_t a, size_t b) { return scores[a] != scores[b] ? scores[a] > scores[b] : a < b; });
    size_t same_type = 0, same_type_colour = 0;
    for (size_t i = 0; i < k; ++i) {
      const PairLabels& photo = labels[order[i]];
      if (photo.article_type != query_labels[q].article_type) continue;
      ++same_type;
      if (photo.colour == query_labels[q].colour) ++same_type_colour;
    }
    m.precision_at_10_type += static_cast<double>(same_type) / static_cast<double>(k);
    m.precision_at_10_type_colour += static_cast<double>(same_type_colour) / static_cast<double>(k);
  }
  m.precision_at_10_type /= static_cast<double>(m.queries);
  m.precision_at_10_type_colour /= static_cast<double>(m.queries);
}

nlohmann::json ToJson(const RetrievalMetrics& m) {
  return {{"queries", m.queries},
          {"recall_at_1", m.recall_at_1},
          {"recall_at_10", m.recall_at_10},
          {"mean_reciprocal_rank", m.mean_reciprocal_rank},
          {"precision_at_10_same_type", m.precision_at_10_type},
          {"precision_at_10_same_type_colour", m.precision_at_10_type_colour}};
}

nlohmann::json ToJson(const JointSpaceMetrics& m) {
  return {{"pairs", m.pairs},
          {"text_to_photo", ToJson(m.text_to_photo)},
          {"photo_to_text", ToJson(m.photo_to_text)},
          {"attribute_query_to_photo",
           {{"queries", m.attribute_query_to_photo.queries},
            {"precision_at_10_same_type", m.attribute_query_to_photo.precision_at_10_type},
            {"precision_at_10_same_type_colour", m.attribute_query_to_photo.precision_at_10_type_colour}}},
          {"chance_precision_same_type", m.chance_type},
          {"chance_precision_same_type_colour", m.chance_type_colour}};
}

}  // namespace tessera
