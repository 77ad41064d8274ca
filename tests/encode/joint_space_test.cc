// Tests of the joint text-photo space: training on a synthetic catalogue, determinism, the model
// file, and text and photo inputs at their edges.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "encode/joint_space_model.h"
#include "encode/joint_space_trainer.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::ReadFile;
using testing_support::TempDir;

const std::vector<std::string> kColours = {"red", "blue", "green", "black", "white", "yellow"};
const std::vector<std::string> kKinds = {"shirt", "shoes", "watch", "handbag", "jeans"};
const std::vector<std::string> kPatterns = {"striped", "dotted", "plain", "checked"};
const std::vector<std::string> kBrands = {"Acme", "Zenith", "Orbit", "Nimbus"};
constexpr size_t kSyntheticPhotoDim = 24;

// A catalogue where every (colour, kind, pattern, brand) appears once: the photo feature is the
// four one-hot codes plus a little noise, and the title names all four in words. Held-out pairs
// are combinations training never saw, so high held-out recall needs the words to compose.
std::vector<JointSpacePair> SyntheticPairs() {
  std::vector<JointSpacePair> pairs;
  uint64_t noise_state = 12345;
  auto noise = [&]() {
    noise_state = noise_state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((noise_state >> 40) % 1000) / 1000.0f * 0.1f;
  };
  for (size_t c = 0; c < kColours.size(); ++c) {
    for (size_t k = 0; k < kKinds.size(); ++k) {
      for (size_t p = 0; p < kPatterns.size(); ++p) {
        for (size_t b = 0; b < kBrands.size(); ++b) {
          JointSpacePair pair;
          pair.id = "p" + std::to_string(pairs.size());
          pair.text = kBrands[b] + " Men " + kPatterns[p] + " " + kColours[c] + " " + kKinds[k];
          pair.extra_text = kKinds[k] + " " + kColours[c];
          pair.photo.assign(kSyntheticPhotoDim, 0.0f);
          for (float& v : pair.photo) v = noise();
          pair.photo[c] += 1;
          pair.photo[6 + k] += 1;
          pair.photo[11 + p] += 1;
          pair.photo[15 + b] += 1;
          pair.labels = {kKinds[k], kColours[c]};
          pairs.push_back(std::move(pair));
        }
      }
    }
  }
  return pairs;
}

// A small model that trains in a few seconds on one thread.
JointSpaceTrainingOptions SmallOptions(uint64_t seed = 7) {
  JointSpaceTrainingOptions o;
  o.config.dimension = 32;
  o.config.text_embedding_dim = 32;
  o.config.photo_hidden_dim = 64;
  o.config.hashing.buckets = 1 << 12;
  o.config.photo = {"synthetic-v1", kSyntheticPhotoDim};
  o.epochs = 40;
  o.batch_size = 64;
  o.learning_rate = 1e-2;
  o.holdout_fraction = 0.1;
  o.validation_fraction = 0.1;
  o.patience = 0;
  o.seed = seed;
  o.threads = 1;
  return o;
}

float Norm(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  return static_cast<float>(std::sqrt(sum));
}

bool AllFinite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

// One trained model shared by the tests that only read it.
class JointSpaceTrainedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<JointSpaceTrainingResult> trained = TrainJointSpace(SyntheticPairs(), SmallOptions());
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();
    result_ = new JointSpaceTrainingResult(std::move(trained).value());
  }
  static void TearDownTestSuite() {
    delete result_;
    result_ = nullptr;
  }
  static const JointSpaceModel& model() { return *result_->model; }

  static JointSpaceTrainingResult* result_;
};
JointSpaceTrainingResult* JointSpaceTrainedTest::result_ = nullptr;

