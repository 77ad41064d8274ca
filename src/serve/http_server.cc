#include "serve/http_server.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/structured_log.h"
#include "common/text.h"
#include "ingest/jsonl_reader.h"
#include "serve/access.h"
#include "serve/api_error.h"
#include "serve/log_rate_limiter.h"
#include "serve/metrics.h"
#include "serve/request_id.h"
#include "serve/worker_pool.h"

namespace tessera {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// Seconds a client should wait before retrying a request that failed because the shared profile
// store was unreachable. The store's client tries to reconnect within about that time.
constexpr int kProfileStoreRetryAfterSeconds = 1;

// Adds Retry-After to responses whose error a retry may cure.
void SetRetryAfter(httplib::Response& res, const Status& status) {
  if (status.code() == StatusCode::kProfileStoreUnavailable) {
    res.set_header("Retry-After", std::to_string(kProfileStoreRetryAfterSeconds));
  }
}

void SendError(httplib::Response& res, const Status& status) {
  SetRetryAfter(res, status);
  SendJson(res, HttpStatusFor(status.code()), ApiErrorJson(StatusCodeName(status.code()), status.message(), status.field()));
}

Result<json> ParseBody(const httplib::Request& req) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Status::InvalidArgument("the request body is not valid JSON: '" + Excerpt(req.body) + "'");
  }
  return body;
}

Result<size_t> ParseCount(const httplib::Request& req, const char* name, size_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(name) + " is '" + Excerpt(text) + "': send a positive whole number")
        .WithField(name);
  }
  return value;
}

Result<std::optional<double>> ParsePrice(const httplib::Request& req, const char* name) {
  if (!req.has_param(name) || req.get_param_value(name).empty()) return std::optional<double>();
  const std::string text = req.get_param_value(name);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return Status::InvalidArgument(std::string(name) + " is '" + Excerpt(text) + "': send a number such as 499.5")
        .WithField(name);
  }
  return std::optional<double>(value);
}

// Reads a true/false parameter; absent means `fallback`. Anything but true, false, 1 or 0 is an
// error naming the parameter, so that a typo such as prefix=yes is not silently read as false.
Result<bool> ParseFlag(const httplib::Request& req, const char* name, bool fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string value = req.get_param_value(name);
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return Status::InvalidArgument(std::string(name) + " is '" + Excerpt(value) + "': use true or false").WithField(name);
}

// Joins every value of a repeated parameter with commas (gender=Men&gender=Women -> "Men,Women").
std::string JoinedValues(const httplib::Request& req, const char* name) {
  std::string joined;
  const size_t count = req.get_param_value_count(name);
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) joined += ',';
    joined += req.get_param_value(name, i);
  }
  return joined;
}

// Reads the query parameters every search route shares.
Result<SearchRequest> ParseSearchParams(const httplib::Request& req) {
  static const std::set<std::string> kKnown = {"q",        "user",    "session", "category", "gender",
                                               "colour",   "price_min", "price_max", "page",   "per_page",
                                               "explain",  "prefix",  "facets",  "missing"};
  for (const auto& [name, value] : req.params) {
    if (!kKnown.count(name)) {
      return Status::InvalidArgument("unknown parameter '" + Excerpt(name) +
                                     "': use q, user, session, category, gender, colour, price_min, price_max, page, "
                                     "per_page, explain, prefix, facets, missing")
          .WithField(name);
    }
  }
  SearchRequest request;
  request.text = req.get_param_value("q");
  request.user_id = req.get_param_value("user");
  request.session_id = req.get_param_value("session");
  request.filters.category = JoinedValues(req, "category");
  request.filters.gender = JoinedValues(req, "gender");
  request.filters.colour = JoinedValues(req, "colour");
  // missing=price,colour selects products with no value for those fields.
  for (const std::string& field : Split(req.get_param_value("missing"), ',')) {
    if (!field.empty()) request.filters.missing.push_back(field);
  }
  Result<std::optional<double>> price_min = ParsePrice(req, "price_min");
  if (!price_min.ok()) return price_min.status();
  request.filters.price_min = *price_min;
  Result<std::optional<double>> price_max = ParsePrice(req, "price_max");
  if (!price_max.ok()) return price_max.status();
  request.filters.price_max = *price_max;
  Result<size_t> page = ParseCount(req, "page", 1);
  if (!page.ok()) return page.status();
  request.page = *page;
  Result<size_t> per_page = ParseCount(req, "per_page", 24);
  if (!per_page.ok()) return per_page.status();
  request.per_page = *per_page;
  for (auto [name, target, fallback] : {std::tuple{"explain", &request.explain, false},
                                        std::tuple{"prefix", &request.prefix, false},
                                        std::tuple{"facets", &request.facets, true}}) {
    Result<bool> flag = ParseFlag(req, name, fallback);
    if (!flag.ok()) return flag.status();
    *target = *flag;
  }
  return request;
}

