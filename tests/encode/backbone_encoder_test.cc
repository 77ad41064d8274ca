// Tests of the MobileNetV2 backbone encoder and the Keras interpreter behind it. The model comes
// from scripts/fetch-models.sh (TESSERA_MODEL_DIR); the reference output comes from the real
// nsfwjs package running on TensorFlow.js in Node.js (tools/nsfwjs-reference/classify.js).

#include "encode/backbone_encoder.h"
#include "encode/keras_model.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing_support::ReadFile;
using testing_support::TempDir;

const fs::path kModelDir = fs::path(TESSERA_MODEL_DIR) / "nsfwjs-mobilenet-v2";
const fs::path kReferenceDir = fs::path(TESSERA_SOURCE_DIR) / "tools" / "nsfwjs-reference";
const fs::path kFashionImages = fs::path(TESSERA_DATA_DIR) / "fashion" / "images";
constexpr const char* kSetupFix = "run scripts/setup.sh, which downloads the model and the nsfwjs reference tools";

// Catalogue photos for the comparison: a T-shirt, a bra and an innerwear vest. The last two give
// less saturated class probabilities than most products, so a small error in the network shows.
const std::vector<std::string> kPhotoIds = {"10002", "30462", "17876"};

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, norm_a = 0, norm_b = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += double(a[i]) * b[i];
    norm_a += double(a[i]) * a[i];
    norm_b += double(b[i]) * b[i];
  }
  return dot / std::sqrt(norm_a * norm_b);
}

double Norm(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += double(x) * x;
  return std::sqrt(sum);
}

DecodedImage DecodeCataloguePhoto(const std::string& id) {
  const fs::path path = kFashionImages / (id + ".jpg");
  Result<DecodedImage> image = DecodeImage(ReadFile(path));
  EXPECT_TRUE(image.ok()) << path << ": " << image.status().ToString();
  return image.ok() ? std::move(*image) : DecodedImage{};
}

// Writes the image's pixels as raw RGB, the input format of classify.js.
void WriteRgb(const DecodedImage& image, const fs::path& path) {
  std::string rgb(image.bgr.size(), '\0');
  for (size_t p = 0; p < image.bgr.size(); p += 3) {
    rgb[p] = static_cast<char>(image.bgr[p + 2]);
    rgb[p + 1] = static_cast<char>(image.bgr[p + 1]);
    rgb[p + 2] = static_cast<char>(image.bgr[p]);
  }
  std::ofstream(path, std::ios::binary) << rgb;
}

// Runs classify.js on `photos` and returns its JSON lines, one per photo. An empty result means
// the command failed; its standard error is in the test log.
std::vector<json> RunReference(const std::vector<std::pair<DecodedImage, fs::path>>& photos) {
  std::string command = "node '" + (kReferenceDir / "classify.js").string() + "' --layer dense_2 --layer flatten_1";
  for (const auto& [image, path] : photos) {
    command += " " + std::to_string(image.width) + "x" + std::to_string(image.height) + ":'" + path.string() + "'";
  }
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[65536];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  if (pclose(pipe) != 0) return {};

  std::vector<json> results;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) results.push_back(json::parse(line));
  return results;
}

class BackboneEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    encoder_ = LoadEncoder(BackboneFeatures::kPenultimate);
    ASSERT_NE(encoder_, nullptr);
    pooled_encoder_ = LoadEncoder(BackboneFeatures::kPooled);
    ASSERT_NE(pooled_encoder_, nullptr);
  }

  // Returns the encoder, or nullptr after a failed expectation naming the load error.
  static std::unique_ptr<BackboneEncoder> LoadEncoder(BackboneFeatures features) {
    Result<std::unique_ptr<BackboneEncoder>> encoder =
        BackboneEncoder::Load({.model_dir = kModelDir, .batch_threads = 2, .max_batch = 2, .features = features});
    EXPECT_TRUE(encoder.ok()) << encoder.status().ToString() << " (" << kSetupFix << ")";
    return encoder.ok() ? std::move(*encoder) : nullptr;
  }

  std::unique_ptr<BackboneEncoder> encoder_;
  std::unique_ptr<BackboneEncoder> pooled_encoder_;
};

