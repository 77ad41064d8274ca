#include "serve/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

using namespace std::chrono_literals;

EngineGauges SomeGauges() {
  EngineGauges gauges;
  gauges.products = 44446;
  gauges.terms = 12000;
  gauges.photo_vectors = 9999;
  gauges.ranker_name = "lambdamart";
  gauges.ranker_version = "00ff";
  return gauges;
}

bool Contains(const std::string& page, const std::string& line) { return page.find(line + "\n") != std::string::npos; }

TEST(ServerMetrics, HistogramBucketsAreCumulative) {
  ServerMetrics metrics;
  RouteMetrics* route = metrics.AddRoute("search.text", "GET");
  route->Observe(200, 300us);   // <= 0.5 ms
  route->Observe(200, 3ms);     // <= 5 ms
  route->Observe(404, 7s);      // +Inf
  const std::string page = metrics.Render(SomeGauges(), "0.1.0");
  const std::string labels = R"(route="search.text",method="GET")";
  EXPECT_TRUE(Contains(page, "tessera_http_request_duration_seconds_bucket{" + labels + R"(,le="0.0005"} 1)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_request_duration_seconds_bucket{" + labels + R"(,le="0.0025"} 1)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_request_duration_seconds_bucket{" + labels + R"(,le="0.005"} 2)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_request_duration_seconds_bucket{" + labels + R"(,le="5"} 2)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_request_duration_seconds_bucket{" + labels + R"(,le="+Inf"} 3)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_request_duration_seconds_count{" + labels + "} 3")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_request_duration_seconds_sum{" + labels + "} 7.0033")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_requests_total{" + labels + R"(,status_class="2xx"} 2)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_requests_total{" + labels + R"(,status_class="4xx"} 1)")) << page;
}

TEST(ServerMetrics, RendersEngineGaugesAndEvents) {
  ServerMetrics metrics;
  metrics.CountAcceptedEvents(5, 2, 1);
  metrics.CountRejectedEvent(StatusCode::kNotFound);
  metrics.CountRejectedEvent(StatusCode::kNotFound);
  EngineGauges gauges = SomeGauges();
  gauges.unflushed_events = 7;
  gauges.oldest_unflushed_seconds = 0.25;
  gauges.group_unions_kept = 40;
  gauges.group_unions_computed = 3;
  const std::string page = metrics.Render(gauges, "0.1.0");
  EXPECT_TRUE(Contains(page, "tessera_index_products 44446")) << page;
  EXPECT_TRUE(Contains(page, "tessera_index_terms 12000")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_index_vectors{space="photo"} 9999)")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_ranker_info{name="lambdamart",version="00ff"} 1)")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_build_info{version="0.1.0"} 1)")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_events_accepted_total{outcome="recorded"} 5)")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_events_accepted_total{outcome="duplicate"} 2)")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_events_accepted_total{outcome="opted_out"} 1)")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_events_rejected_total{reason="not_found"} 2)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_events_unflushed 7")) << page;
  EXPECT_TRUE(Contains(page, "tessera_events_unflushed_oldest_age_seconds 0.25")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_query_group_unions_total{result="kept"} 40)")) << page;
  EXPECT_TRUE(Contains(page, R"(tessera_query_group_unions_total{result="computed"} 3)")) << page;
  EXPECT_TRUE(Contains(page, "# TYPE tessera_http_request_duration_seconds histogram")) << page;
}

TEST(ServerMetrics, LabelValuesAreEscaped) {
  ServerMetrics metrics;
  EngineGauges gauges = SomeGauges();
  gauges.ranker_name = "a\"b\\c\nd";
  const std::string page = metrics.Render(gauges, "0.1.0");
  EXPECT_TRUE(Contains(page, R"(tessera_ranker_info{name="a\"b\\c\nd",version="00ff"} 1)")) << page;
}

TEST(ServerMetrics, ConcurrentCountsAreExact) {
  ServerMetrics metrics;
  RouteMetrics* route = metrics.AddRoute("events", "POST");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        metrics.RequestStarted();
        route->Observe(200, 1ms);
        metrics.RequestFinished();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string page = metrics.Render(SomeGauges(), "0.1.0");
  EXPECT_TRUE(Contains(page, R"(tessera_http_requests_total{route="events",method="POST",status_class="2xx"} 40000)")) << page;
  EXPECT_TRUE(Contains(page, "tessera_http_requests_in_flight 0")) << page;
}

}  // namespace
}  // namespace tessera