json ProductJson(const Product& product) {
  json out = ProductToJson(product);
  out.erase("images");  // server paths are not for clients
  out["image_url"] = product.image_paths.empty() ? json(nullptr) : json("/api/products/" + product.id + "/image");
  return out;
}

// A feature value as JSON: null when missing (NaN).
json FeatureValueJson(float value) { return std::isnan(value) ? json(nullptr) : json(value); }

// The explanation of a result's place: every feature's value, the ranker's contribution of each
// feature it reads (bias + contributions = relevance), and the personal boost by facet and its
// session term (relevance + personal_boost = score).
json ExplanationJson(const SearchHit& hit, const std::string& ranker) {
  json features = json::object();
  if (hit.features) {
    for (size_t i = 0; i < kFeatureCount; ++i) features[FeatureInfos()[i].name] = FeatureValueJson((*hit.features)[i]);
  }
  json contributions = json::object();
  float bias = 0;
  if (hit.explanation) {
    bias = hit.explanation->bias;
    for (const FeatureContribution& c : hit.explanation->contributions) contributions[FeatureName(c.feature)] = c.contribution;
  }
  return {{"ranker", ranker},
          {"relevance", hit.relevance},
          {"bias", bias},
          {"contributions", contributions},
          {"features", features},
          {"personal_boost", hit.personal_boost},
          {"personal_boost_by_facet", hit.boost_by_facet},
          {"personal_boost_session", hit.session_boost},
          {"session_cosine", hit.session_cosine},
          {"text_bm25", hit.text_score},
          {"image_similarity", hit.image_similarity},
          {"joint_similarity", hit.joint_similarity}};
}

json SearchResponseJson(const SearchResponse& response, bool explain) {
  json results = json::array();
  for (const SearchHit& hit : response.hits) {
    json item = ProductJson(*hit.product);
    item["score"] = hit.score;
    item["base_score"] = hit.relevance;
    item["personal_boost"] = hit.personal_boost;
    if (explain) item["explain"] = ExplanationJson(hit, response.ranker);
    results.push_back(std::move(item));
  }
  json out = {{"query", response.query},     {"total", response.total},
              {"page", response.page},       {"per_page", response.per_page},
              {"took_ms", response.took_ms}, {"personalized", response.personalized},
              {"partial", response.partial}, {"ranker", response.ranker},
              {"results", results},          {"facets", response.facets}};
  if (!response.warnings.empty()) out["warnings"] = response.warnings;
  if (response.transcript) {
    out["transcript"] = {{"text", response.transcript->text},
                         {"confidence", response.transcript->confidence},
                         {"silent", response.transcript->silent}};
  }
  return out;
}

std::string ContentTypeFor(const fs::path& path) {
  const std::string ext = LowerAscii(path.extension().string());
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".png") return "image/png";
  if (ext == ".svg") return "image/svg+xml";
  return "image/jpeg";
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnsupported: return 415;
    case StatusCode::kTooLarge: return 413;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kUnavailable:
    case StatusCode::kProfileStoreUnavailable: return 503;
    case StatusCode::kIoError:
    case StatusCode::kCorruption:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

struct HttpServer::Rep {
  Engine* engine;
  HttpServerOptions options;
  httplib::Server server;
  LogRateLimiter log_limiter;
  ServerMetrics metrics;
  int bound_port = 0;  // set by Bind
  int listen_socket = -1;  // the listening socket, recorded by the socket options Bind installs

  std::vector<RouteInfo> routes;
  std::unique_ptr<AccessGate> gate;  // set by InstallAccessGate, after RegisterRoutes