// Each catalogue photo goes to both sides twice: at its own size, so that both sides run their
// own resize, and resized to 224x224 by the C++ side, so that neither resizes. The two sides
// differ only in float32 summation order: on these photos the largest probability difference
// measured was 4e-7 and the cosine 1 - 1e-9, so the tolerances leave a margin of 25x or more.
TEST_F(BackboneEncoderTest, MatchesPublishedNsfwjsModel) {
  ASSERT_TRUE(fs::exists(kReferenceDir / "node_modules" / "nsfwjs")) << "nsfwjs is not installed: " << kSetupFix;
  TempDir temp("tessera-backbone-");
  ASSERT_FALSE(temp.path().empty()) << temp.error();

  std::vector<std::pair<DecodedImage, fs::path>> photos;
  for (const std::string& id : kPhotoIds) {
    DecodedImage original = DecodeCataloguePhoto(id);
    ASSERT_GT(original.width, 0) << id;
    DecodedImage resized = ResizeBilinearAlignCorners(original, 224);
    photos.emplace_back(std::move(original), temp.path() / (id + ".rgb"));
    photos.emplace_back(std::move(resized), temp.path() / (id + "-224.rgb"));
  }
  for (const auto& [image, path] : photos) WriteRgb(image, path);

  const std::vector<json> reference = RunReference(photos);
  ASSERT_EQ(reference.size(), photos.size()) << "classify.js failed (its error is above): " << kSetupFix;
  for (size_t i = 0; i < photos.size(); ++i) {
    const DecodedImage& image = photos[i].first;
    SCOPED_TRACE(photos[i].second.filename().string());

    const std::vector<ClassProbability> classes = encoder_->Classify(image);
    const std::vector<float> expected_probabilities = reference[i].at("probabilities").get<std::vector<float>>();
    ASSERT_EQ(classes.size(), expected_probabilities.size());
    for (size_t c = 0; c < classes.size(); ++c) {
      EXPECT_EQ(classes[c].name, reference[i].at("classes").at(c).get<std::string>());
      EXPECT_NEAR(classes[c].probability, expected_probabilities[c], 1e-5) << classes[c].name;
    }

    const std::vector<float> features = encoder_->Encode(image);
    const std::vector<float> expected_features = reference[i].at("layers").at("dense_2").get<std::vector<float>>();
    ASSERT_EQ(features.size(), expected_features.size());
    EXPECT_GT(Cosine(features, expected_features), 0.99999);

    const std::vector<float> pooled = pooled_encoder_->Encode(image);
    const std::vector<float> expected_pooled = reference[i].at("layers").at("flatten_1").get<std::vector<float>>();
    ASSERT_EQ(pooled.size(), expected_pooled.size());
    EXPECT_GT(Cosine(pooled, expected_pooled), 0.99999);
  }
}

TEST_F(BackboneEncoderTest, EncodeReturnsUnitVector) {
  EXPECT_EQ(encoder_->name(), "mobilenet-v2-nsfwjs-v1");
  EXPECT_EQ(encoder_->dimension(), 128u);
  EXPECT_EQ(pooled_encoder_->name(), "mobilenet-v2-nsfwjs-pooled-v1");
  EXPECT_EQ(pooled_encoder_->dimension(), 1280u);
  for (const std::string& id : kPhotoIds) {
    const DecodedImage image = DecodeCataloguePhoto(id);
    for (const BackboneEncoder* encoder : {encoder_.get(), pooled_encoder_.get()}) {
      const std::vector<float> vector = encoder->Encode(image);
      ASSERT_EQ(vector.size(), encoder->dimension()) << id << " " << encoder->name();
      EXPECT_NEAR(Norm(vector), 1.0, 1e-5) << id << " " << encoder->name();
    }
  }
}

TEST_F(BackboneEncoderTest, ClassProbabilitiesSumToOne) {
  const std::vector<ClassProbability> classes = encoder_->Classify(DecodeCataloguePhoto(kPhotoIds[0]));
  ASSERT_EQ(classes.size(), 5u);
  double sum = 0;
  for (const ClassProbability& c : classes) sum += c.probability;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(classes[2].name, "Neutral");
  EXPECT_GT(classes[2].probability, 0.5) << "a T-shirt photo should be Neutral";
}

