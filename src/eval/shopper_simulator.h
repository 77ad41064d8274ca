// Simulated shoppers: latent preferences, position-biased clicks and preference-aware relevance,
// for measuring personalization offline. docs/personalization.md states every parameter.
//
// A shopper prefers one gender and one colour, drawn from the catalogue's columns. They search
// with judged queries that name neither (an article type, with or without a usage). They click
// a result with a probability that falls with its rank (examination) and rises with how well
// the product fits the query and their preferences. The relevance a shopper sees in a result is
// the query's judged grade plus one per preference the product matches.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "eval/judgments.h"
#include "ingest/product.h"

namespace tessera {

struct ShopperPreferences {
  std::string gender;  // catalogue value, e.g. "Women"
  std::string colour;  // catalogue value, e.g. "Navy Blue"
};

// The number of `preferences` that `product` matches, 0 to 2. Values compare case-insensitively;
// a Unisex product matches a shopper who prefers Men or Women, as GradeProduct grades it.
int PreferenceMatches(const Product& product, const ShopperPreferences& preferences);

// The relevance of `product` for a shopper who ran `query`: 0 when the query's grade is 0,
// otherwise the grade plus PreferenceMatches.
int ShopperRelevance(const Product& product, const JudgedQuery& query, const ShopperPreferences& preferences);

// `query` with its grades replaced by ShopperRelevance, for NdcgAtK. `products` maps every
// graded product id to its product; max_grade becomes the query's max_grade plus 2.
JudgedQuery ShopperJudgedQuery(const JudgedQuery& query, const ShopperPreferences& preferences,
                               const std::map<std::string, const Product*>& products);

struct ClickModelOptions {
  // Probability that the shopper looks at the result at 1-based rank r: 1 / r^examination_power.
  double examination_power = 1.0;
  // Probability of a click on an examined result: not_relevant when the query's grade is 0,
  // otherwise relevant_base + per_preference * PreferenceMatches.
  double not_relevant = 0.02;
  double relevant_base = 0.1;
  double per_preference = 0.3;
};

double ExaminationProbability(size_t rank, const ClickModelOptions& options);
double ClickProbability(const Product& product, const JudgedQuery& query, const ShopperPreferences& preferences,
                        const ClickModelOptions& options);

// Draws the clicks on a result page shown best first: the 0-based positions clicked, in rank
// order. Each position is examined and clicked independently.
std::vector<size_t> SimulateClicks(const std::vector<const Product*>& page, const JudgedQuery& query,
                                   const ShopperPreferences& preferences, const ClickModelOptions& options,
                                   std::mt19937_64* random);

struct ShopperPopulationOptions {
  size_t shoppers = 200;
  uint64_t seed = 42;
  // A colour must have at least this many products of the shopper's gender to be preferred.
  size_t min_colour_products = 200;
  // A query suits a shopper when at least this many of its relevant products match both
  // preferences, and at most max_match_share of its relevant products do: personalization can
  // then both find matches and reorder them.
  size_t min_matching_products = 5;
  double max_match_share = 0.6;
  size_t evaluation_queries = 3;  // per shopper, measured at each checkpoint
  // Per shopper, measured at each checkpoint by the query's own grades: queries naming a colour
  // other than the preferred one, where personalization must not override what was asked for.
  size_t conflict_queries = 1;
  size_t browse_queries = 60;     // per shopper at most, the source of their clicks
};

struct SimulatedShopper {
  std::string user_id;
  ShopperPreferences preferences;
  std::vector<const JudgedQuery*> evaluation;  // measured, never clicked
  std::vector<const JudgedQuery*> browsing;    // searched and clicked, in order
  std::vector<const JudgedQuery*> conflict;    // measured by their own grades, never clicked
};

// Product counts by gender (Men and Women only) and by colour within each gender (empty and "NA"
// colours left out): the weights DrawShoppers draws preferences with.
struct PreferenceCounts {
  std::map<std::string, size_t> genders;
  std::map<std::string, std::map<std::string, size_t>> colours;  // gender -> colour -> count
};
PreferenceCounts CountPreferences(const std::vector<Product>& products);

// Draws shoppers. A shopper's gender is drawn with the catalogue's frequency among Men and
// Women, and their colour with its frequency among that gender's products. Their evaluation
// queries are drawn without repeats from the `queries` that name neither gender nor colour and
// suit them, and their browsing queries with repeats from the other suitable ones. A shopper
// with fewer suitable queries than evaluation_queries + 1 is drawn again. Conflict queries are drawn from the colour and article type queries of another
// colour. The same products, queries and options give the same shoppers.
std::vector<SimulatedShopper> DrawShoppers(const std::vector<Product>& products,
                                           const std::vector<JudgedQuery>& queries,
                                           const ShopperPopulationOptions& options);

// The count-based baseline: decayed counts of the facet values (article type, colour, gender,
// brand) of the products a shopper clicked, re-ranking a result list:
//   score = (s - s_min) / (s_max - s_min) + weight * sum over facets of count(value) / count(facet)
// where s is the result's unpersonalized score.
struct AttributeCountOptions {
  double weight = 0.5;
  double half_life_minutes = 30.0;
};

class AttributeCountReranker {
 public:
  explicit AttributeCountReranker(AttributeCountOptions options) : options_(options) {}

  // Counts the product's facet values with weight 1 at `timestamp_ms`; older counts decay.
  void AddClick(const Product& product, int64_t timestamp_ms);

  // Re-orders `results` (unpersonalized scores alongside) best first; ties keep their order.
  struct Result {
    const Product* product = nullptr;
    double score = 0;
  };
  std::vector<const Product*> Rerank(const std::vector<Result>& results) const;

 private:
  AttributeCountOptions options_;
  std::map<std::string, std::map<std::string, double>> counts_;  // facet -> value -> decayed count
  std::map<std::string, double> totals_;                         // facet -> decayed count
  int64_t updated_ms_ = 0;
};

}  // namespace tessera
