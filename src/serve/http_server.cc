#include "serve/http_server.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/text.h"
#include "ingest/jsonl_reader.h"

namespace tessera {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(httplib::Response& res, const Status& status) {
  SendJson(res, HttpStatusFor(status.code()),
           {{"error", {{"code", StatusCodeName(status.code())}, {"message", status.message()}}}});
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
    return Status::InvalidArgument(std::string(name) + " is '" + Excerpt(text) + "': send a positive whole number");
  }
  return value;
}

Result<std::optional<double>> ParsePrice(const httplib::Request& req, const char* name) {
  if (!req.has_param(name) || req.get_param_value(name).empty()) return std::optional<double>();
  const std::string text = req.get_param_value(name);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return Status::InvalidArgument(std::string(name) + " is '" + Excerpt(text) + "': send a number such as 499.5");
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
  return Status::InvalidArgument(std::string(name) + " is '" + Excerpt(value) + "': use true or false");
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
                                     "per_page, explain, prefix, facets, missing");
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
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kIoError:
    case StatusCode::kCorruption:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

// Admits at most kPerSecond calls a second. Thread-safe.
class LogRateLimiter {
 public:
  static constexpr size_t kPerSecond = 20;
  static constexpr size_t kRejected = static_cast<size_t>(-1);

  // Returns kRejected when this second's quota is spent; otherwise the number of calls rejected
  // since the last admitted one.
  size_t Admit() {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      window_start_ = now;
      admitted_ = 0;
    }
    if (admitted_ >= kPerSecond) {
      ++rejected_;
      return kRejected;
    }
    ++admitted_;
    const size_t rejected = rejected_;
    rejected_ = 0;
    return rejected;
  }

 private:
  std::mutex mutex_;
  std::chrono::steady_clock::time_point window_start_;
  size_t admitted_ = 0;
  size_t rejected_ = 0;
};

struct HttpServer::Rep {
  Engine* engine;
  HttpServerOptions options;
  httplib::Server server;
  LogRateLimiter client_error_log;
  int bound_port = 0;  // set by Bind

  void RegisterRoutes();
  void HandleSearch(const httplib::Request& req, httplib::Response& res, const char* kind);
};

