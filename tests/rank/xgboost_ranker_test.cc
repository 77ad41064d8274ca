// XgboostRanker: training on a synthetic judged set, explanations, and the model file.
#include "rank/xgboost_ranker.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/model_file.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::TempDir;

// Queries of 20 candidates whose grade (0-3) rises with bm25f and cosine_fused; the other
// features are noise, and a fifth of the photo cosines are missing.
RankingDataset SyntheticSet(size_t queries, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  RankingDataset data;
  for (size_t q = 0; q < queries; ++q) {
    FeatureMatrix m(20);
    std::vector<float> labels;
    for (size_t r = 0; r < 20; ++r) {
      for (size_t f = 0; f < kFeatureCount; ++f) m.Row(r)[f] = unit(random);
      const float text = 10 * unit(random);
      const float fused = unit(random);
      m.At(r, Feature::kBm25f) = text;
      m.At(r, Feature::kCosineFused) = fused;
      if (unit(random) < 0.2f) m.At(r, Feature::kCosinePhoto) = kMissingFeature;
      labels.push_back(std::floor(std::min(3.0f, text / 5 + 2 * fused)));
    }
    data.AddQuery("q" + std::to_string(q), m, labels);
  }
  return data;
}

// Rows of one query of `data`, as a FeatureMatrix.
FeatureMatrix QueryRowsOf(const RankingDataset& data, size_t query) {
  size_t begin = 0;
  for (size_t q = 0; q < query; ++q) begin += data.group_sizes[q];
  FeatureMatrix m(data.group_sizes[query]);
  for (size_t r = 0; r < m.rows(); ++r) {
    for (size_t f = 0; f < kFeatureCount; ++f) m.Row(r)[f] = data.values[(begin + r) * kFeatureCount + f];
  }
  return m;
}

