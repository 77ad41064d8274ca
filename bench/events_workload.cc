#include "events_workload.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "engine/engine.h"
#include "eval/metrics.h"
#include "ingest/fashion_catalog_reader.h"
#include "serve/http_server.h"

namespace tessera {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

json LatencyJson(const std::vector<double>& latency_ms) {
  const MetricSummary summary = Summarize(latency_ms);
  return {{"median_ms", summary.median}, {"p99_ms", summary.p99}, {"mean_ms", summary.mean}, {"count", summary.count}};
}

// CPU seconds used by every thread of the process (RocksDB's background threads included).
double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec * 1e-9;
}

// Events over wall-clock seconds, and over the process's CPU seconds since `cpu_start`. On a
// shared machine the wall clock also counts time the core spent on other processes, so the CPU
// figure is what one dedicated core would sustain when the disk keeps up.
json RateJson(size_t events, double seconds, double cpu_start) {
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  return {{"events", events},
          {"seconds", seconds},
          {"events_per_second", seconds > 0 ? events / seconds : 0.0},
          {"cpu_seconds", cpu_seconds},
          {"events_per_cpu_second", cpu_seconds > 0 ? events / cpu_seconds : 0.0}};
}

// The first `count` products of the real catalogue that name an article type and a colour,
// without their photos, so ingest encodes none.
Result<std::vector<Product>> ReadProducts(const std::string& fashion_dir, size_t count) {
  std::vector<Product> products;
  Result<IngestReport> report = ReadFashionCatalog(fashion_dir, [&](CatalogRecord&& record) {
    if (products.size() >= count) return Status::Ok();
    Product& product = record.product;
    if (FacetValue(product, "article_type").empty() || FacetValue(product, "colour").empty()) return Status::Ok();
    product.image_paths.clear();
    products.push_back(std::move(product));
    return Status::Ok();
  });
  if (!report.ok()) return report.status();
  if (products.empty()) return Status::InvalidArgument(fashion_dir + "/styles.csv has no usable product: pass the fashion catalogue folder");
  return products;
}

// Opens an engine on its own store under `dir`, without photo models. `group_limit` 1 gives
// every event its own synced write, as before group commit. `profile_flush_ms` 0 writes each
// touched profile into its events' synced write, as before profiles were written behind.
Result<std::unique_ptr<Engine>> OpenEngine(const fs::path& dir, size_t group_limit, int64_t profile_flush_ms,
                                           const std::vector<Product>& products, const Clock* clock) {
  EngineOptions options;
  options.data_dir = dir.string();
  options.photo_encoder = "colour-shape";
  options.read_photo_text = false;
  options.event_group_limit = group_limit;
  options.profile_flush_ms = profile_flush_ms;
  Result<std::unique_ptr<Engine>> engine = Engine::Open(options, clock);
  if (!engine.ok()) return engine.status();
  std::string jsonl;
  for (const Product& product : products) jsonl += ProductToJson(product).dump() + "\n";
  std::istringstream in(jsonl);
  Result<IngestReport> report = (*engine)->IngestJsonl(in, "");
  if (!report.ok()) return report.status();
  return engine;
}

// Synthetic events on the catalogue. kUniform: each event a view, click or add-to-cart by a
// random one of `shoppers`. kPages: what a storefront sends per result page, one shopper's
// search, the 24 impressions it showed and one click.
class EventSource {
 public:
  enum class Mix { kUniform, kPages };
  static constexpr uint32_t kPageSize = 24;

  EventSource(const std::vector<Product>& products, size_t shoppers, uint64_t seed, const Clock* clock,
              Mix mix = Mix::kUniform)
      : products_(products), shoppers_(shoppers), rng_(seed), clock_(clock), mix_(mix) {}

  Event Next() {
    Event event;
    event.timestamp_ms = clock_->NowMillis();
    if (mix_ == Mix::kUniform) {
      static constexpr EventType kTypes[] = {EventType::kView, EventType::kView, EventType::kClick, EventType::kAddToCart};
      event.user_id = RandomShopper();
      event.type = kTypes[rng_() % 4];
      event.product_id = RandomProduct();
      return event;
    }

    // A page: the search (step 0), its impressions (steps 1 to kPageSize), then a click.
    if (page_step_ == 0) page_shopper_ = RandomShopper();
    event.user_id = page_shopper_;
    if (page_step_ == 0) {
      event.type = EventType::kSearch;
      event.query = "shirts";
    } else if (page_step_ <= kPageSize) {
      event.type = EventType::kImpression;
      event.product_id = RandomProduct();
      event.position = page_step_;
    } else {
      event.type = EventType::kClick;
      event.product_id = RandomProduct();
    }
    page_step_ = page_step_ == kPageSize + 1 ? 0 : page_step_ + 1;
    return event;
  }

