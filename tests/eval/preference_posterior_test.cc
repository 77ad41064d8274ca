// The exact posterior over a simulated shopper's preferences, checked by hand on two hypotheses.
#include "eval/preference_posterior.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

Product MakeProduct(const std::string& id, const std::string& colour, const std::string& gender) {
  Product product;
  product.id = id;
  product.title = colour + " " + gender + " shirt";
  product.attributes = {{"article_type", "Shirts"}, {"colour", colour}, {"gender", gender}};
  return product;
}

// A query for which both products are relevant with grade 1.
JudgedQuery ShirtsQuery() {
  JudgedQuery query;
  query.text = "shirts";
  query.grades = {{"navy", 1}, {"black", 1}};
  query.max_grade = 1;
  return query;
}

// Men who like navy or men who like black, equally likely beforehand.
std::vector<WeightedPreferences> TwoHypotheses() { return {{{"Men", "Navy Blue"}, 0.5}, {{"Men", "Black"}, 0.5}}; }

double ProbabilityOfNavy(const PreferencePosterior& posterior) {
  for (const WeightedPreferences& hypothesis : posterior.Posterior()) {
    if (hypothesis.preferences.colour == "Navy Blue") return hypothesis.probability;
  }
  return -1;
}

TEST(PreferencePosterior, StartsAtThePrior) {
  const PreferencePosterior posterior(TwoHypotheses(), ClickModelOptions());
  EXPECT_DOUBLE_EQ(ProbabilityOfNavy(posterior), 0.5);
}

TEST(PreferencePosterior, ClickMultipliesByClickProbability) {
  const Product navy = MakeProduct("navy", "Navy Blue", "Men");
  PreferencePosterior posterior(TwoHypotheses(), ClickModelOptions());
  // A click at rank 2: examination 1/2 under both, click 0.7 (both preferences) against 0.4.
  posterior.Observe(navy, ShirtsQuery(), 2, /*clicked=*/true);
  EXPECT_NEAR(ProbabilityOfNavy(posterior), 0.35 / (0.35 + 0.2), 1e-12);
}

TEST(PreferencePosterior, SkipCountsAgainstTheSkippedValue) {
  const Product navy = MakeProduct("navy", "Navy Blue", "Men");
  PreferencePosterior posterior(TwoHypotheses(), ClickModelOptions());
  // Not clicked at rank 1: 1 - 0.7 against 1 - 0.4.
  posterior.Observe(navy, ShirtsQuery(), 1, /*clicked=*/false);
  EXPECT_NEAR(ProbabilityOfNavy(posterior), 0.3 / (0.3 + 0.6), 1e-12);
}

TEST(PreferencePosterior, IrrelevantResultCarriesNoEvidence) {
  const Product navy = MakeProduct("navy", "Navy Blue", "Men");
  JudgedQuery jeans = ShirtsQuery();
  jeans.grades.clear();
  PreferencePosterior posterior(TwoHypotheses(), ClickModelOptions());
  posterior.Observe(navy, jeans, 1, /*clicked=*/true);
  EXPECT_NEAR(ProbabilityOfNavy(posterior), 0.5, 1e-12);
}

TEST(PreferencePosterior, ExpectedGainAveragesOverHypotheses) {
  const Product navy = MakeProduct("navy", "Navy Blue", "Men");
  const Product black = MakeProduct("black", "Black", "Men");
  PreferencePosterior posterior(TwoHypotheses(), ClickModelOptions());
  posterior.Observe(navy, ShirtsQuery(), 1, /*clicked=*/true);
  const double p = 0.7 / (0.7 + 0.4);
  // Grade 1 + 2 matches (gain 7) when the colour is right, 1 + 1 (gain 3) when not.
  EXPECT_NEAR(posterior.ExpectedGain(navy, ShirtsQuery()), p * 7 + (1 - p) * 3, 1e-12);
  EXPECT_NEAR(posterior.ExpectedGain(black, ShirtsQuery()), p * 3 + (1 - p) * 7, 1e-12);
  EXPECT_NEAR(posterior.ExpectedGrade(navy, ShirtsQuery()), p * 3 + (1 - p) * 2, 1e-12);
}

TEST(PreferencePrior, FollowsProductCounts) {
  // 300 navy men's shirts, 100 black ones (below the 200-product floor), 100 women's navy.
  std::vector<Product> products;
  for (int i = 0; i < 300; ++i) products.push_back(MakeProduct("m" + std::to_string(i), "Navy Blue", "Men"));
  for (int i = 0; i < 100; ++i) products.push_back(MakeProduct("b" + std::to_string(i), "Black", "Men"));
  for (int i = 0; i < 100; ++i) products.push_back(MakeProduct("w" + std::to_string(i), "Navy Blue", "Women"));
  ShopperPopulationOptions options;
  options.min_colour_products = 200;
  const std::vector<WeightedPreferences> prior = PreferencePrior(products, options);
  // Women have no colour with 200 products, and DrawShoppers draws again when that happens, so
  // men who like navy are the only hypothesis.
  ASSERT_EQ(prior.size(), 1u);
  EXPECT_EQ(prior[0].preferences.colour, "Navy Blue");
  EXPECT_NEAR(prior[0].probability, 1.0, 1e-12);
}

TEST(PreferencePrior, SplitsGendersThenColours) {
  std::vector<Product> products;
  for (int i = 0; i < 300; ++i) products.push_back(MakeProduct("n" + std::to_string(i), "Navy Blue", "Men"));
  for (int i = 0; i < 200; ++i) products.push_back(MakeProduct("b" + std::to_string(i), "Black", "Men"));
  for (int i = 0; i < 500; ++i) products.push_back(MakeProduct("w" + std::to_string(i), "Navy Blue", "Women"));
  ShopperPopulationOptions options;
  options.min_colour_products = 200;
  const std::vector<WeightedPreferences> prior = PreferencePrior(products, options);
  ASSERT_EQ(prior.size(), 3u);
  // Men and Women have 500 products each; men's colours split 300 to 200.
  EXPECT_EQ(prior[0].preferences.gender, "Men");
  EXPECT_EQ(prior[0].preferences.colour, "Black");
  EXPECT_NEAR(prior[0].probability, 0.5 * 0.4, 1e-12);
  EXPECT_EQ(prior[1].preferences.colour, "Navy Blue");
  EXPECT_NEAR(prior[1].probability, 0.5 * 0.6, 1e-12);
  EXPECT_EQ(prior[2].preferences.gender, "Women");
  EXPECT_NEAR(prior[2].probability, 0.5, 1e-12);
}

}  // namespace
}  // namespace tessera
