// ClickModel: training on a synthetic position-biased log, the examination it learns, ranking,
// the audio branch, and the model file.
#include "rank/click_model.h"

#include <cmath>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "common/model_file.h"
#include "rank/click_model_ranker.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::TempDir;

constexpr size_t kPhotoDim = 8;

// Queries "<colour> <type>" over products "<Brand> <colour> <type>". A product is clicked with
// P = attractive x 1 / rank, where attractive is 0.8 when both words match, 0.3 when the type
// matches and 0.05 otherwise. The photo's first float is 1 when the colour is red, so the photo
// branch has something to read.
struct SyntheticLog {
  ClickDataset data;
  std::vector<ClickExample> test;
};

const std::vector<std::string> kColours = {"red", "blue", "green", "black", "white"};
const std::vector<std::string> kTypes = {"shirt", "shoe", "watch", "bag"};

double Attractive(size_t query, size_t product) {
  const size_t qc = query / kTypes.size(), qt = query % kTypes.size();
  const size_t pc = product / kTypes.size() % kColours.size(), pt = product % kTypes.size();
  if (qt != pt) return 0.05;
  return qc == pc ? 0.8 : 0.3;
}

SyntheticLog MakeLog(size_t sessions, uint64_t seed) {
  SyntheticLog log;
  for (const std::string& colour : kColours) {
    for (const std::string& type : kTypes) log.data.queries.push_back({colour + " " + type, {}});
  }
  // Two products per (colour, type).
  for (size_t p = 0; p < 2 * kColours.size() * kTypes.size(); ++p) {
    const std::string colour = kColours[p / kTypes.size() % kColours.size()];
    std::vector<float> photo(kPhotoDim, 0.1f);
    photo[0] = colour == "red" ? 1.0f : 0.0f;
    log.data.products.push_back({"Brand" + std::to_string(p % 3) + " " + colour + " " + kTypes[p % kTypes.size()], photo});
  }
  std::mt19937_64 engine(seed);
  auto unit = [&] { return static_cast<double>(engine() >> 11) * 0x1.0p-53; };
  for (size_t s = 0; s < sessions; ++s) {
    const auto q = static_cast<uint32_t>(engine() % log.data.queries.size());
    // A random ranking of 10 products, so position and relevance are independent.
    for (uint32_t rank = 1; rank <= 10; ++rank) {
      const auto p = static_cast<uint32_t>(engine() % log.data.products.size());
      const float clicked = unit() < Attractive(q, p) / rank ? 1.0f : 0.0f;
      ClickExample example{q, p, {}, rank, clicked};
      // Queries of the last colour are held out.
      if (q / kTypes.size() == kColours.size() - 1) {
        log.test.push_back(example);
      } else if (s % 5 == 0) {
        log.data.validation.push_back(example);
      } else {
        log.data.train.push_back(example);
      }
    }
  }
  return log;
}

ClickModelConfig SmallConfig() {
  ClickModelConfig config;
  config.photo_encoder = "synthetic";
  config.photo_dimension = kPhotoDim;
  config.hashing.buckets = 1u << 12;
  config.text_embedding_dim = 16;
  config.hidden_dim = 32;
  return config;
}

std::unique_ptr<ClickModel> TrainOrDie(const ClickDataset& data, uint64_t seed = 7) {
  ClickTrainingOptions options;
  options.epochs = 6;
  options.seed = seed;
  Result<std::unique_ptr<ClickModel>> model = ClickModel::Train(data, SmallConfig(), options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

// The model and log are trained once for the tests that only read them.
class ClickModelTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    log_ = new SyntheticLog(MakeLog(6000, 1));
    model_ = TrainOrDie(log_->data).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete log_;
  }
  static SyntheticLog* log_;
  static ClickModel* model_;
};
SyntheticLog* ClickModelTest::log_ = nullptr;
ClickModel* ClickModelTest::model_ = nullptr;

TEST(RocAuc, CountsOrderedPairs) {
  const std::vector<float> scores = {0.1f, 0.4f, 0.35f, 0.8f};
  const std::vector<float> labels = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(RocAuc(scores, labels), 0.75);
  EXPECT_DOUBLE_EQ(RocAuc(std::vector<float>{1, 1, 1, 1}, labels), 0.5);  // all tied
  EXPECT_DOUBLE_EQ(RocAuc(scores, std::vector<float>{1, 1, 1, 1}), 0.5);  // one class
}

TEST_F(ClickModelTest, HeldOutClicksPredicted) {
  ASSERT_NE(model_, nullptr);
  const ClickMetrics metrics = model_->Evaluate(log_->data, log_->test);
  EXPECT_EQ(metrics.examples, log_->test.size());
  EXPECT_GT(metrics.auc, 0.75) << "loss " << metrics.loss;
  EXPECT_LT(metrics.loss, 0.35);
  // Never predicting a click would score 1 - click_rate.
  EXPECT_GE(metrics.accuracy, 1 - metrics.click_rate - 0.01);
}

