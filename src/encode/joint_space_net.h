// The torch modules behind JointSpaceModel. Internal to the encode library: only
// joint_space_model.cc and joint_space_trainer.cc include it, because <torch/torch.h> is slow to
// compile.
#pragma once

#include <memory>

#include <torch/torch.h>

#include "analysis/analyzer.h"
#include "encode/joint_space_model.h"
#include "encode/text_features.h"

namespace tessera {

// Output norms below this are treated as zero when normalizing.
inline constexpr double kNormEpsilon = 1e-12;

// Hashed text features -> mean embedding -> linear layer -> unit vector.
struct TextTowerImpl : torch::nn::Module {
  TextTowerImpl(int64_t buckets, int64_t embedding_dim, int64_t dimension);
  // `ids`: every text's feature ids concatenated; `offsets`: where each text starts in `ids`.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& offsets);

  torch::nn::EmbeddingBag bag{nullptr};
  torch::nn::Linear projection{nullptr};
};
TORCH_MODULE(TextTower);

// Photo feature -> standardization -> Linear, ReLU, Linear -> unit vector.
struct PhotoTowerImpl : torch::nn::Module {
  PhotoTowerImpl(int64_t feature_dim, int64_t hidden_dim, int64_t dimension);
  torch::Tensor forward(const torch::Tensor& features);

  // Per-dimension mean and 1 / standard deviation of the training photo features, so features of
  // any scale (unit-length histograms, unnormalized CNN activations) reach the MLP centred.
  torch::Tensor mean, inverse_std;
  torch::nn::Linear hidden{nullptr};
  torch::nn::Linear output{nullptr};
  // Dropout rate on the MLP's input and hidden layer in training mode. Not saved: it has no effect
  // in evaluation mode, which is the only mode a loaded model runs in.
  double dropout = 0;
};
TORCH_MODULE(PhotoTower);

// Both towers and the learnable temperature of the contrastive loss, saved as one module.
struct JointSpaceNetImpl : torch::nn::Module {
  explicit JointSpaceNetImpl(const JointSpaceConfig& config);

  TextTower text{nullptr};
  PhotoTower photo{nullptr};
  // log(1 / temperature); logits are exp(logit_scale) * cosine (CLIP, Radford et al. 2021).
  torch::Tensor logit_scale;
};
TORCH_MODULE(JointSpaceNet);

// Texts as the EmbeddingBag inputs: flat feature ids and per-text offsets.
struct TextBatch {
  torch::Tensor ids;
  torch::Tensor offsets;
};
TextBatch MakeTextBatch(const std::vector<const std::vector<int64_t>*>& features);

struct JointSpaceModelAccess {
  static JointSpaceNet& Net(JointSpaceModel& model);
  static const TextFeaturizer& Featurizer(const JointSpaceModel& model);
  static JointSpaceProvenance& Provenance(JointSpaceModel& model);
};

}  // namespace tessera
