#include "eval/shopper_simulator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/text.h"

namespace tessera {
namespace {

// Templates whose queries name neither gender nor colour, so a preference is never part of the query.
bool NamesNoPreference(const JudgedQuery& query) {
  return query.query_template == QueryTemplateName(QueryTemplate::kArticleType) ||
         query.query_template == QueryTemplateName(QueryTemplate::kUsageArticleType);
}

// Draws an index of `weights` with probability proportional to its weight.
size_t DrawWeighted(const std::vector<double>& weights, std::mt19937_64* random) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  // Only the raw 64-bit output is used, so the draw is the same on every platform.
  const double point = static_cast<double>((*random)() >> 11) * 0x1.0p-53 * total;
  double sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    sum += weights[i];
    if (point < sum) return i;
  }
  return weights.size() - 1;
}

double Uniform(std::mt19937_64* random) { return static_cast<double>((*random)() >> 11) * 0x1.0p-53; }

std::string FacetOf(const Product& product, const std::string& facet) {
  return facet == "brand" ? product.brand : product.Attribute(facet);
}

constexpr const char* kCountedFacets[] = {"article_type", "colour", "gender", "brand"};

}  // namespace

int PreferenceMatches(const Product& product, const ShopperPreferences& preferences) {
  // GradeProduct's rules (case folding, "NA", Unisex) applied to a query of the product's own
  // article type and the preferred values: every point past the article type is a match.
  const std::map<std::string, std::string> query = {{"article_type", LowerAscii(product.Attribute("article_type"))},
                                                    {"colour", LowerAscii(preferences.colour)},
                                                    {"gender", LowerAscii(preferences.gender)}};
  return std::max(0, GradeProduct(product, query) - 1);
}

int ShopperRelevance(const Product& product, const JudgedQuery& query, const ShopperPreferences& preferences) {
  const auto it = query.grades.find(product.id);
  if (it == query.grades.end() || it->second <= 0) return 0;
  return it->second + PreferenceMatches(product, preferences);
}

JudgedQuery ShopperJudgedQuery(const JudgedQuery& query, const ShopperPreferences& preferences,
                               const std::map<std::string, const Product*>& products) {
  JudgedQuery shopper = query;
  shopper.max_grade = query.max_grade + 2;
  for (auto& [id, grade] : shopper.grades) {
    const auto product = products.find(id);
    if (product != products.end()) grade += PreferenceMatches(*product->second, preferences);
  }
  return shopper;
}

double ExaminationProbability(size_t rank, const ClickModelOptions& options) {
  return std::pow(static_cast<double>(std::max<size_t>(rank, 1)), -options.examination_power);
}

double ClickProbability(const Product& product, const JudgedQuery& query, const ShopperPreferences& preferences,
                        const ClickModelOptions& options) {
  const auto it = query.grades.find(product.id);
  if (it == query.grades.end() || it->second <= 0) return options.not_relevant;
  return std::min(1.0, options.relevant_base + options.per_preference * PreferenceMatches(product, preferences));
}

std::vector<size_t> SimulateClicks(const std::vector<const Product*>& page, const JudgedQuery& query,
                                   const ShopperPreferences& preferences, const ClickModelOptions& options,
                                   std::mt19937_64* random) {
  std::vector<size_t> clicked;
  for (size_t i = 0; i < page.size(); ++i) {
    // Both draws are made for every position, so a change in one result's appeal does not shift
    // the random stream of the positions after it.
    const double examine = Uniform(random);
    const double click = Uniform(random);
    if (examine < ExaminationProbability(i + 1, options) &&
        click < ClickProbability(*page[i], query, preferences, options)) {
      clicked.push_back(i);
    }
  }
  return clicked;
}

PreferenceCounts CountPreferences(const std::vector<Product>& products) {
  PreferenceCounts counts;
  for (const Product& product : products) {
    const std::string& gender = product.Attribute("gender");
    if (gender != "Men" && gender != "Women") continue;
    ++counts.genders[gender];
    const std::string& colour = product.Attribute("colour");
    if (!colour.empty() && colour != "NA") ++counts.colours[gender][colour];
  }
  return counts;
}

