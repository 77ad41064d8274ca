// Trains a JointSpaceModel on (product text, photo feature) pairs with a symmetric contrastive
// loss; see docs/joint-space.md for the method and measured figures.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "encode/joint_space_metrics.h"
#include "encode/joint_space_model.h"

namespace tessera {

struct JointSpacePair {
  std::string id;            // product id; decides whether the pair is held out
  std::string text;          // what shoppers would type: the product title; used for the metrics
  // Catalogue words the title may lack (article type, colour, gender). Training appends them to
  // `text` for a seeded random extra_text_rate of the pairs in each epoch, so category words are
  // learnt while title-only text still matches. The metrics never see them.
  std::string extra_text;
  std::vector<float> photo;  // the photo feature, config.photo.dimension floats
  // Catalogue article type and colour: the supervised loss terms' classes during training, and
  // the precision figures' labels. Empty when unknown.
  PairLabels labels;
};

// Reported after every training batch.
struct JointSpaceProgress {
  size_t epoch = 0;    // 1-based
  size_t epochs = 0;
  size_t batch = 0;    // 1-based within the epoch
  size_t batches = 0;
  double loss = 0;     // mean training loss of the epoch's batches so far
  double pairs_per_second = 0;
  std::optional<double> validation_loss;  // set on the last batch of an epoch when the validation split is not empty
};

struct JointSpaceTrainingOptions {
  JointSpaceConfig config;  // config.photo must name the encoder of the pairs' photo features
  size_t epochs = 20;  // at most; early stopping on the validation loss usually ends training sooner
  size_t batch_size = 256;  // also the number of in-batch negatives + 1
  double learning_rate = 2e-3;
  // Fraction of products (by a hash of their id, so the split does not depend on the seed or the
  // order of the pairs) kept out of training and of validation, for the final held-out metrics only.
  double holdout_fraction = 0.1;
  // Fraction of the products not held out (by another hash of their id) kept out of training for
  // early stopping and for choosing hyper-parameters, so neither looks at the held-out pairs.
  double validation_fraction = 0.1;
  // Training stops after this many epochs without a lower validation loss, and the weights of the
  // best epoch are kept; 0 trains every epoch and keeps the last.
  size_t patience = 2;
  uint64_t seed = 42;
  // torch intra-op threads, set process-wide with torch::set_num_threads. With 1 thread the same
  // seed and pairs give bit-identical weights.
  int threads = 1;
  bool learn_temperature = true;  // otherwise fixed at 0.07
  double extra_text_rate = 0.5;   // chance per pair and epoch of training on text + extra_text
  // Weights of the supervised contrastive terms added to the loss. Each treats every in-batch
  // pair of the same class as a positive, in both directions (text to photo, photo to text). The
  // class is the article type for the first and the (article type, colour) for the second.
  // 0 leaves the loss as plain symmetric InfoNCE. The defaults were chosen on the validation split
  // of the fashion catalogue (docs/joint-space.md).
  double type_loss_weight = 1;
  double type_colour_loss_weight = 1;
  // Dropout rate on the photo projection's input and hidden layer during training.
  double photo_dropout = 0.2;
  std::function<void(const JointSpaceProgress&)> on_progress;
};

struct JointSpaceTrainingResult {
  std::unique_ptr<JointSpaceModel> model;
  JointSpaceMetrics validation;  // of the returned model; empty when no pair is in the validation split
  JointSpaceMetrics heldout;     // of the returned model; empty when nothing is held out
  std::string report_json;    // also stored in the model's provenance
};

// True when the product `id` belongs to the held-out split of `fraction`.
bool IsHeldOut(std::string_view id, double fraction);
// True when the product `id` belongs to the validation split of `fraction`. The hash differs from
// IsHeldOut's, so the two splits are drawn independently. The trainer validates only on products
// that are not held out.
bool IsValidation(std::string_view id, double fraction);

// Returns 16 hex digits of FNV-1a 64 over the pairs in id order (the lengths, then id, text,
// extra text and photo floats), so a report names the data it was trained on.
std::string JointSpaceDataHash(const std::vector<JointSpacePair>& pairs);

// Trains a model. Fails with kInvalidArgument when a pair's photo has the wrong length or a
// non-finite value, when fewer than 2 pairs are left for training, or when an option is out of
// range. The loss is symmetric InfoNCE plus the weighted supervised terms, as docs/joint-space.md
// describes.
Result<JointSpaceTrainingResult> TrainJointSpace(const std::vector<JointSpacePair>& pairs,
                                                 const JointSpaceTrainingOptions& options);

}  // namespace tessera
