#include "rank/click_model_ranker.h"

#include <cassert>

namespace tessera {

ClickModelRanker::ClickModelRanker(std::shared_ptr<const ClickModel> model, ClickQueryInput query,
                                   std::vector<ClickProductInput> products)
    : model_(std::move(model)), query_(std::move(query)), products_(std::move(products)) {
  assert(model_ != nullptr);
}

std::vector<float> ClickModelRanker::ScoreAll(const FeatureMatrix& features) const {
  std::vector<const ClickProductInput*> products;
  for (const ClickProductInput& p : products_) products.push_back(&p);
  return model_->Score(query_, products, features);
}

void ClickModelRanker::Rank(const FeatureMatrix& features, std::vector<RankedItem>* items) const {
  const std::vector<float> scores = ScoreAll(features);
  for (RankedItem& item : *items) {
    // A row without a bound product (more rows than products) ranks last.
    item.relevance = item.row < scores.size() ? scores[item.row] : -1e30f;
    item.score = item.relevance + item.personal_boost;
  }
  SortByScore(items);
}

ScoreExplanation ClickModelRanker::Explain(const FeatureMatrix& features, size_t row) const {
  ScoreExplanation explanation;
  const std::vector<float> scores = ScoreAll(features);
  if (row >= scores.size() || row >= features.rows()) return explanation;

  std::vector<float> values;
  for (Feature f : ClickModelFeatures()) values.push_back(features.At(row, f));
  const std::vector<float> attributions = model_->FeatureAttributions(query_, products_[row], values);
  float attributed = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    explanation.contributions.push_back({ClickModelFeatures()[i], values[i], attributions[i]});
    attributed += attributions[i];
  }
  explanation.bias = scores[row] - attributed;
  return explanation;
}

}  // namespace tessera
