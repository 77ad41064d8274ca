// ClickModel: a neural click model that predicts whether a shopper clicks a product shown for a
// query, trained on click logs with libtorch. docs/click-model.md describes the network, the
// training and the file format. This header is free of torch types; the modules live in
// click_model_net.h, which only click_model.cc and click_model_trainer.cc include.
//
// The network reads four branches, concatenated into two dense layers:
//  - text: the query and the product title as fastText-style hashed features (TextFeaturizer),
//    each the mean of its feature embeddings, with their element-wise product;
//  - photo: the photo encoder's vector of the product, standardized, through a one-layer MLP,
//    beside a has-photo flag;
//  - audio: the MFCC frames of a spoken query through a GRU, beside a has-audio flag; zeros for a
//    typed query;
//  - ranking features of the (query, product) pair from the FeatureMatrix, standardized, with one
//    missing flag each.
// The output is a relevance logit f. Training also learns the examination probability of each
// logged rank, as in the position-based click model: P(click) = sigmoid(f) x P(examine rank).
// Serving ranks by f alone, so the logged position is never an input at inference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "encode/mfcc.h"
#include "encode/text_features.h"
#include "rank/features.h"

namespace tessera {

// Version of the click model file layout; Load rejects every other version.
inline constexpr uint32_t kClickModelFormatVersion = 1;

// The ranking features the click model reads, in its input order.
std::vector<Feature> ClickModelFeatures();

// A query as the model reads it: its text, and its MFCC frames when it was spoken.
struct ClickQueryInput {
  std::string text;
  MfccFrames audio;  // audio.frames == 0 for a typed query
};

// A product as the model reads it.
struct ClickProductInput {
  std::string title;
  std::vector<float> photo;  // the photo encoder's vector; empty when the product has no photo
};

// One shown (query, product) pair of a click log.
struct ClickExample {
  uint32_t query = 0;    // index into ClickDataset::queries
  uint32_t product = 0;  // index into ClickDataset::products
  std::vector<float> features;  // ClickModelFeatures() order, NaN when missing; empty: all missing
  uint32_t rank = 0;     // 1-based logged rank; 0 when unknown (then no examination term)
  float clicked = 0;     // 1 or 0
};

struct ClickDataset {
  std::vector<ClickQueryInput> queries;
  std::vector<ClickProductInput> products;
  std::vector<ClickExample> train;       // fitted
  std::vector<ClickExample> validation;  // chooses the epoch
};

struct ClickModelConfig {
  std::string photo_encoder;    // ImageEncoder::name() of the photo vectors; "" when none are used
  size_t photo_dimension = 0;   // floats per photo vector; 0 when none are used
  size_t text_embedding_dim = 32;
  size_t photo_hidden_dim = 64;
  size_t audio_hidden_dim = 32;
  size_t mfcc_coefficients = 13;
  size_t hidden_dim = 64;
  size_t max_rank = 10;         // examination is learned for ranks 2..max_rank (rank 1 is 1); later ranks share max_rank's
  TextHashing hashing{.buckets = 1u << 16};
};

struct ClickTrainingOptions {
  size_t epochs = 8;            // at most
  size_t patience = 2;          // epochs without a lower validation loss before stopping
  size_t batch_size = 256;
  double learning_rate = 2e-3;  // Adam
  uint64_t seed = 42;           // torch's generator and the shuffle
  int threads = 1;              // torch intra-op threads
};

struct ClickTrainingProgress {
  size_t epoch = 0;  // 1-based
  size_t epochs = 0;
  size_t batch = 0;  // 1-based, within the epoch
  size_t batches = 0;
  double train_loss = 0;       // mean over the epoch's batches so far
  double validation_loss = 0;  // after the epoch's last batch; 0 before
};

// Binary cross-entropy, accuracy at P = 0.5 and ROC AUC of click predictions.
struct ClickMetrics {
  size_t examples = 0;
  double click_rate = 0;  // share of clicked examples; 1 - click_rate is the accuracy of never predicting a click
  double loss = 0;
  double accuracy = 0;
  double auc = 0;  // ties count half; 0.5 when every example has the same label
};

// Returns the ROC AUC of `scores` against `labels` (1 or 0): the chance that a random positive
// scores above a random negative, ties counting half. 0.5 when one class is absent.
double RocAuc(std::span<const float> scores, std::span<const float> labels);

// Thread safety: after Train or Load the model is immutable and every const method may run
// concurrently; each call runs under a thread-local c10::InferenceMode.
class ClickModel {
 public:
  ~ClickModel();

  // Trains on data.train, keeping the epoch with the lowest loss on data.validation (the last
  // epoch when validation is empty). Fails with kInvalidArgument when data.train is empty, an
  // index is out of range, a feature row has the wrong length, or a photo has the wrong length.
  static Result<std::unique_ptr<ClickModel>> Train(
      const ClickDataset& data, const ClickModelConfig& config, const ClickTrainingOptions& options,
      const std::function<void(const ClickTrainingProgress&)>& on_progress = {});

  // Reads a model written by Save. Fails with kNotFound when the file is missing, kCorruption
  // when it is damaged, and kInvalidArgument when it reads another feature schema.
  static Result<std::unique_ptr<ClickModel>> Load(const std::string& path);
  Status Save(const std::string& path) const;

  // Returns the relevance logits f, one per product, without the examination term. `features`
  // contains one row per product, in order (kFeatureCount floats each, as
  // Engine::ExtractFeatures returns them).
  std::vector<float> Score(const ClickQueryInput& query, std::span<const ClickProductInput* const> products,
                           const FeatureMatrix& features) const;

  // Gradient x input of the relevance logit f of one product, per ranking feature in
  // ClickModelFeatures() order: df/dx times (x - the training mean of x). A missing feature gets 0.
  // `features` contains the product's ClickModelFeatures() values. The text, photo and audio inputs
  // are held fixed and get no share.
  std::vector<float> FeatureAttributions(const ClickQueryInput& query, const ClickProductInput& product,
                                         std::span<const float> features) const;

  // Click predictions P(click) = sigmoid(f) x P(examine rank) for `examples` of `data`'s
  // queries and products, and their metrics against the clicks.
  ClickMetrics Evaluate(const ClickDataset& data, std::span<const ClickExample> examples) const;

  // The learned P(examine rank) for ranks 1..max_rank; rank 1 is fixed at 1.
  std::vector<double> Examination() const;

  const ClickModelConfig& config() const;
  // Training options, history and metrics, stored in the file header; the caller may add to it
  // before Save.
  nlohmann::json& report();
  const nlohmann::json& report() const;

 private:
  friend struct ClickModelAccess;  // the trainer's access to the torch modules
  struct Rep;
  explicit ClickModel(std::unique_ptr<Rep> rep);
  static Result<std::unique_ptr<ClickModel>> Build(const ClickModelConfig& config);
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
