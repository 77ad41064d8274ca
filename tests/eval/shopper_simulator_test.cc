// The shopper simulator on a small made-up catalogue: preferences, relevance, clicks, shopper
// draws and the count-based baseline.
#include "eval/shopper_simulator.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eval/metrics.h"

namespace tessera {
namespace {

Product MakeProduct(const std::string& id, const std::string& article_type, const std::string& colour,
                    const std::string& gender, const std::string& brand = "") {
  Product product;
  product.id = id;
  product.title = colour + " " + gender + " " + article_type;
  product.brand = brand;
  product.attributes = {{"article_type", article_type}, {"colour", colour}, {"gender", gender}};
  return product;
}

// 30 shirts and 30 jeans: for each, 10 navy and 20 black, half for men and half for women.
std::vector<Product> Catalogue() {
  std::vector<Product> products;
  for (const char* type : {"Shirts", "Jeans"}) {
    for (int i = 0; i < 30; ++i) {
      products.push_back(MakeProduct(std::string(type) + std::to_string(i), type, i < 10 ? "Navy Blue" : "Black",
                                     i % 2 == 0 ? "Men" : "Women"));
    }
  }
  return products;
}

const ShopperPreferences kNavyMen{"Men", "Navy Blue"};

TEST(ShopperSimulatorTest, PreferenceMatchesCountsColourAndGender) {
  EXPECT_EQ(PreferenceMatches(MakeProduct("a", "Shirts", "Navy Blue", "Men"), kNavyMen), 2);
  EXPECT_EQ(PreferenceMatches(MakeProduct("b", "Shirts", "navy blue", "Women"), kNavyMen), 1);
  EXPECT_EQ(PreferenceMatches(MakeProduct("c", "Shirts", "Black", "Unisex"), kNavyMen), 1);
  EXPECT_EQ(PreferenceMatches(MakeProduct("d", "Shirts", "Black", "Boys"), kNavyMen), 0);
  EXPECT_EQ(PreferenceMatches(MakeProduct("e", "Shirts", "NA", "Women"), {"Women", "NA"}), 1);
}

TEST(ShopperSimulatorTest, RelevanceAddsMatchesToTheJudgedGrade) {
  JudgedQuery query;
  query.text = "shirts";
  query.max_grade = 1;
  query.grades = {{"a", 1}, {"b", 1}};
  const Product a = MakeProduct("a", "Shirts", "Navy Blue", "Men");
  const Product b = MakeProduct("b", "Shirts", "Black", "Women");
  const Product c = MakeProduct("c", "Jeans", "Navy Blue", "Men");
  EXPECT_EQ(ShopperRelevance(a, query, kNavyMen), 3);
  EXPECT_EQ(ShopperRelevance(b, query, kNavyMen), 1);
  EXPECT_EQ(ShopperRelevance(c, query, kNavyMen), 0) << "a product the query does not match stays at 0";

  const JudgedQuery shopper = ShopperJudgedQuery(query, kNavyMen, {{"a", &a}, {"b", &b}, {"c", &c}});
  EXPECT_EQ(shopper.max_grade, 3);
  EXPECT_EQ(shopper.grades.at("a"), 3);
  EXPECT_EQ(shopper.grades.at("b"), 1);
  EXPECT_FALSE(shopper.grades.contains("c"));
  // The preferred product first is the ideal order.
  EXPECT_DOUBLE_EQ(NdcgAtK({"a", "b"}, shopper, 10), 1.0);
  EXPECT_LT(NdcgAtK({"b", "a"}, shopper, 10), 1.0);
}

TEST(ShopperSimulatorTest, ClicksFallWithRankAndFollowPreferences) {
  ClickModelOptions options;
  EXPECT_DOUBLE_EQ(ExaminationProbability(1, options), 1.0);
  EXPECT_DOUBLE_EQ(ExaminationProbability(4, options), 0.25);

  // A page alternating a preferred and an unpreferred relevant shirt.
  const std::vector<Product> products = Catalogue();
  JudgedQuery query;
  std::vector<const Product*> page;
  for (const Product& product : products) {
    if (product.Attribute("article_type") != "Shirts") continue;
    query.grades[product.id] = 1;
  }
  page = {&products[0], &products[11], &products[2], &products[13], &products[4],
          &products[15], &products[6], &products[17], &products[8], &products[19]};
  std::mt19937_64 random(42);
  std::vector<size_t> clicks_at(page.size(), 0);
  for (int i = 0; i < 4000; ++i) {
    for (size_t position : SimulateClicks(page, query, kNavyMen, options, &random)) ++clicks_at[position];
  }
  // Rank 1 (preferred) is clicked about 4000 x 0.7 times; rank 2 (not preferred) about
  // 4000 x 0.5 x 0.1 (a black shirt for women).
  EXPECT_NEAR(clicks_at[0], 2800, 150);
  EXPECT_NEAR(clicks_at[1], 200, 60);
  EXPECT_GT(clicks_at[0], clicks_at[2]);
  EXPECT_GT(clicks_at[2], clicks_at[8]);

  // The same seed gives the same clicks.
  std::mt19937_64 first(7), second(7);
  EXPECT_EQ(SimulateClicks(page, query, kNavyMen, options, &first),
            SimulateClicks(page, query, kNavyMen, options, &second));
}

TEST(ShopperSimulatorTest, DrawnShoppersAreRepeatableAndSuitable) {
  const std::vector<Product> products = Catalogue();
  JudgmentOptions judgment;
  judgment.min_relevant = 1;
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(products, judgment);
  ShopperPopulationOptions options;
  options.shoppers = 5;
  options.min_colour_products = 5;
  options.min_matching_products = 3;
  options.evaluation_queries = 1;
  options.browse_queries = 4;
  const std::vector<SimulatedShopper> shoppers = DrawShoppers(products, queries, options);
  ASSERT_EQ(shoppers.size(), 5u);
  const std::vector<SimulatedShopper> again = DrawShoppers(products, queries, options);
  for (size_t i = 0; i < shoppers.size(); ++i) {
    const SimulatedShopper& shopper = shoppers[i];
    EXPECT_EQ(shopper.user_id, again[i].user_id);
    EXPECT_EQ(shopper.preferences.colour, again[i].preferences.colour);
    EXPECT_EQ(shopper.preferences.gender, again[i].preferences.gender);
    ASSERT_EQ(shopper.evaluation.size(), 1u);
    EXPECT_EQ(shopper.evaluation[0]->text, again[i].evaluation[0]->text);
    EXPECT_EQ(shopper.browsing.size(), 4u);
    // Queries name neither preference, and the evaluation query is never browsed.
    for (const JudgedQuery* query : shopper.browsing) {
      EXPECT_FALSE(query->attributes.contains("colour")) << query->text;
      EXPECT_FALSE(query->attributes.contains("gender")) << query->text;
      EXPECT_NE(query, shopper.evaluation[0]);
    }
  }
}

TEST(ShopperSimulatorTest, CountBaselineMovesClickedValuesUp) {
  const std::vector<Product> products = Catalogue();
  AttributeCountReranker baseline({});
  // Unpersonalized: black women's shirts first, scores falling.
  std::vector<AttributeCountReranker::Result> results = {
      {&products[11], 1.0}, {&products[13], 0.9}, {&products[0], 0.8}, {&products[2], 0.7}};
  EXPECT_EQ(baseline.Rerank(results)[0], &products[11]);

  baseline.AddClick(products[4], 1'000'000);  // a navy shirt for men
  const std::vector<const Product*> ranked = baseline.Rerank(results);
  // products[0]: 1/3 + 0.5 x 3 (type, colour, gender); products[11]: 1 + 0.5 (type);
  // products[2]: 0 + 0.5 x 3, tied with products[11] and after it; products[13]: 2/3 + 0.5.
  ASSERT_EQ(ranked.size(), 4u);
  EXPECT_EQ(ranked[0], &products[0]);
  EXPECT_EQ(ranked[1], &products[11]);
  EXPECT_EQ(ranked[2], &products[2]);
  EXPECT_EQ(ranked[3], &products[13]);
}

}  // namespace
}  // namespace tessera