TEST_F(ClickModelTest, ExaminationFallsWithRank) {
  ASSERT_NE(model_, nullptr);
  const std::vector<double> examination = model_->Examination();
  ASSERT_EQ(examination.size(), 10u);
  EXPECT_DOUBLE_EQ(examination[0], 1.0);
  // The log used 1 / rank.
  EXPECT_NEAR(examination[1], 0.5, 0.12);
  EXPECT_NEAR(examination[4], 0.2, 0.08);
  EXPECT_GT(examination[1], examination[4]);
  EXPECT_GT(examination[4], examination[9]);
}

TEST_F(ClickModelTest, RankerPutsMatchingProductFirst) {
  ASSERT_NE(model_, nullptr);
  // A held-out query, "white shoe": white shoe, then black shoe, then white watch.
  const ClickQueryInput query{"white shoe", {}};
  std::vector<ClickProductInput> products = {{"Brand9 white watch", std::vector<float>(kPhotoDim, 0.1f)},
                                             {"Brand9 black shoe", std::vector<float>(kPhotoDim, 0.1f)},
                                             {"Brand9 white shoe", std::vector<float>(kPhotoDim, 0.1f)}};
  auto shared = std::shared_ptr<const ClickModel>(model_, [](const ClickModel*) {});
  ClickModelRanker ranker(shared, query, products);
  FeatureMatrix features(3);
  for (size_t r = 0; r < 3; ++r) {
    for (float& v : features.Row(r)) v = kMissingFeature;
  }
  std::vector<RankedItem> items(3);
  for (size_t r = 0; r < 3; ++r) items[r].row = r;
  ranker.Rank(features, &items);
  EXPECT_EQ(items[0].row, 2u);
  EXPECT_EQ(items[1].row, 1u);
  EXPECT_EQ(items[2].row, 0u);
  EXPECT_GT(items[0].score, items[1].score);

  // Every feature is missing here, so none gets a share and the bias is the whole score.
  const ScoreExplanation explanation = ranker.Explain(features, 2);
  EXPECT_FLOAT_EQ(explanation.bias, items[0].relevance);
  ASSERT_EQ(explanation.contributions.size(), ClickModelFeatures().size());
  for (const FeatureContribution& c : explanation.contributions) EXPECT_EQ(c.contribution, 0.0f);
}

TEST_F(ClickModelTest, ContributionsSumToTheScore) {
  ASSERT_NE(model_, nullptr);
  // Feature values far from the (missing) training mean of 0, so gradient x input is not zero.
  const ClickQueryInput query{"red shirt", {}};
  std::vector<ClickProductInput> products = {{"Brand1 red shirt", std::vector<float>(kPhotoDim, 0.1f)},
                                             {"Brand1 blue bag", std::vector<float>(kPhotoDim, 0.1f)}};
  FeatureMatrix features(2);
  for (size_t r = 0; r < 2; ++r) {
    for (float& v : features.Row(r)) v = kMissingFeature;
    features.At(r, Feature::kBm25f) = r == 0 ? 12.0f : 1.0f;
    features.At(r, Feature::kCoverage) = r == 0 ? 1.0f : 0.0f;
  }
  auto shared = std::shared_ptr<const ClickModel>(model_, [](const ClickModel*) {});
  ClickModelRanker ranker(shared, query, products);
  std::vector<RankedItem> items(2);
  for (size_t r = 0; r < 2; ++r) items[r].row = r;
  ranker.Rank(features, &items);
  for (const RankedItem& item : items) {
    const ScoreExplanation explanation = ranker.Explain(features, item.row);
    float sum = explanation.bias;
    for (const FeatureContribution& c : explanation.contributions) {
      sum += c.contribution;
      if (std::isnan(c.value)) {
        EXPECT_EQ(c.contribution, 0.0f) << FeatureName(c.feature);
      }
    }
    EXPECT_NEAR(sum, item.relevance, 1e-4);
  }
}

TEST_F(ClickModelTest, AttributionMatchesFiniteDifference) {
  ASSERT_NE(model_, nullptr);
  // The synthetic log has no feature values, so each feature's training mean is 0. The network
  // is piecewise linear, so for a small step from the mean gradient x step equals the change in f.
  const ClickQueryInput query{"red shirt", {}};
  const ClickProductInput product{"Brand1 red shirt", std::vector<float>(kPhotoDim, 0.1f)};
  const ClickProductInput* products[] = {&product};
  const size_t bm25f = 1;  // index of bm25f in ClickModelFeatures()
  ASSERT_EQ(ClickModelFeatures()[bm25f], Feature::kBm25f);

  FeatureMatrix at_mean(1), stepped(1);
  at_mean.At(0, Feature::kBm25f) = 0.0f;
  stepped.At(0, Feature::kBm25f) = 0.1f;  // small enough that no ReLU changes state, or the 5% bound fails
  const float change = model_->Score(query, products, stepped)[0] - model_->Score(query, products, at_mean)[0];

  std::vector<float> values;
  for (Feature f : ClickModelFeatures()) values.push_back(stepped.At(0, f));
  const std::vector<float> attributions = model_->FeatureAttributions(query, product, values);
  ASSERT_EQ(attributions.size(), ClickModelFeatures().size());
  EXPECT_NE(attributions[bm25f], 0.0f);
  EXPECT_NEAR(attributions[bm25f], change, 1e-7 + 0.05 * std::fabs(change));
}

