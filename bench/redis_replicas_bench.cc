// Measures the Redis-backed replicas against the embedded store, in one run on one machine:
//   1. events/s recorded by RedisProfileStore, with profiles as hashes and as strings (the
//      layout before hashes), and by EmbeddedProfileStore (all durable: Redis with appendfsync
//      always, RocksDB with a synced group commit), and their profile reads;
//   2. search latency of a shopper with a profile, on a server with the embedded store and on a
//      replica reading the profile from Redis, over the same data dir;
//   3. cross-replica freshness: from the acknowledgement of an event (or a catalogue upsert) on
//      replica A to the first response of replica B that reflects it.
// It starts its own redis-server and `tessera serve` processes on 127.0.0.1 and prints one JSON
// object. Every loop is bounded by a count and a timeout.
//
//   tessera_redis_bench --replica-a /tmp/redis-var-A --replica-b /tmp/redis-var-B
//   tessera_redis_bench --store-only    # part 1 alone, without data dirs or servers
//
// The two data dirs must be copies of one ingested data dir (cp -a), so that they share the
// user-id key. Replica A's data dir also serves the embedded-store run, before the replicas
// start. Both are changed by the run (events, upserted products), so use scratch copies.
#include <algorithm>
#include <cstring>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "e2e/e2e_support.h"
#include "eval/metrics.h"
#include "personalize/profile_store.h"
#include "personalize/redis_profile_store.h"
#include "store/kv_store.h"
#include "support/redis_test_support.h"
#include "support/test_support.h"