std::unique_ptr<XgboostRanker> TrainOrDie(RankerKind kind) {
  RankerTrainingOptions options;
  options.kind = kind;
  options.max_rounds = 60;
  options.patience = 60;
  if (kind == RankerKind::kLinear) options.learning_rate = 0.5;
  Result<std::unique_ptr<XgboostRanker>> model = XgboostRanker::Train(SyntheticSet(60, 1), SyntheticSet(20, 2), options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

class XgboostRankerTest : public ::testing::TestWithParam<RankerKind> {};

TEST_P(XgboostRankerTest, LearnsTheInformativeFeatures) {
  std::unique_ptr<XgboostRanker> model = TrainOrDie(GetParam());
  ASSERT_NE(model, nullptr);
  const RankingDataset test = SyntheticSet(30, 3);
  size_t best_first = 0;
  for (size_t q = 0; q < test.group_sizes.size(); ++q) {
    const FeatureMatrix rows = QueryRowsOf(test, q);
    std::vector<RankedItem> items(rows.rows());
    for (size_t r = 0; r < items.size(); ++r) items[r].row = r;
    model->Rank(rows, &items);
    float best = 0;
    for (size_t r = 0; r < rows.rows(); ++r) best = std::max(best, test.labels[q * 20 + r]);
    if (test.labels[q * 20 + items[0].row] == best) ++best_first;
  }
  // A random order puts a best-graded row first in about a quarter of the queries.
  EXPECT_GE(best_first, 24u) << "of 30 queries";
}

TEST_P(XgboostRankerTest, ContributionsSumToTheScore) {
  std::unique_ptr<XgboostRanker> model = TrainOrDie(GetParam());
  ASSERT_NE(model, nullptr);
  const FeatureMatrix rows = QueryRowsOf(SyntheticSet(1, 4), 0);
  const std::vector<float> scores = model->Predict(rows.values(), rows.rows());
  for (size_t r = 0; r < rows.rows(); ++r) {
    const ScoreExplanation explanation = model->Explain(rows, r);
    ASSERT_EQ(explanation.contributions.size(), model->features().size());
    double sum = explanation.bias;
    for (const FeatureContribution& c : explanation.contributions) sum += c.contribution;
    EXPECT_NEAR(sum, scores[r], 1e-4) << "row " << r;
  }
}

TEST_P(XgboostRankerTest, SavedModelPredictsTheSame) {
  std::unique_ptr<XgboostRanker> model = TrainOrDie(GetParam());
  ASSERT_NE(model, nullptr);
  TempDir dir("tessera-ranker-");
  const std::string path = (dir.path() / "ranker.model").string();
  ASSERT_TRUE(model->Save(path).ok());
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->kind(), GetParam());
  EXPECT_EQ((*loaded)->features(), model->features());
  EXPECT_EQ((*loaded)->personal_scale(), model->personal_scale());
  EXPECT_EQ((*loaded)->consensus_depth(), model->consensus_depth());
  EXPECT_EQ((*loaded)->learned_personal(), model->learned_personal());
  const FeatureMatrix rows = QueryRowsOf(SyntheticSet(1, 5), 0);
  EXPECT_EQ((*loaded)->Predict(rows.values(), rows.rows()), model->Predict(rows.values(), rows.rows()));
}

TEST(XgboostRankerPersonal, LearnedOnlyFromRowsWithPersonalValues) {
  RankingDataset train = SyntheticSet(40, 6), validation = SyntheticSet(10, 7);
  RankerTrainingOptions options;
  options.max_rounds = 10;
  Result<std::unique_ptr<XgboostRanker>> with = XgboostRanker::Train(train, validation, options);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_TRUE((*with)->learned_personal());

  // The same rows with every personal feature 0, as for searches without a shopper.
  for (RankingDataset* data : {&train, &validation}) {
    for (size_t r = 0; r < data->rows(); ++r) {
      for (Feature f : {Feature::kPersonalArticleType, Feature::kPersonalColour, Feature::kPersonalGender,
                        Feature::kPersonalBrand, Feature::kPersonalStrength}) {
        data->values[r * kFeatureCount + static_cast<size_t>(f)] = 0.0f;
      }
    }
  }
  Result<std::unique_ptr<XgboostRanker>> without = XgboostRanker::Train(train, validation, options);
  ASSERT_TRUE(without.ok()) << without.status().ToString();
  EXPECT_FALSE((*without)->learned_personal());

  // The linear ranker reads no personal feature, whatever its rows hold.
  options.kind = RankerKind::kLinear;
  options.learning_rate = 0.5;
  Result<std::unique_ptr<XgboostRanker>> linear = XgboostRanker::Train(SyntheticSet(40, 6), validation, options);
  ASSERT_TRUE(linear.ok()) << linear.status().ToString();
  EXPECT_FALSE((*linear)->learned_personal());
}

TEST(XgboostRankerObjective, PairwiseTreesLearnAndAreRecorded) {
  RankerTrainingOptions options;
  options.max_rounds = 30;
  options.tree_objective = "rank:pairwise";
  Result<std::unique_ptr<XgboostRanker>> model = XgboostRanker::Train(SyntheticSet(60, 1), SyntheticSet(20, 2), options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->report()["objective"], "rank:pairwise");
  const RankingDataset test = SyntheticSet(30, 3);
  size_t best_first = 0;
  for (size_t q = 0; q < test.group_sizes.size(); ++q) {
    const FeatureMatrix rows = QueryRowsOf(test, q);
    const std::vector<float> scores = (*model)->Predict(rows.values(), rows.rows());
    const size_t top = std::max_element(scores.begin(), scores.end()) - scores.begin();
    float best = 0;
    for (size_t r = 0; r < rows.rows(); ++r) best = std::max(best, test.labels[q * 20 + r]);
    if (test.labels[q * 20 + top] == best) ++best_first;
  }
  EXPECT_GE(best_first, 24u) << "of 30 queries";

  // The objective reaches XGBoost: the nDCG weights give other trees on the same rows and seed.
  options.tree_objective = "rank:ndcg";
  Result<std::unique_ptr<XgboostRanker>> ndcg = XgboostRanker::Train(SyntheticSet(60, 1), SyntheticSet(20, 2), options);
  ASSERT_TRUE(ndcg.ok()) << ndcg.status().ToString();
  const FeatureMatrix rows = QueryRowsOf(test, 0);
  EXPECT_NE((*ndcg)->Predict(rows.values(), rows.rows()), (*model)->Predict(rows.values(), rows.rows()));

  options.tree_objective = "rank:map";
  Result<std::unique_ptr<XgboostRanker>> other = XgboostRanker::Train(SyntheticSet(10, 1), SyntheticSet(5, 2), options);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("'rank:map' is not supported"), std::string::npos) << other.status().message();
}

