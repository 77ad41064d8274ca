// PreferencePosterior: the exact posterior over a simulated shopper's preferences (gender,
// colour) given the pages they were shown and what they clicked, under the simulator's own
// click model. It bounds what any learner can infer from the same events.
#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

#include "eval/judgments.h"
#include "eval/shopper_simulator.h"
#include "ingest/product.h"

namespace tessera {

// One possible preference with its probability.
struct WeightedPreferences {
  ShopperPreferences preferences;
  double probability = 0;
};

// The distribution DrawShoppers draws preferences from: a gender among Men and Women with its
// product count, then a colour with at least `options.min_colour_products` products of that
// gender, with its count. The probabilities sum to 1. NOTE: DrawShoppers also draws again when
// a shopper has too few suitable queries, which this prior ignores, so it is close to but not
// exactly the population's distribution.
std::vector<WeightedPreferences> PreferencePrior(const std::vector<Product>& products,
                                                 const ShopperPopulationOptions& options);

// Not thread-safe. It caches results by product address, so the products passed to it must outlive it.
class PreferencePosterior {
 public:
  PreferencePosterior(std::vector<WeightedPreferences> prior, ClickModelOptions clicks);

  // Updates the posterior with one result shown at 1-based `rank` for `query`, clicked or not:
  // multiplies each hypothesis by P(clicked | hypothesis) = examination(rank) * ClickProbability,
  // or by one minus that.
  void Observe(const Product& product, const JudgedQuery& query, size_t rank, bool clicked);

  // The posterior mean of 2^grade - 1, with grade = ShopperRelevance(product, query, preferences).
  // Sorting by it maximizes the expected DCG, so the expected nDCG, of a re-ordered list.
  double ExpectedGain(const Product& product, const JudgedQuery& query);

  // The posterior mean of ShopperRelevance(product, query, preferences).
  double ExpectedGrade(const Product& product, const JudgedQuery& query);

  // The hypotheses with their posterior probabilities, which sum to 1.
  std::vector<WeightedPreferences> Posterior() const;

 private:
  // PreferenceMatches of `product` for each hypothesis, cached per product.
  const std::vector<int>& MatchesOf(const Product& product);

  std::vector<WeightedPreferences> hypotheses_;
  std::vector<double> log_weights_;  // unnormalized log posterior, one per hypothesis
  ClickModelOptions clicks_;
  std::unordered_map<const Product*, std::vector<int>> matches_;
};

}  // namespace tessera