  void RegisterRoutes();
  // Checks keys, roles, rate limits, sizes and CORS on every request before routing (serve/access.h).
  void InstallAccessGate();
  // Registers `handler` for `method` and `pattern` and records the route. Every request to it
  // goes through this one wrapper, which rejects it unless the access gate admitted it, checks
  // the body size, times it and logs it when slow.
  void Add(const char* method, const char* pattern, const char* name, Access access, httplib::Server::Handler handler);
  void HandleSearch(const httplib::Request& req, httplib::Response& res, const char* kind);
  // Runs `handler` for one request of the route `name`: sets its request id, sheds it when the
  // server is beyond capacity, and counts and times it.
  void Serve(const char* name, RouteMetrics* route_metrics, const httplib::Server::Handler& handler,
             const httplib::Request& req, httplib::Response& res);
  // Sends 503 with Retry-After and Connection: close, so that the client closes the connection
  // and reconnects; cpp-httplib itself closes it after at most 5 requests.
  void Shed(httplib::Response& res);
  // Logs one response of 400 or above with its request id; repeats of each kind are rate-limited.
  void LogErrorResponse(const httplib::Request& req, const httplib::Response& res);
  void RegisterOperationsRoutes();
};

HttpServer::HttpServer(Engine* engine, HttpServerOptions options) : rep_(std::make_unique<Rep>()) {
  rep_->engine = engine;
  rep_->options = std::move(options);
  rep_->RegisterRoutes();
  rep_->InstallAccessGate();
}

HttpServer::~HttpServer() = default;

// Returns the uploaded file of a photo or voice search: the raw body, or the first file of a
// multipart/form-data body. A form-urlencoded body (what `curl --data-binary` sends without a
// Content-Type) is rejected, because its bytes would be parsed as parameters.
Result<std::string> UploadedBytes(const httplib::Request& req, const char* media) {
  if (req.is_multipart_form_data()) {
    if (req.files.empty()) return Status::InvalidArgument(std::string("the form has no file: attach the ") + media);
    return req.files.begin()->second.content;
  }
  if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
    return Status::Unsupported(std::string("Content-Type is application/x-www-form-urlencoded: send the ") + media +
                               " as the raw body with its own type (e.g. image/jpeg, audio/wav)");
  }
  return req.body;
}

void HttpServer::Rep::HandleSearch(const httplib::Request& req, httplib::Response& res, const char* kind) {
  const std::string_view kind_view(kind);
  Result<std::string> upload = std::string();
  if (kind_view != "text") {
    upload = UploadedBytes(req, kind_view == "image" ? "photo" : "recording");
    if (!upload.ok()) return SendError(res, upload.status());
  }
  Result<SearchRequest> request = ParseSearchParams(req);
  if (!request.ok()) return SendError(res, request.status());
  Result<SearchResponse> response = kind_view == "text"    ? engine->Search(*request)
                                    : kind_view == "image" ? engine->SearchByImage(*upload, *request)
                                                           : engine->SearchByVoice(*upload, *request);
  if (!response.ok()) return SendError(res, response.status());
  SendJson(res, 200, SearchResponseJson(*response, request->explain));
}

void HttpServer::Rep::Add(const char* method, const char* pattern, const char* name, Access access,
                          httplib::Server::Handler handler) {
  routes.push_back({method, pattern, name, access});
  RouteMetrics* route_metrics = metrics.AddRoute(name, method);
  auto wrapped = [this, name, index = routes.size() - 1, route_metrics, handler = std::move(handler)](
                     const httplib::Request& req, httplib::Response& res) {
    // The gate admitted the request before its body was read. A chunked body (no Content-Length)
    // can only be checked against the route's limit here, after it has been read.
    if (!AccessGate::Admitted(index)) {
      spdlog::critical("route {} was dispatched for {} {} without the access check", name, req.method, req.path);
      return SendError(res, Status::Internal("the request was not checked for access, so it is rejected"));
    }
    if (const size_t limit = gate->BodyLimit(routes[index]); req.body.size() > limit) {
      return SendError(res, Status::TooLarge("the request body is " + std::to_string(req.body.size()) +
                                             " bytes, above the limit of " + std::to_string(limit) + " bytes for " + name));
    }
    Serve(name, route_metrics, handler, req, res);
  };
  const std::string_view m(method);
  if (m == "GET") server.Get(pattern, std::move(wrapped));
  else if (m == "POST") server.Post(pattern, std::move(wrapped));
  else if (m == "PUT") server.Put(pattern, std::move(wrapped));
  else if (m == "DELETE") server.Delete(pattern, std::move(wrapped));
  else {
    spdlog::critical("route {} has unknown method {}", name, method);
    std::abort();
  }
}

