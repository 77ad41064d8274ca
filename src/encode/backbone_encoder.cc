#include "encode/backbone_encoder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "encode/keras_model.h"

namespace tessera {
namespace {

// Layer names in nsfwjs 4.3.0's MobileNetV2 (model.json). The head is flatten_1 (1280) -> dense_1
// (256, ReLU) -> dense_2 (128, ReLU) -> dense_3 (5, softmax), with Dropout layers between them
// that are the identity at inference.
constexpr const char* kPooledLayer = "flatten_1";
constexpr const char* kPenultimateLayer = "dense_2";
constexpr const char* kClassLayer = "dense_3";
constexpr int kInputSize = 224;

void CheckImage(const DecodedImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.bgr.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3) {
    throw std::invalid_argument("invalid image: " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                                " with " + std::to_string(image.bgr.size()) + " bytes, expected width x height x 3 > 0");
  }
}

// Bilinear resize with aligned corners of an interleaved height x width x channels image, with
// the arithmetic of TensorFlow.js's CPU kernel (tfjs-backend-cpu 4.22, ResizeBilinear.js, with
// alignCorners = true and halfPixelCenters = false): interpolate along the row, then between rows,
// in double precision. cv::resize is not used because its INTER_LINEAR samples at half-pixel
// centres, and cv::remap rounds sample positions to 1/32 pixel (INTER_BITS = 5).
template <typename Pixel, typename Store>
void ResizeAlignCorners(const Pixel* source, int height, int width, int channels, int size, Store store) {
  const double row_ratio = size > 1 ? double(height - 1) / (size - 1) : 0.0;
  const double column_ratio = size > 1 ? double(width - 1) / (size - 1) : 0.0;
  for (int r = 0; r < size; ++r) {
    const double source_row = row_ratio * r;
    const int top = static_cast<int>(std::floor(source_row));
    const int bottom = std::min(height - 1, static_cast<int>(std::ceil(source_row)));
    const double row_fraction = source_row - top;
    for (int c = 0; c < size; ++c) {
      const double source_column = column_ratio * c;
      const int left = static_cast<int>(std::floor(source_column));
      const int right = std::min(width - 1, static_cast<int>(std::ceil(source_column)));
      const double column_fraction = source_column - left;
      for (int d = 0; d < channels; ++d) {
        const auto at = [&](int y, int x) { return double(source[(size_t(y) * width + x) * channels + d]); };
        const double upper = at(top, left) + (at(top, right) - at(top, left)) * column_fraction;
        const double lower = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * column_fraction;
        store((size_t(r) * size + c) * channels + d, upper + (lower - upper) * row_fraction);
      }
    }
  }
}

// Scales each vector to unit length, or to the uniform unit vector when it is all zeros.
void Normalize(std::vector<float>& vector) {
  double sum = 0;
  for (float v : vector) sum += double(v) * v;
  if (sum == 0) {
    std::fill(vector.begin(), vector.end(), static_cast<float>(1.0 / std::sqrt(double(vector.size()))));
    return;
  }
  const double norm = std::sqrt(sum);
  for (float& v : vector) v = static_cast<float>(v / norm);
}

}  // namespace

const std::vector<std::string>& BackboneEncoder::ClassNames() {
  static const std::vector<std::string> names = {"Drawing", "Hentai", "Neutral", "Porn", "Sexy"};
  return names;
}

Result<std::unique_ptr<BackboneEncoder>> BackboneEncoder::Load(const BackboneEncoderOptions& options) {
  if (options.max_batch == 0) return Status::InvalidArgument("max_batch is 0: pass 1 or more");
  if (options.batch_threads < 1) {
    return Status::InvalidArgument("batch_threads is " + std::to_string(options.batch_threads) + ": pass 1 or more");
  }
  Result<std::unique_ptr<KerasModel>> model = KerasModel::Load(options.model_dir, {.num_threads = options.num_threads});
  if (!model.ok()) return model.status();

  const std::string where = (options.model_dir / "model.json").string();
  if ((*model)->input_height() != kInputSize || (*model)->input_width() != kInputSize || (*model)->input_channels() != 3) {
    return Status::Corruption(where + ": the input is " + std::to_string((*model)->input_height()) + "x" +
                              std::to_string((*model)->input_width()) + "x" + std::to_string((*model)->input_channels()) +
                              ", expected 224x224x3 RGB: run scripts/setup.sh to download the model again");
  }
  const std::string feature_layer = options.features == BackboneFeatures::kPooled ? kPooledLayer : kPenultimateLayer;
  Result<size_t> classes = (*model)->OutputWidth(kClassLayer);
  Result<size_t> dimension = (*model)->OutputWidth(feature_layer);
  if (!classes.ok() || !dimension.ok() || *classes != ClassNames().size()) {
    return Status::Corruption(where + " is not the nsfwjs MobileNetV2: it needs layers " + feature_layer + " and " +
                              kClassLayer + " (5 classes): run scripts/setup.sh to download the model again");
  }
  return std::unique_ptr<BackboneEncoder>(new BackboneEncoder(std::move(*model), options, feature_layer, *dimension));
}