HttpServer::HttpServer(Engine* engine, HttpServerOptions options) : rep_(std::make_unique<Rep>()) {
  rep_->engine = engine;
  rep_->options = std::move(options);
  rep_->RegisterRoutes();
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

void HttpServer::Rep::RegisterRoutes() {
  server.set_payload_max_length(options.max_body_bytes);
  // Without TCP_NODELAY, a response written as headers then body waits for the client's delayed
  // ACK: the events workload measured a single-event POST at a 99 ms median with Nagle's
  // algorithm on, against the few milliseconds of its synced write.
  server.set_tcp_nodelay(true);
  server.new_task_queue = [threads = options.threads] { return new httplib::ThreadPool(threads); };

  // Every error response is logged with its message, which names the value and never a secret.
  // Client errors are logged at most LogRateLimiter::kPerSecond times a second, so a misbehaving
  // client cannot flood the log. The number left out is reported on the next logged line.
  server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (res.status < 400) return;
    const json body = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    const std::string message =
        body.is_object() && body.contains("error") ? body["error"].value("message", "") : std::string();
    if (res.status >= 500) {
      spdlog::error("{} {} -> {}: {}", req.method, req.path, res.status, message);
      return;
    }
    const size_t skipped = client_error_log.Admit();
    if (skipped == LogRateLimiter::kRejected) return;
    if (skipped > 0) spdlog::info("{} client error lines were not logged (rate limit)", skipped);
    spdlog::info("{} {} -> {}: {}", req.method, req.path, res.status, message);
  });
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("{} {} failed: {}", req.method, req.path, what);
    SendError(res, Status::Internal("the server failed on this request: " + what));
  });

  server.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) {
    const EngineStats stats = engine->Stats();
    SendJson(res, 200, {{"status", "ok"}, {"products", stats.products}, {"photo_vectors", stats.photo_vectors},
                        {"speech_ready", stats.speech_ready}});
  });

  server.Get("/api/search", [this](const httplib::Request& req, httplib::Response& res) { HandleSearch(req, res, "text"); });
  server.Post("/api/search/image", [this](const httplib::Request& req, httplib::Response& res) { HandleSearch(req, res, "image"); });
  server.Post("/api/search/voice", [this](const httplib::Request& req, httplib::Response& res) { HandleSearch(req, res, "voice"); });

  server.Get(R"(/api/products/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    Result<Product> product = engine->GetProduct(req.matches[1]);
    if (!product.ok()) return SendError(res, product.status());
    SendJson(res, 200, ProductJson(*product));
  });
  server.Get(R"(/api/products/([^/]+)/image)", [this](const httplib::Request& req, httplib::Response& res) {
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
  server.Put(R"(/api/products/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) return SendError(res, body.status());
    if (body->is_object() && !body->contains("id")) (*body)["id"] = req.matches[1].str();
    // Uploaded products name photos by absolute path on the server; relative paths stay relative.
    Result<Product> product = ProductFromJson(*body, "");
    if (!product.ok()) return SendError(res, product.status());
    if (product->id != req.matches[1].str()) {
      return SendError(res, Status::InvalidArgument("field 'id' '" + Excerpt(product->id) +
                                                    "' differs from the id in the path"));
    }
    Status stored = engine->Upsert(*product);
    if (!stored.ok()) return SendError(res, stored);
    SendJson(res, 200, ProductJson(*product));
  });
  server.Delete(R"(/api/products/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    Status deleted = engine->Delete(req.matches[1]);
    if (!deleted.ok()) return SendError(res, deleted);
    SendJson(res, 200, {{"deleted", req.matches[1].str()}});
  });
  // Bulk import: a JSONL body, one product (or {"op":"delete"}) per line; per-line errors.
  server.Post("/api/products/import", [this](const httplib::Request& req, httplib::Response& res) {
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
  server.Post("/api/events", [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) return SendError(res, body.status());
    // Parse up to the first malformed event; the ones before it are still recorded.
    Result<EventBatch> batch = EventBatchFromJson(*body, engine->clock().NowMillis());
    if (!batch.ok()) return SendError(res, batch.status());
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
    if (invalid.ok()) return SendJson(res, 200, out);
    out["error"] = {{"code", StatusCodeName(invalid.code())}, {"message", invalid.message()}};
    SendJson(res, HttpStatusFor(invalid.code()), out);
  });

  // The ranker in use, and a reload of its model file (the path the server was started with),
  // swapped in without dropping requests.
  server.Get("/api/models", [this](const httplib::Request&, httplib::Response& res) {
    const RankerInfo info = engine->ranker_info();
    json report = info.report.empty() ? json(nullptr) : json::parse(info.report, nullptr, /*allow_exceptions=*/false);
    SendJson(res, 200, {{"ranker", {{"name", info.name}, {"path", info.path}, {"report", report}}}});
  });
  server.Post("/api/models/ranker/reload", [this](const httplib::Request&, httplib::Response& res) {
    Status loaded = engine->LoadRanker();
    if (!loaded.ok()) return SendError(res, loaded);
    const RankerInfo info = engine->ranker_info();
    SendJson(res, 200, {{"reloaded", true}, {"ranker", {{"name", info.name}, {"path", info.path}}}});
  });

  server.Get(R"(/api/users/([^/]+)/profile)", [this](const httplib::Request& req, httplib::Response& res) {
    Result<std::optional<UserProfile>> profile = engine->Profile(req.matches[1]);
    if (!profile.ok()) return SendError(res, profile.status());
    json out = {{"user_id", req.matches[1].str()}, {"events", 0}, {"affinities", json::object()}};
    if (profile->has_value()) {
      out["events"] = (*profile)->event_count();
      out["affinities"] = (*profile)->Shares();
    }
    SendJson(res, 200, out);
  });
  server.Get(R"(/api/users/([^/]+)/export)", [this](const httplib::Request& req, httplib::Response& res) {
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
  server.Put(R"(/api/users/([^/]+)/opt-out)", [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) return SendError(res, body.status());
    if (!body->is_object() || !body->contains("opted_out") || !(*body)["opted_out"].is_boolean() || body->size() != 1) {
      return SendError(res, Status::InvalidArgument("send {\"opted_out\": true} or {\"opted_out\": false}"));
    }
    Status set = engine->SetOptOut(req.matches[1], (*body)["opted_out"].get<bool>());
    if (!set.ok()) return SendError(res, set);
    SendJson(res, 200, {{"user_id", req.matches[1].str()}, {"opted_out", (*body)["opted_out"]}});
  });
  server.Get(R"(/api/users/([^/]+)/opt-out)", [this](const httplib::Request& req, httplib::Response& res) {
    Result<bool> opted_out = engine->OptedOut(req.matches[1]);
    if (!opted_out.ok()) return SendError(res, opted_out.status());
    SendJson(res, 200, {{"user_id", req.matches[1].str()}, {"opted_out", *opted_out}});
  });
  // {"from": "<anonymous id>"}: on login, the anonymous session's events move to this user, whose
  // profile is recomputed, and the anonymous user is erased, in one atomic write.
  server.Post(R"(/api/users/([^/]+)/merge)", [this](const httplib::Request& req, httplib::Response& res) {
    Result<json> body = ParseBody(req);
    if (!body.ok()) return SendError(res, body.status());
    if (!body->is_object() || !body->contains("from") || !(*body)["from"].is_string() || body->size() != 1) {
      return SendError(res, Status::InvalidArgument("send {\"from\": \"<anonymous user id>\"} and no other field"));
    }
    const std::string from = (*body)["from"].get<std::string>();
    Result<size_t> moved = engine->MergeUsers(from, req.matches[1]);
    if (!moved.ok()) return SendError(res, moved.status());
    SendJson(res, 200, {{"user_id", req.matches[1].str()}, {"merged_from", from}, {"events_moved", *moved}});
  });
  server.Delete(R"(/api/users/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    Result<size_t> erased = engine->EraseUser(req.matches[1]);
    if (!erased.ok()) return SendError(res, erased.status());
    SendJson(res, 200, {{"erased", true}, {"events_removed", *erased}});
  });

  if (!options.web_dir.empty()) {
    const fs::path web(options.web_dir);
    server.Get("/", [web](const httplib::Request&, httplib::Response& res) {
      if (auto page = ReadFileBytes((web / "index.html").string())) {
        return res.set_content(*page, "text/html; charset=utf-8");
      }
      SendError(res, Status::NotFound("storefront page missing from " + web.string()));
    });
    server.Get(R"(/static/([A-Za-z0-9_.-]+))", [web](const httplib::Request& req, httplib::Response& res) {
      const fs::path path = web / req.matches[1].str();
      if (auto file = ReadFileBytes(path.string())) return res.set_content(*file, ContentTypeFor(path));
      SendError(res, Status::NotFound("no file '" + req.matches[1].str() + "' in the storefront"));
    });
  }
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      SendError(res, Status::NotFound("no route for " + req.method + " " + Excerpt(req.path) + ": see the API in README.md"));
    } else if (res.status == 413) {
      SendError(res, Status::TooLarge("the request body is above the server's limit: send a smaller file"));
    }
  });
}

Status HttpServer::Bind() {
  const std::string& host = rep_->options.host;
  const int port = rep_->options.port;
  const int bound = port == 0 ? rep_->server.bind_to_any_port(host) : (rep_->server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return Status::IoError("cannot listen on " + host + ":" + std::to_string(port) + ": is another server using the port?");
  }
  rep_->bound_port = bound;
  return Status::Ok();
}

int HttpServer::port() const { return rep_->bound_port; }

Status HttpServer::Run() {
  if (rep_->bound_port == 0) TESSERA_RETURN_IF_ERROR(Bind());
  spdlog::info("serving on http://{}:{}/", rep_->options.host, rep_->bound_port);
  if (!rep_->server.listen_after_bind()) {
    return Status::IoError("serving on " + rep_->options.host + ":" + std::to_string(rep_->bound_port) + " failed");
  }
  spdlog::info("server stopped");
  return Status::Ok();
}

void HttpServer::Stop() { rep_->server.stop(); }

}  // namespace tessera