namespace {

using nlohmann::json;
using tessera::e2e::FreeLoopbackPort;
using tessera::e2e::ServerProcess;
using SteadyClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

json LatencyJson(const std::vector<double>& latency_ms) {
  const tessera::MetricSummary summary = tessera::Summarize(latency_ms);
  return {{"median_ms", summary.median}, {"p99_ms", summary.p99}, {"mean_ms", summary.mean}, {"count", summary.count}};
}

struct BenchOptions {
  std::string replica_a, replica_b;
  size_t events = 4000;      // per store, in the store-level run
  size_t threads = 4;        // concurrent writers in the store-level run
  size_t users = 500;        // distinct shoppers of the store-level run
  size_t products = 50;      // distinct products of the store-level run, with varied facet values
  size_t searches = 300;     // timed searches per server
  size_t samples = 200;      // freshness samples of events
  size_t catalog_samples = 50;  // freshness samples of catalogue upserts
  std::string query = "blue shirts";
  bool store_only = false;  // part 1 alone
};

// Records `options.events` click events from `options.threads` threads in RecordBatch calls of
// `batch` events (as POST /api/events bodies of that many), and then reads profiles.
json MeasureStore(tessera::ProfileStore& store, const BenchOptions& options, size_t batch) {
  // Products whose facet values vary, so that a shopper's profile grows with their events.
  static const char* kColours[] = {"Blue", "Red", "Black", "White", "Green", "Grey", "Navy", "Pink", "Brown", "Beige"};
  static const char* kTypes[] = {"Shirts", "Tshirts", "Jeans", "Shoes", "Watches", "Bags"};
  std::vector<std::shared_ptr<tessera::Product>> products;
  for (size_t p = 0; p < std::max<size_t>(1, options.products); ++p) {
    auto product = std::make_shared<tessera::Product>();
    product->id = "bench-product-" + std::to_string(p);
    product->brand = "Brand " + std::to_string(p % 20);
    product->price = 100.0 + static_cast<double>(p * 37 % 1900);
    product->currency = "INR";
    product->attributes = {{"article_type", kTypes[p % 6]}, {"colour", kColours[p % 10]},
                           {"gender", p % 2 == 0 ? "Men" : "Women"}};
    products.push_back(std::move(product));
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();

  std::atomic<size_t> next = 0, failed = 0;
  const auto start = SteadyClock::now();
  std::vector<std::thread> writers;
  for (size_t t = 0; t < options.threads; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      for (size_t first = next.fetch_add(batch); first < options.events; first = next.fetch_add(batch)) {
        std::vector<tessera::EventRecord> records;
        for (size_t i = first; i < std::min(first + batch, options.events); ++i) {
          const auto& product = products[random() % products.size()];
          tessera::Event event;
          event.user_id = "shopper-" + std::to_string(random() % options.users);
          event.type = tessera::EventType::kClick;
          event.product_id = product->id;
          event.timestamp_ms = now_ms + static_cast<int64_t>(i);
          event.event_id = "e" + std::to_string(batch) + "-" + std::to_string(i);
          records.push_back({event, product});
        }
        if (!store.RecordBatch(records).ok()) failed += records.size();
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  const double seconds = MillisSince(start) / 1000.0;

  std::vector<double> reads_ms;
  for (size_t i = 0; i < options.searches; ++i) {
    const auto read_start = SteadyClock::now();
    if (!store.Get("shopper-" + std::to_string(i % options.users)).ok()) ++failed;
    reads_ms.push_back(MillisSince(read_start));
  }
  return {{"events", options.events},
          {"threads", options.threads},
          {"events_per_call", batch},
          {"seconds", seconds},
          {"events_per_second", options.events / seconds},
          {"failed_events_and_reads", failed.load()},
          {"profile_read", LatencyJson(reads_ms)}};
}

// used_cpu_sys + used_cpu_user of the redis-server on `port` (INFO cpu), in seconds.
double RedisCpuSeconds(int port) {
  tessera::RedisOptions options;
  options.port = port;
  tessera::RedisClient client(options);
  tessera::Result<tessera::RedisReply> info = client.Command({"INFO", "cpu"});
  if (!info.ok()) return 0;
  double seconds = 0;
  for (const char* field : {"used_cpu_sys:", "used_cpu_user:"}) {
    const size_t at = info->text.find(field);
    if (at != std::string::npos) seconds += std::stod(info->text.substr(at + std::strlen(field)));
  }
  return seconds;
}

httplib::Result Request(int port, const std::string& method, const std::string& path, const std::string& body = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  if (method == "GET") return client.Get(path);
  if (method == "PUT") return client.Put(path, body, "application/json");
  return client.Post(path, body, "application/json");
}

bool PostClick(int port, const std::string& user, const std::string& product_id) {
  const json event = {{"user_id", user}, {"type", "click"}, {"product_id", product_id}};
  auto res = Request(port, "POST", "/api/events", event.dump());
  return res && res->status == 200;
}

// The latency of `options.searches` searches of the shopper "bench-shopper", after 20 clicks of
// theirs on the top results, and as many without a shopper. One keep-alive connection.
json MeasureSearch(int port, const BenchOptions& options) {
  const std::string path = "/api/search?q=" + httplib::detail::encode_query_param(options.query) + "&per_page=24";
  auto top = Request(port, "GET", path);
  if (!top || top->status != 200) return {{"error", "search failed"}};
  const json results = json::parse(top->body)["results"];
  for (size_t i = 0; i < 20 && i < results.size(); ++i) PostClick(port, "bench-shopper", results[i]["id"]);

  httplib::Client client("127.0.0.1", port);
  std::vector<double> anonymous_ms, personal_ms;
  for (size_t i = 0; i < options.searches + 20; ++i) {
    const auto anonymous_start = SteadyClock::now();
    auto anonymous = client.Get(path);
    const double anonymous_time = MillisSince(anonymous_start);
    const auto personal_start = SteadyClock::now();
    auto personal = client.Get(path + "&user=bench-shopper");
    const double personal_time = MillisSince(personal_start);
    if (!anonymous || !personal || personal->status != 200) return {{"error", "search failed"}};
    if (i < 20) continue;  // warm-up
    anonymous_ms.push_back(anonymous_time);
    personal_ms.push_back(personal_time);
  }
  return {{"without_shopper", LatencyJson(anonymous_ms)}, {"with_shopper", LatencyJson(personal_ms)}};
}

// Acknowledged click on A -> first profile read on B that counts it, for fresh shoppers.
json MeasureEventFreshness(int port_a, int port_b, const std::string& product_id, const BenchOptions& options) {
  std::vector<double> lag_ms;
  size_t missed = 0;
  httplib::Client b("127.0.0.1", port_b);
  for (size_t i = 0; i < options.samples; ++i) {
    const std::string user = "fresh-" + std::to_string(i);
    if (!PostClick(port_a, user, product_id)) return {{"error", "event rejected"}};
    const auto acknowledged = SteadyClock::now();
    bool seen = false;
    while (!seen && MillisSince(acknowledged) < 5000) {
      auto profile = b.Get("/api/users/" + user + "/profile");
      seen = profile && profile->status == 200 && json::parse(profile->body)["events"] == 1;
    }
    if (seen) lag_ms.push_back(MillisSince(acknowledged));
    else ++missed;
  }
  json out = LatencyJson(lag_ms);
  out["missed_after_5s"] = missed;
  return out;
}

// Acknowledged PUT of a product on A -> first search on B that finds it.
json MeasureCatalogFreshness(int port_a, int port_b, const BenchOptions& options) {
  std::vector<double> lag_ms;
  size_t missed = 0;
  httplib::Client b("127.0.0.1", port_b);
  for (size_t i = 0; i < options.catalog_samples; ++i) {
    const std::string id = "bench-upsert-" + std::to_string(i);
    const std::string word = "quokka" + std::to_string(i) + "zz";
    const json product = {{"id", id}, {"title", word + " velvet slippers"}, {"brand", "Quokka"}};
    auto put = Request(port_a, "PUT", "/api/products/" + id, product.dump());
    if (!put || put->status != 200) return {{"error", "upsert rejected"}};
    const auto acknowledged = SteadyClock::now();
    bool seen = false;
    while (!seen && MillisSince(acknowledged) < 5000) {
      auto found = b.Get("/api/search?q=" + word);
      seen = found && found->status == 200 && !json::parse(found->body)["results"].empty();
    }
    if (seen) lag_ms.push_back(MillisSince(acknowledged));
    else ++missed;
  }
  json out = LatencyJson(lag_ms);
  out["missed_after_5s"] = missed;
  return out;
}

std::vector<std::string> ServeArgs(const std::string& redis_url, const std::string& name) {
  std::vector<std::string> args = {"--web-dir", "", "--threads", "4"};
  if (!redis_url.empty()) args.insert(args.end(), {"--profile-store", redis_url, "--replica-name", name});
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Redis-backed replicas against the embedded store: events/s, search latency, freshness"};
  BenchOptions options;
  app.add_option("--replica-a", options.replica_a, "Data dir of replica A (also serves the embedded run)");
  app.add_option("--replica-b", options.replica_b, "Data dir of replica B, a copy of A's");
  app.add_flag("--store-only", options.store_only, "Measure the stores alone (part 1), without data dirs or servers");
  app.add_option("--events", options.events, "Events per store in the store-level run")->capture_default_str();
  app.add_option("--threads", options.threads, "Writer threads in the store-level run")->capture_default_str();
  app.add_option("--users", options.users, "Distinct shoppers in the store-level run")->capture_default_str();
  app.add_option("--products", options.products, "Distinct products in the store-level run")->capture_default_str();
  app.add_option("--searches", options.searches, "Timed searches per server")->capture_default_str();
  app.add_option("--samples", options.samples, "Freshness samples of events")->capture_default_str();
  app.add_option("--catalog-samples", options.catalog_samples, "Freshness samples of catalogue upserts")
      ->capture_default_str();
  app.add_option("--query", options.query, "Query of the search latency run")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!options.store_only && (options.replica_a.empty() || options.replica_b.empty())) {
    std::cerr << "--replica-a and --replica-b are required unless --store-only is given\n";
    return 2;
  }
  // Logs go to standard error, so that standard output is the JSON report alone.
  spdlog::set_default_logger(spdlog::stderr_color_mt("bench"));

  tessera::testing_support::TempDir work("tessera-redis-bench-");
  tessera::testing_support::RedisServerProcess redis(work.path() / "redis", tessera::testing_support::FreeRedisPort());
  if (!redis.Start()) {
    std::cerr << "redis-server did not start: " << tessera::testing_support::ReadFile(work.path() / "redis" / "redis.log");
    return 1;
  }
  json report = {{"redis", "redis-server 7.0, appendonly yes, appendfsync always, on 127.0.0.1"},
                 {"hardware_threads", std::thread::hardware_concurrency()}};

  // 1. Store level, same process, same events.
  {
    const tessera::UserKeyer keyer(std::string(32, 'k'));
    tessera::Result<std::unique_ptr<tessera::KvStore>> kv = tessera::KvStore::Open((work.path() / "embedded").string());
    if (!kv.ok()) {
      std::cerr << kv.status().ToString() << "\n";
      return 1;
    }
    tessera::EmbeddedProfileStore embedded(kv->get(), {}, keyer);
    tessera::Result<std::unique_ptr<tessera::RedisProfileStore>> shared = tessera::RedisProfileStore::Open(redis.url(), {}, keyer);
    // The layout before hashes, under its own key prefix so that the two never meet.
    tessera::RedisProfileStoreOptions string_options;
    string_options.key_prefix = "tessera-string:";
    string_options.profile_layout = tessera::ProfileLayout::kString;
    tessera::Result<std::unique_ptr<tessera::RedisProfileStore>> shared_strings =
        tessera::RedisProfileStore::Open(redis.url(), {}, keyer, string_options);
    if (!shared.ok() || !shared_strings.ok()) {
      std::cerr << (shared.ok() ? shared_strings.status() : shared.status()).ToString() << "\n";
      return 1;
    }
    // Alternated, so that all stores meet the same load of the shared machine.
    for (size_t batch : {size_t{1}, size_t{100}}) {
      const std::string key = "events_per_call_" + std::to_string(batch);
      report["store"][key]["embedded"] = MeasureStore(embedded, options, batch);
      for (auto [name, store] : {std::pair{"redis", shared->get()}, std::pair{"redis_string_profiles", shared_strings->get()}}) {
        const double redis_cpu_before = RedisCpuSeconds(redis.port());
        report["store"][key][name] = MeasureStore(*store, options, batch);
        // The server's own CPU per event, which bounds one Redis primary's event rate.
        report["store"][key][name]["redis_server_cpu_us_per_event"] =
            (RedisCpuSeconds(redis.port()) - redis_cpu_before) * 1e6 / static_cast<double>(options.events);
      }
    }
  }
  if (options.store_only) {
    std::cout << report.dump(2) << std::endl;
    return 0;
  }

  // The replicas start from an empty Redis.
  tessera::RedisOptions redis_options;
  redis_options.port = redis.port();
  tessera::RedisClient admin(redis_options);
  if (!admin.Command({"FLUSHALL"}).ok()) {
    std::cerr << "FLUSHALL failed\n";
    return 1;
  }

  // 2. Search latency: the embedded store, then replica A on Redis, over the same data dir.
  const fs::path logs = work.path();
  {
    const int port = FreeLoopbackPort();
    ServerProcess embedded(options.replica_a, port, logs / "embedded.log", ServeArgs("", ""));
    if (!embedded.WaitReady()) {
      std::cerr << tessera::testing_support::ReadFile(logs / "embedded.log");
      return 1;
    }
    report["search"]["embedded"] = MeasureSearch(port, options);
  }
  const int port_a = FreeLoopbackPort();
  const int port_b = FreeLoopbackPort();
  ServerProcess replica_a(options.replica_a, port_a, logs / "replica-a.log", ServeArgs(redis.url(), "a"));
  ServerProcess replica_b(options.replica_b, port_b, logs / "replica-b.log", ServeArgs(redis.url(), "b"));
  if (!replica_a.WaitReady() || !replica_b.WaitReady()) {
    std::cerr << tessera::testing_support::ReadFile(logs / "replica-a.log")
              << tessera::testing_support::ReadFile(logs / "replica-b.log");
    return 1;
  }
  report["search"]["redis"] = MeasureSearch(port_a, options);

  // 3. Freshness from replica A to replica B.
  auto top = Request(port_a, "GET", "/api/search?q=" + httplib::detail::encode_query_param(options.query) + "&per_page=1");
  if (!top || top->status != 200 || json::parse(top->body)["results"].empty()) {
    std::cerr << "no product found for the query '" << options.query << "'\n";
    return 1;
  }
  const std::string product_id = json::parse(top->body)["results"][0]["id"];
  report["freshness"]["event_ack_to_profile_on_other_replica"] =
      MeasureEventFreshness(port_a, port_b, product_id, options);
  report["freshness"]["upsert_ack_to_search_on_other_replica"] = MeasureCatalogFreshness(port_a, port_b, options);

  std::cout << report.dump(2) << std::endl;
  return 0;
}