BackboneEncoder::BackboneEncoder(std::unique_ptr<KerasModel> model, BackboneEncoderOptions options,
                                 std::string feature_layer, size_t dimension)
    : model_(std::move(model)),
      options_(std::move(options)),
      feature_layer_(std::move(feature_layer)),
      dimension_(dimension) {}

std::string BackboneEncoder::name() const {
  return options_.features == BackboneFeatures::kPooled ? "mobilenet-v2-nsfwjs-pooled-v1" : "mobilenet-v2-nsfwjs-v1";
}

BackboneEncoder::~BackboneEncoder() = default;

// Returns the images as one NHWC float buffer: RGB / 255, resized to 224x224 when needed.
std::vector<float> BackboneEncoder::Preprocess(std::span<const DecodedImage> images) const {
  constexpr size_t kFloatsPerImage = size_t(kInputSize) * kInputSize * 3;
  std::vector<float> batch(images.size() * kFloatsPerImage);
  std::vector<float> rgb;
  for (size_t i = 0; i < images.size(); ++i) {
    const DecodedImage& image = images[i];
    CheckImage(image);

    // nsfwjs divides by 255 in float32 before resizing; the division happens in the same order here.
    rgb.resize(image.bgr.size());
    for (size_t p = 0; p < image.bgr.size(); p += 3) {
      rgb[p] = static_cast<float>(image.bgr[p + 2]) / 255.0f;
      rgb[p + 1] = static_cast<float>(image.bgr[p + 1]) / 255.0f;
      rgb[p + 2] = static_cast<float>(image.bgr[p]) / 255.0f;
    }
    float* out = batch.data() + i * kFloatsPerImage;
    if (image.width == kInputSize && image.height == kInputSize) {
      std::copy(rgb.begin(), rgb.end(), out);
    } else {
      ResizeAlignCorners(rgb.data(), image.height, image.width, 3, kInputSize,
                         [out](size_t index, double value) { out[index] = static_cast<float>(value); });
    }
  }
  return batch;
}

std::vector<float> BackboneEncoder::Encode(const DecodedImage& image) const {
  CheckImage(image);
  std::vector<float> vector;
  EncodePass(std::span<const DecodedImage>(&image, 1), &vector);
  return vector;
}

std::vector<std::vector<float>> BackboneEncoder::EncodeBatch(std::span<const DecodedImage> images) const {
  for (const DecodedImage& image : images) CheckImage(image);

  // Network passes of up to max_batch photos, taken in turn by up to batch_threads threads (the
  // calling thread is one of them). Each pass writes only its own slots of `vectors`.
  std::vector<std::vector<float>> vectors(images.size());
  const size_t passes = (images.size() + options_.max_batch - 1) / options_.max_batch;
  std::atomic<size_t> next_pass{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  const auto work = [&] {
    for (size_t pass; (pass = next_pass.fetch_add(1)) < passes;) {
      const size_t start = pass * options_.max_batch;
      try {
        EncodePass(images.subspan(start, std::min(options_.max_batch, images.size() - start)), vectors.data() + start);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  const size_t thread_count = std::min(passes, static_cast<size_t>(options_.batch_threads));
  for (size_t t = 1; t < thread_count; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
  if (error) std::rethrow_exception(error);
  return vectors;
}

// Runs one network pass over `images` and writes their unit vectors to out[0 .. size).
void BackboneEncoder::EncodePass(std::span<const DecodedImage> images, std::vector<float>* out) const {
  const std::vector<float> input = Preprocess(images);
  const std::string outputs[] = {feature_layer_};
  Result<std::vector<std::vector<float>>> features = model_->Run(input.data(), images.size(), outputs);
  if (!features.ok()) throw std::runtime_error(features.status().ToString());

  const std::vector<float>& flat = features->front();
  for (size_t i = 0; i < images.size(); ++i) {
    out[i].assign(flat.begin() + i * dimension_, flat.begin() + (i + 1) * dimension_);
    Normalize(out[i]);
  }
}

std::vector<ClassProbability> BackboneEncoder::Classify(const DecodedImage& image) const {
  const std::vector<float> input = Preprocess(std::span<const DecodedImage>(&image, 1));
  const std::string outputs[] = {kClassLayer};
  Result<std::vector<std::vector<float>>> probabilities = model_->Run(input.data(), 1, outputs);
  if (!probabilities.ok()) throw std::runtime_error(probabilities.status().ToString());

  std::vector<ClassProbability> result;
  for (size_t c = 0; c < ClassNames().size(); ++c) result.push_back({ClassNames()[c], probabilities->front()[c]});
  return result;
}

DecodedImage ResizeBilinearAlignCorners(const DecodedImage& image, int size) {
  CheckImage(image);
  DecodedImage resized{.width = size, .height = size, .bgr = std::vector<uint8_t>(size_t(size) * size * 3)};
  ResizeAlignCorners(image.bgr.data(), image.height, image.width, 3, size, [&resized](size_t index, double value) {
    resized.bgr[index] = static_cast<uint8_t>(std::clamp(std::lround(value), 0L, 255L));
  });
  return resized;
}

}  // namespace tessera