void HttpServer::Rep::InstallAccessGate() {
  gate = std::make_unique<AccessGate>(options.access, options.max_body_bytes, &routes);
  server.set_payload_max_length(gate->LargestBodyLimit());
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return gate->Handle(req, res) ? httplib::Server::HandlerResponse::Handled
                                  : httplib::Server::HandlerResponse::Unhandled;
  });
}

// ---- Operations: request ids, metrics, load shedding and error logs ----

// Health checks and metrics scrapes are cheap and most needed during an overload, so a shed
// connection still serves them.
namespace {
bool ExemptFromShedding(std::string_view route_name) { return route_name == "health" || route_name == "metrics"; }
}  // namespace

void HttpServer::Rep::Serve(const char* name, RouteMetrics* route_metrics, const httplib::Server::Handler& handler,
                            const httplib::Request& req, httplib::Response& res) {
  const auto start = std::chrono::steady_clock::now();
  const std::string request_id = AcceptOrMakeRequestId(req.get_header_value("X-Request-Id"));
  res.set_header("X-Request-Id", request_id);
  const auto elapsed = [&start] { return std::chrono::steady_clock::now() - start; };

  if (WorkerPool::ShedCurrentConnection() && !ExemptFromShedding(name)) {
    Shed(res);
    route_metrics->CountShed();
    route_metrics->Observe(res.status, elapsed());
    return;
  }

  metrics.RequestStarted();
  try {
    handler(req, res);
  } catch (...) {
    metrics.RequestFinished();
    route_metrics->Observe(500, elapsed());  // the exception handler sends 500
    throw;
  }
  metrics.RequestFinished();
  // cpp-httplib sets a status of -1 to 200 after the handler returns.
  route_metrics->Observe(res.status == -1 ? 200 : res.status, elapsed());

  const auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed()).count();
  if (took_ms < options.slow_request_ms) return;
  const size_t skipped = log_limiter.Admit(LogKind::kSlowRequest);
  if (skipped == LogRateLimiter::kRejected) return;
  LogEvent(spdlog::level::warn, "slow request",
           {{"route", name}, {"method", req.method}, {"path", Excerpt(req.path)}, {"query", Excerpt(req.get_param_value("q"))},
            {"took_ms", static_cast<int64_t>(took_ms)}, {"status", res.status == -1 ? 200 : res.status},
            {"request_id", request_id}, {"unlogged_before", skipped}});
}

void HttpServer::Rep::Shed(httplib::Response& res) {
  res.set_header("Retry-After", std::to_string(options.retry_after_seconds));
  res.set_header("Connection", "close");
  SendError(res, Status::Unavailable("the server is beyond capacity (" + std::to_string(options.threads) +
                                     " workers busy and " + std::to_string(options.max_queued_connections) +
                                     " connections waiting): retry after " +
                                     std::to_string(options.retry_after_seconds) + " s"));
}

// Every error response is logged with its message, which names the value and never a secret,
// and the request id the client got. Each kind (client errors, server errors, shed requests) is
// logged at most LogRateLimiter::kPerSecond times a second, so that a misbehaving client or an
// overload cannot flood the log. The next logged line of that kind reports the number left out.
void HttpServer::Rep::LogErrorResponse(const httplib::Request& req, const httplib::Response& res) {
  // Shed responses alone close the connection; a 503 of an unreachable profile store does not.
  const bool shed = res.status == 503 && res.has_header("Retry-After") && res.get_header_value("Connection") == "close";
  LogKind kind = LogKind::kClientError;
  if (shed) kind = LogKind::kShed;
  else if (res.status >= 500) kind = LogKind::kServerError;
  const size_t skipped = log_limiter.Admit(kind);
  if (skipped == LogRateLimiter::kRejected) return;

  const json body = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  const std::string message =
      body.is_object() && body.contains("error") && body["error"].is_object() ? body["error"].value("message", "") : "";
  const spdlog::level::level_enum level = shed ? spdlog::level::warn
                                          : res.status >= 500 ? spdlog::level::err
                                                              : spdlog::level::info;
  LogEvent(level, shed ? "request shed" : "request failed",
           {{"method", req.method}, {"path", Excerpt(req.path)}, {"status", res.status}, {"error", message},
            {"request_id", res.get_header_value("X-Request-Id")}, {"unlogged_before", skipped}});
}

