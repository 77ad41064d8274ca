#include "api_workload.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "engine/engine.h"
#include "eval/metrics.h"
#include "serve/api_keys.h"
#include "serve/http_server.h"

namespace tessera {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// A server on a free loopback port, serving from its own thread until destroyed.
class RunningServer {
 public:
  RunningServer(Engine* engine, HttpServerOptions options) : server_(engine, std::move(options)) {}
  ~RunningServer() {
    server_.Stop();
    if (thread_.joinable()) thread_.join();
  }

  Status Start() {
    TESSERA_RETURN_IF_ERROR(server_.Bind());
    thread_ = std::thread([this] { (void)server_.Run(); });
    return Status::Ok();
  }
  int port() const { return server_.port(); }

 private:
  HttpServer server_;
  std::thread thread_;
};

// Sends `count` GET requests over one keep-alive connection and appends each latency, ms.
Status Measure(int port, const std::string& path, const httplib::Headers& headers, size_t count,
               std::vector<double>* latency_ms) {
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  for (size_t i = 0; i < count; ++i) {
    const auto start = SteadyClock::now();
    auto res = client.Get(path, headers);
    latency_ms->push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
    if (!res || res->status != 200) {
      return Status::Internal("GET " + path + " failed with " + (res ? std::to_string(res->status) : "no response"));
    }
  }
  return Status::Ok();
}

}  // namespace

int RunApiWorkload(const ApiWorkloadOptions& options) {
  // Synthetic products, so the workload needs no data set: the gate's cost does not depend on them.
  if (fs::exists(options.data_dir)) {
    std::cerr << "--data-dir " << options.data_dir << " exists: pass a new folder\n";
    return 2;
  }
  SystemClock clock;
  EngineOptions engine_options;
  engine_options.data_dir = (fs::path(options.data_dir) / "store").string();
  engine_options.photo_encoder = "colour-shape";
  engine_options.read_photo_text = false;
  Result<std::unique_ptr<Engine>> engine = Engine::Open(engine_options, &clock);
  if (!engine.ok()) {
    std::cerr << engine.status().ToString() << "\n";
    return 1;
  }
  static const char* kColours[] = {"Navy Blue", "Red", "Black", "White", "Green"};
  std::ostringstream jsonl;
  for (size_t i = 0; i < options.products; ++i) {
    jsonl << json{{"id", "p" + std::to_string(i)},
                  {"title", std::string(kColours[i % 5]) + " cotton shirt " + std::to_string(i)},
                  {"attributes", {{"colour", kColours[i % 5]}, {"article_type", "Shirts"}}}}
                 .dump()
          << "\n";
  }
  std::istringstream in(jsonl.str());
  if (Result<IngestReport> report = (*engine)->IngestJsonl(in, ""); !report.ok()) {
    std::cerr << report.status().ToString() << "\n";
    return 1;
  }

  // The keyed server: one search key among 10 keys, so a lookup compares 10 hashes. Its rate
  // limit is high enough never to reject, but the bucket is still taken from on every request.
  const std::string keys_file = (fs::path(options.data_dir) / "keys").string();
  std::string search_key;
  for (int i = 0; i < 10; ++i) {
    Result<std::string> key = GenerateApiKey();
    if (!key.ok() || !AppendApiKey(keys_file, *key, i == 5 ? Role::kSearch : Role::kAdmin, "").ok()) {
      std::cerr << "cannot create the keys file " << keys_file << "\n";
      return 1;
    }
    if (i == 5) search_key = *key;
  }
  HttpServerOptions open_options;
  open_options.port = 0;
  open_options.threads = 2;
  open_options.access.search_rate = {1e9, 1e9};
  HttpServerOptions keyed_options = open_options;
  keyed_options.access.keys_file = keys_file;
  RunningServer open_server(engine->get(), open_options);
  RunningServer keyed_server(engine->get(), keyed_options);
  for (RunningServer* server : {&open_server, &keyed_server}) {
    if (Status started = server->Start(); !started.ok()) {
      std::cerr << started.ToString() << "\n";
      return 1;
    }
  }

  // Rounds alternate between the servers, so both see the same machine load.
  const std::vector<std::string> paths = {"/api/products/p7", "/api/search?q=navy%20shirt&per_page=24"};
  const httplib::Headers key_header = {{"X-Tessera-Key", search_key}};
  std::vector<std::vector<double>> open_latency(paths.size()), keyed_latency(paths.size());
  for (size_t round = 0; round < options.rounds; ++round) {
    for (size_t p = 0; p < paths.size(); ++p) {
      Status measured = Measure(open_server.port(), paths[p], {}, options.requests, &open_latency[p]);
      if (measured.ok()) measured = Measure(keyed_server.port(), paths[p], key_header, options.requests, &keyed_latency[p]);
      if (!measured.ok()) {
        std::cerr << measured.ToString() << "\n";
        return 1;
      }
    }
  }

  json out = json::object();
  for (size_t p = 0; p < paths.size(); ++p) {
    const MetricSummary open = Summarize(open_latency[p]);
    const MetricSummary keyed = Summarize(keyed_latency[p]);
    out[paths[p]] = {{"open", {{"median_ms", open.median}, {"p99_ms", open.p99}, {"count", open.count}}},
                     {"keyed", {{"median_ms", keyed.median}, {"p99_ms", keyed.p99}, {"count", keyed.count}}},
                     {"median_ratio_keyed_to_open", open.median > 0 ? keyed.median / open.median : 0.0}};
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
