#include "ranking_workload.h"

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/train_ranker.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"
#include "rank/xgboost_ranker.h"

namespace tessera {

namespace {

using nlohmann::json;

json Percentiles(std::vector<double> values) {
  const MetricSummary s = Summarize(std::move(values));
  return {{"p50", s.median}, {"p99", s.p99}, {"mean", s.mean}};
}

}  // namespace

int RunRankingWorkload(Engine& engine, const RankingWorkloadOptions& options) {
  // Training, with the report of held-out metrics, one model file per kind.
  json out = {{"workload", "ranking"}};
  std::map<std::string, std::shared_ptr<const Ranker>> rankers = {{"retrieval-score", nullptr}};
  for (RankerKind kind : {RankerKind::kLinear, RankerKind::kLambdaMart}) {
    TrainRankerOptions train;
    train.kind = kind;
    train.out_path = options.model_dir + "/" + RankerKindName(kind) + ".model";
    std::ostringstream report;
    const auto start = std::chrono::steady_clock::now();
    Status trained = RunTrainRanker(engine, train, report);
    if (!trained.ok()) {
      std::cerr << trained.ToString() << "\n";
      return 1;
    }
    if (kind == RankerKind::kLambdaMart) {
      out["train_ranker"] = json::parse(report.str());
      out["train_ranker_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    Result<std::unique_ptr<XgboostRanker>> model = XgboostRanker::Load(train.out_path);
    if (!model.ok()) {
      std::cerr << model.status().ToString() << "\n";
      return 1;
    }
    rankers[RankerKindName(kind)] = std::move(model).value();
  }

  // Latency: every judged query with each ranker in turn, so the rankers see the same caches.
  const std::vector<JudgedQuery> queries = DeriveJudgedQuerySet(engine.AllProducts());
  std::map<std::string, std::vector<double>> latency, added;
  for (size_t round = 0; round < options.rounds; ++round) {
    for (const JudgedQuery& query : queries) {
      SearchRequest request;
      request.text = query.text;
      request.facets = false;
      double baseline_ms = 0;
      for (const auto& [name, ranker] : rankers) {
        engine.UseRanker(ranker);
        Result<SearchResponse> response = engine.Search(request);
        if (!response.ok()) {
          std::cerr << query.text << ": " << response.status().ToString() << "\n";
          return 1;
        }
        latency[name].push_back(response->took_ms);
        if (name == "retrieval-score") baseline_ms = response->took_ms;
      }
      for (const auto& [name, ranker] : rankers) {
        if (ranker) added[name].push_back(latency[name].back() - baseline_ms);
      }
    }
  }
  engine.UseRanker(nullptr);
  for (const auto& [name, values] : latency) out["search_ms"][name] = Percentiles(values);
  for (const auto& [name, values] : added) out["added_ms"][name] = Percentiles(values);
  out["queries"] = queries.size();
  out["rounds"] = options.rounds;
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
