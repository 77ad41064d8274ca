// `tessera features` and `tessera train-ranker`: feature rows for judged queries, and the learned
// rankers trained on them, both through Engine::ExtractFeatures, the code that serves searches.
#pragma once

#include <ostream>
#include <string>

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
  std::string out_path;  // "" for <data_dir>/models/ranker.model
  std::string data_dir;
  RankerKind kind = RankerKind::kLambdaMart;  // the kind written to out_path; both are trained
  // Shares of the judged queries held out for testing and for choosing the number of rounds.
  // A query and its variants (synonym, typo, Chinese) always fall on the same side.
  double test_fraction = 0.3;
  double validation_fraction = 0.15;
  RankerTrainingOptions training;
};

// Extracts features for every judged query, trains the linear and the LambdaMART ranker on the
// training queries, reports nDCG@10 and MRR@10 on the held-out test queries beside BM25F alone
// and the retrieval order (JSON on `out`, also written beside the model as
// <model stem>.report.json), and writes the chosen kind's model. Progress goes to stderr.
Status RunTrainRanker(const Engine& engine, const TrainRankerOptions& options, std::ostream& out);

}  // namespace tessera
