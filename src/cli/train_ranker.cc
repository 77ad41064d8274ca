#include "cli/train_ranker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/ranking_evaluation.h"
#include "common/model_file.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"

namespace tessera {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

}  // namespace

Status RunFeatureLog(const Engine& engine, const FeatureLogOptions& options, std::ostream& stdout_stream) {
  if (options.format != "jsonl" && options.format != "svmlight") {
    return Status::InvalidArgument("feature format '" + options.format + "' is unknown: use jsonl or svmlight");
  }
  Result<std::vector<JudgedQuery>> queries = LoadJudgedQueries(engine, options.judged);
  if (!queries.ok()) return queries.status();
  std::ofstream file;
  if (!options.out_path.empty()) {
    file.open(options.out_path, std::ios::binary | std::ios::trunc);
    if (!file) return Status::IoError("cannot write " + options.out_path + ": check the folder exists and is writable");
  }
  std::ostream& out = options.out_path.empty() ? stdout_stream : file;

  Progress progress("features", queries->size());
  size_t rows = 0;
  for (size_t qi = 0; qi < queries->size(); ++qi) {
    const JudgedQuery& query = (*queries)[qi];
    Result<QueryRows> q = ExtractQuery(engine, query);
    if (!q.ok()) return Status(q.status().code(), "query " + query.id + " '" + query.text + "': " + q.status().message());
    for (size_t r = 0; r < q->labels.size(); ++r) {
      const std::span<const float> values = q->rows.features.Row(r);
      if (options.format == "jsonl") {
        json features = json::object();
        for (size_t f = 0; f < kFeatureCount; ++f) {
          features[FeatureInfos()[f].name] = std::isnan(values[f]) ? json(nullptr) : json(values[f]);
        }
        json row = {{"query_id", query.id}, {"query", query.text},         {"kind", query.kind},
                    {"rank", r + 1},        {"product_id", q->rows.product_ids[r]}, {"grade", q->labels[r]},
                    {"features", features}};
        if (!query.photo_product_id.empty()) row["photo_product_id"] = query.photo_product_id;
        out << row.dump() << "\n";
      } else {
        out << q->labels[r] << " qid:" << qi + 1;
        for (size_t f = 0; f < kFeatureCount; ++f) {
          if (!std::isnan(values[f])) out << " " << f + 1 << ":" << values[f];
        }
        out << " # " << query.id << " " << q->rows.product_ids[r] << "\n";
      }
      ++rows;
    }
    progress.Show(qi + 1);
  }
  if (!out.flush()) return Status::IoError("cannot write the feature rows");
  spdlog::info("features: {} rows for {} queries", rows, queries->size());
  return Status::Ok();
}

Status RunTrainRanker(const Engine& engine, const TrainRankerOptions& options, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  Result<std::vector<JudgedQuery>> queries = LoadJudgedQueries(engine, options.judged);
  if (!queries.ok()) return queries.status();
  if (options.test_fraction < 0 || options.validation_fraction <= 0 ||
      options.test_fraction + options.validation_fraction >= 1) {
    return Status::InvalidArgument("--test-fraction and --validation-fraction must be >= 0 and > 0, with a sum below 1");
  }

  // Feature rows of every query, through the serving code.
  Result<std::vector<QueryRows>> extracted = ExtractAll(engine, *queries);
  if (!extracted.ok()) return extracted.status();
  std::vector<QueryRows> all = std::move(extracted).value();
  const double extract_seconds = SecondsSince(start);

  RankingDataset train, validation;
  std::vector<const QueryRows*> test;
  for (const QueryRows& q : all) {
    if (q.labels.empty()) continue;
    switch (SplitOf(*q.query, options.test_fraction, options.validation_fraction)) {
      case Split::kTrain: train.AddQuery(q.query->id, q.rows.features, q.labels); break;
      case Split::kValidation: validation.AddQuery(q.query->id, q.rows.features, q.labels); break;
      case Split::kTest: test.push_back(&q); break;
    }
  }
  if (test.empty()) return Status::InvalidArgument("no test query: raise --test-fraction or judge more queries");

  // Both kinds, so the report compares them.
  json report = {{"queries", queries->size()},
                 {"train_queries", train.group_sizes.size()},
                 {"validation_queries", validation.group_sizes.size()},
                 {"test_queries", test.size()},
                 {"consensus_depth", all.empty() ? kDefaultConsensusDepth : all.front().rows.consensus_depth},
                 {"feature_extraction_seconds", extract_seconds}};
  std::map<RankerKind, std::unique_ptr<XgboostRanker>> models;
  for (RankerKind kind : {RankerKind::kLinear, RankerKind::kLambdaMart}) {
    RankerTrainingOptions training = options.training;
    training.kind = kind;
    training.consensus_depth = all.empty() ? kDefaultConsensusDepth : all.front().rows.consensus_depth;
    if (kind == RankerKind::kLinear) training.learning_rate = 0.5;  // the linear booster's step
    Progress boosting(std::string("train ") + RankerKindName(kind), training.max_rounds);
    const auto trained_at = std::chrono::steady_clock::now();
    Result<std::unique_ptr<XgboostRanker>> model =
        XgboostRanker::Train(train, validation, training, [&](const RankerTrainingProgress& p) {
          char detail[96];
          std::snprintf(detail, sizeof(detail), "valid nDCG@10 %.4f (best round %zu)", p.validation_ndcg, p.best_round);
          boosting.Show(p.round, detail);
        });
    if (!model.ok()) return model.status();
    (*model)->report()["training_seconds"] = SecondsSince(trained_at);
    models[kind] = std::move(model).value();
  }

  // Held-out comparison: BM25F alone, the retrieval order, and each model, over the same rows.
  std::map<std::string, MethodMetrics> methods;
  for (const QueryRows* q : test) {
    const size_t n = q->labels.size();
    AddBaselines(*q, &methods);
    for (const auto& [kind, model] : models) {
      methods[RankerKindName(kind)].Add(*q->query, RankedIds(*q, model->Predict(q->rows.features.values(), n)));
    }
  }
  for (const auto& [name, metrics] : methods) report["test"][name] = metrics.ToJson();
  for (const auto& [kind, model] : models) {
    model->report()["test"] = methods[RankerKindName(kind)].ToJson();
    report["models"][RankerKindName(kind)] = model->report();
    report["models"][RankerKindName(kind)].erase("history");  // per round; kept in the model file
  }

  // The chosen model and the report beside it.
  const std::string path = options.out_path.empty()
                               ? (fs::path(options.data_dir) / "models" / "ranker.model").string()
                               : options.out_path;
  TESSERA_RETURN_IF_ERROR(models[options.kind]->Save(path));
  report["model"] = {{"kind", RankerKindName(options.kind)}, {"path", path}};
  report["total_seconds"] = SecondsSince(start);
  const std::string report_path = (fs::path(path).parent_path() / (fs::path(path).stem().string() + ".report.json")).string();
  TESSERA_RETURN_IF_ERROR(WriteFileAtomically(report_path, report.dump(2) + "\n"));
  spdlog::info("ranker {} written to {}; report {}", RankerKindName(options.kind), path, report_path);
  out << report.dump(2) << "\n";
  return Status::Ok();
}

}  // namespace tessera
