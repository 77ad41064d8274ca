// `tessera features` and `tessera train-ranker`: feature rows for judged queries, and the learned
// rankers trained on them, both through Engine::ExtractFeatures, the code that serves searches.
#pragma once

#include <deque>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/ranking_evaluation.h"
#include "common/status.h"
#include "engine/engine.h"
#include "eval/judgments.h"
#include "rank/xgboost_ranker.h"

namespace tessera {

struct FeatureLogOptions {
  JudgedSetOptions judged;
  std::string out_path;          // "" for standard output
  std::string format = "jsonl";  // "jsonl" or "svmlight"
};

// Writes one row per (judged query, candidate): JSON Lines with the query, product, grade and
// every feature by name (null when missing), or SVMlight/LETOR lines
// "<grade> qid:<n> <feature index>:<value> ... # <query id> <product id>" with missing values
// left out and feature indexes from 1 in schema order.
Status RunFeatureLog(const Engine& engine, const FeatureLogOptions& options, std::ostream& out);

struct TrainRankerOptions {
  JudgedSetOptions judged;
  // Files of logged feature rows, in the JSON Lines layout of `tessera features`, trained on
  // beside the judged queries: for instance the searches of shoppers with profiles, whose
  // personal features are set. Their queries split like the judged ones, by the text of their
  // query id before the first '-'.
  std::vector<std::string> feature_rows_paths;
  std::string out_path;  // "" for <data_dir>/models/ranker.model
  std::string data_dir;
  RankerKind kind = RankerKind::kLambdaMart;  // the kind written to out_path; both are trained
  // Shares of the judged queries held out for testing and for choosing the number of rounds.
  // A query and its variants (synonym, typo, Chinese) always fall on the same side.
  double test_fraction = 0.3;
  double validation_fraction = 0.15;
  RankerTrainingOptions training;
};

// One JSON Lines row of `tessera features`: the query, the 1-based `rank` of the candidate in the
// retrieval order, its product and grade, and every feature by name (null when missing).
nlohmann::json FeatureRowJson(const JudgedQuery& query, size_t rank, const std::string& product_id, float grade,
                              std::span<const float> values);

// Queries read from files of feature rows: the queries own the grades the rows carry.
struct LoggedQueries {
  std::deque<JudgedQuery> queries;
  std::vector<QueryRows> rows;  // one per query, its `query` pointing into `queries`
};

// Reads feature rows written like `tessera features --format jsonl` writes them. Rows of one
// query_id form one query, in the order they come. Fails with kNotFound when the file cannot be
// read, and with kInvalidArgument naming the line and the fix on a bad row. A row is bad when it
// is malformed, has an unknown key or feature, leaves a feature out or has a grade outside 0 to
// 31. It is bad too when it repeats a product of its query or is apart from its query's other
// rows. A file without rows fails with kInvalidArgument as well.
Result<LoggedQueries> ReadFeatureRows(const std::string& path);

// Extracts features for every judged query, trains the linear and the LambdaMART ranker on the
// training queries, reports nDCG@10 and MRR@10 on the held-out test queries beside BM25F alone
// and the retrieval order (JSON on `out`, also written beside the model as
// <model stem>.report.json), and writes the chosen kind's model. Progress goes to stderr.
Status RunTrainRanker(const Engine& engine, const TrainRankerOptions& options, std::ostream& out);

}  // namespace tessera
