// ClickModelRanker: the neural click model as a Ranker for one query's candidates.
//
// The Ranker interface passes only feature rows, but the click model also reads the query's text
// and audio and each product's title and photo. So a ClickModelRanker is bound to one query, and
// it contains those inputs, one product per feature row, in row order.
#pragma once

#include <memory>
#include <vector>

#include "rank/click_model.h"
#include "rank/ranker.h"

namespace tessera {

// Thread safety: immutable after construction; every const method may run concurrently.
class ClickModelRanker final : public Ranker {
 public:
  // `products[i]` is the product of feature row i. `model` must not be null.
  ClickModelRanker(std::shared_ptr<const ClickModel> model, ClickQueryInput query, std::vector<ClickProductInput> products);

  std::string name() const override { return "neural-click"; }
  std::vector<Feature> features() const override { return ClickModelFeatures(); }
  // Relevance is the click model's logit f, without the examination term.
  void Rank(const FeatureMatrix& features, std::vector<RankedItem>* items) const override;
  // Contributions are ClickModel::FeatureAttributions (gradient x input against the training
  // mean) of the ranking features, and the bias is the rest of the score.
  // NOTE: gradient x input is a first-order estimate, and the text, photo and audio branches'
  // share of the score is folded into the bias rather than listed.
  ScoreExplanation Explain(const FeatureMatrix& features, size_t row) const override;

 private:
  std::vector<float> ScoreAll(const FeatureMatrix& features) const;

  std::shared_ptr<const ClickModel> model_;
  ClickQueryInput query_;
  std::vector<ClickProductInput> products_;
};

}  // namespace tessera