 private:
  std::string RandomShopper() { return "bench-" + std::to_string(rng_() % shoppers_); }
  const std::string& RandomProduct() { return products_[rng_() % products_.size()].id; }

  const std::vector<Product>& products_;
  size_t shoppers_;
  std::mt19937_64 rng_;
  const Clock* clock_;
  Mix mix_;
  uint32_t page_step_ = 0;
  std::string page_shopper_;
};

// Batches of `batch_size` through Engine::RecordEvents: one synced write per batch.
Result<json> MeasureBatches(Engine& engine, EventSource& source, size_t batch_size, const EventsWorkloadOptions& options) {
  const double cpu_start = ProcessCpuSeconds();
  const auto start = SteadyClock::now();
  size_t events = 0;
  std::vector<Engine::EventOutcome> outcomes;
  while (events < options.batch_events && SecondsSince(start) < options.max_seconds) {
    std::vector<Event> batch;
    for (size_t i = 0; i < batch_size; ++i) batch.push_back(source.Next());
    TESSERA_RETURN_IF_ERROR(engine.RecordEvents(batch, &outcomes));
    events += outcomes.size();
  }
  json out = RateJson(events, SecondsSince(start), cpu_start);
  out["batch_size"] = batch_size;
  return out;
}

// The same events sent one RecordEvent at a time from one caller, as the server did for a batch
// before group commit: one synced write each.
Result<json> MeasureEventByEvent(Engine& engine, EventSource& source, const EventsWorkloadOptions& options) {
  const double cpu_start = ProcessCpuSeconds();
  const auto start = SteadyClock::now();
  size_t events = 0;
  while (events < options.batch_events && SecondsSince(start) < options.max_seconds) {
    TESSERA_RETURN_IF_ERROR(engine.RecordEvent(source.Next()));
    ++events;
  }
  return RateJson(events, SecondsSince(start), cpu_start);
}