INSTANTIATE_TEST_SUITE_P(Kinds, XgboostRankerTest, ::testing::Values(RankerKind::kLinear, RankerKind::kLambdaMart),
                         [](const auto& info) { return std::string(RankerKindName(info.param)); });

class RankerFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << dir_.error();
    model_ = TrainOrDie(RankerKind::kLambdaMart);
    ASSERT_NE(model_, nullptr);
    path_ = (dir_.path() / "ranker.model").string();
    ASSERT_TRUE(model_->Save(path_).ok());
  }

  // Rewrites the model file with its header changed by `edit`.
  void EditHeader(const std::function<void(nlohmann::json&)>& edit) {
    const ModelFileKind kind{"TSRANKER", kRankerFormatVersion, "ranker model", "tessera train-ranker"};
    Result<ModelFileParts> parts = ReadModelFile(kind, path_);
    ASSERT_TRUE(parts.ok()) << parts.status().ToString();
    nlohmann::json header = nlohmann::json::parse(parts->header);
    edit(header);
    ASSERT_TRUE(WriteFileAtomically(path_, PackModelFile(kind, header.dump(), parts->payload)).ok());
  }

  TempDir dir_{"tessera-ranker-file-"};
  std::unique_ptr<XgboostRanker> model_;
  std::string path_;
};

TEST_F(RankerFileTest, UnknownFeatureIsRejected) {
  EditHeader([](nlohmann::json& header) { header["features"][3] = "shoe_size"; });
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load(path_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("shoe_size"), std::string::npos) << loaded.status().message();
  EXPECT_NE(loaded.status().message().find("tessera train-ranker"), std::string::npos) << loaded.status().message();
}

TEST_F(RankerFileTest, OtherFeatureSchemaIsRejected) {
  EditHeader([](nlohmann::json& header) { header["feature_schema_version"] = kFeatureSchemaVersion + 1; });
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load(path_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("schema version"), std::string::npos) << loaded.status().message();
}

TEST_F(RankerFileTest, ConsensusDepthIsKept) {
  EditHeader([](nlohmann::json& header) { header["consensus_depth"] = 7; });
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->consensus_depth(), 7u);
}

TEST_F(RankerFileTest, FileWithoutPersonalFlagLoadsAsNotPersonal) {
  ASSERT_TRUE(model_->learned_personal());
  EditHeader([](nlohmann::json& header) { header.erase("learned_personal"); });
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_FALSE((*loaded)->learned_personal());
}

TEST_F(RankerFileTest, ShorterFeatureListIsRejected) {
  EditHeader([](nlohmann::json& header) { header["features"].erase(header["features"].size() - 1); });
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load(path_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("features"), std::string::npos) << loaded.status().message();
}

TEST_F(RankerFileTest, DamagedFileFailsItsChecksum) {
  std::string bytes = testing_support::ReadFile(path_);
  bytes[bytes.size() / 2] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomically(path_, bytes).ok());
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load(path_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(loaded.status().message().find("checksum"), std::string::npos) << loaded.status().message();
}

TEST_F(RankerFileTest, MissingFileIsNotFound) {
  Result<std::unique_ptr<XgboostRanker>> loaded = XgboostRanker::Load((dir_.path() / "absent.model").string());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera
