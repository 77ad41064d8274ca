#include "serve/access.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/text.h"
#include "serve/api_error.h"

namespace tessera {
namespace {

// The route a request of this thread was admitted to; reset by every AccessGate::Handle call.
thread_local std::optional<size_t> t_admitted_route;

constexpr std::string_view kKeyHeader = "X-Tessera-Key";
constexpr std::string_view kAllowedRequestHeaders = "Authorization, X-Tessera-Key, Content-Type";
// Seconds a browser may cache a preflight response.
constexpr int kPreflightMaxAgeSeconds = 600;

std::string_view QueryString(const httplib::Request& req) {
  const size_t question = req.target.find('?');
  return question == std::string::npos ? std::string_view() : std::string_view(req.target).substr(question + 1);
}

// Returns the key of `Authorization: Bearer KEY`, else of X-Tessera-Key; "" when neither is sent.
std::string PresentedKey(const httplib::Request& req) {
  const std::string authorization = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() > kBearer.size() && LowerAscii(authorization.substr(0, kBearer.size())) == kBearer) {
    return std::string(TrimAscii(std::string_view(authorization).substr(kBearer.size())));
  }
  return std::string(TrimAscii(req.get_header_value(std::string(kKeyHeader))));
}

// The roles that may call a route of `access`, for error messages.
const char* RolesFor(Access access) {
  switch (access) {
    case Access::kOpen: return "any or no";
    case Access::kSearch: return "a search or admin";
    case Access::kAnalytics: return "an analytics or admin";
    case Access::kAdmin: return "an admin";
  }
  return "an admin";
}

bool RoleAllows(Role role, Access access) {
  if (access == Access::kOpen || role == Role::kAdmin) return true;
  return (access == Access::kSearch && role == Role::kSearch) ||
         (access == Access::kAnalytics && role == Role::kAnalytics);
}

// The value of a Content-Length header, or nothing when absent or malformed (cpp-httplib then
// rejects or reads the body itself).
std::optional<size_t> ContentLength(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return std::nullopt;
  const std::string text = req.get_header_value("Content-Length");
  size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool HasBody(const httplib::Request& req) {
  return ContentLength(req).value_or(0) > 0 || req.has_header("Transfer-Encoding");
}

// Key characters that need no escaping in HTML or HTTP headers (GenerateApiKey makes such keys).
bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

std::string RateText(const RateLimit& limit) {
  return fmt::format("{:g} requests a second (bursts of {:g})", limit.per_second, std::max(1.0, limit.burst));
}

}  // namespace

Status ParseRateLimitFlag(const std::string& text, AccessOptions* options) {
  const std::string hint = "--rate-limit '" + Excerpt(text) + "' is not ROLE=PER_SECOND[/BURST], e.g. search=50/100";
  const size_t equals = text.find('=');
  if (equals == std::string::npos) return Status::InvalidArgument(hint);
  Result<Role> role = RoleFromName(text.substr(0, equals));
  if (!role.ok()) return Status::InvalidArgument(hint + ": " + role.status().message());

  const std::string value = text.substr(equals + 1);
  const size_t slash = value.find('/');
  RateLimit limit;
  const std::string rate_text = value.substr(0, slash);
  auto [rate_end, rate_error] = std::from_chars(rate_text.data(), rate_text.data() + rate_text.size(), limit.per_second);
  if (rate_error != std::errc() || rate_end != rate_text.data() + rate_text.size() || !std::isfinite(limit.per_second) ||
      limit.per_second < 0) {
    return Status::InvalidArgument(hint);
  }
  limit.burst = 2 * limit.per_second;
  if (slash != std::string::npos) {
    const std::string burst_text = value.substr(slash + 1);
    auto [end, error] = std::from_chars(burst_text.data(), burst_text.data() + burst_text.size(), limit.burst);
    if (error != std::errc() || end != burst_text.data() + burst_text.size() || !std::isfinite(limit.burst) ||
        limit.burst < 1) {
      return Status::InvalidArgument(hint + ": the burst must be at least 1");
    }
  }
  switch (*role) {
    case Role::kSearch: options->search_rate = limit; break;
    case Role::kAnalytics: options->analytics_rate = limit; break;
    case Role::kAdmin: options->admin_rate = limit; break;
  }
  options->limit_open_server = true;
  return Status::Ok();
}

AccessGate::AccessGate(AccessOptions options, size_t max_upload_bytes, const std::vector<RouteInfo>* routes)
    : options_(std::move(options)), max_upload_bytes_(max_upload_bytes), routes_(routes) {
  for (size_t i = 0; i < routes_->size(); ++i) compiled_.push_back({std::regex((*routes_)[i].pattern), i});
}

Status AccessGate::Load() {
  if (options_.keys_file.empty()) {
    if (!options_.storefront_key_file.empty()) {
      return Status::InvalidArgument("--storefront-key-file needs --api-keys: the key must be one of the keys file's");
    }
    spdlog::warn("no --api-keys file: every route, including the admin routes, is open to anyone who can reach "
                 "the server");
    spdlog::info(options_.limit_open_server ? "rate limits apply per client address"
                                            : "no rate limits: give --rate-limit to limit each client address");
    return Status::Ok();
  }

  Result<ApiKeys> keys = ApiKeys::Load(options_.keys_file);
  if (!keys.ok()) return keys.status();
  std::map<std::string, size_t> by_role;
  for (const ApiKeyEntry& entry : keys->entries()) ++by_role[RoleName(entry.role)];
  spdlog::info("API keys required: {} keys from {} (admin {}, analytics {}, search {})", keys->entries().size(),
               options_.keys_file, by_role["admin"], by_role["analytics"], by_role["search"]);
  if (keys->entries().empty()) spdlog::warn("the keys file {} has no keys: only open routes can be called", options_.keys_file);
  keys_ = std::move(keys).value();

  if (!options_.storefront_key_file.empty()) {
    std::optional<std::string> text = ReadFileBytes(options_.storefront_key_file);
    if (!text) return Status::NotFound("storefront key file " + options_.storefront_key_file + " not found or unreadable");
    const std::string key(TrimAscii(*text));
    std::optional<ApiKeyEntry> entry = keys_->Find(key);
    if (!entry) {
      return Status::InvalidArgument("the key in " + options_.storefront_key_file + " is not in the keys file " +
                                     options_.keys_file + ": create it with `tessera keys create --role search`");
    }
    if (entry->role != Role::kSearch) {
      return Status::InvalidArgument("the storefront key " + entry->key_id + " has role " + RoleName(entry->role) +
                                     ": the page publishes it, so give the storefront a search key");
    }
    if (!IsPlainKey(key)) {
      return Status::InvalidArgument("the storefront key " + entry->key_id +
                                     " has characters other than letters, digits, '_', '-' and '.'");
    }
    storefront_key_ = key;
    spdlog::info("the storefront page carries search key {}", entry->key_id);
  }
  if (!options_.cors_origin.empty()) spdlog::info("CORS allowed from {}", options_.cors_origin);
  return Status::Ok();
}

bool AccessGate::Handle(const httplib::Request& req, httplib::Response& res) const {
  t_admitted_route.reset();
  AddCorsHeaders(req, res);

  // The gate responds to OPTIONS (CORS preflights among them) for every path that has routes.
  if (req.method == "OPTIONS") {
    const std::string methods = MethodsFor(req.path);
    if (methods.empty()) return false;  // cpp-httplib's 404, as JSON
    res.status = 204;
    res.set_header("Allow", methods + ", OPTIONS");
    if (res.has_header("Access-Control-Allow-Origin")) {
      res.set_header("Access-Control-Allow-Methods", methods + ", OPTIONS");
      res.set_header("Access-Control-Allow-Headers", std::string(kAllowedRequestHeaders));
      res.set_header("Access-Control-Max-Age", std::to_string(kPreflightMaxAgeSeconds));
    }
    return true;
  }

  // A rejection sent before the body is read closes the connection, because the unread body
  // would otherwise be parsed as the next request.
  const auto reject = [&](int status, std::string_view code, const std::string& message) {
    SendApiError(res, status, code, message);
    if (HasBody(req)) res.set_header("Connection", "close");
    return true;
  };

  if (const size_t query_bytes = QueryString(req).size(); query_bytes > options_.max_query_bytes) {
    return reject(414, "uri_too_long",
                  "the query string is " + std::to_string(query_bytes) + " bytes, above the limit of " +
                      std::to_string(options_.max_query_bytes) + ": send fewer or shorter parameters");
  }

  const std::optional<size_t> index = FindRoute(req.method, req.path);
  if (!index) return false;  // cpp-httplib's 404 (or the 405 of FillLibraryError)
  const RouteInfo& route = (*routes_)[*index];

  // Authentication and role. Open routes ignore keys, so a stale key never breaks a health check.
  std::optional<ApiKeyEntry> caller;
  if (keys_ && route.access != Access::kOpen) {
    const std::string key = PresentedKey(req);
    if (key.empty()) {
      res.set_header("WWW-Authenticate", "Bearer");
      return reject(401, "unauthenticated",
                    std::string("this route needs ") + RolesFor(route.access) +
                        " API key: send it as `Authorization: Bearer KEY` or in the `X-Tessera-Key` header");
    }
    caller = keys_->Find(key);
    if (!caller) {
      res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return reject(401, "unauthenticated", "the API key sent is not valid: use a key created with `tessera keys create`");
    }
    if (!RoleAllows(caller->role, route.access)) {
      return reject(403, "permission_denied",
                    "key " + caller->key_id + " has role " + RoleName(caller->role) + ", but the route " + route.name +
                        " needs " + RolesFor(route.access) + " key");
    }
  }

  // Rate limit, always with keys and on an open server only when --rate-limit is given. A search
  // key is public (the storefront page carries it), so its buckets are per key and client
  // address. Other keys have one bucket each.
  if (keys_ || options_.limit_open_server) {
    const std::optional<Role> role = caller ? std::optional<Role>(caller->role) : std::nullopt;
    const RateLimit& limit = LimitFor(role, route.access);
    std::string bucket = caller ? "key " + caller->key_id : "address " + req.remote_addr;
    if (caller && caller->role == Role::kSearch) bucket += " from " + req.remote_addr;
    if (const double wait_seconds = limiter_.Acquire(bucket, limit, RateLimiter::Clock::now()); wait_seconds > 0) {
      const int retry_after = static_cast<int>(std::ceil(wait_seconds));
      res.set_header("Retry-After", std::to_string(retry_after));
      const std::string caller_name =
          caller ? "key " + caller->key_id + " (role " + RoleName(caller->role) + ")" : "this client address";
      return reject(429, "rate_limited",
                    "too many requests from " + caller_name + ": the limit is " + RateText(limit) + "; retry after " +
                        std::to_string(retry_after) + " s");
    }
  }

  if (const std::optional<size_t> length = ContentLength(req); length && *length > BodyLimit(route)) {
    return reject(413, "too_large",
                  "the request body is " + std::to_string(*length) + " bytes, above the limit of " +
                      std::to_string(BodyLimit(route)) + " bytes for " + route.name);
  }

  t_admitted_route = *index;
  return false;
}

bool AccessGate::Admitted(size_t index) { return t_admitted_route == index; }

void AccessGate::FillLibraryError(const httplib::Request& req, httplib::Response& res) const {
  if (!res.body.empty()) return;
  switch (res.status) {
    case 404: {
      const std::string methods = MethodsFor(req.path);
      if (methods.empty()) {
        return SendApiError(res, 404, "not_found",
                            "no route for " + req.method + " " + Excerpt(req.path) + ": see docs/openapi.json");
      }
      res.set_header("Allow", methods + ", OPTIONS");
      return SendApiError(res, 405, "method_not_allowed",
                          Excerpt(req.path) + " does not take " + Excerpt(req.method) + ": use " + methods);
    }
    case 413:
      return SendApiError(res, 413, "too_large",
                          "the request body is above the largest accepted, " + std::to_string(LargestBodyLimit()) +
                              " bytes: send a smaller body");
    case 414:
      return SendApiError(res, 414, "uri_too_long", "the request target is too long: send fewer or shorter parameters");
    case 400:
      return SendApiError(res, 400, "bad_request", "the request is not valid HTTP/1.1 (request line, headers or body framing)");
    default:
      return SendApiError(res, res.status, "http_error", "the request failed with HTTP status " + std::to_string(res.status));
  }
}

std::string AccessGate::InjectStorefrontKey(std::string page) const {
  if (storefront_key_.empty()) return page;
  const size_t head = page.find("<head>");
  if (head == std::string::npos) return page;
  page.insert(head + 6, "\n  <meta name=\"tessera-search-key\" content=\"" + storefront_key_ + "\">");
  return page;
}

size_t AccessGate::LargestBodyLimit() const {
  return std::max({options_.max_json_body_bytes, options_.max_import_body_bytes, max_upload_bytes_});
}

size_t AccessGate::BodyLimit(const RouteInfo& route) const {
  if (route.name == "search.image" || route.name == "search.voice") return max_upload_bytes_;
  if (route.name == "products.import") return options_.max_import_body_bytes;
  return options_.max_json_body_bytes;
}

std::optional<size_t> AccessGate::FindRoute(const std::string& method, const std::string& path) const {
  const std::string& routed = method == "HEAD" ? std::string("GET") : method;
  for (const CompiledRoute& route : compiled_) {
    if ((*routes_)[route.index].method == routed && std::regex_match(path, route.pattern)) return route.index;
  }
  return std::nullopt;
}

std::string AccessGate::MethodsFor(const std::string& path) const {
  std::vector<std::string> methods;
  for (const CompiledRoute& route : compiled_) {
    const std::string& method = (*routes_)[route.index].method;
    if (std::find(methods.begin(), methods.end(), method) == methods.end() && std::regex_match(path, route.pattern)) {
      methods.push_back(method);
    }
  }
  std::string joined;
  for (const std::string& method : methods) joined += (joined.empty() ? "" : ", ") + method;
  return joined;
}

const RateLimit& AccessGate::LimitFor(std::optional<Role> role, Access access) const {
  // Without a key, the access the route needs is used as the caller's role.
  if (!role && access == Access::kAdmin) role = Role::kAdmin;
  if (!role && access == Access::kAnalytics) role = Role::kAnalytics;
  if (!role) role = Role::kSearch;
  switch (*role) {
    case Role::kSearch: return options_.search_rate;
    case Role::kAnalytics: return options_.analytics_rate;
    case Role::kAdmin: return options_.admin_rate;
  }
  return options_.admin_rate;
}

void AccessGate::AddCorsHeaders(const httplib::Request& req, httplib::Response& res) const {
  if (options_.cors_origin.empty()) return;
  res.set_header("Vary", "Origin");
  if (req.get_header_value("Origin") != options_.cors_origin) return;
  res.set_header("Access-Control-Allow-Origin", options_.cors_origin);
  res.set_header("Access-Control-Expose-Headers", "Retry-After");
}

}  // namespace tessera
