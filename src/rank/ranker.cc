#include "rank/ranker.h"

#include <algorithm>

namespace tessera {

void RetrievalScoreRanker::Rank(std::vector<RankedItem>* items) const {
  for (RankedItem& item : *items) {
    item.relevance = item.candidate.retrieval_score;
    item.score = item.relevance + item.personal_boost;
  }
  std::stable_sort(items->begin(), items->end(),
                   [](const RankedItem& a, const RankedItem& b) { return a.score > b.score; });
}

std::vector<RankedItem> ToRankedItems(const std::vector<Candidate>& candidates) {
  std::vector<RankedItem> items;
  items.reserve(candidates.size());
  for (const Candidate& c : candidates) items.push_back({c, 0, 0, 0});
  return items;
}

}  // namespace tessera