void HttpServer::Rep::RegisterOperationsRoutes() {
  // Prometheus text format 0.0.4; the engine's figures are read at each scrape.
  Add("GET", "/metrics", "metrics", Access::kAnalytics, [this](const httplib::Request&, httplib::Response& res) {
    const EngineStats stats = engine->Stats();
    const RankerInfo ranker = engine->ranker_info();
    EngineGauges gauges;
    gauges.products = stats.products;
    gauges.terms = stats.terms;
    gauges.photo_vectors = stats.photo_vectors;
    gauges.joint_vectors = stats.joint_vectors;
    gauges.unflushed_events = stats.unflushed_events;
    gauges.oldest_unflushed_seconds = stats.oldest_unflushed_seconds;
    gauges.profile_store_errors = stats.profile_store_errors;
    gauges.group_unions_kept = stats.group_union_hits;
    gauges.group_unions_computed = stats.group_union_misses;
    gauges.ranker_name = ranker.name;
    gauges.ranker_version = ranker.version;
    res.set_content(metrics.Render(gauges, options.version), "text/plain; version=0.0.4; charset=utf-8");
  });
}

void HttpServer::Rep::RegisterRoutes() {
  // Without TCP_NODELAY, a response written as headers then body waits for the client's delayed
  // ACK: the events workload measured a single-event POST at a 99 ms median with Nagle's
  // algorithm on, against the few milliseconds of its synced write.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_timeout(options.keep_alive_seconds);
  server.set_keep_alive_max_count(static_cast<size_t>(std::max(1, options.keep_alive_requests)));
  server.new_task_queue = [this] {
    return new WorkerPool(static_cast<size_t>(std::max(1, options.threads)),
                          static_cast<size_t>(std::max(0, options.max_queued_connections)), metrics.queued_connections());
  };

  server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (res.status >= 400) LogErrorResponse(req, res);
  });
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogEvent(spdlog::level::err, "request failed with an exception",
             {{"method", req.method}, {"path", Excerpt(req.path)}, {"error", what},
              {"request_id", res.get_header_value("X-Request-Id")}});
    SendError(res, Status::Internal("the server failed on this request: " + what));
  });
  RegisterOperationsRoutes();

  Add("GET", "/api/health", "health", Access::kOpen, [this](const httplib::Request&, httplib::Response& res) {
    const EngineStats stats = engine->Stats();
    SendJson(res, 200, {{"status", "ok"}, {"products", stats.products}, {"photo_vectors", stats.photo_vectors},
                        {"speech_ready", stats.speech_ready}});
  });

  Add("GET", "/api/search", "search.text", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) { HandleSearch(req, res, "text"); });
  Add("POST", "/api/search/image", "search.image", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) { HandleSearch(req, res, "image"); });
  Add("POST", "/api/search/voice", "search.voice", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) { HandleSearch(req, res, "voice"); });

  Add("GET", R"(/api/products/([^/]+))", "products.get", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) {
    Result<Product> product = engine->GetProduct(req.matches[1]);
    if (!product.ok()) return SendError(res, product.status());
    SendJson(res, 200, ProductJson(*product));
  });
  Add("GET", R"(/api/products/([^/]+)/image)", "products.image", Access::kOpen, [this](const httplib::Request& req, httplib::Response& res) {
    Result<Product> product = engine->GetProduct(req.matches[1]);
    if (!product.ok()) return SendError(res, product.status());
    for (const std::string& path : product->image_paths) {
      if (std::optional<std::string> bytes = ReadFileBytes(path)) {
        res.set_header("Cache-Control", "max-age=3600");
        return res.set_content(*bytes, ContentTypeFor(path));
      }
    }
    SendError(res, Status::NotFound("product '" + product->id + "' has no readable photo"));
  });
  Add("PUT", R"(/api/products/([^/]+))", "products.upsert", Access::kAdmin, [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) return SendError(res, body.status());
    if (body->is_object() && !body->contains("id")) (*body)["id"] = req.matches[1].str();
    // Uploaded products name photos by absolute path on the server; relative paths stay relative.
    Result<Product> product = ProductFromJson(*body, "");
    if (!product.ok()) return SendError(res, product.status());
    if (product->id != req.matches[1].str()) {
      return SendError(res, Status::InvalidArgument("field 'id' '" + Excerpt(product->id) +
                                                    "' differs from the id in the path")
                                .WithField("id"));
    }
    Status stored = engine->Upsert(*product);
    if (!stored.ok()) return SendError(res, stored);
    SendJson(res, 200, ProductJson(*product));
  });
  Add("DELETE", R"(/api/products/([^/]+))", "products.delete", Access::kAdmin, [this](const httplib::Request& req, httplib::Response& res) {
    Status deleted = engine->Delete(req.matches[1]);
    if (!deleted.ok()) return SendError(res, deleted);
    SendJson(res, 200, {{"deleted", req.matches[1].str()}});
  });
  // Bulk import: a JSONL body, one product (or {"op":"delete"}) per line; per-line errors.
  Add("POST", "/api/products/import", "products.import", Access::kAdmin, [this](const httplib::Request& req, httplib::Response& res) {
    std::istringstream in(req.body);
    Result<IngestReport> report = engine->IngestJsonl(in, "");
    if (!report.ok()) return SendError(res, report.status());
    json rejections = json::array();
    for (const RejectedRecord& r : report->rejections) {
      rejections.push_back({{"line", r.line}, {"field", r.field}, {"reason", r.reason}});
    }
    SendJson(res, 200, {{"accepted", report->accepted}, {"deleted", report->deleted},
                        {"rejected", report->rejected}, {"rejections", rejections}});
  });

  // One event object, or {"events": [...]} of up to Engine::kMaxEventBatch. A batch is
  // per-event, not all-or-nothing: it stops at the first invalid event, and the events before it
  // are recorded (one synced write for all of them) and counted in the response beside the error.
  Add("POST", "/api/events", "events", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) {
      metrics.CountRejectedEvent(body.status().code());
      return SendError(res, body.status());
    }
    // Parse up to the first malformed event; the ones before it are still recorded.
    Result<EventBatch> batch = EventBatchFromJson(*body, engine->clock().NowMillis());
    if (!batch.ok()) {
      metrics.CountRejectedEvent(batch.status().code());
      return SendError(res, batch.status());
    }
    Status invalid = batch->invalid;
    std::vector<Engine::EventOutcome> outcomes;
    Status recorded = engine->RecordEvents(batch->events, &outcomes);
    if (!recorded.ok()) invalid = recorded;

    // Of the accepted events, `duplicates` repeated an event_id and `opted_out` came from users
    // who opted out; neither kind was stored.
    const size_t accepted = outcomes.size();
    const auto count = [&](Engine::EventOutcome kind) { return std::count(outcomes.begin(), outcomes.end(), kind); };
    json out = {{"accepted", accepted},
                {"duplicates", count(Engine::EventOutcome::kDuplicate)},
                {"opted_out", count(Engine::EventOutcome::kOptedOut)}};
    metrics.CountAcceptedEvents(count(Engine::EventOutcome::kRecorded), count(Engine::EventOutcome::kDuplicate),
                                count(Engine::EventOutcome::kOptedOut));
    if (!invalid.ok()) metrics.CountRejectedEvent(invalid.code());
    if (invalid.ok()) return SendJson(res, 200, out);
    out["error"] = ApiErrorJson(StatusCodeName(invalid.code()), invalid.message(), invalid.field())["error"];
    SetRetryAfter(res, invalid);
    SendJson(res, HttpStatusFor(invalid.code()), out);
  });

  // The ranker in use, and a reload of its model file (the path the server was started with),
  // swapped in without dropping requests.
  Add("GET", "/api/models", "models.status", Access::kAnalytics, [this](const httplib::Request&, httplib::Response& res) {
    const RankerInfo info = engine->ranker_info();
    json report = info.report.empty() ? json(nullptr) : json::parse(info.report, nullptr, /*allow_exceptions=*/false);
    SendJson(res, 200,
             {{"ranker",
               {{"name", info.name}, {"path", info.path}, {"report", report}, {"learned_personal", info.learned_personal}}}});
  });
  Add("POST", "/api/models/ranker/reload", "models.reload", Access::kAdmin, [this](const httplib::Request&, httplib::Response& res) {
    Status loaded = engine->LoadRanker();
    if (!loaded.ok()) return SendError(res, loaded);
    const RankerInfo info = engine->ranker_info();
    SendJson(res, 200, {{"reloaded", true}, {"ranker", {{"name", info.name}, {"path", info.path}}}});
  });

  Add("GET", R"(/api/users/([^/]+)/profile)", "users.profile", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) {
    Result<std::optional<UserProfile>> profile = engine->Profile(req.matches[1]);
    if (!profile.ok()) return SendError(res, profile.status());
    json out = {{"user_id", req.matches[1].str()}, {"events", 0}, {"affinities", json::object()}};
    if (profile->has_value()) {
      out["events"] = (*profile)->event_count();
      out["affinities"] = (*profile)->Shares();
    }
    SendJson(res, 200, out);
  });
  Add("GET", R"(/api/users/([^/]+)/export)", "users.export", Access::kAnalytics, [this](const httplib::Request& req, httplib::Response& res) {
    Result<std::vector<Event>> events = engine->UserEvents(req.matches[1]);
    if (!events.ok()) return SendError(res, events.status());
    Result<std::optional<UserProfile>> profile = engine->Profile(req.matches[1]);
    if (!profile.ok()) return SendError(res, profile.status());
    Result<bool> opted_out = engine->OptedOut(req.matches[1]);
    if (!opted_out.ok()) return SendError(res, opted_out.status());
    json list = json::array();
    for (const Event& e : *events) list.push_back(EventToJson(e));
    SendJson(res, 200, {{"user_id", req.matches[1].str()}, {"opted_out", *opted_out}, {"events", list},
                        {"profile", profile->has_value() ? (*profile)->ToJson() : json(nullptr)}});
  });
  // {"opted_out": true} erases the user's data and stops collecting it; false resumes.
  Add("PUT", R"(/api/users/([^/]+)/opt-out)", "users.opt_out.set", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) return SendError(res, body.status());
    if (!body->is_object() || !body->contains("opted_out") || !(*body)["opted_out"].is_boolean() || body->size() != 1) {
      return SendError(res, Status::InvalidArgument("send {\"opted_out\": true} or {\"opted_out\": false}").WithField("opted_out"));
    }
    Status set = engine->SetOptOut(req.matches[1], (*body)["opted_out"].get<bool>());
    if (!set.ok()) return SendError(res, set);
    SendJson(res, 200, {{"user_id", req.matches[1].str()}, {"opted_out", (*body)["opted_out"]}});
  });
  Add("GET", R"(/api/users/([^/]+)/opt-out)", "users.opt_out.get", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) {
    Result<bool> opted_out = engine->OptedOut(req.matches[1]);
    if (!opted_out.ok()) return SendError(res, opted_out.status());
    SendJson(res, 200, {{"user_id", req.matches[1].str()}, {"opted_out", *opted_out}});
  });
  // {"from": "<anonymous id>"}: on login, the anonymous session's events move to this user, whose
  // profile is recomputed, and the anonymous user is erased, in one atomic write.
  Add("POST", R"(/api/users/([^/]+)/merge)", "users.merge", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) return SendError(res, body.status());
    if (!body->is_object() || !body->contains("from") || !(*body)["from"].is_string() || body->size() != 1) {
      return SendError(res, Status::InvalidArgument("send {\"from\": \"<anonymous user id>\"} and no other field")
                                .WithField("from"));
    }
    const std::string from = (*body)["from"].get<std::string>();
    Result<size_t> moved = engine->MergeUsers(from, req.matches[1]);
    if (!moved.ok()) return SendError(res, moved.status());
    SendJson(res, 200, {{"user_id", req.matches[1].str()}, {"merged_from", from}, {"events_moved", *moved}});
  });
  Add("DELETE", R"(/api/users/([^/]+))", "users.erase", Access::kSearch, [this](const httplib::Request& req, httplib::Response& res) {
    Result<size_t> erased = engine->EraseUser(req.matches[1]);
    if (!erased.ok()) return SendError(res, erased.status());
    SendJson(res, 200, {{"erased", true}, {"events_removed", *erased}});
  });

  if (!options.web_dir.empty()) {
    const fs::path web(options.web_dir);
    Add("GET", "/", "storefront.page", Access::kOpen, [this, web](const httplib::Request&, httplib::Response& res) {
      if (auto page = ReadFileBytes((web / "index.html").string())) {
        return res.set_content(gate->InjectStorefrontKey(std::move(*page)), "text/html; charset=utf-8");
      }
      SendError(res, Status::NotFound("storefront page missing from " + web.string()));
    });
    Add("GET", R"(/static/([A-Za-z0-9_.-]+))", "storefront.file", Access::kOpen, [web](const httplib::Request& req, httplib::Response& res) {
      const fs::path path = web / req.matches[1].str();
      if (auto file = ReadFileBytes(path.string())) return res.set_content(*file, ContentTypeFor(path));
      SendError(res, Status::NotFound("no file '" + req.matches[1].str() + "' in the storefront"));
    });
  }
  server.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Responses of no route (404, 405, 413 and 414 from cpp-httplib itself) carry a request id too.
    if (!res.has_header("X-Request-Id")) {
      res.set_header("X-Request-Id", AcceptOrMakeRequestId(req.get_header_value("X-Request-Id")));
    }
    gate->FillLibraryError(req, res);
  });
}