TEST_F(ClickModelTest, AudioBranchChangesScore) {
  ASSERT_NE(model_, nullptr);
  // Half a second of a 440 Hz tone, as the audio decoder would deliver it.
  AudioClip clip;
  for (int i = 0; i < kSpeechSampleRate / 2; ++i) {
    clip.samples.push_back(static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440.0 * i / kSpeechSampleRate)));
  }
  const MfccFrames frames = ComputeMfcc(clip);
  ASSERT_EQ(frames.coefficients, 13u);
  ASSERT_EQ(frames.frames, 48u);  // 1 + (8000 - 400) / 160
  for (float v : frames.values) ASSERT_TRUE(std::isfinite(v));

  const ClickProductInput product{"Brand1 red shirt", std::vector<float>(kPhotoDim, 0.1f)};
  const ClickProductInput* products[] = {&product};
  FeatureMatrix features(1);
  const float typed = model_->Score({"red shirt", {}}, products, features)[0];
  const float spoken = model_->Score({"red shirt", frames}, products, features)[0];
  EXPECT_TRUE(std::isfinite(spoken));
  EXPECT_NE(typed, spoken);
}

TEST_F(ClickModelTest, SaveLoadKeepsScores) {
  ASSERT_NE(model_, nullptr);
  TempDir dir("click-model-");
  const std::string path = (dir.path() / "click.model").string();
  ASSERT_TRUE(model_->Save(path).ok());
  Result<std::unique_ptr<ClickModel>> loaded = ClickModel::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();

  std::vector<const ClickProductInput*> products;
  for (const ClickProductInput& p : log_->data.products) products.push_back(&p);
  FeatureMatrix features(products.size());
  EXPECT_EQ(model_->Score({"green bag", {}}, products, features), (*loaded)->Score({"green bag", {}}, products, features));
  EXPECT_EQ((*loaded)->config().photo_dimension, kPhotoDim);
  EXPECT_EQ((*loaded)->report().at("best_epoch"), model_->report().at("best_epoch"));
}

TEST_F(ClickModelTest, DamagedFileRejected) {
  ASSERT_NE(model_, nullptr);
  TempDir dir("click-model-");
  const std::string path = (dir.path() / "click.model").string();
  ASSERT_TRUE(model_->Save(path).ok());
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(200);
    file.put('\x7f');
  }
  Result<std::unique_ptr<ClickModel>> loaded = ClickModel::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ClickModel::Load((dir.path() / "missing.model").string()).status().code(), StatusCode::kNotFound);
}

TEST_F(ClickModelTest, UnreadableWeightsRejected) {
  ASSERT_NE(model_, nullptr);
  TempDir dir("click-model-");
  const std::string path = (dir.path() / "click.model").string();
  ASSERT_TRUE(model_->Save(path).ok());
  // A sound container (magic, lengths, checksum) around weights libtorch cannot read.
  const ModelFileKind kind{"TSCLICKM", 1, "click model", "tessera train-click-model"};
  Result<ModelFileParts> parts = ReadModelFile(kind, path);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_TRUE(WriteFileAtomically(path, PackModelFile(kind, parts->header, "not a weights archive")).ok());

  Result<std::unique_ptr<ClickModel>> loaded = ClickModel::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(loaded.status().message().find("click model " + path + " has unreadable weights"), std::string::npos)
      << loaded.status().ToString();
}

TEST(ClickModel, SameSeedSameScores) {
  const SyntheticLog log = MakeLog(800, 3);
  std::unique_ptr<ClickModel> first = TrainOrDie(log.data, 11);
  std::unique_ptr<ClickModel> second = TrainOrDie(log.data, 11);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::vector<const ClickProductInput*> products;
  for (const ClickProductInput& p : log.data.products) products.push_back(&p);
  FeatureMatrix features(products.size());
  EXPECT_EQ(first->Score({"red shirt", {}}, products, features), second->Score({"red shirt", {}}, products, features));
}

TEST(ClickModel, InvalidDataRejected) {
  ClickDataset empty;
  EXPECT_EQ(ClickModel::Train(empty, SmallConfig(), {}).status().code(), StatusCode::kInvalidArgument);

  SyntheticLog log = MakeLog(50, 5);
  log.data.products[0].photo.resize(kPhotoDim + 1);
  EXPECT_EQ(ClickModel::Train(log.data, SmallConfig(), {}).status().code(), StatusCode::kInvalidArgument);

  SyntheticLog wrong_index = MakeLog(50, 5);
  wrong_index.data.train[0].product = 100000;
  EXPECT_EQ(ClickModel::Train(wrong_index.data, SmallConfig(), {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
