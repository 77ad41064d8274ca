// BackboneEncoder: photo vectors from a pretrained MobileNetV2, run with libtorch on the CPU.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "encode/image_decoder.h"
#include "encode/image_encoder.h"

namespace tessera {

class KerasModel;

// The network layer whose output BackboneEncoder returns as the photo's vector.
enum class BackboneFeatures {
  // dense_2: the 128 ReLU units that the 5-class softmax reads. They are trained for those 5
  // classes, so they separate kinds of products poorly.
  kPenultimate,
  // flatten_1: the 1280 channel averages of MobileNetV2's last convolution, before the classifier
  // head. These are the general-purpose ImageNet features.
  kPooled,
};

struct BackboneEncoderOptions {
  // Folder with model.json and weights.bin, as scripts/fetch-models.sh writes them
  // (<models dir>/nsfwjs-mobilenet-v2).
  std::filesystem::path model_dir;
  // libtorch intra-op threads (inside one convolution). libtorch keeps this count process-wide,
  // so it applies to every model in the process. The default is 1 because a server already
  // encodes on several request threads. Splitting these small convolutions also costs CPU: 2
  // threads used 17.7 ms of CPU per photo against 14.2 ms for 1 (encode_backbone_bench, 200
  // catalogue photos, 2-core AMD EPYC).
  int num_threads = 1;
  // Threads EncodeBatch encodes on at once, each running whole network passes (the calling
  // thread is one of them). Set it to the number of cores for ingest.
  int batch_threads = 1;
  // Photos per network pass in EncodeBatch. The default is 1 because larger passes cost more CPU
  // per photo on a CPU: 30.9 ms for 8 and 46.3 ms for 32, against 14.2 ms for 1 (same benchmark).
  size_t max_batch = 1;
  // The layer to return. On 1000 catalogue photos of 42 article types, the share of each
  // photo's 10 nearest neighbours with the same article type was 0.365 for kPenultimate, 0.561
  // for kPooled and 0.532 for ColourShapeEncoder, against 0.097 at random
  // (encode_backbone_bench --images 1000 --neighbours).
  BackboneFeatures features = BackboneFeatures::kPenultimate;
};

// One class probability of Classify.
struct ClassProbability {
  std::string name;
  float probability = 0;
};

// The MobileNetV2 of nsfwjs 4.3.0 (ImageNet-trained, top blocks fine-tuned to 5 classes: Drawing,
// Hentai, Neutral, Porn, Sexy), run by KerasModel from the files that scripts/fetch-models.sh
// unpacks. The vector is the output of the layer that options.features names, L2-normalized.
//
// Preprocessing follows nsfwjs's infer(): RGB pixels divided by 255, then resized to 224x224 with
// tf.image.resizeBilinear and alignCorners = true (skipped when the photo is already 224x224).
//
// Thread safety: every method is const and may be called from many threads at once, because
// KerasModel::Run only reads the weights and runs under a thread-local torch::InferenceMode
// (no autograd state, stricter than torch::NoGradGuard). There is no torch::nn::Module to put in
// eval mode: batch norms always use their moving statistics and Dropout is the identity.
// Errors: Encode, EncodeBatch and Classify throw std::invalid_argument for an image whose bgr size
// is not width x height x 3 or that has a zero side, and std::runtime_error when libtorch fails
// (such as running out of memory).
class BackboneEncoder final : public ImageEncoder {
 public:
  // Loads the model. Errors: those of KerasModel::Load (missing files -> kNotFound, a truncated
  // weights.bin -> kCorruption, ...), each naming the file and the fix (run scripts/setup.sh);
  // a model without the layers dense_2 and dense_3 (5 classes) -> kCorruption.
  [[nodiscard]] static Result<std::unique_ptr<BackboneEncoder>> Load(const BackboneEncoderOptions& options);
  ~BackboneEncoder() override;

  // "mobilenet-v2-nsfwjs-v1" for kPenultimate, "mobilenet-v2-nsfwjs-pooled-v1" for kPooled.
  std::string name() const override;
  size_t dimension() const override { return dimension_; }
  // Returns a unit vector of dimension() floats: 128 for kPenultimate, 1280 for kPooled. When
  // every unit is 0 (possible after a ReLU), all entries equal 1 / sqrt(dimension()).
  std::vector<float> Encode(const DecodedImage& image) const override;
  // Encodes `images` in network passes of at most max_batch photos on up to batch_threads
  // threads; returns one vector per image, in order, equal to Encode's. Every image is checked
  // before any is encoded.
  std::vector<std::vector<float>> EncodeBatch(std::span<const DecodedImage> images) const;
  // Returns the 5 class probabilities (softmax output, summing to 1) in the model's class order.
  std::vector<ClassProbability> Classify(const DecodedImage& image) const;

  // The class names in output order, from nsfwjs's nsfw_classes.js.
  static const std::vector<std::string>& ClassNames();

 private:
  BackboneEncoder(std::unique_ptr<KerasModel> model, BackboneEncoderOptions options, std::string feature_layer,
                  size_t dimension);
  std::vector<float> Preprocess(std::span<const DecodedImage> images) const;
  void EncodePass(std::span<const DecodedImage> images, std::vector<float>* out) const;

  std::unique_ptr<KerasModel> model_;
  BackboneEncoderOptions options_;
  std::string feature_layer_;
  size_t dimension_ = 0;
};

// Resizes `image` to size x size with bilinear interpolation, aligned corners (TensorFlow's
// tf.image.resizeBilinear with alignCorners = true): output pixel i samples the source at
// i * (in - 1) / (size - 1), so the corner pixels are copied. Values are rounded to 8 bits.
// Preconditions: the image is valid (bgr.size() == width * height * 3, both sides > 0) and size >= 1.
DecodedImage ResizeBilinearAlignCorners(const DecodedImage& image, int size);

}  // namespace tessera
