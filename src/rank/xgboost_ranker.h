// XgboostRanker: the learned rankers, trained and run with XGBoost's C API (Debian's libxgboost).
//
// Two kinds share the file format and the code:
//   - "linear": score = bias + sum over modalities of weight x similarity, the weights learned by
//     XGBoost's linear booster (coordinate descent) with the pairwise ranking objective. The
//     similarities are BM25F and BM25 of the words read from photos (OCR), the photo-to-photo
//     cosine, and the joint space's cosines to the fused vector and to each of its parts (text,
//     projected photo, photo text).
//   - "lambdamart": gradient-boosted trees with the LambdaMART objective (rank:ndcg; Burges,
//     "From RankNet to LambdaRank to LambdaMART: An Overview", 2010) over every feature.
// Explanations are XGBoost's feature contributions: SHAP values for trees (Lundberg et al.,
// "Consistent Individualized Feature Attribution for Tree Ensembles", 2018) and weight x value
// for the linear booster. Either way bias + contributions = the score.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "rank/features.h"
#include "rank/ranker.h"

namespace tessera {

// Version of the ranker model file layout; Load rejects every other version.
inline constexpr uint32_t kRankerFormatVersion = 1;

enum class RankerKind { kLinear, kLambdaMart };
// "linear" or "lambdamart".
const char* RankerKindName(RankerKind kind);
Result<RankerKind> RankerKindFromName(const std::string& name);
// The features a ranker of `kind` reads.
std::vector<Feature> RankerFeatures(RankerKind kind);

// Feature rows grouped by query, with graded labels, for training and evaluation.
struct RankingDataset {
  std::vector<float> values;         // rows() x kFeatureCount, in Feature order
  std::vector<float> labels;         // one per row, the graded relevance
  std::vector<uint32_t> group_sizes;  // rows per query, in order
  std::vector<std::string> query_ids;

  size_t rows() const { return labels.size(); }
  // Appends one query's rows; `labels` has one value per row of `features`.
  void AddQuery(const std::string& query_id, const FeatureMatrix& features, const std::vector<float>& labels);
};

struct RankerTrainingOptions {
  RankerKind kind = RankerKind::kLambdaMart;
  size_t max_rounds = 400;      // boosting rounds at most
  size_t patience = 40;         // rounds without a better validation nDCG@10 before stopping
  // eta, or the linear booster's step size. Trees of depth 4 at eta 0.05 had the highest
  // validation nDCG@10 of the six settings in BENCHMARKS.md ("Learned ranking").
  double learning_rate = 0.05;
  int max_depth = 4;            // trees only
  // Trees only: XGBoost's objective, "rank:ndcg" (LambdaMART) or "rank:pairwise" (the same
  // pairs without the nDCG weight). XGBoost 1.7's rank:ndcg kept one or two trees on judged
  // queries of 500 candidates beside logged queries of 200, where rank:pairwise kept 93
  // (BENCHMARKS.md, "Learned personal ranking").
  std::string tree_objective = "rank:ndcg";
  double min_child_weight = 1;  // trees only
  double subsample = 0.8;       // trees only: rows sampled per tree
  uint64_t seed = 42;
  int threads = 1;              // XGBoost threads while training
  // The consensus depth the rows were extracted with, recorded in the model so that serving
  // extracts the same features.
  size_t consensus_depth = kDefaultConsensusDepth;
};

struct RankerTrainingProgress {
  size_t round = 0;        // 1-based
  size_t max_rounds = 0;
  double train_ndcg = 0;   // nDCG@10 on the training queries after this round
  double validation_ndcg = 0;
  size_t best_round = 0;
};

// Thread safety: after Load or Train, the ranker is immutable and every const method may run
// concurrently (XGBoost's in-place prediction is thread-safe; explanations take a lock).
class XgboostRanker final : public Ranker {
 public:
  ~XgboostRanker() override;

  // Trains on `train`, choosing the number of rounds by nDCG@10 on `validation` (which must have
  // at least one query). `info` is stored in the model file's header under "training".
  static Result<std::unique_ptr<XgboostRanker>> Train(
      const RankingDataset& train, const RankingDataset& validation, const RankerTrainingOptions& options,
      const std::function<void(const RankerTrainingProgress&)>& on_progress = {});

  // Reads a model written by Save. Fails with kNotFound when the file is missing, with
  // kCorruption when it is damaged, and with kInvalidArgument, naming the features, when the
  // model reads a feature this build does not extract or was trained on another feature schema.
  static Result<std::unique_ptr<XgboostRanker>> Load(const std::string& path);
  Status Save(const std::string& path) const;

  std::string name() const override;
  std::vector<Feature> features() const override { return features_; }
  void Rank(const FeatureMatrix& features, std::vector<RankedItem>* items) const override;
  ScoreExplanation Explain(const FeatureMatrix& features, size_t row) const override;
  float personal_scale() const override { return personal_scale_; }
  size_t consensus_depth() const override { return consensus_depth_; }
  bool learned_personal() const override { return learned_personal_; }

  // Scores `rows` feature rows (kFeatureCount floats each, in Feature order), in order.
  std::vector<float> Predict(const std::vector<float>& values, size_t rows) const;

  RankerKind kind() const { return kind_; }
  // Training parameters, split and metrics, as stored in the file; the caller may add to it
  // before Save.
  nlohmann::json& report() { return report_; }
  const nlohmann::json& report() const { return report_; }

 private:
  struct Booster;
  XgboostRanker(RankerKind kind, std::vector<Feature> features, std::unique_ptr<Booster> booster);

  RankerKind kind_;
  std::vector<Feature> features_;
  std::unique_ptr<Booster> booster_;
  float personal_scale_ = 1.0f;
  size_t consensus_depth_ = kDefaultConsensusDepth;
  bool learned_personal_ = false;
  nlohmann::json report_ = nlohmann::json::object();
};

}  // namespace tessera
