#include "retrieve/search_request.h"

#include <cmath>

#include "common/text.h"

namespace tessera {

Status ValidateSearchRequest(const SearchRequest& request) {
  if (request.text.size() > kMaxQueryBytes) {
    return Status::InvalidArgument("q is " + std::to_string(request.text.size()) + " bytes, above the limit of " +
                                   std::to_string(kMaxQueryBytes) + ": shorten the query");
  }
  if (!IsValidUtf8(request.text)) return Status::InvalidArgument("q is not valid UTF-8: encode the query as UTF-8");
  if (request.session_id.size() > kMaxSessionIdBytes) {
    return Status::InvalidArgument("session is " + std::to_string(request.session_id.size()) +
                                   " bytes, above the limit of " + std::to_string(kMaxSessionIdBytes));
  }
  if (request.page < 1) return Status::InvalidArgument("page must be 1 or more");
  if (request.per_page < 1 || request.per_page > kMaxPerPage) {
    return Status::InvalidArgument("per_page is " + std::to_string(request.per_page) + ": use 1 to " +
                                   std::to_string(kMaxPerPage));
  }
  // Divides instead of multiplying, because page * per_page wraps around for a page near 2^64.
  if (request.page > kMaxResultWindow / request.per_page) {
    return Status::InvalidArgument("page " + std::to_string(request.page) + " x per_page " +
                                   std::to_string(request.per_page) + " reaches past result " +
                                   std::to_string(kMaxResultWindow) + ": narrow the query with filters instead");
  }
  for (const auto& [name, bound] : {std::pair{"price_min", request.filters.price_min},
                                    std::pair{"price_max", request.filters.price_max}}) {
    if (bound && (!std::isfinite(*bound) || *bound < 0)) {
      return Status::InvalidArgument(std::string(name) + " must be a finite number >= 0");
    }
  }
  for (const std::string& field : request.filters.missing) {
    if (field != "price" && field != "category" && field != "gender" && field != "colour") {
      return Status::InvalidArgument("missing=" + Excerpt(field) +
                                     " names an unknown field: use price, category, gender or colour");
    }
  }
  if (request.filters.price_min && request.filters.price_max &&
      *request.filters.price_min > *request.filters.price_max) {
    return Status::InvalidArgument("price_min " + std::to_string(*request.filters.price_min) + " is above price_max " +
                                   std::to_string(*request.filters.price_max) + ": swap them");
  }
  return Status::Ok();
}

}  // namespace tessera