// max_batch is 2 and batch_threads 2 in the fixture, so three photos take two network passes
// on two threads.
TEST_F(BackboneEncoderTest, EncodeBatchMatchesEncode) {
  std::vector<DecodedImage> images;
  for (const std::string& id : kPhotoIds) images.push_back(DecodeCataloguePhoto(id));
  const std::vector<std::vector<float>> batch = encoder_->EncodeBatch(images);
  ASSERT_EQ(batch.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<float> single = encoder_->Encode(images[i]);
    ASSERT_EQ(batch[i].size(), single.size());
    EXPECT_GT(Cosine(batch[i], single), 0.99999) << kPhotoIds[i];
  }
}

// Four threads encode the same photos at once, each starting at a different photo so that
// concurrent calls see different inputs. Each result must equal the one-thread result.
TEST_F(BackboneEncoderTest, ConcurrentEncodeMatchesSequential) {
  std::vector<DecodedImage> images;
  std::vector<std::vector<float>> expected;
  for (const std::string& id : kPhotoIds) {
    images.push_back(DecodeCataloguePhoto(id));
    expected.push_back(encoder_->Encode(images.back()));
  }
  constexpr int kThreads = 4, kRounds = 3;
  std::vector<std::vector<std::vector<float>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t call = 0; call < kRounds * images.size(); ++call) {
        results[t].push_back(encoder_->Encode(images[(call + t) % images.size()]));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(results[t].size(), kRounds * images.size()) << "thread " << t;
    for (size_t i = 0; i < results[t].size(); ++i) {
      EXPECT_EQ(results[t][i], expected[(i + t) % images.size()]) << "thread " << t << " call " << i;
    }
  }
}

TEST_F(BackboneEncoderTest, InvalidImageThrows) {
  EXPECT_THROW(encoder_->Encode(DecodedImage{}), std::invalid_argument);
  EXPECT_THROW(encoder_->Encode(DecodedImage{.width = 2, .height = 2, .bgr = std::vector<uint8_t>(5)}),
               std::invalid_argument);
}

TEST(ResizeBilinearAlignCornersTest, KeepsCornersAndInterpolates) {
  // A 2x2 image resized to 3x3: the corners are copied, an edge midpoint is the mean of its two
  // corners and the centre the mean of all four. All three channels hold the same values.
  const std::vector<uint8_t> corners = {0, 100, 200, 40};  // top-left, top-right, bottom-left, bottom-right
  DecodedImage image{.width = 2, .height = 2, .bgr = {}};
  for (uint8_t value : corners) image.bgr.insert(image.bgr.end(), 3, value);
  const DecodedImage resized = ResizeBilinearAlignCorners(image, 3);
  ASSERT_EQ(resized.width, 3);
  ASSERT_EQ(resized.height, 3);
  ASSERT_EQ(resized.bgr.size(), 27u);

  const std::vector<int> expected = {0, 50, 100, 100, 85, 70, 200, 120, 40};  // row-major
  for (size_t p = 0; p < expected.size(); ++p) {
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(resized.bgr[p * 3 + c], expected[p]) << "pixel " << p << " channel " << c;
  }
}

// Load errors: each names the file and the fix.
class BackboneLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kModelDir / "model.json")) << kModelDir << " is missing: " << kSetupFix;
    ASSERT_FALSE(temp_.path().empty()) << temp_.error();
  }

  // Writes model.json into the temporary folder, after `edit` changes it.
  void WriteModelJson(const std::function<void(json&)>& edit) {
    json model = json::parse(ReadFile(kModelDir / "model.json"));
    edit(model);
    std::ofstream(temp_.path() / "model.json") << model.dump();
  }

  void CopyWeights(size_t truncate_to = std::string::npos) {
    const std::string weights = ReadFile(kModelDir / "weights.bin");
    std::ofstream(temp_.path() / "weights.bin", std::ios::binary) << weights.substr(0, truncate_to);
  }

  Status LoadStatus() {
    Result<std::unique_ptr<BackboneEncoder>> encoder = BackboneEncoder::Load({.model_dir = temp_.path()});
    return encoder.ok() ? Status::Ok() : encoder.status();
  }

  TempDir temp_{"tessera-backbone-load-"};
};

