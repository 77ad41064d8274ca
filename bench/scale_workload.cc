#include "scale_workload.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "engine/engine.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"
#include "ingest/fashion_catalog_reader.h"
#include "synthetic_catalog.h"

namespace tessera {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Products serialized per IngestJsonl call. A chunk of 10,000 is about 4 MB of JSON, so the
// workload never keeps more JSON text than that, while each call still fills many of the
// engine's 512-record store batches.
constexpr uint64_t kChunkProducts = 10'000;

// Every query runs this many times, in the same order each round; latency is taken from all runs.
constexpr int kQueryRounds = 3;
constexpr size_t kQueryPerPage = 10;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double MebiBytes(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// Returns a memory figure of this process from /proc/self/status in bytes: "VmRSS" is the
// resident set and "VmHWM" its peak. Returns std::nullopt when the line is missing (not Linux).
std::optional<uint64_t> ProcessMemoryBytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream value(line.substr(field.size() + 1));
    uint64_t kibibytes = 0;
    if (value >> kibibytes) return kibibytes * 1024;
  }
  return std::nullopt;
}

// Returns the bytes of every regular file under `dir`.
uint64_t FolderBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) bytes += entry.file_size(error);
  }
  return bytes;
}

json MebiBytesJson(const std::optional<uint64_t>& bytes) {
  return bytes ? json(MebiBytes(*bytes)) : json(nullptr);
}

Status CheckNewDataDir(const std::string& data_dir) {
  std::error_code error;
  if (!fs::exists(data_dir, error)) return Status::Ok();
  if (!fs::is_directory(data_dir, error) || !fs::is_empty(data_dir, error)) {
    return Status::InvalidArgument("--data-dir " + data_dir +
                                   " exists and is not an empty folder: the scale workload ingests into a "
                                   "new store, so pass a folder that does not exist yet");
  }
  return Status::Ok();
}

Result<std::vector<Product>> ReadRealCatalog(const std::string& fashion_dir) {
  std::vector<Product> products;
  Result<IngestReport> report = ReadFashionCatalog(fashion_dir, [&](CatalogRecord&& record) {
    products.push_back(std::move(record.product));
    return Status::Ok();
  });
  if (!report.ok()) return report.status();
  if (products.empty()) {
    return Status::InvalidArgument(fashion_dir + "/styles.csv has no valid product: pass the fashion catalogue folder");
  }
  return products;
}

struct IngestFigures {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  double engine_seconds = 0;      // inside Engine::IngestJsonl: parse, analysis, store writes, indexing
  double generation_seconds = 0;  // building the synthetic products and their JSON text
  double wall_seconds = 0;
};

// Generates `count` synthetic products and ingests them in chunks of kChunkProducts JSONL lines.
Result<IngestFigures> IngestSynthetic(Engine& engine, SyntheticCatalog& catalog, uint64_t count) {
  IngestFigures figures;
  const auto start = std::chrono::steady_clock::now();
  while (catalog.generated() < count) {
    const auto generation_start = std::chrono::steady_clock::now();
    std::string jsonl;
    const uint64_t chunk_end = std::min(count, catalog.generated() + kChunkProducts);
    while (catalog.generated() < chunk_end) {
      jsonl += ProductToJson(catalog.Next()).dump();
      jsonl += '\n';
    }
    figures.generation_seconds += SecondsSince(generation_start);

    const auto ingest_start = std::chrono::steady_clock::now();
    std::istringstream in(std::move(jsonl));
    Result<IngestReport> report = engine.IngestJsonl(in, "");
    figures.engine_seconds += SecondsSince(ingest_start);
    if (!report.ok()) return report.status();
    figures.accepted += report->accepted;
    figures.rejected += report->rejected;
    if (!report->rejections.empty()) {
      const RejectedRecord& first = report->rejections.front();
      return Status::InvalidArgument("synthetic product rejected at chunk line " + std::to_string(first.line) +
                                     ", field " + first.field + ": " + first.reason);
    }
  }
  figures.wall_seconds = SecondsSince(start);
  return figures;
}

json LatencyJson(const std::vector<double>& latency_ms) {
  const MetricSummary summary = Summarize(latency_ms);
  return {{"p50", summary.median}, {"p99", summary.p99}, {"mean", summary.mean}, {"count", summary.count}};
}

// Runs every query kQueryRounds times on one thread and returns latency figures, overall and by
// query kind. Relevance is not measured, because the grades judge the real products only.
Result<json> MeasureQueries(const Engine& engine, const std::vector<JudgedQuery>& queries) {
  std::vector<double> latency_ms;
  std::map<std::string, std::vector<double>> latency_ms_by_kind;
  std::vector<double> matched;
  size_t partial = 0;
  for (int round = 0; round < kQueryRounds; ++round) {
    for (const JudgedQuery& query : queries) {
      SearchRequest request;
      request.text = query.text;
      request.per_page = kQueryPerPage;
      request.facets = false;
      const auto start = std::chrono::steady_clock::now();
      Result<SearchResponse> response = engine.Search(request);
      const double elapsed_ms = SecondsSince(start) * 1000.0;
      if (!response.ok()) {
        return Status(response.status().code(), "query '" + query.text + "': " + response.status().message());
      }
      latency_ms.push_back(elapsed_ms);
      latency_ms_by_kind[query.kind].push_back(elapsed_ms);
      partial += response->partial;
      if (round == 0) matched.push_back(static_cast<double>(response->total));
    }
  }
  json out = {{"queries", queries.size()},
              {"rounds", kQueryRounds},
              {"per_page", kQueryPerPage},
              {"latency_ms", LatencyJson(latency_ms)},
              {"partial_responses", partial},
              {"median_matched_products", Summarize(matched).median}};
  for (const auto& [kind, values] : latency_ms_by_kind) out["kinds"][kind] = LatencyJson(values);
  return out;
}

}  // namespace

