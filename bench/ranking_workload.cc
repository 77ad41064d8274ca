#include "ranking_workload.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/ranking_evaluation.h"
#include "cli/train_click_model.h"
#include "cli/train_ranker.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"
#include "rank/click_model_ranker.h"
#include "rank/xgboost_ranker.h"

namespace tessera {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kBaseline[] = "retrieval-score";
constexpr char kNeural[] = "neural-click";

json Percentiles(std::vector<double> values) {
  const MetricSummary s = Summarize(std::move(values));
  return {{"p50", s.median}, {"p99", s.p99}, {"mean", s.mean}};
}

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The trained models, by the names the latency section uses.
struct TrainedModels {
  std::map<std::string, std::shared_ptr<const XgboostRanker>> learned;  // "linear", "lambdamart"
  std::shared_ptr<const ClickModel> neural;
};

// Runs `tessera train-ranker` once per kind, so that each kind's model file is written, and
// loads both. The LambdaMART run's report goes to out["train_ranker"].
Status TrainLearnedRankers(Engine& engine, const RankingWorkloadOptions& options, TrainedModels* models, json* out) {
  for (RankerKind kind : {RankerKind::kLinear, RankerKind::kLambdaMart}) {
    TrainRankerOptions train;
    train.kind = kind;
    train.out_path = options.model_dir + "/" + RankerKindName(kind) + ".model";
    std::ostringstream report;
    const auto start = Clock::now();
    TESSERA_RETURN_IF_ERROR(RunTrainRanker(engine, train, report));
    if (kind == RankerKind::kLambdaMart) {
      (*out)["train_ranker"] = json::parse(report.str());
      (*out)["train_ranker_seconds"] = SecondsSince(start);
    }
    Result<std::unique_ptr<XgboostRanker>> model = XgboostRanker::Load(train.out_path);
    if (!model.ok()) return model.status();
    models->learned[RankerKindName(kind)] = std::move(model).value();
  }
  return Status::Ok();
}

// Runs `tessera train-click-model` with train-ranker's split, and loads the model it wrote.
Status TrainNeuralModel(Engine& engine, const TrainClickModelOptions& click, TrainedModels* models, json* out) {
  std::ostringstream report;
  const auto start = Clock::now();
  TESSERA_RETURN_IF_ERROR(RunTrainClickModel(engine, click, report));
  (*out)["train_click_model"] = json::parse(report.str());
  (*out)["train_click_model_seconds"] = SecondsSince(start);
  Result<std::unique_ptr<ClickModel>> model = ClickModel::Load(click.out_path);
  if (!model.ok()) return model.status();
  models->neural = std::move(model).value();
  return Status::Ok();
}

// Builds the click model's inputs for `product_ids`, one per feature row: each product's title
// and its stored photo vector (empty when it has no photo).
std::vector<ClickProductInput> ClickInputs(const Engine& engine, const std::vector<std::string>& product_ids) {
  std::vector<ClickProductInput> products;
  products.reserve(product_ids.size());
  for (const std::string& id : product_ids) {
    Result<Product> product = engine.GetProduct(id);
    Result<std::vector<float>> photo = engine.PhotoVector(id);
    products.push_back({product.ok() ? product->title : "", photo.ok() ? std::move(photo).value() : std::vector<float>{}});
  }
  return products;
}

// Returns scores that re-rank only the first `window` rows (retrieval order) by `scores`, and
// keep the rest below them in retrieval order.
std::vector<float> WindowedScores(const std::vector<float>& scores, size_t window) {
  const size_t window_rows = std::min(window, scores.size());
  float lowest_in_window = INFINITY;
  for (size_t row = 0; row < window_rows; ++row) lowest_in_window = std::min(lowest_in_window, scores[row]);
  std::vector<float> windowed(scores.size());
  for (size_t row = 0; row < scores.size(); ++row) {
    windowed[row] = row < window_rows ? scores[row] : lowest_in_window - 1.0f - static_cast<float>(row);
  }
  return windowed;
}

// Computes nDCG@10 and MRR@10 of every method on the test queries, each method ranking the same
// candidates (one ExtractFeatures call per query).
Result<std::map<std::string, MethodMetrics>> EvaluateHeldOut(const Engine& engine, const TrainedModels& models,
                                                             const TrainClickModelOptions& click) {
  Result<std::vector<JudgedQuery>> queries = LoadJudgedQueries(engine, click.judged);
  if (!queries.ok()) return queries.status();
  std::map<std::string, MethodMetrics> methods;
  for (const JudgedQuery& query : *queries) {
    if (SplitOf(query, click.test_fraction, click.validation_fraction) != Split::kTest) continue;
    Result<QueryRows> q = ExtractQuery(engine, query);
    if (!q.ok()) return Status(q.status().code(), "query " + query.id + " '" + query.text + "': " + q.status().message());
    if (q->labels.empty()) continue;  // train-ranker and train-click-model skip these too

    const size_t n = q->labels.size();
    AddBaselines(*q, &methods);
    for (const auto& [name, model] : models.learned) {
      methods[name].Add(query, RankedIds(*q, model->Predict(q->rows.features.values(), n)));
    }

    const std::vector<ClickProductInput> products = ClickInputs(engine, q->rows.product_ids);
    std::vector<const ClickProductInput*> pointers;
    for (const ClickProductInput& p : products) pointers.push_back(&p);
    const std::vector<float> scores = models.neural->Score({query.text, {}}, pointers, q->rows.features);
    methods["neural_click"].Add(query, RankedIds(*q, scores));
    methods["neural_click_shown"].Add(query, RankedIds(*q, WindowedScores(scores, click.simulation.depth)));
  }
  return methods;
}

struct Latency {
  std::map<std::string, std::vector<double>> search_ms, added_ms;
  std::vector<double> candidates;
};

// Searches every judged query `rounds` times with each ranker in turn, the baseline first.
Status MeasureLatency(Engine& engine, const TrainedModels& models, size_t rounds, Latency* latency) {
  const std::vector<JudgedQuery> queries = DeriveJudgedQuerySet(engine.AllProducts());
  std::map<std::string, std::shared_ptr<const Ranker>> rankers = {{kBaseline, nullptr}};
  for (const auto& [name, model] : models.learned) rankers[name] = model;

  // The candidates of each query, in row order, which the click model's inputs follow.
  std::vector<std::vector<std::string>> candidates;
  for (const JudgedQuery& query : queries) {
    SearchRequest request;
    request.text = query.text;
    request.facets = false;
    Result<FeatureRows> rows = engine.ExtractFeatures(request);
    if (!rows.ok()) return Status(rows.status().code(), query.text + ": " + rows.status().message());
    latency->candidates.push_back(static_cast<double>(rows->product_ids.size()));
    candidates.push_back(std::move(rows->product_ids));
  }

  for (size_t round = 0; round < rounds; ++round) {
    for (size_t qi = 0; qi < queries.size(); ++qi) {
      SearchRequest request;
      request.text = queries[qi].text;
      request.facets = false;
      std::map<std::string, double> took;
      auto search = [&](const std::string& name, std::shared_ptr<const Ranker> ranker, double extra_ms) -> Status {
        engine.UseRanker(std::move(ranker));
        Result<SearchResponse> response = engine.Search(request);
        if (!response.ok()) return Status(response.status().code(), request.text + ": " + response.status().message());
        took[name] = response->took_ms + extra_ms;
        return Status::Ok();
      };
      TESSERA_RETURN_IF_ERROR(search(kBaseline, nullptr, 0));
      for (const auto& [name, ranker] : rankers) {
        if (ranker) TESSERA_RETURN_IF_ERROR(search(name, ranker, 0));
      }

      // The click model, bound to this query's candidates: building its inputs counts as search time.
      const auto inputs_start = Clock::now();
      auto neural = std::make_shared<ClickModelRanker>(models.neural, ClickQueryInput{request.text, {}},
                                                       ClickInputs(engine, candidates[qi]));
      TESSERA_RETURN_IF_ERROR(search(kNeural, std::move(neural), MillisSince(inputs_start)));

      for (const auto& [name, ms] : took) {
        latency->search_ms[name].push_back(ms);
        if (name != kBaseline) latency->added_ms[name].push_back(ms - took[kBaseline]);
      }
    }
  }
  engine.UseRanker(nullptr);
  return Status::Ok();
}

// One row of the table: a method's held-out metrics, its training time and its latency.
struct TableRow {
  std::string method;        // key in the metrics
  std::string label;         // as printed
  std::string ranker;        // key in the latency, or "" when the engine cannot rank by it
  double training_seconds = NAN;  // NaN when nothing is trained
};

json BuildTable(const std::vector<TableRow>& rows, const std::map<std::string, MethodMetrics>& metrics,
                const Latency& latency) {
  json table = json::array();
  for (const TableRow& row : rows) {
    json entry = {{"method", row.method}, {"label", row.label}, {"held_out", metrics.at(row.method).ToJson()}};
    entry["training_seconds"] = std::isnan(row.training_seconds) ? json(nullptr) : json(row.training_seconds);
    if (latency.search_ms.contains(row.ranker)) entry["search_ms"] = Percentiles(latency.search_ms.at(row.ranker));
    if (latency.added_ms.contains(row.ranker)) entry["added_ms"] = Percentiles(latency.added_ms.at(row.ranker));
    table.push_back(std::move(entry));
  }
  return table;
}

// Prints the table as Markdown: overall nDCG@10 and MRR@10, then per-kind nDCG@10, training and
// latency.
void PrintMarkdown(const json& table, std::ostream& out) {
  auto number = [](const json& value, const char* format) {
    if (value.is_null()) return std::string();
    char text[32];
    std::snprintf(text, sizeof(text), format, value.get<double>());
    return std::string(text);
  };
  auto at = [](const json& object, const char* key, const char* field) {
    return object.contains(key) ? object.at(key).at(field) : json(nullptr);
  };
  out << "| method | nDCG@10 | MRR@10 | plain | synonym | typo | Chinese | photo | training s | search p50 / p99 ms | "
         "added p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const json& row : table) {
    const json& held_out = row.at("held_out");
    out << "| " << row.at("label").get<std::string>() << " | " << number(at(held_out, "all", "ndcg_at_10"), "%.3f")
        << " | " << number(at(held_out, "all", "mrr_at_10"), "%.3f");
    for (const char* kind : {"plain", "synonym", "typo", "chinese", "photo"}) {
      out << " | " << number(at(held_out, kind, "ndcg_at_10"), "%.3f");
    }
    out << " | " << number(row.at("training_seconds"), "%.1f") << " | ";
    if (row.contains("search_ms")) {
      out << number(row["search_ms"]["p50"], "%.2f") << " / " << number(row["search_ms"]["p99"], "%.1f");
    }
    out << " | ";
    if (row.contains("added_ms")) {
      out << number(row["added_ms"]["p50"], "%.2f") << " / " << number(row["added_ms"]["p99"], "%.1f");
    }
    out << " |\n";
  }
}

