// AccessGate: what the server checks on every request before a route's handler runs: the API key
// and its role, the per-caller rate limit, the query-string and body sizes, and CORS.
//
// It runs in cpp-httplib's pre-routing hook, which receives the request line and headers before
// the body is read, so an unauthenticated, throttled or oversized request is rejected without
// buffering its body. docs/api-security.md describes the behaviour for API users.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/status.h"
#include "serve/access_options.h"
#include "serve/api_keys.h"
#include "serve/http_server.h"
#include "serve/rate_limiter.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace tessera {

class AccessGate {
 public:
  // `routes` must outlive the gate and not change after this call. `max_upload_bytes` is the body
  // limit of the photo and voice search routes.
  AccessGate(AccessOptions options, size_t max_upload_bytes, const std::vector<RouteInfo>* routes);

  // Reads the keys file and the storefront key, and logs which mode the server runs in. Returns
  // kNotFound or kInvalidArgument when either file is missing or invalid, or when the storefront
  // key is not a search key of the keys file.
  Status Load();

  // Checks one request before routing. Returns true when it wrote the response (a preflight, or
  // an error such as 401, 403, 413, 414 or 429). Returns false when routing should go on, and then
  // marks the route found, if any, as admitted for this thread until the next request.
  // Adds the CORS headers to `res` when the request comes from the allowed origin.
  bool Handle(const httplib::Request& req, httplib::Response& res) const;

  // True when the last request this thread passed to Handle was admitted to route `index` (its
  // position in `routes`). The route wrapper checks it, so that a request routed by cpp-httplib
  // to a route the gate did not check is refused.
  static bool Admitted(size_t index);

  // Replaces an empty error body that cpp-httplib wrote itself (400, 404, 413, 414, ...) with the
  // JSON error body, and turns a 404 for a path served under another method into 405.
  void FillLibraryError(const httplib::Request& req, httplib::Response& res) const;

  // Returns `page` with the storefront key in a <meta name="tessera-search-key"> tag after <head>;
  // unchanged when no storefront key is set.
  std::string InjectStorefrontKey(std::string page) const;

  // The largest body any route accepts, for cpp-httplib's own limit on bodies sent without a
  // Content-Length (chunked), which the route wrapper then checks per route.
  size_t LargestBodyLimit() const;
  size_t BodyLimit(const RouteInfo& route) const;

 private:
  struct CompiledRoute {
    std::regex pattern;
    size_t index;
  };

  // Returns the index of the route that cpp-httplib would dispatch to: the first registered one
  // for the method whose pattern matches the whole path. HEAD requests use GET routes.
  std::optional<size_t> FindRoute(const std::string& method, const std::string& path) const;
  // The methods of the routes matching `path`, comma-separated ("GET, PUT").
  std::string MethodsFor(const std::string& path) const;
  const RateLimit& LimitFor(std::optional<Role> role, Access access) const;
  void AddCorsHeaders(const httplib::Request& req, httplib::Response& res) const;

  AccessOptions options_;
  size_t max_upload_bytes_;
  const std::vector<RouteInfo>* routes_;
  std::vector<CompiledRoute> compiled_;
  std::optional<ApiKeys> keys_;  // set by Load when a keys file is given
  std::string storefront_key_;
  mutable RateLimiter limiter_;
};

}  // namespace tessera
