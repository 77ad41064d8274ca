#include "replay_workload.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/click_log.h"
#include "eval/item_embedding.h"
#include "eval/next_item_predictors.h"
#include "eval/replay.h"

namespace tessera {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Dataset {
  std::string name;
  std::vector<ClickSession> training;
  std::vector<ClickSession> test;
  json split;  // how training and test were separated
};

size_t CountClicks(const std::vector<ClickSession>& sessions) {
  size_t clicks = 0;
  for (const ClickSession& session : sessions) clicks += session.size();
  return clicks;
}

Result<Dataset> LoadYoochoose(const fs::path& behaviour_dir) {
  const fs::path folder = behaviour_dir / "yoochoose_100k";
  Result<std::vector<Click>> training = ReadYoochooseClickFile(folder / "yoochoose-clicks-100k_train_full.txt");
  if (!training.ok()) return training.status();
  Result<std::vector<Click>> test = ReadYoochooseClickFile(folder / "yoochoose-clicks-100k_test.txt");
  if (!test.ok()) return test.status();
  return Dataset{"yoochoose", GroupIntoSessions(*training), GroupIntoSessions(*test),
                 {{"method", "the data set's own training and test files"}}};
}

// Taobao has no test file: each user's clicks form one session, and the sessions that end last
// are the test set (whole sessions, so no user is in both).
Result<Dataset> LoadTaobao(const fs::path& behaviour_dir, double test_share) {
  Result<std::vector<Click>> clicks = ReadTaobaoBehaviourFile(behaviour_dir / "taobao_userbehavior_sample/UserBehavior.csv");
  if (!clicks.ok()) return clicks.status();
  SessionSplit split = SplitSessionsByEndTime(GroupIntoSessions(*clicks), test_share);
  return Dataset{"taobao",
                 std::move(split.earlier),
                 std::move(split.later),
                 {{"method", "one session per user; sessions ending at or after the cutoff are test"},
                  {"test_share", test_share},
                  {"cutoff_unix_seconds", split.cutoff_ms / 1000}}};
}

json MetricsJson(const ReplayMetrics& metrics, double replay_ms) {
  return {{"predictor", metrics.predictor},
          {"predictions", metrics.predictions},
          {"unseen_targets", metrics.unseen_targets},
          {"hr", metrics.HitRate()},
          {"mrr", metrics.MeanReciprocalRank()},
          {"hr_seen_targets", metrics.HitRateSeenTargets()},
          {"mrr_seen_targets", metrics.MeanReciprocalRankSeenTargets()},
          {"replay_ms", replay_ms}};
}

json RunDataset(const Dataset& dataset, const ReplayWorkloadOptions& options) {
  ItemEmbeddingOptions embedding_options;
  embedding_options.seed = options.seed;

  // The half-life, from the training sessions alone.
  json tuning_json = {{"tuned", options.half_life_minutes <= 0}};
  double half_life = options.half_life_minutes;
  if (half_life <= 0) {
    HalfLifeTuning tuning;
    tuning.validation_share = options.validation_share;
    tuning.k = options.k;
    tuning.embedding = embedding_options;
    const Clock::time_point start = Clock::now();
    const HalfLifeChoice choice = ChooseHalfLife(dataset.training, tuning);
    tuning_json["ms"] = MillisSince(start);
    tuning_json["fit_sessions"] = choice.fit_sessions;
    tuning_json["validation_sessions"] = choice.validation_sessions;
    for (const HalfLifeTrial& trial : choice.trials) {
      tuning_json["trials"].push_back({{"half_life_minutes", trial.half_life_minutes},
                                       {"predictions", trial.metrics.predictions},
                                       {"hr", trial.metrics.HitRate()},
                                       {"mrr", trial.metrics.MeanReciprocalRank()}});
    }
    half_life = choice.half_life_minutes;
  }
  tuning_json["half_life_minutes"] = half_life;

  // Every model learns from all training sessions.
  Clock::time_point start = Clock::now();
  const TrainingLog log = BuildTrainingLog(dataset.training);
  const double log_ms = MillisSince(start);
  start = Clock::now();
  const ItemEmbedding embedding = TrainPpmiEmbedding(ItemSequences(log), log.vocabulary.size(), embedding_options);
  const double embedding_ms = MillisSince(start);
  start = Clock::now();
  const CooccurrencePredictor cooccurrence(log);
  const double cooccurrence_ms = MillisSince(start);
  const PopularityPredictor popularity(log);
  const SessionVectorPredictor session_model(log, embedding, SessionOptions{.half_life_minutes = half_life});
  const FallbackPredictor cooccurrence_then_session(cooccurrence, session_model);
  const FallbackPredictor cooccurrence_then_popularity(cooccurrence, popularity);
  const std::vector<EncodedSession> test = EncodeSessions(dataset.test, log.vocabulary);

  json results = json::array();
  for (const NextItemPredictor* predictor : std::initializer_list<const NextItemPredictor*>{
           &popularity, &cooccurrence, &session_model, &cooccurrence_then_session, &cooccurrence_then_popularity}) {
    const NextItemPredictor* one[] = {predictor};
    start = Clock::now();
    const ReplayMetrics metrics = ReplayNextClicks(test, one, options.k).front();
    results.push_back(MetricsJson(metrics, MillisSince(start)));
  }

  return {{"split", dataset.split},
          {"training", {{"sessions", dataset.training.size()},
                        {"clicks", CountClicks(dataset.training)},
                        {"items", log.vocabulary.size()}}},
          {"test", {{"sessions", dataset.test.size()}, {"clicks", CountClicks(dataset.test)}}},
          {"half_life", tuning_json},
          {"training_ms", {{"click_log", log_ms},
                           {"item_vectors", embedding_ms},
                           {"cooccurrence", cooccurrence_ms}}},
          {"embedding", {{"dimensions", embedding.dimensions},
                         {"window", embedding_options.window},
                         {"seed", embedding_options.seed}}},
          {"k", options.k},
          {"results", results}};
}

}  // namespace

int RunReplayWorkload(const ReplayWorkloadOptions& options) {
  const fs::path behaviour_dir = options.behaviour_dir;
  Result<Dataset> yoochoose = LoadYoochoose(behaviour_dir);
  if (!yoochoose.ok()) {
    std::cerr << yoochoose.status().ToString() << "\n";
    return 1;
  }
  Result<Dataset> taobao = LoadTaobao(behaviour_dir, options.taobao_test_share);
  if (!taobao.ok()) {
    std::cerr << taobao.status().ToString() << "\n";
    return 1;
  }
  const json output = {{"workload", "replay"},
                       {"yoochoose", RunDataset(*yoochoose, options)},
                       {"taobao", RunDataset(*taobao, options)}};
  std::cout << output.dump(2) << "\n";
  return 0;
}

}  // namespace tessera