Status HttpServer::Bind() {
  TESSERA_RETURN_IF_ERROR(rep_->gate->Load());
  const std::string& host = rep_->options.host;
  const int port = rep_->options.port;
  // cpp-httplib's default socket options set SO_REUSEPORT, with which a second server binds the
  // same port without an error and the kernel splits connections between the two; SO_REUSEADDR
  // alone still allows a restart while old connections linger in TIME_WAIT.
  rep_->server.set_socket_options([rep = rep_.get()](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    rep->listen_socket = socket;
  });
  const int bound = port == 0 ? rep_->server.bind_to_any_port(host) : (rep_->server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return Status::IoError("cannot listen on " + host + ":" + std::to_string(port) + ": is another server using the port?");
  }
  // Debian's cpp-httplib is a compiled library that listens with a backlog of 5 connections.
  // Under load, bursts of new connections overflow it while the accept thread waits for a core.
  // The kernel then drops their SYNs, and clients resend them only after 1, 3 and 7 s, so the
  // load test's p99 beyond capacity was 3.3 s. Calling listen again on a listening socket sets
  // its backlog (the kernel caps it at net.core.somaxconn).
  constexpr int kListenBacklog = 4096;
  if (::listen(rep_->listen_socket, kListenBacklog) != 0) {
    return Status::IoError("cannot set the listen backlog on " + host + ":" + std::to_string(bound));
  }
  rep_->bound_port = bound;
  return Status::Ok();
}

int HttpServer::port() const { return rep_->bound_port; }

Status HttpServer::Run() {
  if (rep_->bound_port == 0) TESSERA_RETURN_IF_ERROR(Bind());
  LogEvent(spdlog::level::info, "serving",
           {{"url", "http://" + rep_->options.host + ":" + std::to_string(rep_->bound_port) + "/"},
            {"threads", rep_->options.threads}, {"max_queued_connections", rep_->options.max_queued_connections}});
  if (!rep_->server.listen_after_bind()) {
    return Status::IoError("serving on " + rep_->options.host + ":" + std::to_string(rep_->bound_port) + " failed");
  }
  // listen_after_bind returns once the worker pool has finished every accepted connection.
  LogEvent(spdlog::level::info, "listener closed and requests drained", {{"port", rep_->bound_port}});
  return Status::Ok();
}

void HttpServer::Stop() { rep_->server.stop(); }

int64_t HttpServer::in_flight() const { return rep_->metrics.in_flight(); }

const std::vector<RouteInfo>& HttpServer::routes() const { return rep_->routes; }

}  // namespace tessera
