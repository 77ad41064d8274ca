// SearchRequest: a shopper's search, independent of how it arrived (HTTP, CLI, tests).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace tessera {

struct SearchFilters {
  // Each of these is one value or several separated by commas, any of which may match
  // ("Men,Women"). Values are compared after Unicode case folding.
  std::string category;  // matches any level of the category path
  std::string gender;
  std::string colour;
  std::optional<double> price_min;  // inclusive, in the catalogue's currency
  std::optional<double> price_max;  // inclusive
  // Fields the product must have no value for: "price", "category", "gender" or "colour".
  std::vector<std::string> missing;

  bool empty() const {
    return category.empty() && gender.empty() && colour.empty() && !price_min && !price_max && missing.empty();
  }
};

// Limits enforced by ValidateSearchRequest.
inline constexpr size_t kMaxQueryBytes = 1024;
inline constexpr size_t kMaxPerPage = 100;
inline constexpr size_t kMaxResultWindow = 10000;  // page * per_page
inline constexpr size_t kMaxSessionIdBytes = 128;

struct SearchRequest {
  std::string text;                         // may be empty: then filters alone select (browse)
  std::vector<float> image_vector;          // set for photo queries; empty otherwise
  // The query in the joint text-photo space, from its words, its photo or both; empty when the
  // engine has no joint model. Set by the engine, not by callers.
  std::vector<float> joint_vector;
  SearchFilters filters;
  size_t page = 1;                          // 1-based
  size_t per_page = 24;
  std::string user_id;                      // personalizes when set and known
  // The shopper's session, as their events name it; "" for their most recently active session.
  std::string session_id;
  bool explain = false;
  // Search-as-you-type: the last word may be incomplete, so it also matches words it begins.
  bool prefix = false;
  // Count products per gender, colour and category among the matches (about 200 bitmap
  // intersections); callers that show no filters can turn it off.
  bool facets = true;
};

// Checks sizes and ranges; the message names the parameter and the allowed range.
Status ValidateSearchRequest(const SearchRequest& request);

}  // namespace tessera