TEST_F(JointSpaceTrainedTest, SyntheticHeldOutRecallIsHigh) {
  const JointSpaceMetrics& m = result_->heldout;
  ASSERT_GE(m.pairs, 30u);
  EXPECT_GE(m.text_to_photo.recall_at_1, 0.8);
  EXPECT_GE(m.text_to_photo.recall_at_10, 0.95);
  EXPECT_GE(m.photo_to_text.recall_at_1, 0.8);
  EXPECT_GE(m.text_to_photo.mean_reciprocal_rank, 0.85);
  // About 10 held-out pairs share each kind, and the nearest other pairs often share colour,
  // pattern and brand instead, so precision@10 stays well below 1; it must still beat chance.
  EXPECT_GT(m.text_to_photo.precision_at_10_type, 1.5 * m.chance_type);
  // Short "<colour> <kind>" queries must find photos of that kind.
  EXPECT_GT(m.attribute_query_to_photo.queries, 0u);
  EXPECT_GT(m.attribute_query_to_photo.precision_at_10_type, 2 * m.chance_type);
}

TEST_F(JointSpaceTrainedTest, OutputsAreUnitVectors) {
  const std::vector<float> text = model().EncodeText("Acme Men striped red shirt");
  ASSERT_EQ(text.size(), 32u);
  EXPECT_NEAR(Norm(text), 1.0f, 1e-4);
  Result<std::vector<float>> photo = model().ProjectPhoto(SyntheticPairs()[0].photo);
  ASSERT_TRUE(photo.ok()) << photo.status().ToString();
  ASSERT_EQ(photo->size(), 32u);
  EXPECT_NEAR(Norm(*photo), 1.0f, 1e-4);
}

TEST_F(JointSpaceTrainedTest, BatchEqualsSingleCalls) {
  const std::vector<std::string> texts = {"red shirt", "", "Nimbus Men dotted yellow watch"};
  const std::vector<float> batch = model().EncodeTexts(texts);
  ASSERT_EQ(batch.size(), texts.size() * 32);
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<float> single = model().EncodeText(texts[i]);
    for (size_t k = 0; k < 32; ++k) EXPECT_NEAR(batch[i * 32 + k], single[k], 1e-5) << "text " << i;
  }
}

TEST_F(JointSpaceTrainedTest, TypoStaysNearTheWord) {
  // Character trigrams place a misspelt word nearer its own word than any other of its group.
  struct Case {
    std::string typo, word;
    const std::vector<std::string>* group;
  };
  const std::vector<Case> cases = {{"yelow", "yellow", &kColours}, {"gren", "green", &kColours},
                                   {"handbg", "handbag", &kKinds}};
  auto cosine = [&](const std::string& a, const std::string& b) {
    const std::vector<float> u = model().EncodeText(a), v = model().EncodeText(b);
    float dot = 0;
    for (size_t k = 0; k < u.size(); ++k) dot += u[k] * v[k];
    return dot;
  };
  for (const Case& c : cases) {
    const float right = cosine(c.typo, c.word);
    for (const std::string& other : *c.group) {
      if (other == c.word) continue;
      EXPECT_GT(right, cosine(c.typo, other)) << c.typo << " vs " << other;
    }
  }
}

TEST_F(JointSpaceTrainedTest, OddTextGivesFiniteUnitVector) {
  std::string long_text;
  for (int i = 0; i < 40000; ++i) long_text += kColours[i % kColours.size()] + " ";  // about 200 KiB
  const std::vector<std::string> texts = {
      "",
      "   \t\n",
      "!!! ??? ...",
      std::string(1 << 20, 'a'),
      long_text,
      std::string("red\0shirt", 9),
      "\xff\xfe\xfd invalid bytes",
      "\xed\xa0\x80 encoded surrogate",
      "\xe2\x82",  // a cut three-byte sequence
      "e\xcc\x81\xcc\x81\xcc\x81 combining marks",
      "\xf0\x9f\x91\x95\xf0\x9f\x91\x9f emoji",
      "\xe2\x80\x8d\xe2\x80\x8b zero-width",
      "男士藏青色衬衫",
      "قميص أحمر",
      "ＲＥＤ　ＳＨＩＲＴ",
  };
  for (const std::string& text : texts) {
    const std::vector<float> v = model().EncodeText(text);
    ASSERT_EQ(v.size(), 32u) << text.substr(0, 30);
    EXPECT_TRUE(AllFinite(v)) << text.substr(0, 30);
    EXPECT_NEAR(Norm(v), 1.0f, 1e-4) << text.substr(0, 30);
  }
}

