#include "eval/replay.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace tessera {
namespace {

double Share(double numerator, size_t denominator) {
  return denominator == 0 ? 0.0 : numerator / static_cast<double>(denominator);
}

}  // namespace

TrainingLog BuildTrainingLog(const std::vector<ClickSession>& sessions) {
  TrainingLog log;
  log.sessions.reserve(sessions.size());
  for (const ClickSession& session : sessions) {
    EncodedSession encoded;
    encoded.times_ms = session.times_ms;
    for (const std::string& item_id : session.item_ids) {
      const uint32_t item = log.vocabulary.Add(item_id);
      if (item >= log.click_counts.size()) log.click_counts.resize(item + 1, 0);
      ++log.click_counts[item];
      encoded.items.push_back(item);
    }
    log.sessions.push_back(std::move(encoded));
  }
  return log;
}

std::vector<EncodedSession> EncodeSessions(const std::vector<ClickSession>& sessions,
                                           const ItemVocabulary& vocabulary) {
  std::vector<EncodedSession> encoded(sessions.size());
  for (size_t s = 0; s < sessions.size(); ++s) {
    encoded[s].times_ms = sessions[s].times_ms;
    for (const std::string& item_id : sessions[s].item_ids) encoded[s].items.push_back(vocabulary.Find(item_id));
  }
  return encoded;
}

std::vector<std::vector<uint32_t>> ItemSequences(const TrainingLog& log) {
  std::vector<std::vector<uint32_t>> sequences;
  sequences.reserve(log.sessions.size());
  for (const EncodedSession& session : log.sessions) sequences.push_back(session.items);
  return sequences;
}

double ReplayMetrics::HitRate() const { return Share(static_cast<double>(hits), predictions); }

double ReplayMetrics::MeanReciprocalRank() const { return Share(reciprocal_rank_sum, predictions); }

double ReplayMetrics::HitRateSeenTargets() const {
  return Share(static_cast<double>(hits), predictions - unseen_targets);
}

double ReplayMetrics::MeanReciprocalRankSeenTargets() const {
  return Share(reciprocal_rank_sum, predictions - unseen_targets);
}

std::vector<ReplayMetrics> ReplayNextClicks(const std::vector<EncodedSession>& sessions,
                                            std::span<const NextItemPredictor* const> predictors, size_t k) {
  std::vector<ReplayMetrics> metrics(predictors.size());
  for (size_t p = 0; p < predictors.size(); ++p) metrics[p].predictor = predictors[p]->name();

  std::vector<uint32_t> ranked;
  for (const EncodedSession& session : sessions) {
    assert(session.items.size() == session.times_ms.size());
    for (size_t next = 1; next < session.items.size(); ++next) {
      const SessionPrefix prefix{std::span<const uint32_t>(session.items).first(next),
                                 std::span<const int64_t>(session.times_ms).first(next)};
      const uint32_t target = session.items[next];
      for (size_t p = 0; p < predictors.size(); ++p) {
        ReplayMetrics& m = metrics[p];
        ++m.predictions;
        if (target == kUnknownItem) {
          ++m.unseen_targets;
          continue;
        }
        predictors[p]->Predict(prefix, k, &ranked);
        const size_t shown = std::min(k, ranked.size());
        const auto found = std::find(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(shown), target);
        if (found == ranked.begin() + static_cast<std::ptrdiff_t>(shown)) continue;
        ++m.hits;
        m.reciprocal_rank_sum += 1.0 / static_cast<double>(found - ranked.begin() + 1);
      }
    }
  }
  return metrics;
}

HalfLifeChoice ChooseHalfLife(const std::vector<ClickSession>& training, const HalfLifeTuning& tuning) {
  assert(!tuning.candidates_minutes.empty());
  HalfLifeChoice choice;
  choice.half_life_minutes = tuning.candidates_minutes.front();

  SessionSplit split = SplitSessionsByEndTime(training, tuning.validation_share);
  choice.fit_sessions = split.earlier.size();
  choice.validation_sessions = split.later.size();
  const TrainingLog fit = BuildTrainingLog(split.earlier);
  const ItemEmbedding embedding = TrainPpmiEmbedding(ItemSequences(fit), fit.vocabulary.size(), tuning.embedding);
  const std::vector<EncodedSession> validation = EncodeSessions(split.later, fit.vocabulary);

  double best_mrr = -1;
  for (double half_life : tuning.candidates_minutes) {
    const SessionVectorPredictor predictor(fit, embedding, SessionOptions{.half_life_minutes = half_life});
    const NextItemPredictor* predictors[] = {&predictor};
    HalfLifeTrial trial{half_life, ReplayNextClicks(validation, predictors, tuning.k).front()};
    if (trial.metrics.predictions > 0 && trial.metrics.MeanReciprocalRank() > best_mrr) {
      best_mrr = trial.metrics.MeanReciprocalRank();
      choice.half_life_minutes = half_life;
    }
    choice.trials.push_back(std::move(trial));
  }
  return choice;
}

}  // namespace tessera
