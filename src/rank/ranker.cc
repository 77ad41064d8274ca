#include "rank/ranker.h"

#include <algorithm>

namespace tessera {

void RetrievalScoreRanker::Rank(const FeatureMatrix& features, std::vector<RankedItem>* items) const {
  for (RankedItem& item : *items) {
    item.relevance = features.At(item.row, Feature::kRetrievalScore);
    item.score = item.relevance + item.personal_boost;
  }
  SortByScore(items);
}

ScoreExplanation RetrievalScoreRanker::Explain(const FeatureMatrix& features, size_t row) const {
  const float value = features.At(row, Feature::kRetrievalScore);
  return {0.0f, {{Feature::kRetrievalScore, value, value}}};
}

std::vector<RankedItem> ToRankedItems(const std::vector<Candidate>& candidates) {
  std::vector<RankedItem> items;
  items.reserve(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) items.push_back({candidates[i], i, 0, 0, 0});
  return items;
}

void SortByScore(std::vector<RankedItem>* items) {
  const auto better = [](const RankedItem& a, const RankedItem& b) { return a.score > b.score; };
  // Items often arrive in score order already (the baseline ranks in retrieval order), and
  // stable_sort would still allocate a buffer and merge them.
  if (std::is_sorted(items->begin(), items->end(), better)) return;
  std::stable_sort(items->begin(), items->end(), better);
}

}  // namespace tessera
