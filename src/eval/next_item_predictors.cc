#include "eval/next_item_predictors.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_set>
#include <utility>

namespace tessera {
namespace {

// Keeps the k best of `candidates` under `better`, best first.
template <typename Better>
void KeepBest(std::vector<uint32_t>& candidates, size_t k, Better better) {
  const size_t keep = std::min(k, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                    better);
  candidates.resize(keep);
}

}  // namespace

uint32_t ItemVocabulary::Add(const std::string& item_id) {
  const auto [it, added] = index_.try_emplace(item_id, static_cast<uint32_t>(ids_.size()));
  if (added) ids_.push_back(item_id);
  return it->second;
}

uint32_t ItemVocabulary::Find(const std::string& item_id) const {
  const auto it = index_.find(item_id);
  return it == index_.end() ? kUnknownItem : it->second;
}

PopularityPredictor::PopularityPredictor(const TrainingLog& log) {
  by_count_.resize(log.click_counts.size());
  std::iota(by_count_.begin(), by_count_.end(), 0u);
  std::stable_sort(by_count_.begin(), by_count_.end(),
                   [&](uint32_t a, uint32_t b) { return log.click_counts[a] > log.click_counts[b]; });
}

void PopularityPredictor::Predict(const SessionPrefix& /*prefix*/, size_t k, std::vector<uint32_t>* ranked) const {
  ranked->assign(by_count_.begin(), by_count_.begin() + static_cast<std::ptrdiff_t>(std::min(k, by_count_.size())));
}

CooccurrencePredictor::CooccurrencePredictor(const TrainingLog& log) : followers_(log.vocabulary.size()) {
  std::vector<std::map<uint32_t, uint64_t>> counts(log.vocabulary.size());
  for (const EncodedSession& session : log.sessions) {
    for (size_t i = 0; i + 1 < session.items.size(); ++i) ++counts[session.items[i]][session.items[i + 1]];
  }
  for (size_t item = 0; item < counts.size(); ++item) {
    const std::map<uint32_t, uint64_t>& follower_counts = counts[item];
    std::vector<uint32_t>& followers = followers_[item];
    for (const auto& entry : follower_counts) followers.push_back(entry.first);
    std::sort(followers.begin(), followers.end(), [&](uint32_t a, uint32_t b) {
      const uint64_t count_a = follower_counts.at(a), count_b = follower_counts.at(b);
      if (count_a != count_b) return count_a > count_b;
      if (log.click_counts[a] != log.click_counts[b]) return log.click_counts[a] > log.click_counts[b];
      return a < b;
    });
  }
}

void CooccurrencePredictor::Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const {
  ranked->clear();
  if (prefix.items.empty() || prefix.items.back() == kUnknownItem) return;
  const std::vector<uint32_t>& followers = followers_[prefix.items.back()];
  ranked->assign(followers.begin(), followers.begin() + static_cast<std::ptrdiff_t>(std::min(k, followers.size())));
}

SessionVectorPredictor::SessionVectorPredictor(const TrainingLog& log, const ItemEmbedding& embedding,
                                               SessionOptions options)
    : log_(log), embedding_(embedding), options_(options) {
  assert(embedding.item_count == log.vocabulary.size());
  const size_t dimensions = embedding.dimensions;
  unit_vectors_.assign(embedding.values.begin(), embedding.values.end());
  has_vector_.assign(embedding.item_count, false);
  for (size_t item = 0; item < embedding.item_count; ++item) {
    float* row = unit_vectors_.data() + item * dimensions;
    double norm = 0;
    for (size_t d = 0; d < dimensions; ++d) norm += static_cast<double>(row[d]) * row[d];
    norm = std::sqrt(norm);
    if (!(norm > 0)) continue;
    has_vector_[item] = true;
    for (size_t d = 0; d < dimensions; ++d) row[d] = static_cast<float>(row[d] / norm);
  }
}

void SessionVectorPredictor::Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const {
  ranked->clear();
  SessionVector session;
  for (size_t i = 0; i < prefix.items.size(); ++i) {
    if (prefix.items[i] == kUnknownItem) continue;
    const Status added = session.Add(embedding_.Vector(prefix.items[i]), 1.0, prefix.times_ms[i], options_);
    assert(added.ok());  // every item vector has the embedding's dimension
    (void)added;
  }
  if (session.empty()) return;

  // The dot product with the unit session direction equals SessionVector::Cosine for unit item
  // vectors, at a third of the cost, which matters because every item is scored per prediction.
  const std::vector<float> direction = session.Direction();
  if (direction.empty()) return;
  const size_t dimensions = embedding_.dimensions;
  std::vector<double> scores(embedding_.item_count, -2.0);  // below any cosine: no vector
  for (size_t item = 0; item < embedding_.item_count; ++item) {
    if (!has_vector_[item]) continue;
    const float* row = unit_vectors_.data() + item * dimensions;
    double dot = 0;
    for (size_t d = 0; d < dimensions; ++d) dot += static_cast<double>(row[d]) * direction[d];
    scores[item] = dot;
  }

  ranked->resize(embedding_.item_count);
  std::iota(ranked->begin(), ranked->end(), 0u);
  KeepBest(*ranked, k, [&](uint32_t a, uint32_t b) {
    if (scores[a] != scores[b]) return scores[a] > scores[b];
    if (log_.click_counts[a] != log_.click_counts[b]) return log_.click_counts[a] > log_.click_counts[b];
    return a < b;
  });
}

void FallbackPredictor::Predict(const SessionPrefix& prefix, size_t k, std::vector<uint32_t>* ranked) const {
  primary_.Predict(prefix, k, ranked);
  if (ranked->size() >= k) return;
  std::vector<uint32_t> extra;
  fallback_.Predict(prefix, k + ranked->size(), &extra);
  std::unordered_set<uint32_t> listed(ranked->begin(), ranked->end());
  for (uint32_t item : extra) {
    if (ranked->size() >= k) break;
    if (listed.insert(item).second) ranked->push_back(item);
  }
}

}  // namespace tessera
