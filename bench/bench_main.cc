// tessera_bench: named whole-query workloads on an ingested store, each measured beside a peer
// in the same run where one exists.
//
//   tessera_bench --data-dir var relevance   # Tessera vs Xapian and SQLite FTS5 on judged queries
//   tessera_bench --data-dir var --tessera-only --flush-mib 40 relevance
//                                            # Tessera alone, caches evicted before each query (profiling)
//   tessera_bench --data-dir var photo       # photo queries: latency and self-retrieval
//   tessera_bench --data-dir NEW --fashion ../shared/data/fashion multimodal
//                                            # held-out photos, words to photos, text with the joint space
//   tessera_bench --data-dir var vectors     # HNSW against exact search: recall@10 and latency
//   tessera_bench --data-dir var voice       # espeak-ng queries, clean and noisy: WER, success, latency
//   taskset -c 0 tessera_bench --data-dir NEW --fashion ../shared/data/fashion events
//                                            # durable events/s with group commit against a sync per
//                                            # event, click-to-search freshness over HTTP, personalization cost
//   tessera_bench --data-dir NEW --fashion ../shared/data/fashion --products 1000000 scale
//                                            # synthetic catalogue: ingest rate, memory, re-open, latency
//   tessera_bench --behaviour ../shared/data/behaviour replay
//                                            # next-click replay on click logs: HR@20, MRR@20
//   tessera_bench --data-dir COPY shoppers     # simulated shoppers: nDCG@10 lift of personalization
//   tessera_bench --data-dir NEW api          # latency the access gate adds, keyed against open
//   tessera_bench --data-dir NEW --fashion ../shared/data/fashion --iterations 50 crash
//                                            # SIGKILL during imports and events, restart, check
//                                            # every acknowledged write; restart times
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "crash_workload.h"
#include "engine/engine.h"
#include "eval/judgments.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"
#include "api_workload.h"
#include "events_workload.h"
#include "scale_workload.h"
#include "sqlite_fts_peer.h"
#include "multimodal_workload.h"
#include "ranking_workload.h"
#include "replay_workload.h"
#include "shoppers_workload.h"
#include "vector_workload.h"
#include "voice_workload.h"
#include "xapian_peer.h"

