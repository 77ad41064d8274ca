// Offline replay of next-click prediction: for every test session and every prefix of it,
// each predictor ranks the items the shopper may click next, and the replay scores where the
// real next click landed with HR@k and MRR@k. docs/replay.md defines the metrics and the method.
//
// All functions are safe to call from several threads at once on different arguments.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "eval/click_log.h"
#include "eval/item_embedding.h"
#include "eval/next_item_predictors.h"
#include "personalize/session_vector.h"

namespace tessera {

// Numbers the items of `sessions` and counts their clicks.
TrainingLog BuildTrainingLog(const std::vector<ClickSession>& sessions);

// Replaces item ids by their index in `vocabulary`, or kUnknownItem for items it does not contain.
std::vector<EncodedSession> EncodeSessions(const std::vector<ClickSession>& sessions, const ItemVocabulary& vocabulary);

// The item index sequences of `log`, the input of TrainPpmiEmbedding.
std::vector<std::vector<uint32_t>> ItemSequences(const TrainingLog& log);

// Counts of one predictor over one replay. A prediction is one (session, prefix) pair: a session
// of n clicks gives n - 1 predictions, of clicks 2 to n from the clicks before them.
struct ReplayMetrics {
  std::string predictor;
  size_t predictions = 0;
  size_t unseen_targets = 0;       // predictions whose next click is an item unseen in training
  size_t hits = 0;                 // predictions with the next click among the first k
  double reciprocal_rank_sum = 0;  // sum of 1 / rank over the hits

  // HR@k and MRR@k over all predictions: an unseen next click counts as a miss.
  double HitRate() const;
  double MeanReciprocalRank() const;
  // The same over the predictions whose next click was seen in training.
  double HitRateSeenTargets() const;
  double MeanReciprocalRankSeenTargets() const;
};

// Replays every prefix of every session in `sessions` through each predictor and returns their
// metrics at cut-off k, in the order of `predictors`. The pointers must not be null.
std::vector<ReplayMetrics> ReplayNextClicks(const std::vector<EncodedSession>& sessions,
                                            std::span<const NextItemPredictor* const> predictors, size_t k);

struct HalfLifeTuning {
  double validation_share = 0.1;  // share of the training sessions, the ones that end last
  std::vector<double> candidates_minutes = {0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120, 1440};
  size_t k = 20;
  ItemEmbeddingOptions embedding;
};

struct HalfLifeTrial {
  double half_life_minutes = 0;
  ReplayMetrics metrics;
};

struct HalfLifeChoice {
  double half_life_minutes = 0;  // the candidate with the best MRR@k; the first one on ties
  std::vector<HalfLifeTrial> trials;  // one per candidate, in the order given
  size_t fit_sessions = 0;
  size_t validation_sessions = 0;
};

// Chooses the session model's half-life on the training sessions alone. The last
// `validation_share` of them by end time are held out (SplitSessionsByEndTime), item vectors are
// learned from the others, and each candidate half-life is replayed on the held-out sessions.
// Returns the first candidate when there are none to compare (no held-out predictions).
// Precondition: tuning.candidates_minutes is not empty.
HalfLifeChoice ChooseHalfLife(const std::vector<ClickSession>& training, const HalfLifeTuning& tuning);

}  // namespace tessera
