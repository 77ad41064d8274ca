#include "personalize/personal_reranker.h"

#include <algorithm>

namespace tessera {

double PersonalReranker::StrengthFactor(const UserProfile& profile, int64_t now_ms,
                                        const ProfileOptions& profile_options) const {
  const double strength = profile.Strength(now_ms, profile_options);
  return strength / (strength + options_.confidence_weight);
}

double PersonalReranker::Boost(const Product& product, const UserProfile& profile, double strength_factor,
                               BoostExplanation* explanation) const {
  double boost = 0;
  for (const auto& [facet, weight] : options_.facet_weights) {
    const std::string value = FacetValue(product, facet);
    if (value.empty()) continue;
    const double score = options_.facet_scoring == PersonalizationOptions::FacetScoring::kPosterior
                             ? profile.PreferenceProbability(facet, value, options_.evidence_per_weight,
                                                             options_.unseen_values)
                             : strength_factor * profile.Share(facet, value);
    const double contribution = options_.max_boost * weight * score;
    if (contribution <= 0) continue;
    boost += contribution;
    if (explanation != nullptr) explanation->by_facet[facet] = contribution;
  }
  return boost;
}

void PersonalReranker::Rerank(std::vector<RankedItem>* items, const UserProfile& profile, int64_t now_ms,
                              const ProfileOptions& profile_options,
                              const std::function<const Product&(DocId)>& product_of, double scale,
                              const std::function<double(DocId)>& session_term, bool facet_boost) const {
  const double strength_factor = StrengthFactor(profile, now_ms, profile_options);
  for (RankedItem& item : *items) {
    double boost = facet_boost ? Boost(product_of(item.candidate.doc), profile, strength_factor, nullptr) : 0.0;
    if (session_term) boost += session_term(item.candidate.doc);
    item.personal_boost = static_cast<float>(scale * boost);
    item.score = item.relevance + item.personal_boost;
  }
  SortByScore(items);
}

double PersonalReranker::SessionTerm(double cosine, double session_weight) const {
  if (!(session_weight > 0)) return 0;
  const double factor = session_weight / (session_weight + options_.session_confidence_weight);
  return options_.session_weight * factor * cosine;
}

PersonalFeatures PersonalReranker::Features(const Product& product, const UserProfile& profile,
                                            double strength_factor) const {
  auto share = [&](const char* facet) {
    const std::string value = FacetValue(product, facet);
    return value.empty() ? 0.0f : static_cast<float>(profile.Share(facet, value));
  };
  return {share("article_type"), share("colour"), share("gender"), share("brand"), static_cast<float>(strength_factor)};
}

}  // namespace tessera