// `threads` callers each sending single events; stops at options.concurrent_events or
// options.max_seconds.
Result<json> MeasureConcurrent(Engine& engine, const std::vector<Product>& products, size_t threads,
                               const EventsWorkloadOptions& options, const Clock* clock) {
  std::atomic<size_t> claimed = 0;   // events callers have taken a turn for
  std::atomic<size_t> recorded = 0;  // events acknowledged
  std::atomic<bool> failed = false;
  Status failure;
  std::mutex failure_mutex;
  const double cpu_start = ProcessCpuSeconds();
  const auto start = SteadyClock::now();
  std::vector<std::thread> callers;
  for (size_t t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      EventSource source(products, 1000, options.seed + 100 + t, clock);
      while (!failed && claimed.fetch_add(1) < options.concurrent_events && SecondsSince(start) < options.max_seconds) {
        Status status = engine.RecordEvent(source.Next());
        if (status.ok()) {
          recorded.fetch_add(1);
          continue;
        }
        std::lock_guard lock(failure_mutex);
        failure = status;
        failed = true;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  if (failed) return failure;
  json out = RateJson(recorded.load(), SecondsSince(start), cpu_start);
  out["threads"] = threads;
  return out;
}

// Over HTTP on loopback: a new shopper clicks a product, and as soon as the click is
// acknowledged runs a search for that product's colour and article type. A round counts as
// reflected when the response is personalized and a result of the clicked colour carries a
// colour boost in its explanation.
Result<json> MeasureFreshness(Engine& engine, const std::vector<Product>& products, const EventsWorkloadOptions& options) {
  HttpServerOptions server_options;
  server_options.host = "127.0.0.1";
  server_options.port = 0;
  server_options.threads = 4;
  HttpServer server(&engine, server_options);
  TESSERA_RETURN_IF_ERROR(server.Bind());
  std::thread serving([&] {
    Status served = server.Run();
    if (!served.ok()) spdlog::error("events workload server failed: {}", served.ToString());
  });

  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  std::mt19937_64 rng(options.seed);
  std::vector<double> click_ms, ack_to_search_ms;
  size_t reflected = 0;
  Status failure;
  for (size_t round = 0; round < options.freshness_rounds; ++round) {
    const Product& product = products[rng() % products.size()];
    const std::string shopper = "fresh-" + std::to_string(round);
    const std::string colour = FacetValue(product, "colour");
    const json click = {{"user_id", shopper}, {"type", "click"}, {"product_id", product.id}};

    const auto click_start = SteadyClock::now();
    httplib::Result posted = client.Post("/api/events", click.dump(), "application/json");
    if (!posted || posted->status != 200) {
      failure = Status::IoError("POST /api/events failed: " + (posted ? posted->body : httplib::to_string(posted.error())));
      break;
    }
    const auto acknowledged = SteadyClock::now();
    click_ms.push_back(std::chrono::duration<double, std::milli>(acknowledged - click_start).count());

    const httplib::Params params = {{"q", colour + " " + FacetValue(product, "article_type")},
                                    {"user", shopper}, {"explain", "true"}, {"per_page", "24"}};
    httplib::Result searched = client.Get("/api/search", params, httplib::Headers());
    if (!searched || searched->status != 200) {
      failure = Status::IoError("GET /api/search failed: " + (searched ? searched->body : httplib::to_string(searched.error())));
      break;
    }
    ack_to_search_ms.push_back(MillisSince(acknowledged));

    const json response = json::parse(searched->body, nullptr, /*allow_exceptions=*/false);
    bool boosted = false;
    if (response.is_object() && response.value("personalized", false)) {
      for (const json& hit : response["results"]) {
        const bool same_colour = hit.contains("attributes") && hit["attributes"].value("colour", "") == colour;
        const json& by_facet = hit["explain"]["personal_boost_by_facet"];
        if (same_colour && by_facet.value("colour", 0.0) > 0) boosted = true;
      }
    }
    if (boosted) ++reflected;
  }
  server.Stop();
  serving.join();
  if (!failure.ok()) return failure;
  return json{{"rounds", click_ms.size()},
              {"reflected_in_next_search", reflected},
              {"click_ack", LatencyJson(click_ms)},
              {"ack_to_personalized_response", LatencyJson(ack_to_search_ms)}};
}

// The same queries with and without a shopper profile, alternating, in-process.
Result<json> MeasurePersonalizationCost(Engine& engine, const std::vector<Product>& products,
                                        const EventsWorkloadOptions& options, const Clock* clock) {
  // Twenty shoppers with thirty events each.
  constexpr size_t kShoppers = 20;
  EventSource source(products, kShoppers, options.seed + 7, clock);
  std::vector<Event> history;
  for (size_t i = 0; i < kShoppers * 30; ++i) history.push_back(source.Next());
  for (Event& event : history) event.user_id = "cost-" + event.user_id;
  std::vector<Engine::EventOutcome> outcomes;
  for (size_t start = 0; start < history.size(); start += Engine::kMaxEventBatch) {
    std::vector<Event> batch(history.begin() + start,
                             history.begin() + std::min(history.size(), start + Engine::kMaxEventBatch));
    TESSERA_RETURN_IF_ERROR(engine.RecordEvents(batch, &outcomes));
  }

  std::mt19937_64 rng(options.seed + 11);
  std::vector<double> plain_ms, personal_ms;
  for (size_t q = 0; q < options.queries; ++q) {
    const Product& product = products[rng() % products.size()];
    SearchRequest request;
    request.text = FacetValue(product, "article_type");
    for (bool personal : {q % 2 == 0, q % 2 != 0}) {
      request.user_id = personal ? "cost-bench-" + std::to_string(q % kShoppers) : "";
      const auto start = SteadyClock::now();
      Result<SearchResponse> response = engine.Search(request);
      if (!response.ok()) return response.status();
      if (personal && !response->personalized) {
        return Status::Internal("a search for shopper '" + request.user_id + "' was not personalized");
      }
      (personal ? personal_ms : plain_ms).push_back(MillisSince(start));
    }
  }
  const double plain = Summarize(plain_ms).median;
  const double personal = Summarize(personal_ms).median;
  return json{{"without_profile", LatencyJson(plain_ms)},
              {"with_profile", LatencyJson(personal_ms)},
              {"median_ratio", plain > 0 ? personal / plain : 0.0},
              {"median_added_ms", personal - plain}};
}

}  // namespace

int RunEventsWorkload(const EventsWorkloadOptions& options) {
  auto fail = [](const Status& status) {
    std::cerr << status.ToString() << "\n";
    return 1;
  };
  if (fs::exists(options.data_dir)) {
    return fail(Status::InvalidArgument("--data-dir " + options.data_dir +
                                        " exists: the events workload creates its stores in a new folder"));
  }
  Result<std::vector<Product>> products = ReadProducts(options.fashion_dir, options.products);
  if (!products.ok()) return fail(products.status());

  SystemClock clock;
  const fs::path root(options.data_dir);
  const GroupCommitOptions defaults;
  Result<std::unique_ptr<Engine>> grouped =
      OpenEngine(root / "group-commit", defaults.max_group_events, defaults.profile_flush_ms, *products, &clock);
  if (!grouped.ok()) return fail(grouped.status());
  Result<std::unique_ptr<Engine>> through = OpenEngine(root / "write-through", defaults.max_group_events, 0, *products, &clock);
  if (!through.ok()) return fail(through.status());
  Result<std::unique_ptr<Engine>> single = OpenEngine(root / "sync-per-event", 1, 0, *products, &clock);
  if (!single.ok()) return fail(single.status());

  json out = {{"workload", "events"}, {"products", products->size()}};
  spdlog::info("events: durable events per second");
  EventSource grouped_source(*products, 1000, options.seed, &clock);
  EventSource pages_source(*products, 1000, options.seed, &clock, EventSource::Mix::kPages);
  EventSource single_source(*products, 1000, options.seed, &clock);
  EventSource through_source(*products, 1000, options.seed, &clock);
  EventSource through_pages_source(*products, 1000, options.seed, &clock, EventSource::Mix::kPages);
  json durable = {{"batches_group_commit", json::array()}, {"page_batches_group_commit", json::array()},
                  {"batches_write_through", json::array()}, {"page_batches_write_through", json::array()},
                  {"concurrent_single_group_commit", json::array()}, {"concurrent_single_sync_per_event", json::array()}};
  for (size_t batch_size : options.batch_sizes) {
    Result<json> batches = MeasureBatches(**grouped, grouped_source, batch_size, options);
    if (!batches.ok()) return fail(batches.status());
    durable["batches_group_commit"].push_back(*batches);
    Result<json> pages = MeasureBatches(**grouped, pages_source, batch_size, options);
    if (!pages.ok()) return fail(pages.status());
    durable["page_batches_group_commit"].push_back(*pages);
  }
  // The same events with every touched profile in the synced write, for a same-run comparison.
  // They run after the figures above, so the compactions their larger writes start run after
  // those figures too.
  for (size_t batch_size : options.batch_sizes) {
    Result<json> through_batches = MeasureBatches(**through, through_source, batch_size, options);
    if (!through_batches.ok()) return fail(through_batches.status());
    durable["batches_write_through"].push_back(*through_batches);
    Result<json> through_pages = MeasureBatches(**through, through_pages_source, batch_size, options);
    if (!through_pages.ok()) return fail(through_pages.status());
    durable["page_batches_write_through"].push_back(*through_pages);
  }
  through->reset();
  Result<json> event_by_event = MeasureEventByEvent(**single, single_source, options);
  if (!event_by_event.ok()) return fail(event_by_event.status());
  durable["batch_sent_event_by_event_sync_per_event"] = *event_by_event;
  for (size_t threads : options.thread_counts) {
    Result<json> concurrent_grouped = MeasureConcurrent(**grouped, *products, threads, options, &clock);
    if (!concurrent_grouped.ok()) return fail(concurrent_grouped.status());
    durable["concurrent_single_group_commit"].push_back(*concurrent_grouped);
    Result<json> concurrent_single = MeasureConcurrent(**single, *products, threads, options, &clock);
    if (!concurrent_single.ok()) return fail(concurrent_single.status());
    durable["concurrent_single_sync_per_event"].push_back(*concurrent_single);
  }
  out["durable"] = durable;
  single->reset();

  spdlog::info("events: freshness over HTTP");
  Result<json> freshness = MeasureFreshness(**grouped, *products, options);
  if (!freshness.ok()) return fail(freshness.status());
  out["freshness"] = *freshness;

  spdlog::info("events: personalization cost");
  Result<json> cost = MeasurePersonalizationCost(**grouped, *products, options, &clock);
  if (!cost.ok()) return fail(cost.status());
  out["personalization_cost"] = *cost;
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
