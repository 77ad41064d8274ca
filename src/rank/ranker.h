// Ranker: orders retrieved candidates by relevance. Learned rankers implement the same
// interface, so the engine does not change when a model replaces the baseline.
#pragma once

#include <string>
#include <vector>

#include "retrieve/retriever.h"

namespace tessera {

struct RankedItem {
  Candidate candidate;
  float relevance = 0;       // the ranker's score
  float personal_boost = 0;  // added by personalization; 0 without a profile
  float score = 0;           // relevance + personal_boost; the final order
};

// Thread safety: Rank must be safe to call concurrently.
class Ranker {
 public:
  virtual ~Ranker() = default;
  virtual std::string name() const = 0;
  // Sets relevance and score of every item and sorts them best first; ties keep their order.
  virtual void Rank(std::vector<RankedItem>* items) const = 0;
};

// The baseline: relevance is the retrieval score (normalized BM25, photo similarity, or both).
class RetrievalScoreRanker final : public Ranker {
 public:
  std::string name() const override { return "retrieval-score"; }
  void Rank(std::vector<RankedItem>* items) const override;
};

// Wraps candidates into items in their retrieval order.
std::vector<RankedItem> ToRankedItems(const std::vector<Candidate>& candidates);

}  // namespace tessera
