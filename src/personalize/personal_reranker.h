// PersonalReranker: moves results toward what the shopper interacted with.
//
// boost = strength_factor * sum over facets of weight(facet) * share(product's value of facet),
// where share is the fraction of the shopper's affinity in that facet that the value holds, and
// strength_factor = strength / (strength + confidence_weight) grows with the decayed amount of
// evidence (one click gives 0.5 with the defaults). The boost is added to the ranker's score,
// which lies in [0, 1], so `max_boost` bounds how far personalization can override relevance.
//
// The session term adds short-term interest: session_weight * session_factor * cosine, where
// cosine is between the session direction (SessionVector) and the product's fused joint-space
// vector, and session_factor = w / (w + session_confidence_weight) grows with the session's
// decayed event weight w. It lies in [-session_weight, session_weight].
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ingest/product.h"
#include "personalize/profile.h"
#include "rank/ranker.h"

namespace tessera {

struct PersonalizationOptions {
  std::map<std::string, double> facet_weights = {
      {"article_type", 0.5}, {"colour", 0.3}, {"gender", 0.1}, {"brand", 0.1}};
  // Chosen on the tuning split of the simulated shoppers (docs/personalization.md): with
  // session_weight 0.3, 1.0 gave a higher nDCG@10 after 1, 3 and 10 events than 0.5.
  double max_boost = 1.0;
  double confidence_weight = 2.0;  // evidence at which strength_factor reaches 0.5
  // Weight of the session term; 0 turns it off. On the simulated shoppers' tuning split, 0
  // left 18% of next queries unchanged after a first click and 0.3 none, at a cost of 1.7
  // points of nDCG@10 lift after 3 events (with max_boost 0.5).
  double session_weight = 0.3;
  // Decayed session event weight at which session_factor reaches 0.5 (one click weighs 2).
  double session_confidence_weight = 2.0;

  // The rule that turns a facet value into its part of the boost:
  // - kShare: strength_factor * share(value), the value's fraction of the facet's affinity;
  // - kPosterior: the posterior probability that the value is the shopper's preferred one
  //   (UserProfile::PreferenceProbability with the two parameters below). The boost is then
  //   max_boost times the expected weighted number of preferences the product matches.
  enum class FacetScoring { kShare, kPosterior };
  FacetScoring facet_scoring = FacetScoring::kShare;
  // kPosterior: log odds added per unit of decayed event weight (a click weighs 2), the log of
  // how much likelier a shopper clicks a product of their preferred value than of another.
  double evidence_per_weight = 0.5;
  // kPosterior: how many values of a facet, beyond those in the profile, could be preferred.
  double unseen_values = 10;
};

// How one product's boost was made, for explanations.
struct BoostExplanation {
  std::map<std::string, double> by_facet;  // facet -> contribution to the boost
};

class PersonalReranker {
 public:
  explicit PersonalReranker(PersonalizationOptions options) : options_(std::move(options)) {}

  // Returns the boost for `product`; fills `explanation` when not null.
  double Boost(const Product& product, const UserProfile& profile, double strength_factor,
               BoostExplanation* explanation) const;

  // Sets personal_boost (the boost plus the session term, times `scale`, the ranker's
  // personal_scale) and score of every item from `profile`, then re-sorts them, best first, with
  // ties in their order. `product_of` returns the product of a DocId. `session_term` returns the
  // session term of a DocId, as SessionTerm computes it, and is empty when there is no session.
  // Without `facet_boost` only the session term is added: a ranker that learned the personal
  // features has weighed the facets already.
  void Rerank(std::vector<RankedItem>* items, const UserProfile& profile, int64_t now_ms,
              const ProfileOptions& profile_options, const std::function<const Product&(DocId)>& product_of,
              double scale = 1.0, const std::function<double(DocId)>& session_term = {},
              bool facet_boost = true) const;

  // The session term of a product whose fused vector has `cosine` with the session direction,
  // in a session of decayed event weight `session_weight`.
  double SessionTerm(double cosine, double session_weight) const;

  // The ranking features of the shopper for `product`: the affinity share of each facet value
  // and the strength factor.
  PersonalFeatures Features(const Product& product, const UserProfile& profile, double strength_factor) const;

  double StrengthFactor(const UserProfile& profile, int64_t now_ms, const ProfileOptions& profile_options) const;

 private:
  PersonalizationOptions options_;
};

}  // namespace tessera