int RunScale(const ScaleOptions& options) {
  auto fail = [](const Status& status) {
    std::cerr << status.ToString() << "\n";
    return 1;
  };
  if (options.products == 0) return fail(Status::InvalidArgument("--products must be at least 1"));
  if (Status fresh = CheckNewDataDir(options.data_dir); !fresh.ok()) return fail(fresh);

  // The real catalogue: source of the synthetic products and of the query texts.
  Result<std::vector<Product>> real = ReadRealCatalog(options.fashion_dir);
  if (!real.ok()) return fail(real.status());
  JudgmentOptions judgment_options;
  judgment_options.max_queries = options.queries;
  judgment_options.seed = options.seed;
  const std::vector<JudgedQuery> queries = DeriveJudgedQuerySet(*real, judgment_options);
  const size_t real_count = real->size();
  SyntheticCatalogOptions catalog_options;
  catalog_options.seed = options.seed;
  SyntheticCatalog catalog(std::move(real).value(), catalog_options);

  SystemClock clock;
  EngineOptions engine_options;
  engine_options.data_dir = options.data_dir;
  engine_options.synonyms_path = options.synonyms_path;
  const std::optional<uint64_t> rss_before_open = ProcessMemoryBytes("VmRSS");
  Result<std::unique_ptr<Engine>> engine = Engine::Open(engine_options, &clock);
  if (!engine.ok()) return fail(engine.status());

  // Ingest, then memory while every product is in the engine.
  spdlog::info("scale: ingesting {} synthetic products into {}", options.products, options.data_dir);
  Result<IngestFigures> ingest = IngestSynthetic(**engine, catalog, options.products);
  if (!ingest.ok()) return fail(ingest.status());
  const EngineStats stats = (*engine)->Stats(/*with_memory=*/true);
  const std::optional<uint64_t> rss_after_ingest = ProcessMemoryBytes("VmRSS");

  // Re-open: Engine::Open rebuilds every in-memory index from the store.
  const auto close_start = std::chrono::steady_clock::now();
  engine->reset();
  const double close_seconds = SecondsSince(close_start);
  // Before the re-open, the store still contains its write-ahead log, which Engine::Open flushes
  // into table files.
  const uint64_t store_bytes_after_ingest = FolderBytes(options.data_dir);
  const auto open_start = std::chrono::steady_clock::now();
  engine = Engine::Open(engine_options, &clock);
  if (!engine.ok()) return fail(engine.status());
  const double open_seconds = SecondsSince(open_start);
  const EngineStats reopened_stats = (*engine)->Stats(/*with_memory=*/true);
  const std::optional<uint64_t> rss_after_reopen = ProcessMemoryBytes("VmRSS");

  spdlog::info("scale: running {} queries, {} rounds", queries.size(), kQueryRounds);
  Result<json> query_figures = MeasureQueries(**engine, queries);
  if (!query_figures.ok()) return fail(query_figures.status());
  engine->reset();
  const uint64_t store_bytes_after_reopen = FolderBytes(options.data_dir);

  const double products = static_cast<double>(options.products);
  json rss_delta = nullptr;
  if (rss_before_open && rss_after_ingest) {
    rss_delta = (static_cast<double>(*rss_after_ingest) - static_cast<double>(*rss_before_open)) / products;
  }
  json out = {
      {"workload", "scale"},
      {"products", options.products},
      {"real_products", real_count},
      {"seed", options.seed},
      {"titles_with_new_brand", catalog.titles_with_new_brand()},
      {"titles_with_new_colour", catalog.titles_with_new_colour()},
      {"ingest",
       {{"accepted", ingest->accepted},
        {"rejected", ingest->rejected},
        {"chunk_products", kChunkProducts},
        {"engine_seconds", ingest->engine_seconds},
        {"products_per_second", products / ingest->engine_seconds},
        {"generation_seconds", ingest->generation_seconds},
        {"wall_seconds", ingest->wall_seconds}}},
      {"memory",
       {{"terms", stats.terms},
        {"text_index_bytes", stats.index_bytes},
        {"text_index_bytes_per_product", static_cast<double>(stats.index_bytes) / products},
        {"store_after_ingest_mib", MebiBytes(store_bytes_after_ingest)},
        {"store_after_reopen_mib", MebiBytes(store_bytes_after_reopen)},
        {"rss_before_open_mib", MebiBytesJson(rss_before_open)},
        {"rss_after_ingest_mib", MebiBytesJson(rss_after_ingest)},
        {"rss_growth_per_product_bytes", rss_delta},
        {"rss_after_reopen_mib", MebiBytesJson(rss_after_reopen)},
        {"peak_rss_mib", MebiBytesJson(ProcessMemoryBytes("VmHWM"))}}},
      {"reopen",
       {{"close_seconds", close_seconds}, {"open_seconds", open_seconds}, {"products", reopened_stats.products}}},
      {"search", *query_figures},
  };
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
