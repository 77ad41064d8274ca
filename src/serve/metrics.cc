#include "serve/metrics.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace tessera {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// Escapes a label value as the text format requires: backslash, double quote and newline.
std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void RouteMetrics::Observe(int http_status, std::chrono::nanoseconds latency) {
  const int status_class = std::clamp(http_status / 100, 1, 5);
  responses_by_class_[status_class - 1].fetch_add(1, kRelaxed);

  const double seconds = std::chrono::duration<double>(latency).count();
  size_t bucket = 0;
  while (bucket < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[bucket]) ++bucket;
  latency_buckets_[bucket].fetch_add(1, kRelaxed);
  latency_sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, latency.count())), kRelaxed);
}

RouteMetrics* ServerMetrics::AddRoute(std::string_view name, std::string_view method) {
  return &routes_.emplace_back(std::string(name), std::string(method));
}

void ServerMetrics::CountAcceptedEvents(uint64_t recorded, uint64_t duplicates, uint64_t opted_out) {
  events_recorded_.fetch_add(recorded, kRelaxed);
  events_duplicate_.fetch_add(duplicates, kRelaxed);
  events_opted_out_.fetch_add(opted_out, kRelaxed);
}

void ServerMetrics::CountRejectedEvent(StatusCode reason) {
  events_rejected_[static_cast<size_t>(reason)].fetch_add(1, kRelaxed);
}

std::string ServerMetrics::Render(const EngineGauges& engine, std::string_view version) const {
  std::string out;
  auto line = [&out](std::string_view name, std::string_view labels, auto value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
  };

  AppendHeader(out, "tessera_build_info", "gauge", "Always 1; the label names the server's version.");
  line("tessera_build_info", fmt::format("version=\"{}\"", EscapeLabel(version)), 1);

  // Requests per route: counts by status class, latency histogram and shed requests.
  AppendHeader(out, "tessera_http_requests_total", "counter", "HTTP responses by route, method and status class.");
  for (const RouteMetrics& route : routes_) {
    for (size_t c = 0; c < route.responses_by_class_.size(); ++c) {
      const uint64_t count = route.responses_by_class_[c].load(kRelaxed);
      if (count == 0) continue;
      line("tessera_http_requests_total",
           fmt::format("route=\"{}\",method=\"{}\",status_class=\"{}xx\"", EscapeLabel(route.name_), route.method_, c + 1),
           count);
    }
  }
  AppendHeader(out, "tessera_http_request_duration_seconds", "histogram",
               "Time from the route handler's start to its end, by route and method.");
  for (const RouteMetrics& route : routes_) {
    const std::string labels = fmt::format("route=\"{}\",method=\"{}\"", EscapeLabel(route.name_), route.method_);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < route.latency_buckets_.size(); ++b) {
      cumulative += route.latency_buckets_[b].load(kRelaxed);
      const std::string le = b < kLatencyBucketsSeconds.size() ? fmt::format("{}", kLatencyBucketsSeconds[b]) : "+Inf";
      line("tessera_http_request_duration_seconds_bucket", fmt::format("{},le=\"{}\"", labels, le), cumulative);
    }
    line("tessera_http_request_duration_seconds_sum", labels, route.latency_sum_ns_.load(kRelaxed) / 1e9);
    line("tessera_http_request_duration_seconds_count", labels, cumulative);
  }
  AppendHeader(out, "tessera_http_requests_shed_total", "counter",
               "Requests answered 503 with Retry-After because the server was beyond capacity.");
  for (const RouteMetrics& route : routes_) {
    const uint64_t shed = route.shed_.load(kRelaxed);
    if (shed == 0) continue;
    line("tessera_http_requests_shed_total",
         fmt::format("route=\"{}\",method=\"{}\"", EscapeLabel(route.name_), route.method_), shed);
  }
  AppendHeader(out, "tessera_http_requests_in_flight", "gauge", "Requests inside a route handler now.");
  line("tessera_http_requests_in_flight", "", in_flight_.load(kRelaxed));
  AppendHeader(out, "tessera_http_connections_queued", "gauge", "Accepted connections waiting for a worker thread.");
  line("tessera_http_connections_queued", "", queued_connections_.load(kRelaxed));

  // The engine's indexes and the model that ranks.
  AppendHeader(out, "tessera_index_products", "gauge", "Live products in the catalogue.");
  line("tessera_index_products", "", engine.products);
  AppendHeader(out, "tessera_index_terms", "gauge", "Distinct terms in the inverted index.");
  line("tessera_index_terms", "", engine.terms);
  AppendHeader(out, "tessera_index_vectors", "gauge", "Vectors in each vector index.");
  line("tessera_index_vectors", "space=\"photo\"", engine.photo_vectors);
  line("tessera_index_vectors", "space=\"joint\"", engine.joint_vectors);
  AppendHeader(out, "tessera_ranker_info", "gauge",
               "Always 1; the labels name the ranker in use and its model file's checksum.");
  line("tessera_ranker_info",
       fmt::format("name=\"{}\",version=\"{}\"", EscapeLabel(engine.ranker_name), EscapeLabel(engine.ranker_version)), 1);

  // Events: accepted by outcome, rejected by reason, and the profiles not yet written behind.
  AppendHeader(out, "tessera_events_accepted_total", "counter",
               "Events acknowledged, by outcome: recorded, duplicate (a repeated event_id) or opted_out.");
  line("tessera_events_accepted_total", "outcome=\"recorded\"", events_recorded_.load(kRelaxed));
  line("tessera_events_accepted_total", "outcome=\"duplicate\"", events_duplicate_.load(kRelaxed));
  line("tessera_events_accepted_total", "outcome=\"opted_out\"", events_opted_out_.load(kRelaxed));
  AppendHeader(out, "tessera_events_rejected_total", "counter", "Events rejected, by error code.");
  for (size_t code = 1; code < events_rejected_.size(); ++code) {
    const uint64_t count = events_rejected_[code].load(kRelaxed);
    if (count == 0) continue;
    line("tessera_events_rejected_total",
         fmt::format("reason=\"{}\"", StatusCodeName(static_cast<StatusCode>(code))), count);
  }
  AppendHeader(out, "tessera_events_unflushed", "gauge",
               "Events acknowledged whose profile changes are not yet written behind them.");
  line("tessera_events_unflushed", "", engine.unflushed_events);
  AppendHeader(out, "tessera_events_unflushed_oldest_age_seconds", "gauge",
               "Seconds since the oldest unflushed event was acknowledged; 0 when there is none.");
  line("tessera_events_unflushed_oldest_age_seconds", "", engine.oldest_unflushed_seconds);
  AppendHeader(out, "tessera_profile_store_errors_total", "counter",
               "Profile store calls that failed because the store could not be reached or timed out; "
               "always 0 with the embedded store.");
  line("tessera_profile_store_errors_total", "", engine.profile_store_errors);
  AppendHeader(out, "tessera_query_group_unions_total", "counter",
               "Unions of a query word's alternatives (its synonyms or corrections), found kept from an "
               "earlier query or computed.");
  line("tessera_query_group_unions_total", "result=\"kept\"", engine.group_unions_kept);
  line("tessera_query_group_unions_total", "result=\"computed\"", engine.group_unions_computed);
  return out;
}

}  // namespace tessera