TEST_F(BackboneLoadTest, MissingModelDirFails) {
  const Status status = LoadStatus();
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  EXPECT_NE(status.message().find("model.json"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("scripts/setup.sh"), std::string::npos) << status.message();
}

TEST_F(BackboneLoadTest, TruncatedWeightsFail) {
  WriteModelJson([](json&) {});
  CopyWeights(1000);
  const Status status = LoadStatus();
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find("weights.bin"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("scripts/setup.sh"), std::string::npos) << status.message();
}

TEST_F(BackboneLoadTest, UnknownLayerTypeRejected) {
  WriteModelJson([](json& model) {
    json& layers = model["modelTopology"]["model_config"]["config"]["layers"];
    for (json& layer : layers) {
      if (layer["name"] == "Conv1_relu") layer["class_name"] = "PReLU";
    }
  });
  CopyWeights();
  const Status status = LoadStatus();
  EXPECT_EQ(status.code(), StatusCode::kUnsupported) << status.ToString();
  EXPECT_NE(status.message().find("Conv1_relu"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("PReLU"), std::string::npos) << status.message();
}

TEST_F(BackboneLoadTest, WrongKernelShapeRejected) {
  WriteModelJson([](json& model) {
    for (json& weight : model["weightsManifest"][0]["weights"]) {
      if (weight["name"] == "Conv1/kernel") weight["shape"] = {3, 3, 1, 96};  // same size, wrong shape
    }
  });
  CopyWeights();
  const Status status = LoadStatus();
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  EXPECT_NE(status.message().find("Conv1"), std::string::npos) << status.message();
}

// A hand-made model checks TensorFlow's "same" padding at stride 2, which MobileNetV2 does not use
// because it pads explicitly with ZeroPadding2D. With a 4x4 input and a 3x3 kernel of ones the
// output is 2x2, and the single padding row and column go at the bottom and right.
TEST(KerasModelTest, SamePaddingStrideTwoPadsBottomRight) {
  TempDir temp("tessera-keras-");
  ASSERT_FALSE(temp.path().empty()) << temp.error();
  const json conv_config = {{"name", "conv"},        {"filters", 1},     {"kernel_size", {3, 3}},
                            {"strides", {2, 2}},     {"padding", "same"}, {"data_format", "channels_last"},
                            {"dilation_rate", {1, 1}}, {"activation", "linear"}, {"use_bias", true}};
  const json model = {
      {"modelTopology",
       {{"model_config",
         {{"class_name", "Model"},
          {"config",
           {{"name", "tiny"},
            {"layers",
             {{{"name", "input"}, {"class_name", "InputLayer"},
               {"config", {{"batch_input_shape", {nullptr, 4, 4, 1}}}}, {"inbound_nodes", json::array()}},
              {{"name", "conv"}, {"class_name", "Conv2D"}, {"config", conv_config},
               {"inbound_nodes", {{{"input", 0, 0, json::object()}}}}},
              {{"name", "flat"}, {"class_name", "Flatten"}, {"config", {{"data_format", "channels_last"}}},
               {"inbound_nodes", {{{"conv", 0, 0, json::object()}}}}}}},
            {"input_layers", {{"input", 0, 0}}},
            {"output_layers", {{"flat", 0, 0}}}}}}}}},
      {"weightsManifest",
       {{{"paths", {"weights.bin"}},
         {"weights",
          {{{"name", "conv/kernel"}, {"shape", {3, 3, 1, 1}}, {"dtype", "float32"}},
           {{"name", "conv/bias"}, {"shape", {1}}, {"dtype", "float32"}}}}}}}};
  std::ofstream(temp.path() / "model.json") << model.dump();
  std::vector<float> weights(9, 1.0f);
  weights.push_back(0.5f);  // bias
  std::ofstream(temp.path() / "weights.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(weights.data()), static_cast<std::streamsize>(weights.size() * sizeof(float)));

  Result<std::unique_ptr<KerasModel>> loaded = KerasModel::Load(temp.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::vector<float> input(16);
  for (int i = 0; i < 16; ++i) input[i] = float(i + 1);  // rows 1..4, 5..8, 9..12, 13..16
  const std::string outputs[] = {"flat"};
  Result<std::vector<std::vector<float>>> result = (*loaded)->Run(input.data(), 1, outputs);
  ASSERT_TRUE(result.ok()) << result.status().ToString();

  // Windows: rows 0-2 x columns 0-2, rows 0-2 x columns 2-3, rows 2-3 x columns 0-2, rows 2-3 x
  // columns 2-3, plus the bias 0.5. Padding one row and column before instead would give
  // 14.5, 30.5, 57.5 and 99.5.
  const std::vector<float> expected = {54.5f, 45.5f, 72.5f, 54.5f};
  EXPECT_EQ(result->front(), expected);
}

}  // namespace
}  // namespace tessera
