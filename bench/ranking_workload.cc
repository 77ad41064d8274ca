#include "ranking_workload.h"

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/train_click_model.h"
#include "cli/train_ranker.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"
#include "rank/click_model_ranker.h"
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

  // The neural click model, trained on simulated clicks over the same judged queries and split.
  TrainClickModelOptions click;
  click.out_path = options.model_dir + "/click.model";
  std::ostringstream click_report;
  const auto click_start = std::chrono::steady_clock::now();
  if (Status trained = RunTrainClickModel(engine, click, click_report); !trained.ok()) {
    std::cerr << trained.ToString() << "\n";
    return 1;
  }
  out["train_click_model"] = json::parse(click_report.str());
  out["train_click_model_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - click_start).count();
  Result<std::unique_ptr<ClickModel>> click_model = ClickModel::Load(click.out_path);
  if (!click_model.ok()) {
    std::cerr << click_model.status().ToString() << "\n";
    return 1;
  }
  const std::shared_ptr<const ClickModel> neural = std::move(click_model).value();

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

      // The click model reads the query text and each candidate's title and photo, which the
      // engine's Ranker call does not pass, so it runs outside Search: the feature rows, then
      // the inputs and the scoring. Its added time is the inputs and the scoring alone.
      const auto neural_start = std::chrono::steady_clock::now();
      Result<FeatureRows> rows = engine.ExtractFeatures(request);
      if (!rows.ok()) {
        std::cerr << query.text << ": " << rows.status().ToString() << "\n";
        return 1;
      }
      const auto scoring_start = std::chrono::steady_clock::now();
      std::vector<ClickProductInput> products;
      for (const std::string& id : rows->product_ids) {
        Result<Product> product = engine.GetProduct(id);
        Result<std::vector<float>> photo = engine.PhotoVector(id);
        products.push_back({product.ok() ? product->title : "", photo.ok() ? std::move(photo).value() : std::vector<float>{}});
      }
      ClickModelRanker ranker(neural, {query.text, {}}, std::move(products));
      std::vector<RankedItem> items(rows->product_ids.size());
      for (size_t r = 0; r < items.size(); ++r) items[r].row = r;
      ranker.Rank(rows->features, &items);
      const auto done = std::chrono::steady_clock::now();
      latency["neural-click"].push_back(std::chrono::duration<double, std::milli>(done - neural_start).count());
      added["neural-click"].push_back(std::chrono::duration<double, std::milli>(done - scoring_start).count());
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
