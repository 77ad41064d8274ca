// The torch modules behind ClickModel. Internal to the click model library: only click_model.cc
// and click_model_trainer.cc include it, because <torch/torch.h> is slow to compile.
#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "analysis/analyzer.h"
#include "rank/click_model.h"

namespace tessera {

// One batch of network inputs, built by MakeClickBatch.
struct ClickBatch {
  torch::Tensor query_ids, query_offsets;  // EmbeddingBag inputs of the query texts
  torch::Tensor title_ids, title_offsets;  // and of the product titles
  torch::Tensor photo;       // rows x photo_dimension, zeros without a photo
  torch::Tensor has_photo;   // rows x 1
  // Spoken queries only: their MFCC frames, one tensor (frames x coefficients) each, and the
  // batch rows they belong to.
  std::vector<torch::Tensor> audio;
  std::vector<int64_t> audio_rows;
  torch::Tensor features;    // rows x ClickModelFeatures().size(), NaN when missing
  torch::Tensor rank;        // rows, int64, 0 when unknown
  torch::Tensor clicked;     // rows, float
};

struct ClickModelNetImpl : torch::nn::Module {
  explicit ClickModelNetImpl(const ClickModelConfig& config);

  // The relevance logit f of every row (a rows-long vector).
  torch::Tensor Relevance(const ClickBatch& batch);
  // log P(examine rank) of every row: 0 for rank 1 and for an unknown rank.
  torch::Tensor LogExamination(const torch::Tensor& rank);

  ClickModelConfig config;
  torch::nn::EmbeddingBag text{nullptr};
  // Training-set statistics, so inputs of any scale reach the layers centred.
  torch::Tensor photo_mean, photo_inverse_std, feature_mean, feature_inverse_std;
  torch::nn::Linear photo{nullptr};
  torch::nn::GRU audio{nullptr};
  torch::nn::Linear hidden{nullptr};
  torch::nn::Linear output{nullptr};
  // Unconstrained examination parameters; log P(examine r) = -softplus(position[r]) for r >= 2.
  torch::Tensor position;
};
TORCH_MODULE(ClickModelNet);

// One row's inputs, by pointer; everything must outlive the MakeClickBatch call.
struct ClickRowInput {
  const std::vector<int64_t>* query_features = nullptr;  // TextFeaturizer ids of the query
  const std::vector<int64_t>* title_features = nullptr;
  const std::vector<float>* photo = nullptr;             // empty: no photo
  const MfccFrames* audio = nullptr;                     // null or no frames: a typed query
  std::span<const float> features;                       // ClickModelFeatures() order; empty: all missing
  uint32_t rank = 0;
  float clicked = 0;
};

ClickBatch MakeClickBatch(const ClickModelConfig& config, std::span<const ClickRowInput> rows);

// Log P(click) and log P(no click) of each row, from f and the examination term, computed in log
// space so neither underflows.
std::pair<torch::Tensor, torch::Tensor> ClickLogProbabilities(ClickModelNet& net, const ClickBatch& batch);

struct ClickModelAccess {
  static ClickModelNet& Net(ClickModel& model);
  static const TextFeaturizer& Featurizer(const ClickModel& model);
};

}  // namespace tessera
