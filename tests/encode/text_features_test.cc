// Tests of the hashed text features the joint-space text encoder reads.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "encode/text_features.h"

namespace tessera {
namespace {

class TextFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create();
    ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
    analyzer_ = std::move(analyzer).value();
  }

  std::vector<std::string> Features(std::string_view text, TextHashing hashing = {}) const {
    return TextFeaturizer(analyzer_.get(), hashing).FeatureStrings(text);
  }

  bool Has(const std::vector<std::string>& features, const std::string& feature) const {
    return std::find(features.begin(), features.end(), feature) != features.end();
  }

  std::unique_ptr<Analyzer> analyzer_;
};

TEST_F(TextFeaturesTest, WordsBigramsAndTrigrams) {
  const std::vector<std::string> f = Features("Blue Shirts");
  EXPECT_TRUE(Has(f, "w:blue"));
  EXPECT_TRUE(Has(f, "w:shirt"));  // stemmed by the Analyzer
  EXPECT_TRUE(Has(f, "b:blue shirt"));
  EXPECT_TRUE(Has(f, "c:<bl"));
  EXPECT_TRUE(Has(f, "c:rt>"));
}

TEST_F(TextFeaturesTest, ChineseGetsCharactersAndBigrams) {
  const std::vector<std::string> f = Features("男士衬衫");
  EXPECT_TRUE(Has(f, "h:衬"));
  EXPECT_TRUE(Has(f, "hb:衬衫"));
  EXPECT_TRUE(Has(f, "hb:士衬"));  // crosses the segmenter's word boundary
  for (const std::string& feature : f) EXPECT_NE(feature.rfind("c:", 0), 0u) << feature;
}

TEST_F(TextFeaturesTest, TypoSharesTrigramsWithTheWord) {
  const std::vector<std::string> right = Features("yellow");
  const std::vector<std::string> typo = Features("yelow");
  size_t shared = 0;
  for (const std::string& feature : typo) shared += Has(right, feature) ? 1 : 0;
  EXPECT_GE(shared, 3u);
}

TEST_F(TextFeaturesTest, OptionsTurnFeatureKindsOff) {
  TextHashing words_only;
  words_only.word_bigrams = false;
  words_only.char_trigrams = false;
  words_only.cjk_char_ngrams = false;
  EXPECT_EQ(Features("blue shirt", words_only), (std::vector<std::string>{"w:blue", "w:shirt"}));
}

TEST_F(TextFeaturesTest, IdsAreInRangeAndStable) {
  TextHashing hashing;
  hashing.buckets = 97;
  const TextFeaturizer featurizer(analyzer_.get(), hashing);
  const std::vector<int64_t> ids = featurizer.Features("Peter England Men Party Blue Jeans 男士衬衫");
  ASSERT_FALSE(ids.empty());
  for (int64_t id : ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 97);
  }
  EXPECT_EQ(ids, featurizer.Features("Peter England Men Party Blue Jeans 男士衬衫"));
}

TEST_F(TextFeaturesTest, HashIsFnv1a) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST_F(TextFeaturesTest, PunctuationHasNoFeatures) {
  EXPECT_TRUE(Features("!!! ... ???").empty());
  EXPECT_TRUE(Features("").empty());
}

TEST_F(TextFeaturesTest, HugeTextIsCutAtCharacterBoundary) {
  std::string text;
  while (text.size() < kMaxFeaturizedTextBytes + 10) text += "衬";  // 3 bytes each
  const std::vector<std::string> f = Features(text);
  EXPECT_FALSE(f.empty());
  for (const std::string& feature : f) EXPECT_EQ(feature.find("\xef\xbf\xbd"), std::string::npos);
}

}  // namespace
}  // namespace tessera
