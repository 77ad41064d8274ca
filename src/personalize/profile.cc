#include "personalize/profile.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

constexpr std::string_view kAffinityPrefix = "a:";

// The shortest text that std::from_chars reads back as exactly `value`.
template <typename Number>
std::string NumberText(Number value) {
  char text[64];
  const std::to_chars_result written = std::to_chars(text, text + sizeof(text), value);
  return std::string(text, written.ptr);
}

template <typename Number>
bool ParseNumber(const std::string& text, Number* value) {
  const std::from_chars_result read = std::from_chars(text.data(), text.data() + text.size(), *value);
  return read.ec == std::errc() && read.ptr == text.data() + text.size();
}

}  // namespace

double ProfileOptions::WeightOf(EventType type) const {
  switch (type) {
    // Searches and impressions show what was offered, not what the shopper likes.
    case EventType::kSearch: return 0;
    case EventType::kImpression: return 0;
    case EventType::kView: return view_weight;
    case EventType::kClick: return click_weight;
    case EventType::kAddToCart: return add_to_cart_weight;
    case EventType::kPurchase: return purchase_weight;
  }
  return click_weight;
}

std::string PriceBand(double price, const std::string& currency) {
  if (!(price > 0) || !std::isfinite(price)) return "";
  // The bands are [1, 2), [2, 5), [5, 10) times a power of ten.
  double decade = std::pow(10.0, std::floor(std::log10(price)));
  if (price < decade) decade /= 10;  // log10 rounding just below a power of ten
  double low = decade, high = 2 * decade;
  if (price >= 5 * decade) {
    low = 5 * decade;
    high = 10 * decade;
  } else if (price >= 2 * decade) {
    low = 2 * decade;
    high = 5 * decade;
  }
  char band[96];
  std::snprintf(band, sizeof(band), "%s %.10g-%.10g", currency.c_str(), low, high);
  return band;
}

std::string FacetValue(const Product& product, const std::string& facet) {
  if (facet == "brand") return product.brand;
  if (facet == "price_band") return product.price ? PriceBand(*product.price, product.currency) : "";
  return product.Attribute(facet);
}

double DecayFactor(int64_t elapsed_ms, double half_life_hours) {
  if (elapsed_ms <= 0) return 1.0;
  const double half_life_ms = half_life_hours * 3600.0 * 1000.0;
  return std::exp2(-static_cast<double>(elapsed_ms) / half_life_ms);
}

void UserProfile::Apply(const Event& event, const Product& product, const ProfileOptions& options) {
  const int64_t at = std::max(event.timestamp_ms, updated_ms_);
  const double decay = DecayFactor(at - updated_ms_, options.half_life_hours);
  // Decays every affinity at once through the common scale, instead of one by one.
  scale_ *= decay;
  total_weight_ *= decay;
  if (scale_ < kMinScale) Renormalize();

  // An event older than the profile counts with its own age.
  const double weight = options.WeightOf(event.type) * DecayFactor(at - event.timestamp_ms, options.half_life_hours);
  if (weight > 0) {
    const double stored = weight / scale_;
    for (const char* facet : kProfileFacets) {
      const std::string value = FacetValue(product, facet);
      if (!value.empty()) weights_[facet][value] += stored;
    }
  }
  total_weight_ += weight;
  updated_ms_ = at;
  ++event_count_;
}

void UserProfile::Renormalize() {
  for (auto& [facet, values] : weights_) {
    for (auto& [value, weight] : values) weight *= scale_;
  }
  scale_ = 1.0;
}

std::map<std::string, std::map<std::string, double>> UserProfile::Weights() const {
  std::map<std::string, std::map<std::string, double>> weights = weights_;
  for (auto& [facet, values] : weights) {
    for (auto& [value, weight] : values) weight *= scale_;
  }
  return weights;
}

double UserProfile::Share(const std::string& facet, const std::string& value) const {
  auto values = weights_.find(facet);
  if (values == weights_.end()) return 0;
  double total = 0;
  for (const auto& [v, weight] : values->second) total += weight;
  auto it = values->second.find(value);
  if (it == values->second.end() || total <= 0) return 0;
  return it->second / total;
}

double UserProfile::PreferenceProbability(const std::string& facet, const std::string& value,
                                          double evidence_per_weight, double unseen_values) const {
  auto values = weights_.find(facet);
  if (values == weights_.end() || values->second.empty()) return 0;
  // Log-sum-exp around the largest exponent, so that long histories do not overflow.
  double top = 0;
  for (const auto& [v, stored] : values->second) top = std::max(top, evidence_per_weight * stored * scale_);
  double total = unseen_values * std::exp(-top);
  for (const auto& [v, stored] : values->second) total += std::exp(evidence_per_weight * stored * scale_ - top);
  auto it = values->second.find(value);
  const double exponent = it == values->second.end() ? 0 : evidence_per_weight * it->second * scale_;
  return std::exp(exponent - top) / total;
}