// True when each training report's held-out nDCG@10 equals this run's, which shows that every
// method was measured on the same queries and candidates.
bool AgreesWithReports(const json& out, const std::map<std::string, MethodMetrics>& metrics) {
  auto same = [&](const json& report, const std::string& method) {
    const double reported = report.at("test").at(method).at("all").at("ndcg_at_10").get<double>();
    return std::abs(reported - Summarize(metrics.at(method).ndcg.at("all")).mean) < 1e-9;
  };
  const json& ranker = out.at("train_ranker");
  const json& click = out.at("train_click_model");
  return same(ranker, "bm25f") && same(ranker, "retrieval") && same(ranker, "linear") && same(ranker, "lambdamart") &&
         same(click, "bm25f") && same(click, "retrieval") && same(click, "neural_click") &&
         same(click, "neural_click_shown");
}

}  // namespace

int RunRankingWorkload(Engine& engine, const RankingWorkloadOptions& options) {
  json out = {{"workload", "ranking"}};
  auto fail = [](const Status& status) {
    std::cerr << status.ToString() << "\n";
    return 1;
  };

  // Training: both learned rankers, then the click model on train-ranker's split.
  TrainedModels models;
  if (Status trained = TrainLearnedRankers(engine, options, &models, &out); !trained.ok()) return fail(trained);
  const TrainRankerOptions ranker_defaults;
  TrainClickModelOptions click;
  click.out_path = options.model_dir + "/click.model";
  click.test_fraction = ranker_defaults.test_fraction;
  click.validation_fraction = ranker_defaults.validation_fraction;
  if (Status trained = TrainNeuralModel(engine, click, &models, &out); !trained.ok()) return fail(trained);

  // Held-out metrics of every method, in one pass over the test queries.
  Result<std::map<std::string, MethodMetrics>> metrics = EvaluateHeldOut(engine, models, click);
  if (!metrics.ok()) return fail(metrics.status());
  const bool agrees = AgreesWithReports(out, *metrics);
  if (!agrees) std::cerr << "ranking: the held-out figures differ from the training reports' (see agrees_with_training_reports)\n";

  Latency latency;
  if (Status measured = MeasureLatency(engine, models, options.rounds, &latency); !measured.ok()) return fail(measured);

  // The table, one row per method.
  const json& trained = out["train_ranker"]["models"];
  const std::string window = std::to_string(click.simulation.depth);
  const std::vector<TableRow> rows = {
      {"bm25f", "BM25F alone", "", NAN},
      {"retrieval", "hybrid retrieval, no model", kBaseline, NAN},
      {"linear", "linear", "linear", trained["linear"]["training_seconds"].get<double>()},
      {"lambdamart", "LambdaMART", "lambdamart", trained["lambdamart"]["training_seconds"].get<double>()},
      {"neural_click", "neural click model, all candidates", kNeural,
       out["train_click_model"]["training"]["training_seconds"].get<double>()},
      {"neural_click_shown", "neural click model, first " + window + " re-ranked", "",
       out["train_click_model"]["training"]["training_seconds"].get<double>()},
  };
  out["table"] = BuildTable(rows, *metrics, latency);
  out["agrees_with_training_reports"] = agrees;
  out["test_queries"] = metrics->at("retrieval").ndcg.at("all").size();
  out["candidates_per_query"] = Percentiles(latency.candidates);
  out["latency_queries"] = latency.candidates.size();
  out["rounds"] = options.rounds;
  std::cout << out.dump(2) << "\n";
  PrintMarkdown(out["table"], std::cerr);
  return 0;
}

}  // namespace tessera
