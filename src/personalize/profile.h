// UserProfile: a shopper's decayed affinities to product facets (article type, colour, gender,
// brand), learned from their events.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "ingest/product.h"
#include "personalize/event.h"

namespace tessera {

struct ProfileOptions {
  // An event's weight halves every `half_life_hours`.
  double half_life_hours = 72.0;
  // Weight of one event by type: stronger intent counts more.
  double view_weight = 1.0;
  double click_weight = 2.0;
  double add_to_cart_weight = 4.0;
  double purchase_weight = 8.0;

  double WeightOf(EventType type) const;
};

// The facets a profile tracks, and the product fields they are read from.
inline constexpr const char* kProfileFacets[] = {"article_type", "colour", "gender", "brand", "price_band"};

// Returns the band of a price on the 1-2-5 scale, with its currency, e.g. "INR 500-1000" for
// 899 INR; "" when `price` is not positive and finite. Bands grow with the price, so a shopper's
// price level is tracked the same way for cheap and expensive article types.
std::string PriceBand(double price, const std::string& currency);

// Returns the product's value for a profile facet ("brand" reads Product::brand, "price_band"
// is PriceBand of its price, the others read attributes), or "" when it has none.
std::string FacetValue(const Product& product, const std::string& facet);

// Not thread-safe; the profile store serializes access.
class UserProfile {
 public:
  // Decays every affinity to the event's time, then adds the event's weight to the product's
  // value of each facet. Events older than the last applied one are decayed to it instead.
  void Apply(const Event& event, const Product& product, const ProfileOptions& options);

  // Fraction in [0, 1] of the facet's affinity that `value` holds. Exponential decay scales all
  // values of a facet alike, so the share does not depend on the reading time.
  double Share(const std::string& facet, const std::string& value) const;

  // Posterior probability in (0, 1) that `value` is the shopper's preferred value of `facet`.
  // The model: the preferred value is one of the profile's values or of `unseen_values` others,
  // all equally likely beforehand. Each unit of event weight on a value multiplies its odds by
  // exp(evidence_per_weight). So P(v) = exp(b * w_v) / (sum over seen u of exp(b * w_u) +
  // unseen_values), with w the decayed weights. 0 when the profile has no weight in `facet`.
  double PreferenceProbability(const std::string& facet, const std::string& value, double evidence_per_weight,
                               double unseen_values) const;

  // Sum of all event weights, decayed to `now_ms`.
  double Strength(int64_t now_ms, const ProfileOptions& options) const;

  // facet -> value -> share, for display.
  std::map<std::string, std::map<std::string, double>> Shares() const;

  uint64_t event_count() const { return event_count_; }
  int64_t updated_ms() const { return updated_ms_; }

  // facet -> value -> decayed weight as of updated_ms().
  std::map<std::string, std::map<std::string, double>> Weights() const;

  // The stored form, version 2: the weights divided by the scale, and the scale. FromJson also
  // reads version 1, which held the decayed weights (scale 1).
  nlohmann::json ToJson() const;
  static Result<UserProfile> FromJson(const nlohmann::json& object);

  // The hash form that RedisProfileStore keeps, one field per value: "format" (kFieldsFormat),
  // "scale", "total_weight", "updated_ms", "event_count", and "a:<facet>:<value>" per affinity,
  // holding its weight divided by the scale as ToJson does. Numbers are written in the shortest
  // form that reads back exactly, so a field's text changes exactly when its value changes.
  std::map<std::string, std::string> ToFields() const;
  static Result<UserProfile> FromFields(const std::map<std::string, std::string>& fields);
  static constexpr const char* kFieldsFormat = "1";

 private:
  // Below this scale the stored weights are multiplied out, so that a new event's stored weight,
  // weight / scale_, stays far from overflow. The scale falls to 2^-64 after 64 half-lives
  // (192 days with the default 72 hours).
  static constexpr double kMinScale = 0x1.0p-64;

  // Multiplies every stored weight by scale_ and sets scale_ to 1.
  void Renormalize();

  // facet -> value -> weight as of updated_ms_, divided by scale_. Decay multiplies scale_
  // alone, so Apply costs the same however many values the profile holds.
  std::map<std::string, std::map<std::string, double>> weights_;
  double scale_ = 1.0;
  double total_weight_ = 0;  // as of updated_ms_, not divided by scale_
  int64_t updated_ms_ = 0;
  uint64_t event_count_ = 0;
};

// 2^(-elapsed / half_life).
double DecayFactor(int64_t elapsed_ms, double half_life_hours);

}  // namespace tessera
