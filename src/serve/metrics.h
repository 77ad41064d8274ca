// ServerMetrics: the server's counters and gauges, rendered in the Prometheus text exposition
// format 0.0.4 for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tessera {

// Upper bounds of the latency histogram's buckets, in seconds. A text query takes 0.1 to a few
// milliseconds and a voice query 0.1 to 0.3 s (BENCHMARKS.md), and bulk imports take longer. So
// the buckets span 0.5 ms to 5 s, and slower requests fall in the +Inf bucket.
inline constexpr std::array<double, 13> kLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};

// The counters of one route. Thread-safe and lock-free: every update is one relaxed atomic
// increment per counter, so concurrent requests never wait for each other here.
class RouteMetrics {
 public:
  RouteMetrics(std::string name, std::string method) : name_(std::move(name)), method_(std::move(method)) {}

  // Counts one response with `http_status` that took `latency`.
  void Observe(int http_status, std::chrono::nanoseconds latency);
  // Counts one request that load shedding rejected with 503. The caller also passes it to Observe.
  void CountShed() { shed_.fetch_add(1, std::memory_order_relaxed); }

  const std::string& name() const { return name_; }
  const std::string& method() const { return method_; }

 private:
  friend class ServerMetrics;

  std::string name_;
  std::string method_;
  std::array<std::atomic<uint64_t>, 5> responses_by_class_{};  // 1xx .. 5xx
  // Not cumulative: bucket i counts latencies in (bound i-1, bound i]; the last is +Inf.
  std::array<std::atomic<uint64_t>, kLatencyBucketsSeconds.size() + 1> latency_buckets_{};
  std::atomic<uint64_t> latency_sum_ns_ = 0;
  std::atomic<uint64_t> shed_ = 0;
};

// Engine figures read once per scrape.
struct EngineGauges {
  uint64_t products = 0;
  uint64_t terms = 0;
  uint64_t photo_vectors = 0;
  uint64_t joint_vectors = 0;
  uint64_t unflushed_events = 0;          // acknowledged, profile not yet written behind
  double oldest_unflushed_seconds = 0;    // age of the oldest of them; 0 when there is none
  uint64_t profile_store_errors = 0;      // calls that failed to reach a remote profile store
  uint64_t group_unions_kept = 0;         // query group unions found kept between queries
  uint64_t group_unions_computed = 0;     // query group unions computed
  std::string ranker_name;
  std::string ranker_version;             // "" for the retrieval score
};

// Thread safety: AddRoute only before serving; everything else may be called concurrently and
// takes no lock.
class ServerMetrics {
 public:
  // Adds a route's counters. The returned pointer stays valid as long as this object.
  RouteMetrics* AddRoute(std::string_view name, std::string_view method);

  // Requests inside a route handler right now.
  void RequestStarted() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void RequestFinished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  // Connections accepted and waiting for a worker; WorkerPool keeps it up to date.
  std::atomic<int64_t>* queued_connections() { return &queued_connections_; }

  // Counts the events of one POST /api/events: accepted ones by outcome, and the event that
  // stopped the batch by its error code.
  void CountAcceptedEvents(uint64_t recorded, uint64_t duplicates, uint64_t opted_out);
  void CountRejectedEvent(StatusCode reason);

  // Renders every metric in the Prometheus text format 0.0.4.
  std::string Render(const EngineGauges& engine, std::string_view version) const;

 private:
  std::deque<RouteMetrics> routes_;  // a deque keeps the pointers AddRoute returned valid
  std::atomic<int64_t> in_flight_ = 0;
  std::atomic<int64_t> queued_connections_ = 0;
  std::atomic<uint64_t> events_recorded_ = 0;
  std::atomic<uint64_t> events_duplicate_ = 0;
  std::atomic<uint64_t> events_opted_out_ = 0;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(StatusCode::kInternal) + 1> events_rejected_{};
};

}  // namespace tessera