TEST_F(JointSpaceTrainedTest, PhotoOfWrongLengthRejected) {
  const std::vector<float> short_feature(kSyntheticPhotoDim - 1, 0.5f);
  Result<std::vector<float>> projected = model().ProjectPhoto(short_feature);
  ASSERT_FALSE(projected.ok());
  EXPECT_EQ(projected.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(projected.status().message().find("expected 1 x 24"), std::string::npos) << projected.status().message();
}

TEST_F(JointSpaceTrainedTest, PhotoWithNanRejected) {
  std::vector<float> feature(kSyntheticPhotoDim, 0.5f);
  feature[3] = std::nanf("");
  Result<std::vector<float>> projected = model().ProjectPhoto(feature);
  ASSERT_FALSE(projected.ok());
  EXPECT_EQ(projected.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(JointSpaceTrainedTest, ConcurrentCallsMatchSerialOnes) {
  const std::vector<std::string> texts = {"red shirt", "Orbit Men plain green jeans", "男士衬衫", "blue"};
  const std::vector<float> photo = SyntheticPairs()[17].photo;
  std::vector<std::vector<float>> expected;
  for (const std::string& text : texts) expected.push_back(model().EncodeText(text));
  const std::vector<float> expected_photo = *model().ProjectPhoto(photo);

  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        const size_t i = (t + static_cast<size_t>(round)) % texts.size();
        if (model().EncodeText(texts[i]) != expected[i]) ++mismatches[t];
        Result<std::vector<float>> projected = model().ProjectPhoto(photo);
        if (!projected.ok() || *projected != expected_photo) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t t = 0; t < mismatches.size(); ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST_F(JointSpaceTrainedTest, ReportNamesDataAndSeed) {
  EXPECT_EQ(model().provenance().data_hash, JointSpaceDataHash(SyntheticPairs()));
  EXPECT_EQ(model().provenance().seed, 7u);
  EXPECT_NE(result_->report_json.find("\"heldout\""), std::string::npos);
  EXPECT_NE(result_->report_json.find("\"validation\""), std::string::npos);
}

TEST_F(JointSpaceTrainedTest, SplitsAreDisjointAndComplete) {
  const nlohmann::json pairs = nlohmann::json::parse(result_->report_json).at("pairs");
  size_t heldout = 0, validation = 0;
  for (const JointSpacePair& pair : SyntheticPairs()) {
    if (IsHeldOut(pair.id, 0.1)) {
      ++heldout;
    } else if (IsValidation(pair.id, 0.1)) {
      ++validation;
    }
  }
  EXPECT_EQ(pairs.at("heldout").get<size_t>(), heldout);
  EXPECT_EQ(pairs.at("validation").get<size_t>(), validation);
  EXPECT_EQ(pairs.at("train").get<size_t>(), SyntheticPairs().size() - heldout - validation);
  EXPECT_EQ(result_->heldout.pairs, heldout);
  EXPECT_EQ(result_->validation.pairs, validation);
  EXPECT_GE(validation, 30u);
}

TEST(JointSpaceTraining, SameSeedGivesSameOutputs) {
  JointSpaceTrainingOptions options = SmallOptions(/*seed=*/3);
  options.epochs = 3;
  Result<JointSpaceTrainingResult> first = TrainJointSpace(SyntheticPairs(), options);
  Result<JointSpaceTrainingResult> second = TrainJointSpace(SyntheticPairs(), options);
  options.seed = 4;
  Result<JointSpaceTrainingResult> other_seed = TrainJointSpace(SyntheticPairs(), options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(other_seed.ok()) << other_seed.status().ToString();

  const std::string text = "Zenith Men checked black watch";
  const std::vector<float> photo = SyntheticPairs()[100].photo;
  EXPECT_EQ(first->model->EncodeText(text), second->model->EncodeText(text));
  EXPECT_EQ(*first->model->ProjectPhoto(photo), *second->model->ProjectPhoto(photo));
  EXPECT_NE(first->model->EncodeText(text), other_seed->model->EncodeText(text));
}

TEST(JointSpaceTraining, SameSeedWithDropoutGivesSameOutputs) {
  JointSpaceTrainingOptions options = SmallOptions(/*seed=*/3);
  options.epochs = 3;
  options.photo_dropout = 0.3;
  Result<JointSpaceTrainingResult> first = TrainJointSpace(SyntheticPairs(), options);
  Result<JointSpaceTrainingResult> second = TrainJointSpace(SyntheticPairs(), options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();

  const std::vector<float> photo = SyntheticPairs()[100].photo;
  EXPECT_EQ(*first->model->ProjectPhoto(photo), *second->model->ProjectPhoto(photo));
  // Dropout is off at inference, so a photo always projects to the same vector.
  EXPECT_EQ(*first->model->ProjectPhoto(photo), *first->model->ProjectPhoto(photo));
}

// Mean cosine of projected held-out photos of one kind, minus that of photos of different kinds.
double SameKindPhotoGap(const JointSpaceModel& model) {
  std::vector<JointSpacePair> heldout;
  for (JointSpacePair& pair : SyntheticPairs()) {
    if (IsHeldOut(pair.id, 0.1)) heldout.push_back(std::move(pair));
  }
  std::vector<std::vector<float>> projected;
  for (const JointSpacePair& pair : heldout) projected.push_back(*model.ProjectPhoto(pair.photo));
  double same = 0, other = 0;
  size_t same_count = 0, other_count = 0;
  for (size_t i = 0; i < heldout.size(); ++i) {
    for (size_t j = i + 1; j < heldout.size(); ++j) {
      double dot = 0;
      for (size_t k = 0; k < projected[i].size(); ++k) dot += projected[i][k] * projected[j][k];
      const bool same_kind = heldout[i].labels.article_type == heldout[j].labels.article_type;
      (same_kind ? same : other) += dot;
      ++(same_kind ? same_count : other_count);
    }
  }
  return same / static_cast<double>(same_count) - other / static_cast<double>(other_count);
}

TEST(JointSpaceTraining, TypeLossGathersOneKind) {
  // Plain InfoNCE must tell all 480 pairs apart, so photos of one kind with other colours,
  // patterns and brands stay apart. The supervised term makes every pair of one kind a positive.
  JointSpaceTrainingOptions options = SmallOptions();
  options.epochs = 20;
  options.type_loss_weight = 0;
  options.type_colour_loss_weight = 0;
  options.photo_dropout = 0;
  Result<JointSpaceTrainingResult> plain = TrainJointSpace(SyntheticPairs(), options);
  options.type_loss_weight = 1;
  Result<JointSpaceTrainingResult> supervised = TrainJointSpace(SyntheticPairs(), options);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_TRUE(supervised.ok()) << supervised.status().ToString();

  EXPECT_GT(SameKindPhotoGap(*supervised->model), SameKindPhotoGap(*plain->model) + 0.2);
  EXPECT_GT(supervised->heldout.photo_to_text.precision_at_10_type,
            plain->heldout.photo_to_text.precision_at_10_type + 0.2);
  EXPECT_GT(supervised->heldout.text_to_photo.precision_at_10_type,
            plain->heldout.text_to_photo.precision_at_10_type + 0.2);
}

TEST(JointSpaceTraining, EarlyStopKeepsBestValidationEpoch) {
  JointSpaceTrainingOptions options = SmallOptions();
  options.epochs = 60;
  options.patience = 2;
  Result<JointSpaceTrainingResult> trained = TrainJointSpace(SyntheticPairs(), options);
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();

  const nlohmann::json report = nlohmann::json::parse(trained->report_json);
  size_t best_epoch = 0;
  double best_loss = 1e300;
  for (const nlohmann::json& epoch : report.at("epochs")) {
    if (epoch.at("validation_loss").get<double>() < best_loss) {
      best_loss = epoch.at("validation_loss").get<double>();
      best_epoch = epoch.at("epoch").get<size_t>();
    }
  }
  EXPECT_EQ(report.at("kept_epoch").get<size_t>(), best_epoch);
  EXPECT_EQ(report.at("epochs_run").get<size_t>(), best_epoch + 2) << "training must stop 2 epochs after the best";
}

TEST(JointSpaceTraining, OptionsOutOfRangeRejected) {
  const std::vector<std::function<void(JointSpaceTrainingOptions*)>> breakers = {
      [](JointSpaceTrainingOptions* o) { o->validation_fraction = 1; },
      [](JointSpaceTrainingOptions* o) { o->validation_fraction = -0.1; },
      [](JointSpaceTrainingOptions* o) { o->type_loss_weight = -1; },
      [](JointSpaceTrainingOptions* o) { o->type_colour_loss_weight = std::nan(""); },
      [](JointSpaceTrainingOptions* o) { o->photo_dropout = 1; },
  };
  for (size_t i = 0; i < breakers.size(); ++i) {
    JointSpaceTrainingOptions options = SmallOptions();
    breakers[i](&options);
    Result<JointSpaceTrainingResult> trained = TrainJointSpace(SyntheticPairs(), options);
    ASSERT_FALSE(trained.ok()) << "case " << i;
    EXPECT_EQ(trained.status().code(), StatusCode::kInvalidArgument) << "case " << i;
  }
}

TEST(JointSpaceTraining, PairOfWrongPhotoLengthRejected) {
  std::vector<JointSpacePair> pairs = SyntheticPairs();
  pairs[5].photo.pop_back();
  Result<JointSpaceTrainingResult> trained = TrainJointSpace(pairs, SmallOptions());
  ASSERT_FALSE(trained.ok());
  EXPECT_EQ(trained.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(trained.status().message().find("product p5"), std::string::npos) << trained.status().message();
}

TEST(JointSpaceTraining, HoldoutSplitIsStableAndNearItsFraction) {
  size_t held_out = 0;
  for (int i = 0; i < 10000; ++i) held_out += IsHeldOut(std::to_string(i), 0.1) ? 1 : 0;
  EXPECT_GT(held_out, 900u);
  EXPECT_LT(held_out, 1100u);
  EXPECT_EQ(IsHeldOut("15970", 0.1), IsHeldOut("15970", 0.1));
  EXPECT_FALSE(IsHeldOut("15970", 0.0));
}

TEST(JointSpaceTraining, ValidationSplitIndependentOfHoldout) {
  size_t validation = 0, both = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = std::to_string(i);
    validation += IsValidation(id, 0.1) ? 1 : 0;
    both += IsValidation(id, 0.1) && IsHeldOut(id, 0.1) ? 1 : 0;
  }
  EXPECT_GT(validation, 900u);
  EXPECT_LT(validation, 1100u);
  // Independent draws overlap on about 0.1 x 0.1 of the ids; the same hash would overlap on 0.1.
  EXPECT_GT(both, 50u);
  EXPECT_LT(both, 150u);
  EXPECT_FALSE(IsValidation("15970", 0.0));
}

// Model file tests train a tiny model once each; they check the container, not the quality.
class JointSpaceFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << dir_.error();
    JointSpaceTrainingOptions options = SmallOptions();
    options.epochs = 1;
    Result<JointSpaceTrainingResult> trained = TrainJointSpace(SyntheticPairs(), options);
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();
    model_ = std::move(trained->model);
    path_ = (dir_.path() / "models" / "joint.model").string();
    ASSERT_TRUE(model_->Save(path_).ok());
  }

  // Rewrites the saved file with `bytes[offset]` replaced.
  void PatchByte(size_t offset, char value) {
    std::string bytes = ReadFile(path_);
    ASSERT_LT(offset, bytes.size());
    bytes[offset] = value;
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
  }

  const PhotoFeatureSpec kSpec{"synthetic-v1", kSyntheticPhotoDim};
  TempDir dir_{"joint_space_test_"};
  std::unique_ptr<JointSpaceModel> model_;
  std::string path_;
};

TEST_F(JointSpaceFileTest, RoundTripGivesIdenticalVectors) {
  Result<std::unique_ptr<JointSpaceModel>> loaded = JointSpaceModel::Load(path_, kSpec);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  for (const std::string text : {"Acme Men striped red shirt", "", "男士藏青色衬衫", "yelow"}) {
    EXPECT_EQ((*loaded)->EncodeText(text), model_->EncodeText(text)) << text;
  }
  for (const JointSpacePair& pair : SyntheticPairs()) {
    ASSERT_EQ(*(*loaded)->ProjectPhoto(pair.photo), *model_->ProjectPhoto(pair.photo)) << pair.id;
  }
  EXPECT_EQ((*loaded)->provenance().data_hash, model_->provenance().data_hash);
  EXPECT_EQ((*loaded)->provenance().report_json, model_->provenance().report_json);
  EXPECT_EQ((*loaded)->config().hashing, model_->config().hashing);
}

TEST_F(JointSpaceFileTest, OtherFormatVersionRejected) {
  PatchByte(8, static_cast<char>(kJointSpaceFormatVersion + 1));
  Result<std::unique_ptr<JointSpaceModel>> loaded = JointSpaceModel::Load(path_, kSpec);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(loaded.status().message().find("format version 2"), std::string::npos) << loaded.status().message();
}

TEST_F(JointSpaceFileTest, OtherPhotoDimensionRejected) {
  Result<std::unique_ptr<JointSpaceModel>> loaded =
      JointSpaceModel::Load(path_, PhotoFeatureSpec{"synthetic-v1", 1280});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("of 24 floats"), std::string::npos) << loaded.status().message();
  EXPECT_NE(loaded.status().message().find("of 1280 floats"), std::string::npos) << loaded.status().message();
}

TEST_F(JointSpaceFileTest, OtherPhotoEncoderRejected) {
  Result<std::unique_ptr<JointSpaceModel>> loaded =
      JointSpaceModel::Load(path_, PhotoFeatureSpec{"mobilenet-v2", kSyntheticPhotoDim});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("--photo-encoder mobilenet-v2"), std::string::npos)
      << loaded.status().message();
}

TEST_F(JointSpaceFileTest, MissingFileRejected) {
  Result<std::unique_ptr<JointSpaceModel>> loaded = JointSpaceModel::Load(path_ + ".absent", kSpec);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
}

TEST_F(JointSpaceFileTest, DamagedWeightsRejected) {
  const size_t size = ReadFile(path_).size();
  PatchByte(size / 2, ReadFile(path_)[size / 2] ^ 0x5A);
  Result<std::unique_ptr<JointSpaceModel>> loaded = JointSpaceModel::Load(path_, kSpec);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
  EXPECT_NE(loaded.status().message().find("checksum"), std::string::npos) << loaded.status().message();
}

TEST_F(JointSpaceFileTest, OtherFileRejected) {
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << "PK\x03\x04 not a model";
  Result<std::unique_ptr<JointSpaceModel>> loaded = JointSpaceModel::Load(path_, kSpec);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace tessera