double UserProfile::Strength(int64_t now_ms, const ProfileOptions& options) const {
  return total_weight_ * DecayFactor(now_ms - updated_ms_, options.half_life_hours);
}

std::map<std::string, std::map<std::string, double>> UserProfile::Shares() const {
  std::map<std::string, std::map<std::string, double>> shares;
  for (const auto& [facet, values] : weights_) {
    for (const auto& [value, weight] : values) shares[facet][value] = Share(facet, value);
  }
  return shares;
}

nlohmann::json UserProfile::ToJson() const {
  // Version 2 stores the weights divided by the scale, and the scale, exactly as held, so a
  // profile read back goes on with the same roundings as one that stayed in memory.
  return {{"version", 2},
          {"weights", weights_},
          {"scale", scale_},
          {"total_weight", total_weight_},
          {"updated_ms", updated_ms_},
          {"event_count", event_count_}};
}

Result<UserProfile> UserProfile::FromJson(const nlohmann::json& object) {
  try {
    const int version = object.at("version").get<int>();
    if (version != 1 && version != 2) {
      return Status::Corruption("profile record has an unknown version " + std::to_string(version) +
                                ": expected 1 or 2");
    }
    UserProfile profile;
    profile.weights_ = object.at("weights").get<std::map<std::string, std::map<std::string, double>>>();
    // Version 1 stored the decayed weights themselves, which is scale 1.
    if (version == 2) profile.scale_ = object.at("scale").get<double>();
    if (!(profile.scale_ > 0) || !std::isfinite(profile.scale_)) {
      return Status::Corruption("profile record has an invalid scale: expected a positive finite number");
    }
    profile.total_weight_ = object.at("total_weight").get<double>();
    profile.updated_ms_ = object.at("updated_ms").get<int64_t>();
    profile.event_count_ = object.at("event_count").get<uint64_t>();
    return profile;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("profile record is malformed: ") + e.what());
  }
}

std::map<std::string, std::string> UserProfile::ToFields() const {
  std::map<std::string, std::string> fields = {{"format", kFieldsFormat},
                                               {"scale", NumberText(scale_)},
                                               {"total_weight", NumberText(total_weight_)},
                                               {"updated_ms", NumberText(updated_ms_)},
                                               {"event_count", NumberText(event_count_)}};
  for (const auto& [facet, values] : weights_) {
    for (const auto& [value, weight] : values) {
      fields.emplace(std::string(kAffinityPrefix) + facet + ":" + value, NumberText(weight));
    }
  }
  return fields;
}

Result<UserProfile> UserProfile::FromFields(const std::map<std::string, std::string>& fields) {
  auto invalid = [](const std::string& field, const std::string& expected) {
    return Status::Corruption("profile field '" + field + "' is invalid: expected " + expected);
  };
  auto format = fields.find("format");
  if (format == fields.end() || format->second != kFieldsFormat) {
    return Status::Corruption("profile fields have format '" + (format == fields.end() ? "" : format->second) +
                              "': expected " + kFieldsFormat);
  }
  UserProfile profile;
  bool has_scale = false, has_total = false, has_updated = false, has_count = false;
  for (const auto& [field, text] : fields) {
    if (field == "format") continue;
    if (field == "scale") {
      has_scale = ParseNumber(text, &profile.scale_) && profile.scale_ > 0 && std::isfinite(profile.scale_);
      if (!has_scale) return invalid(field, "a positive finite number");
    } else if (field == "total_weight") {
      has_total = ParseNumber(text, &profile.total_weight_);
      if (!has_total) return invalid(field, "a number");
    } else if (field == "updated_ms") {
      has_updated = ParseNumber(text, &profile.updated_ms_);
      if (!has_updated) return invalid(field, "an integer");
    } else if (field == "event_count") {
      has_count = ParseNumber(text, &profile.event_count_);
      if (!has_count) return invalid(field, "a non-negative integer");
    } else if (field.rfind(kAffinityPrefix, 0) == 0) {
      // Facet names contain no ':', values may.
      const size_t colon = field.find(':', kAffinityPrefix.size());
      double weight = 0;
      if (colon == std::string::npos || !ParseNumber(text, &weight)) return invalid(field, "a:<facet>:<value> = a number");
      profile.weights_[field.substr(kAffinityPrefix.size(), colon - kAffinityPrefix.size())][field.substr(colon + 1)] =
          weight;
    } else {
      return Status::Corruption("profile field '" + field + "' is unknown to format " + kFieldsFormat);
    }
  }
  if (!has_scale || !has_total || !has_updated || !has_count) {
    return Status::Corruption("profile fields lack one of scale, total_weight, updated_ms and event_count");
  }
  return profile;
}

}  // namespace tessera
