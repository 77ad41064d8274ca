// `tessera train-click-model`: the neural click model (rank/click_model.h), trained on a click log
// simulated over the judged queries (eval/click_simulator.h), or on the Best Buy search-click
// sample. docs/click-model.md describes both modes and what each measures.
#pragma once

#include <ostream>
#include <string>

#include "cli/ranking_evaluation.h"
#include "common/status.h"
#include "engine/engine.h"
#include "eval/click_simulator.h"
#include "rank/click_model.h"

namespace tessera {

struct TrainClickModelOptions {
  JudgedSetOptions judged;
  std::string out_path;  // "" for <data_dir>/models/click.model
  std::string data_dir;
  // Same split as `tessera train-ranker` with its defaults, so both report the same test queries.
  double test_fraction = 0.3;
  double validation_fraction = 0.15;
  // Folder of spoken queries, <judged query id>.wav (any format DecodeAudio reads); "" for none.
  // A query with a file is fed to the audio branch as spoken, with the judged text as its
  // transcript.
  std::string voice_dir;
  ClickSimulationOptions simulation;
  ClickModelConfig model;
  ClickTrainingOptions training;
};

// Simulates a click log over the judged queries' retrieval-order rankings and trains the click
// model on the training queries' impressions, while the validation queries choose the epoch. On
// the test queries it reports the click loss, accuracy and AUC of their impressions, and the
// nDCG@10 and MRR@10 of the model's ranking of all their candidates, beside BM25F alone and the
// retrieval order. Writes the model and <model stem>.report.json, and the report to `out`.
Status RunTrainClickModel(const Engine& engine, const TrainClickModelOptions& options, std::ostream& out);

struct BestBuyClickOptions {
  std::string dir;       // contains train.csv
  std::string out_path;  // "" for <data_dir>/models/click-bestbuy.model
  std::string data_dir;
  double test_fraction = 0.3;
  double validation_fraction = 0.15;
  size_t negatives = 4;  // other skus of the clicked category, sampled per click
  ClickModelConfig model;
  ClickTrainingOptions training;
};

// Trains the click model's text branch on the Best Buy search clicks. A click's (query, sku) is a
// positive, and options.negatives other skus clicked in the same category are negatives. Queries
// are split by their lower-cased text. Reports held-out loss, accuracy and AUC beside a sku
// popularity baseline. Reads no engine: the sample has no product texts, photos or impressions.
Status RunTrainClickModelBestBuy(const BestBuyClickOptions& options, std::ostream& out);

}  // namespace tessera
