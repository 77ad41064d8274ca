// JointSpaceModel: maps product text and photo features into one vector space, where a title and
// a photo of the same product lie close together. Trained by JointSpaceTrainer; docs/joint-space.md
// describes the method and the file format.
//
// Text side: TextFeaturizer's hashed features -> mean of their embeddings -> linear layer.
// Photo side: a photo feature vector from a named ImageEncoder -> standardization with the
// training set's mean and standard deviation -> two-layer MLP. Both outputs are L2-normalized,
// so the dot product of two outputs is their cosine similarity.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "encode/text_features.h"

namespace tessera {

// Version of the model file layout written by Save; Load rejects every other version.
inline constexpr uint32_t kJointSpaceFormatVersion = 1;

// The photo features a model reads: the ImageEncoder::name() that made them and their length.
struct PhotoFeatureSpec {
  std::string encoder;
  size_t dimension = 0;

  bool operator==(const PhotoFeatureSpec&) const = default;
};

struct JointSpaceConfig {
  size_t dimension = 256;           // D, the length of every output vector
  size_t text_embedding_dim = 128;  // columns of the text embedding table
  size_t photo_hidden_dim = 512;    // hidden layer of the photo MLP
  TextHashing hashing;
  PhotoFeatureSpec photo;
};

// The training facts a saved model records.
struct JointSpaceProvenance {
  std::string data_hash;    // 16 hex digits of FNV-1a over the training pairs; "" when untrained
  size_t training_pairs = 0;
  uint64_t seed = 0;
  std::string report_json;  // the trainer's report (metrics, losses, options); "" when untrained
  // 16 hex digits of the model file's checksum. It differs between models retrained on the
  // same data, and is "" for a model not loaded from a file.
  std::string fingerprint;
};

// Thread safety: after Create or Load returns, the model is immutable and every const method may
// be called concurrently. Each call runs the torch modules in evaluation mode under a thread-local
// c10::InferenceMode guard, so no call writes shared state. Calls use torch's intra-op thread
// pool, whose size is process-wide (torch::set_num_threads); it is 1 unless the caller sets it.
class JointSpaceModel {
 public:
  // Returns a model with freshly initialized weights (torch::manual_seed(seed) first). Fails with
  // kInvalidArgument when a size in `config` is zero or the photo encoder name is empty, and
  // kInternal when the Analyzer cannot be created.
  static Result<std::unique_ptr<JointSpaceModel>> Create(const JointSpaceConfig& config, uint64_t seed);

  // Reads a model written by Save. Fails with kNotFound when the file is missing, and with
  // kCorruption when it is not a joint-space model, has another format version or fails its
  // checksum. Fails with kInvalidArgument when the model was trained on photo features other than
  // `photo` (encoder name or dimension), because its photo projection would then be meaningless.
  static Result<std::unique_ptr<JointSpaceModel>> Load(const std::string& path, const PhotoFeatureSpec& photo);

  ~JointSpaceModel();

  // Writes the model to `path` (replacing it through a temporary file and a rename), in the
  // format of docs/joint-space.md.
  Status Save(const std::string& path) const;

  // Returns the unit vector (dimension() floats) of a text. Text longer than
  // kMaxFeaturizedTextBytes is cut. Text without features (empty, only punctuation) maps to one
  // fixed unit vector: the normalized bias of the text layer.
  std::vector<float> EncodeText(std::string_view text) const;
  // Returns texts.size() x dimension() floats, row-major, row i for texts[i].
  std::vector<float> EncodeTexts(std::span<const std::string> texts) const;

  // Returns the unit vector of one photo feature vector. Fails with kInvalidArgument when its
  // length is not config().photo.dimension or it contains a NaN or infinity.
  Result<std::vector<float>> ProjectPhoto(std::span<const float> feature) const;
  // `features` contains `count` photo feature vectors of config().photo.dimension floats each,
  // row-major. Returns count x dimension() floats, row-major.
  Result<std::vector<float>> ProjectPhotos(std::span<const float> features, size_t count) const;

  size_t dimension() const;
  const JointSpaceConfig& config() const;
  const JointSpaceProvenance& provenance() const;

 private:
  friend struct JointSpaceModelAccess;  // the trainer's access to the torch modules
  struct Rep;
  explicit JointSpaceModel(std::unique_ptr<Rep> rep);
  // Returns a model of `config` with weights drawn from torch's global generator in its current state.
  static Result<std::unique_ptr<JointSpaceModel>> Build(const JointSpaceConfig& config);
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