namespace {

using namespace tessera;
using nlohmann::json;
namespace fs = std::filesystem;

double Millis(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

json SummaryJson(const std::vector<double>& values) {
  const MetricSummary s = Summarize(values);
  return {{"mean", s.mean}, {"median", s.median}, {"p99", s.p99}, {"count", s.count}};
}

// Per-query values of one system over one group of queries (one kind, or all of them).
struct GroupValues {
  std::vector<double> ndcg_at_10, mrr_at_10, recall_at_100, recall_at_100_max, latency_ms;

  void AddRelevance(const std::vector<std::string>& ranked, const JudgedQuery& query) {
    const std::vector<std::string> top10(ranked.begin(), ranked.begin() + std::min<size_t>(10, ranked.size()));
    ndcg_at_10.push_back(NdcgAtK(ranked, query, 10));
    mrr_at_10.push_back(ReciprocalRank(top10, query, query.max_grade));
    recall_at_100.push_back(RecallAtK(ranked, query, 100));

    // A query with more than 100 fully relevant products cannot reach Recall@100 = 1, so the
    // output also gives the best value any system could reach on the same queries.
    const auto fully_relevant = std::count_if(query.grades.begin(), query.grades.end(),
                                              [&](const auto& entry) { return entry.second == query.max_grade; });
    recall_at_100_max.push_back(fully_relevant == 0 ? 0.0 : std::min(1.0, 100.0 / static_cast<double>(fully_relevant)));
  }

  json ToJson() const {
    const MetricSummary latency = Summarize(latency_ms);
    return {{"queries", ndcg_at_10.size()},
            {"ndcg_at_10", Summarize(ndcg_at_10).mean},
            {"mrr_at_10", Summarize(mrr_at_10).mean},
            {"recall_at_100", Summarize(recall_at_100).mean},
            {"recall_at_100_max", Summarize(recall_at_100_max).mean},
            {"latency_ms", {{"p50", latency.median}, {"p99", latency.p99}}}};
  }
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Options of the relevance workload beyond the query count.
struct RelevanceOptions {
  size_t queries = 200;
  // Run Tessera alone, without building or querying the peers: for profiling, e.g. under
  // callgrind, where the peers would take most of the time.
  bool tessera_only = false;
  // MiB of memory written between two queries to evict the caches, as the peers' work does in
  // the full run.
  size_t flush_mib = 0;
  // Query kinds to run (plain, synonym, typo, chinese). Empty runs them all.
  std::vector<std::string> kinds;
  // File for one tab-separated row per query run: round, system, kind, results, milliseconds,
  // query text. Empty writes none.
  std::string query_log;
};

// Writes one byte per 64-byte cache line of `buffer`, evicting what a query left in the caches.
// The accesses are volatile so that the compiler keeps every one.
void FlushCaches(std::vector<uint8_t>* buffer) {
  volatile uint8_t* bytes = buffer->data();
  for (size_t i = 0; i < buffer->size(); i += 64) bytes[i] = static_cast<uint8_t>(bytes[i] + 1);
}

int RunRelevance(const Engine& engine, const RelevanceOptions& relevance) {
  const std::vector<Product> products = engine.AllProducts();
  JudgmentOptions options;
  options.max_queries = relevance.queries;
  std::vector<JudgedQuery> queries = DeriveJudgedQuerySet(products, options);
  if (!relevance.kinds.empty()) {
    std::erase_if(queries, [&](const JudgedQuery& query) {
      return std::find(relevance.kinds.begin(), relevance.kinds.end(), query.kind) == relevance.kinds.end();
    });
  }
  std::unique_ptr<SqliteFtsPeer> sqlite;
  std::unique_ptr<XapianPeer> xapian;
  if (!relevance.tessera_only) {
    Result<std::unique_ptr<SqliteFtsPeer>> built_sqlite = SqliteFtsPeer::Build(products);
    if (!built_sqlite.ok()) {
      std::cerr << built_sqlite.status().ToString() << "\n";
      return 1;
    }
    sqlite = std::move(built_sqlite).value();
    const fs::path xapian_dir = fs::temp_directory_path() / ("tessera-bench-xapian-" + std::to_string(getpid()));
    Result<std::unique_ptr<XapianPeer>> built_xapian = XapianPeer::Build(products, xapian_dir.string());
    if (!built_xapian.ok()) {
      std::cerr << built_xapian.status().ToString() << "\n";
      return 1;
    }
    xapian = std::move(built_xapian).value();
  }
  std::vector<uint8_t> flush_buffer(relevance.flush_mib << 20, 0);
  std::ofstream query_log;
  if (!relevance.query_log.empty()) {
    query_log.open(relevance.query_log);
    if (!query_log) {
      std::cerr << "failed to open the query log '" << relevance.query_log << "' for writing: check that its folder exists\n";
      return 1;
    }
    query_log << "round\tsystem\tkind\tresults\tms\tquery\n";
  }

  // Every system returns 100 results: Recall@100 reads all of them, nDCG@10 and MRR@10 the first 10.
  constexpr size_t kDepth = 100;
  using SearchFunction = std::function<Result<std::vector<std::string>>(const std::string&)>;
  struct System {
    std::string name;
    SearchFunction search;
    GroupValues overall{};
    std::map<std::string, GroupValues> by_kind{};
    std::vector<double> latency_by_run{};  // round * queries + query
    std::vector<char> answered{};          // per query: at least one result in the first round
  };
  auto tessera_search = [&](const std::string& text) -> Result<std::vector<std::string>> {
    SearchRequest request;
    request.text = text;
    request.per_page = kDepth;
    request.facets = false;  // the peers count no facets either
    Result<SearchResponse> response = engine.Search(request);
    if (!response.ok()) return response.status();
    std::vector<std::string> ids;
    for (const SearchHit& hit : response->hits) ids.push_back(hit.product->id);
    return ids;
  };
  std::vector<System> systems;
  systems.push_back({"tessera", tessera_search});
  if (!relevance.tessera_only) {
    systems.push_back({"xapian-or", [&](const std::string& q) { return xapian->Search(q, kDepth, false); }});
    systems.push_back({"xapian-and", [&](const std::string& q) { return xapian->Search(q, kDepth, true); }});
    systems.push_back({"sqlite-fts5-and", [&](const std::string& q) { return sqlite->Search(q, kDepth, true); }});
    systems.push_back({"sqlite-fts5-or", [&](const std::string& q) { return sqlite->Search(q, kDepth, false); }});
  }

  // Three rounds, interleaving the systems query by query, so machine noise hits all alike;
  // relevance comes from the first round, latency from all.
  for (int round = 0; round < 3; ++round) {
    for (const JudgedQuery& query : queries) {
      for (System& system : systems) {
        if (!flush_buffer.empty()) FlushCaches(&flush_buffer);
        const auto start = std::chrono::steady_clock::now();
        Result<std::vector<std::string>> ranked = system.search(query.text);
        const double latency = Millis(start);
        if (!ranked.ok()) {
          std::cerr << system.name << ": " << ranked.status().ToString() << "\n";
          return 1;
        }
        GroupValues& kind = system.by_kind[query.kind];
        system.overall.latency_ms.push_back(latency);
        kind.latency_ms.push_back(latency);
        system.latency_by_run.push_back(latency);
        if (query_log.is_open()) {
          query_log << round << '\t' << system.name << '\t' << query.kind << '\t' << ranked->size() << '\t' << latency
                    << '\t' << query.text << '\n';
        }
        if (round == 0) {
          system.overall.AddRelevance(*ranked, query);
          kind.AddRelevance(*ranked, query);
          system.answered.push_back(ranked->empty() ? 0 : 1);
        }
      }
    }
  }

  json out = {{"workload", "relevance"}, {"queries", queries.size()}, {"products", products.size()}, {"depth", kDepth}};
  const EngineStats stats = engine.Stats();
  out["group_unions"] = {{"kept_found", stats.group_union_hits}, {"computed", stats.group_union_misses}};
  const double tessera_median = Summarize(systems[0].overall.latency_ms).median;
  for (const System& system : systems) {
    json& entry = out["systems"][system.name];
    entry = system.overall.ToJson();
    entry["median_latency_vs_tessera"] = Summarize(system.overall.latency_ms).median / tessera_median;
    for (const auto& [kind, values] : system.by_kind) entry["kinds"][kind] = values.ToJson();
    // A peer returns fastest when it finds nothing (typos, synonyms, Chinese), so its latency is
    // also compared with Tessera's over the queries it returned results for.
    if (&system != &systems[0]) {
      std::vector<double> peer, tessera;
      for (size_t run = 0; run < system.latency_by_run.size(); ++run) {
        if (!system.answered[run % queries.size()]) continue;
        peer.push_back(system.latency_by_run[run]);
        tessera.push_back(systems[0].latency_by_run[run]);
      }
      const MetricSummary peer_latency = Summarize(peer), tessera_latency = Summarize(tessera);
      entry["answered"] = {
          {"queries", std::count(system.answered.begin(), system.answered.end(), 1)},
          {"latency_ms", {{"p50", peer_latency.median}, {"p99", peer_latency.p99}}},
          {"tessera_latency_ms", {{"p50", tessera_latency.median}, {"p99", tessera_latency.p99}}}};
    }
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int RunPhoto(const Engine& engine, const fs::path& image_dir, size_t query_count) {
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(image_dir)) photos.push_back(entry.path());
  std::sort(photos.begin(), photos.end());
  std::mt19937_64 random(7);
  std::shuffle(photos.begin(), photos.end(), random);
  photos.resize(std::min(photos.size(), query_count));

  std::vector<double> latency;
  size_t self_top1 = 0, same_type_top10 = 0, judged = 0;
  for (const fs::path& photo : photos) {
    const std::string bytes = ReadFile(photo);
    SearchRequest request;
    request.per_page = 10;
    const auto start = std::chrono::steady_clock::now();
    Result<SearchResponse> response = engine.SearchByImage(bytes, request);
    latency.push_back(Millis(start));
    if (!response.ok() || response->hits.empty()) continue;
    const std::string id = photo.stem().string();
    self_top1 += response->hits[0].product->id == id;
    Result<Product> query_product = engine.GetProduct(id);
    if (!query_product.ok()) continue;
    ++judged;
    // Precision of article type among the other nine results.
    size_t same = 0;
    for (size_t i = 1; i < response->hits.size(); ++i) {
      same += response->hits[i].product->Attribute("article_type") == query_product->Attribute("article_type");
    }
    same_type_top10 += same;
  }
  json out = {{"workload", "photo"},
              {"queries", photos.size()},
              {"latency_ms", SummaryJson(latency)},
              {"self_retrieval_at_1", double(self_top1) / std::max<size_t>(1, photos.size())},
              {"same_article_type_in_results_2_to_10", double(same_type_top10) / std::max<size_t>(1, judged * 9)}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tessera benchmark workloads"};
  std::string data_dir = "var";
  std::string image_dir = "../shared/data/fashion/images";
  size_t queries = 200;
  RelevanceOptions relevance;
  app.add_flag("--tessera-only", relevance.tessera_only,
               "relevance: query Tessera alone, without building the peers (for profiling)");
  app.add_option("--flush-mib", relevance.flush_mib,
                 "relevance: MiB of memory to write between two queries, to evict the caches (0: none)")
      ->capture_default_str();
  app.add_option("--query-log", relevance.query_log,
                 "relevance: file for one tab-separated row per query run (round, system, kind, results, ms, query)");
  app.add_option("--kinds", relevance.kinds, "relevance: query kinds to run (default: all)")
      ->check(CLI::IsMember({kPlainQueryKind, kSynonymQueryKind, kTypoQueryKind, kChineseQueryKind}));
  app.add_option("--data-dir", data_dir, "Ingested store to open (scale: a new folder to create)")->capture_default_str();
  app.add_option("--images", image_dir, "Folder of catalogue photos for the photo workload")->capture_default_str();
  app.add_option("--queries", queries, "Queries per workload (relevance: plain queries, each with up to three variants)")
      ->capture_default_str();
  std::string synonyms;
  app.add_option("--synonyms", synonyms, "Solr-format synonym file for Tessera's queries");
  ScaleOptions scale;
  scale.fashion_dir = "../shared/data/fashion";
  app.add_option("--fashion", scale.fashion_dir, "Real catalogue folder (styles.csv) that the scale workload varies")
      ->capture_default_str();
  app.add_option("--products", scale.products, "Synthetic products the scale workload ingests")->capture_default_str();
  app.add_option("--seed", scale.seed,
                 "Seed of the scale workload's synthetic catalogue and query sample, of the replay "
                 "workload's item vectors, of the multimodal workload's joint-space training, and of the "
                 "crash workload's requests and kill delays")
      ->capture_default_str();
  ReplayWorkloadOptions replay;
  app.add_option("--behaviour", replay.behaviour_dir, "Folder of click logs that the replay workload reads")
      ->capture_default_str();
  app.add_option("--half-life", replay.half_life_minutes,
                 "Session half-life of the replay workload, in minutes (0: tune it on a validation split "
                 "of the training clicks)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  std::string photo_encoder = "mobilenet-pooled+colour-shape";
  bool reuse_ingest = false;
  app.add_flag("--reuse-ingest", reuse_ingest,
               "multimodal: keep the catalogue already ingested in --data-dir by an earlier run and only retrain");
  app.add_option("--photo-encoder", photo_encoder, "Photo encoder of the multimodal workload's engine")
      ->capture_default_str();
  VectorWorkloadOptions vector_options;
  app.add_option("--encoder", vector_options.encoder, "Encoder whose stored vectors the vectors workload indexes")
      ->capture_default_str();
  ShoppersWorkloadOptions shoppers;
  app.add_option("--split", shoppers.split, "shoppers: tuning, reporting or both")
      ->check(CLI::IsMember({"tuning", "reporting", "both"}))
      ->capture_default_str();
  app.add_option("--shoppers", shoppers.shoppers, "shoppers: simulated shoppers per split")->capture_default_str();
  app.add_option("--shopper-rows", shoppers.rows_path,
                 "shoppers: write the measured queries' feature rows with the shoppers' profiles here (JSON Lines)");
  PersonalizationOptions& personal = shoppers.personalization;
  app.add_option("--max-boost", personal.max_boost, "shoppers: the engine's maximum facet boost")->capture_default_str();
  app.add_option("--confidence-weight", personal.confidence_weight,
                 "shoppers: profile evidence at which the facet boost reaches half its maximum")
      ->capture_default_str();
  app.add_option("--session-weight", personal.session_weight, "shoppers: weight of the session term (0: off)")
      ->capture_default_str();
  app.add_option("--session-confidence-weight", personal.session_confidence_weight,
                 "shoppers: session event weight at which the session term reaches half its weight")
      ->capture_default_str();
  std::string facet_scoring = "share";
  app.add_option("--facet-scoring", facet_scoring,
                 "shoppers: share (strength factor times the value's share) or posterior (probability that the "
                 "value is the preferred one)")
      ->check(CLI::IsMember({"share", "posterior"}))
      ->capture_default_str();
  app.add_option("--evidence-per-weight", personal.evidence_per_weight,
                 "shoppers: posterior scoring, log odds per unit of event weight (a click weighs 2)")
      ->capture_default_str();
  app.add_option("--unseen-values", personal.unseen_values,
                 "shoppers: posterior scoring, values of a facet beyond the profile's that could be preferred")
      ->capture_default_str();
  std::vector<std::string> facet_weights;
  app.add_option("--facet-weight", facet_weights, "shoppers: FACET=WEIGHT, a facet's weight in the boost (repeatable)");
  app.add_option("--baseline-weight", shoppers.baseline.weight, "shoppers: weight of the count-based baseline's counts")
      ->capture_default_str();
  std::string workload;
  app.add_option("workload", workload,
                 "relevance, photo, voice, vectors, multimodal, ranking, scale, replay, events, shoppers, api or crash")
      ->required()
      ->check(CLI::IsMember(
          {"relevance", "photo", "voice", "vectors", "multimodal", "ranking", "scale", "replay", "events", "shoppers", "api", "crash"}));
  CrashWorkloadOptions crash;
  app.add_option("--iterations", crash.iterations, "crash: kills, each followed by a restart and the checks")
      ->capture_default_str();
  app.add_option("--clean-restarts", crash.clean_restarts,
                 "crash: graceful restarts after the kills, whose start time is the peer figure")
      ->capture_default_str();
  EventsWorkloadOptions events;
  app.add_option("--event-batch-sizes", events.batch_sizes, "Events per batch, one figure each (events workload)")
      ->capture_default_str();
  app.add_option("--event-threads", events.thread_counts,
                 "Concurrent single-event callers, one figure each (events workload)")
      ->capture_default_str();
  size_t group_union_cache_mib = EngineOptions().group_union_cache_mib;
  app.add_option("--group-union-cache-mib", group_union_cache_mib,
                 "MiB of query group unions (a word with its synonyms) kept between queries; 0 keeps none")
      ->capture_default_str();
  size_t rerank_depth = 200;
  app.add_option("--rerank-depth", rerank_depth, "Candidates the ranker scores per query (ranking workload)")
      ->capture_default_str();
  size_t consensus_depth = kDefaultConsensusDepth;
  app.add_option("--consensus-depth", consensus_depth,
                 "Candidates at the head of the retrieval order that the consensus features compare with "
                 "(ranking workload)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Logs go to stderr so that stdout carries only results (JSON for search, eval and benchmarks).
  spdlog::set_default_logger(spdlog::stderr_color_mt("tessera"));

  // The scale workload creates its own store in --data-dir instead of opening an ingested one.
  if (workload == "scale") {
    scale.data_dir = data_dir;
    scale.queries = queries;
    scale.synonyms_path = synonyms;
    return RunScale(scale);
  }

  if (workload == "api") {
    ApiWorkloadOptions api;
    api.data_dir = data_dir;
    return RunApiWorkload(api);
  }
  if (workload == "crash") {
    crash.work_dir = data_dir;
    crash.fashion_dir = scale.fashion_dir;
    crash.seed = scale.seed;
    return RunCrashWorkload(crash);
  }
  if (workload == "events") {
    events.data_dir = data_dir;
    events.fashion_dir = scale.fashion_dir;
    events.products = std::min<size_t>(scale.products, 5000);
    events.freshness_rounds = queries;
    events.queries = queries;
    events.seed = scale.seed;
    return RunEventsWorkload(events);
  }
  if (workload == "multimodal") {
    MultimodalWorkloadOptions multimodal;
    multimodal.fashion_dir = scale.fashion_dir;
    multimodal.data_dir = data_dir;
    multimodal.synonyms_path = synonyms;
    multimodal.photo_queries = queries;
    multimodal.photo_encoder = photo_encoder;
    multimodal.training_seed = scale.seed;
    multimodal.reuse_ingest = reuse_ingest;
    return RunMultimodalWorkload(multimodal);
  }
  if (workload == "replay") {
    replay.seed = scale.seed;
    return RunReplayWorkload(replay);
  }
  if (workload == "shoppers") {
    if (facet_scoring == "posterior") personal.facet_scoring = PersonalizationOptions::FacetScoring::kPosterior;
    for (const std::string& entry : facet_weights) {
      const size_t equals = entry.find('=');
      const std::string number = equals == std::string::npos ? "" : entry.substr(equals + 1);
      char* end = nullptr;
      const double weight = std::strtod(number.c_str(), &end);
      if (equals == 0 || number.empty() || *end != '\0') {
        std::cerr << "invalid --facet-weight " << entry << ": expected FACET=WEIGHT, e.g. colour=0.5\n";
        return 2;
      }
      personal.facet_weights[entry.substr(0, equals)] = weight;
    }
    shoppers.data_dir = data_dir;
    shoppers.synonyms_path = synonyms;
    return RunShoppersWorkload(shoppers);
  }
  if (workload == "vectors") {
    vector_options.data_dir = data_dir;
    vector_options.queries = queries;
    return RunVectorWorkload(vector_options);
  }

  SystemClock clock;
  EngineOptions options;
  options.data_dir = data_dir;
  options.synonyms_path = synonyms;
  options.rerank_depth = rerank_depth;
  options.group_union_cache_mib = group_union_cache_mib;
  options.consensus_depth = consensus_depth;
  // The ranking workload compares rankers it trains; a model in the data dir would be the baseline.
  if (workload == "ranking") options.ranker_model_path = data_dir + "/models/no-ranker-for-bench.model";
  Result<std::unique_ptr<Engine>> engine = Engine::Open(options, &clock);
  if (!engine.ok()) {
    std::cerr << engine.status().ToString() << "\n";
    return 1;
  }
  if (workload == "relevance") {
    relevance.queries = queries;
    return RunRelevance(**engine, relevance);
  }
  if (workload == "photo") return RunPhoto(**engine, image_dir, queries);
  if (workload == "ranking") return RunRankingWorkload(**engine, {data_dir + "/models/bench", 3});
  VoiceWorkloadOptions voice;
  voice.phrases = std::min<size_t>(queries, 60);
  return RunVoiceWorkload(**engine, voice);
}
