#include "cli/train_ranker.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_set>

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

// Keys a feature row may have besides `features`. `tessera features` writes `rank` and
// `photo_product_id`, which training does not read.
constexpr std::array<std::string_view, 7> kRowKeys = {"query_id", "query",    "kind",           "rank",
                                                      "product_id", "grade", "photo_product_id"};
constexpr int kMaxGrade = 31;

}  // namespace

json FeatureRowJson(const JudgedQuery& query, size_t rank, const std::string& product_id, float grade,
                    std::span<const float> values) {
  json features = json::object();
  for (size_t f = 0; f < kFeatureCount; ++f) {
    features[FeatureInfos()[f].name] = std::isnan(values[f]) ? json(nullptr) : json(values[f]);
  }
  json row = {{"query_id", query.id}, {"query", query.text},   {"kind", query.kind}, {"rank", rank},
              {"product_id", product_id}, {"grade", grade}, {"features", features}};
  if (!query.photo_product_id.empty()) row["photo_product_id"] = query.photo_product_id;
  return row;
}

Result<LoggedQueries> ReadFeatureRows(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read feature rows " + path + ": check the path");
  LoggedQueries logged;
  std::map<std::string, size_t> index_of;          // query id -> index into logged.rows
  std::unordered_set<std::string> query_products;  // product ids of the current query
  std::string line;
  size_t line_number = 0;
  auto error = [&](const std::string& what) {
    return Status::InvalidArgument(path + " line " + std::to_string(line_number) + ": " + what +
                                   ": write the rows with `tessera features --format jsonl` of this build");
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json row;
    try {
      row = json::parse(line);
    } catch (const json::exception& e) {
      return error(std::string("not JSON (") + e.what() + ")");
    }
    if (!row.is_object()) return error("a row must be a JSON object");
    for (const auto& [key, value] : row.items()) {
      if (key == "features") continue;
      if (std::find(kRowKeys.begin(), kRowKeys.end(), key) == kRowKeys.end()) {
        return error("unknown key '" + key + "'");
      }
    }
    if (!row.contains("query_id") || !row["query_id"].is_string() || row["query_id"].get<std::string>().empty()) {
      return error("'query_id' must be a non-empty string");
    }
    if (!row.contains("product_id") || !row["product_id"].is_string() || row["product_id"].get<std::string>().empty()) {
      return error("'product_id' must be a non-empty string");
    }
    // The gain of a grade is 2^grade - 1, which stays exact in a float up to grade 31.
    if (!row.contains("grade") || !row["grade"].is_number() || row["grade"].get<double>() < 0 ||
        row["grade"].get<double>() > kMaxGrade || row["grade"].get<double>() != std::floor(row["grade"].get<double>())) {
      return error("'grade' must be a whole number from 0 to " + std::to_string(kMaxGrade));
    }
    if (!row.contains("features") || !row["features"].is_object()) return error("'features' must be an object");
    for (const auto& [name, value] : row["features"].items()) {
      if (FeatureByName(name) == Feature::kCount) return error("unknown feature '" + name + "'");
      if (!value.is_null() && !value.is_number()) return error("feature '" + name + "' must be a number or null");
    }
    std::array<float, kFeatureCount> values;
    for (size_t f = 0; f < kFeatureCount; ++f) {
      const std::string name(FeatureInfos()[f].name);
      const auto it = row["features"].find(name);
      if (it == row["features"].end()) return error("feature '" + name + "' is missing (null marks a missing value)");
      values[f] = it->is_null() ? std::nanf("") : it->get<float>();
    }

    const std::string query_id = row["query_id"].get<std::string>();
    auto [at, inserted] = index_of.try_emplace(query_id, logged.rows.size());
    if (inserted) {
      query_products.clear();
      JudgedQuery& query = logged.queries.emplace_back();
      query.id = query_id;
      query.text = row.value("query", "");
      query.kind = row.value("kind", "logged");
      logged.rows.push_back(QueryRows{&query, {}, {}});
    }
    QueryRows& q = logged.rows[at->second];
    if (at->second + 1 != logged.rows.size()) {
      return error("the rows of query '" + query_id + "' are not together");
    }
    const std::string product_id = row["product_id"].get<std::string>();
    JudgedQuery& query = logged.queries[at->second];
    const int grade = static_cast<int>(row["grade"].get<double>());
    if (!query_products.insert(product_id).second) {
      return error("product '" + product_id + "' appears twice in query '" + query_id + "'");
    }
    if (grade > 0) query.grades[product_id] = grade;
    query.max_grade = std::max(query.max_grade, grade);
    q.rows.product_ids.push_back(product_id);
    q.labels.push_back(static_cast<float>(grade));
    q.rows.features.AppendRow(values);
  }
  if (logged.rows.empty()) return Status::InvalidArgument(path + " has no feature rows");
  return logged;
}

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
        out << FeatureRowJson(query, r + 1, q->rows.product_ids[r], q->labels[r], values).dump() << "\n";
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
  // Logged rows train, choose rounds and test beside the judged queries.
  std::vector<LoggedQueries> logged;
  size_t logged_queries = 0;
  for (const std::string& path : options.feature_rows_paths) {
    Result<LoggedQueries> read = ReadFeatureRows(path);
    if (!read.ok()) return read.status();
    logged_queries += read->rows.size();
    logged.push_back(std::move(read).value());
  }
  for (LoggedQueries& file : logged) {
    for (QueryRows& q : file.rows) all.push_back(std::move(q));
  }

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
                 {"logged_queries", logged_queries},
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
