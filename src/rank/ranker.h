// Ranker: orders retrieved candidates by relevance from their feature rows. The baseline and the
// learned rankers implement the same interface, so the engine does not change when a model
// replaces the baseline.
#pragma once

#include <string>
#include <vector>

#include "rank/features.h"
#include "retrieve/retriever.h"

namespace tessera {

struct RankedItem {
  Candidate candidate;
  size_t row = 0;            // the candidate's row in the query's FeatureMatrix
  float relevance = 0;       // the ranker's score
  float personal_boost = 0;  // added by personalization; 0 without a profile
  float score = 0;           // relevance + personal_boost; the final order
};

// One feature's part in a score.
struct FeatureContribution {
  Feature feature = Feature::kCount;
  float value = 0;         // the feature's value; NaN when missing
  float contribution = 0;  // its share of the score (SHAP value for trees, weight x value for linear)
};

// The parts of a relevance score: bias + the sum of the contributions equals the score, up to
// float rounding.
struct ScoreExplanation {
  float bias = 0;
  std::vector<FeatureContribution> contributions;  // one per feature the ranker reads
};

// Thread safety: every const method must be safe to call concurrently.
class Ranker {
 public:
  virtual ~Ranker() = default;
  virtual std::string name() const = 0;
  // The features the ranker reads, in its own order.
  virtual std::vector<Feature> features() const = 0;
  // Sets relevance and score of every item from its row of `features` and sorts the items best
  // first; ties keep their order.
  virtual void Rank(const FeatureMatrix& features, std::vector<RankedItem>* items) const = 0;
  // The contributions to the relevance of the candidate at `row`.
  virtual ScoreExplanation Explain(const FeatureMatrix& features, size_t row) const = 0;
  // What a personal boost of 1 is worth in this ranker's scores. The baseline's relevance lies in
  // [0, 1]; a learned model's scores spread wider, and the boost follows them.
  virtual float personal_scale() const { return 1.0f; }
  // The consensus depth (FeatureQuery::consensus_depth) the ranker was trained with, which its
  // features must be extracted with; 0 for a ranker not trained on features (the baseline).
  virtual size_t consensus_depth() const { return 0; }
  // Returns true when the ranker learned from rows whose personal features were set (shoppers
  // with profiles). It then orders by the shopper's affinities itself, and the rule-based facet boost
  // of the personalization stage is not added on top.
  virtual bool learned_personal() const { return false; }
};

// The baseline: relevance is the retrieval score (normalized BM25, photo similarity, or both).
class RetrievalScoreRanker final : public Ranker {
 public:
  std::string name() const override { return "retrieval-score"; }
  std::vector<Feature> features() const override { return {Feature::kRetrievalScore}; }
  void Rank(const FeatureMatrix& features, std::vector<RankedItem>* items) const override;
  ScoreExplanation Explain(const FeatureMatrix& features, size_t row) const override;
};

// Wraps candidates into items in their retrieval order, item i reading feature row i.
std::vector<RankedItem> ToRankedItems(const std::vector<Candidate>& candidates);

// Sorts items by score, best first; ties keep their order.
void SortByScore(std::vector<RankedItem>* items);

}  // namespace tessera
