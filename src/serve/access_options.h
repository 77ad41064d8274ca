// AccessOptions: the API keys, CORS origin, request size limits and rate limits of `tessera serve`.
// Kept apart from serve/access.h so that HttpServerOptions can hold them.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"
#include "serve/rate_limiter.h"

namespace tessera {

struct AccessOptions {
  // Keys file (serve/api_keys.h). "": no keys, every route is open and a warning is logged at start.
  std::string keys_file;
  // File containing the search-role key that the storefront page is given; "" for none.
  std::string storefront_key_file;
  // The one origin (e.g. "https://shop.example.com") whose browser requests get CORS headers; "" for none.
  std::string cors_origin;

  // Largest query string (the part after '?'), bytes. A 1024-byte query percent-encoded as
  // three bytes per byte, plus filters, fits.
  size_t max_query_bytes = 4096;
  // Largest body of the JSON routes (events, products, users), bytes. A batch of 1,000 events
  // of about 300 bytes each fits three times over.
  size_t max_json_body_bytes = 1u << 20;
  // Largest body of the bulk import (JSON Lines), bytes.
  size_t max_import_body_bytes = 256u << 20;
  // (The photo and voice upload limit is HttpServerOptions::max_body_bytes.)

  // Token buckets per caller, by the caller's role. Without a keys file, callers are client
  // addresses and the route's access chooses the bucket size (open routes use `search`).
  RateLimit search_rate{100, 200};
  RateLimit analytics_rate{20, 40};
  RateLimit admin_rate{100, 200};
  // Whether the limits apply without a keys file. Off by default, so an open server behaves as
  // before keys existed; ParseRateLimitFlag turns it on.
  bool limit_open_server = false;
};

// Parses a --rate-limit value, ROLE=PER_SECOND[/BURST] (e.g. "search=50/100"), into `options`, and
// turns on the limits of an open server. A missing burst is twice the rate; a rate of 0 turns
// the role's limit off.
Status ParseRateLimitFlag(const std::string& text, AccessOptions* options);

}  // namespace tessera
