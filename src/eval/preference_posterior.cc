#include "eval/preference_posterior.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

namespace tessera {

std::vector<WeightedPreferences> PreferencePrior(const std::vector<Product>& products,
                                                 const ShopperPopulationOptions& options) {
  // The same counts as DrawShoppers.
  PreferenceCounts counts = CountPreferences(products);
  const std::map<std::string, size_t>& gender_counts = counts.genders;
  std::map<std::string, std::map<std::string, size_t>>& colour_counts = counts.colours;

  double gender_total = 0;
  for (const auto& [gender, count] : gender_counts) gender_total += static_cast<double>(count);
  std::vector<WeightedPreferences> prior;
  for (const auto& [gender, count] : gender_counts) {
    double colour_total = 0;
    for (const auto& [colour, colour_count] : colour_counts[gender]) {
      if (colour_count >= options.min_colour_products) colour_total += static_cast<double>(colour_count);
    }
    for (const auto& [colour, colour_count] : colour_counts[gender]) {
      if (colour_count < options.min_colour_products) continue;
      const double probability = static_cast<double>(count) / gender_total *
                                 static_cast<double>(colour_count) / colour_total;
      prior.push_back({{gender, colour}, probability});
    }
  }
  // DrawShoppers draws again when a gender has no eligible colour, so the rest share its mass.
  double total = 0;
  for (const WeightedPreferences& hypothesis : prior) total += hypothesis.probability;
  for (WeightedPreferences& hypothesis : prior) hypothesis.probability /= total;
  return prior;
}

PreferencePosterior::PreferencePosterior(std::vector<WeightedPreferences> prior, ClickModelOptions clicks)
    : hypotheses_(std::move(prior)), clicks_(clicks) {
  for (const WeightedPreferences& hypothesis : hypotheses_) log_weights_.push_back(std::log(hypothesis.probability));
}

const std::vector<int>& PreferencePosterior::MatchesOf(const Product& product) {
  auto [it, inserted] = matches_.try_emplace(&product);
  if (inserted) {
    for (const WeightedPreferences& hypothesis : hypotheses_) {
      it->second.push_back(PreferenceMatches(product, hypothesis.preferences));
    }
  }
  return it->second;
}

void PreferencePosterior::Observe(const Product& product, const JudgedQuery& query, size_t rank, bool clicked) {
  const double examination = ExaminationProbability(rank, clicks_);
  const auto grade = query.grades.find(product.id);
  const bool relevant = grade != query.grades.end() && grade->second > 0;
  const std::vector<int>& matches = MatchesOf(product);
  for (size_t h = 0; h < hypotheses_.size(); ++h) {
    // ClickProbability's rule, with the cached matches.
    const double click = relevant ? std::min(1.0, clicks_.relevant_base + clicks_.per_preference * matches[h])
                                  : clicks_.not_relevant;
    const double likelihood = clicked ? examination * click : 1 - examination * click;
    log_weights_[h] += std::log(std::max(likelihood, 1e-300));
  }
}

std::vector<WeightedPreferences> PreferencePosterior::Posterior() const {
  std::vector<WeightedPreferences> posterior = hypotheses_;
  if (log_weights_.empty()) return posterior;
  const double top = *std::max_element(log_weights_.begin(), log_weights_.end());
  double total = 0;
  for (size_t h = 0; h < posterior.size(); ++h) {
    posterior[h].probability = std::exp(log_weights_[h] - top);
    total += posterior[h].probability;
  }
  for (WeightedPreferences& hypothesis : posterior) hypothesis.probability /= total;
  return posterior;
}

double PreferencePosterior::ExpectedGain(const Product& product, const JudgedQuery& query) {
  const auto grade = query.grades.find(product.id);
  if (grade == query.grades.end() || grade->second <= 0) return 0;
  const std::vector<int>& matches = MatchesOf(product);
  const std::vector<WeightedPreferences> posterior = Posterior();
  double gain = 0;
  for (size_t h = 0; h < posterior.size(); ++h) {
    gain += posterior[h].probability * (std::exp2(grade->second + matches[h]) - 1);
  }
  return gain;
}

double PreferencePosterior::ExpectedGrade(const Product& product, const JudgedQuery& query) {
  const auto grade = query.grades.find(product.id);
  if (grade == query.grades.end() || grade->second <= 0) return 0;
  const std::vector<int>& matches = MatchesOf(product);
  const std::vector<WeightedPreferences> posterior = Posterior();
  double expected = 0;
  for (size_t h = 0; h < posterior.size(); ++h) expected += posterior[h].probability * (grade->second + matches[h]);
  return expected;
}

}  // namespace tessera