std::vector<SimulatedShopper> DrawShoppers(const std::vector<Product>& products,
                                           const std::vector<JudgedQuery>& queries,
                                           const ShopperPopulationOptions& options) {
  std::map<std::string, const Product*> by_id;
  for (const Product& product : products) by_id[product.id] = &product;

  PreferenceCounts counts = CountPreferences(products);
  const std::map<std::string, size_t>& gender_counts = counts.genders;
  std::map<std::string, std::map<std::string, size_t>>& colour_counts = counts.colours;
  std::vector<std::string> genders;
  std::vector<double> gender_weights;
  for (const auto& [gender, count] : gender_counts) {
    genders.push_back(gender);
    gender_weights.push_back(static_cast<double>(count));
  }
  std::vector<const JudgedQuery*> candidates, coloured;
  for (const JudgedQuery& query : queries) {
    if (NamesNoPreference(query)) candidates.push_back(&query);
    if (query.query_template == QueryTemplateName(QueryTemplate::kColourArticleType)) coloured.push_back(&query);
  }

  std::mt19937_64 random(options.seed);
  std::vector<SimulatedShopper> shoppers;
  if (genders.empty() || candidates.empty()) return shoppers;
  // Bounded: a population whose draws never suit any query ends short instead of looping.
  for (size_t attempt = 0; shoppers.size() < options.shoppers && attempt < 100 * options.shoppers; ++attempt) {
    SimulatedShopper shopper;
    shopper.preferences.gender = genders[DrawWeighted(gender_weights, &random)];
    std::vector<std::string> colours;
    std::vector<double> colour_weights;
    for (const auto& [colour, count] : colour_counts[shopper.preferences.gender]) {
      if (count < options.min_colour_products) continue;
      colours.push_back(colour);
      colour_weights.push_back(static_cast<double>(count));
    }
    if (colours.empty()) continue;
    shopper.preferences.colour = colours[DrawWeighted(colour_weights, &random)];

    std::vector<const JudgedQuery*> suitable;
    for (const JudgedQuery* query : candidates) {
      size_t matching = 0;
      for (const auto& [id, grade] : query->grades) {
        const auto product = by_id.find(id);
        if (grade > 0 && product != by_id.end() && PreferenceMatches(*product->second, shopper.preferences) == 2) {
          ++matching;
        }
      }
      const double share = static_cast<double>(matching) / static_cast<double>(std::max<size_t>(1, query->grades.size()));
      if (matching >= options.min_matching_products && share <= options.max_match_share) suitable.push_back(query);
    }
    if (suitable.size() < options.evaluation_queries + 1) continue;
    std::shuffle(suitable.begin(), suitable.end(), random);
    shopper.evaluation.assign(suitable.begin(), suitable.begin() + static_cast<std::ptrdiff_t>(options.evaluation_queries));
    // Browsing draws with repeats from the other suitable queries, as shoppers search again.
    const std::vector<const JudgedQuery*> rest(suitable.begin() + static_cast<std::ptrdiff_t>(options.evaluation_queries),
                                               suitable.end());
    for (size_t i = 0; i < options.browse_queries; ++i) shopper.browsing.push_back(rest[random() % rest.size()]);
    std::vector<const JudgedQuery*> conflicting;
    for (const JudgedQuery* query : coloured) {
      const auto colour = query->attributes.find("colour");
      if (colour != query->attributes.end() && colour->second != LowerAscii(shopper.preferences.colour)) {
        conflicting.push_back(query);
      }
    }
    for (size_t i = 0; i < options.conflict_queries && !conflicting.empty(); ++i) {
      shopper.conflict.push_back(conflicting[random() % conflicting.size()]);
    }
    shopper.user_id = "shopper-" + std::to_string(shoppers.size() + 1);
    shoppers.push_back(std::move(shopper));
  }
  return shoppers;
}

void AttributeCountReranker::AddClick(const Product& product, int64_t timestamp_ms) {
  if (timestamp_ms > updated_ms_) {
    const double elapsed_minutes = static_cast<double>(timestamp_ms - updated_ms_) / 60000.0;
    const double decay = updated_ms_ == 0 ? 1.0 : std::exp2(-elapsed_minutes / options_.half_life_minutes);
    for (auto& [facet, values] : counts_) {
      for (auto& [value, count] : values) count *= decay;
      totals_[facet] *= decay;
    }
    updated_ms_ = timestamp_ms;
  }
  for (const char* facet : kCountedFacets) {
    const std::string value = FacetOf(product, facet);
    if (value.empty()) continue;
    counts_[facet][value] += 1.0;
    totals_[facet] += 1.0;
  }
}

std::vector<const Product*> AttributeCountReranker::Rerank(const std::vector<Result>& results) const {
  double low = 0, high = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    low = i == 0 ? results[i].score : std::min(low, results[i].score);
    high = i == 0 ? results[i].score : std::max(high, results[i].score);
  }
  std::vector<std::pair<double, const Product*>> scored;
  for (const Result& result : results) {
    double score = high > low ? (result.score - low) / (high - low) : 0.0;
    for (const auto& [facet, values] : counts_) {
      const auto value = values.find(FacetOf(*result.product, facet));
      const double total = totals_.at(facet);
      if (value != values.end() && total > 0) score += options_.weight * value->second / total;
    }
    scored.emplace_back(score, result.product);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<const Product*> ranked;
  for (const auto& entry : scored) ranked.push_back(entry.second);
  return ranked;
}

}  // namespace tessera
