// Ranking features: the extractor on a real inverted index and vector index, and the product
// signals behind popularity, click-through and price bands.
#include "rank/features.h"

#include <cmath>

#include <gtest/gtest.h>

#include "index/exact_vector_index.h"

namespace tessera {
namespace {

LexicalQuery WordsQuery(const std::vector<std::string>& words) {
  LexicalQuery query;
  for (const std::string& word : words) query.groups.push_back({word, {{{word}, 1.0f, 0, false}}, false});
  return query;
}

Product MakeProduct(const std::string& id, const std::string& type, std::optional<double> price, const std::string& year) {
  Product p;
  p.id = id;
  p.title = id;
  p.price = price;
  if (price) p.currency = "INR";
  p.attributes["article_type"] = type;
  if (!year.empty()) p.attributes["year"] = year;
  return p;
}

class FeatureExtractorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Document 0 has "navy" in the title and "shirt" in the category; document 1 has both in
    // the title; document 2 matches neither.
    index_.Add(0, {{"navy"}, {}, {"shirt"}, {}, {}, {}});
    index_.Add(1, {{"navy", "shirt"}, {}, {}, {}, {}, {}});
    index_.Add(2, {{"red", "cap"}, {}, {"cap"}, {}, {}, {}});
    ASSERT_TRUE(photos_.Upsert(1, std::vector<float>{1.0f, 0.0f}).ok());
    products_ = {MakeProduct("p0", "Shirts", 500.0, "2012"), MakeProduct("p1", "Shirts", 900.0, ""),
                 MakeProduct("p2", "Caps", std::nullopt, "2015")};
    std::vector<const Product*> all;
    for (const Product& p : products_) all.push_back(&p);
    signals_.SetPriceBands(all);
  }

  FeatureMatrix Extract(const FeatureQuery& query, const std::vector<Candidate>& candidates) const {
    const FeatureExtractor extractor(index_, photos_, signals_);
    return extractor.Extract(query, candidates, [&](DocId doc) -> const Product& { return products_[doc]; });
  }

  static Candidate TextCandidate(DocId doc, float score) {
    Candidate c;
    c.doc = doc;
    c.text_score = score;
    c.matched_terms = 2;
    c.retrieval_score = 0.75f;
    return c;
  }

  InvertedIndex index_{{{"title", 0.6f}, {"brand", 0.7f}, {"category", 1.5f},
                        {"attributes", 0.8f}, {"description", 0.2f}, {"photo_text", 0.3f}}};
  ExactVectorIndex photos_{2};
  ProductSignals signals_;
  std::vector<Product> products_;
};

TEST_F(FeatureExtractorTest, FieldScoresFollowTheFields) {
  const LexicalQuery words = WordsQuery({"navy", "shirt"});
  FeatureQuery query;
  query.lexical = &words;
  const FeatureMatrix m = Extract(query, {TextCandidate(0, 3.0f), TextCandidate(1, 4.0f)});
  EXPECT_GT(m.At(0, Feature::kBm25Title), 0.0f);
  EXPECT_GT(m.At(0, Feature::kBm25Category), 0.0f);
  EXPECT_GT(m.At(1, Feature::kBm25Title), m.At(0, Feature::kBm25Title));
  EXPECT_EQ(m.At(1, Feature::kBm25Category), 0.0f);
  EXPECT_EQ(m.At(0, Feature::kBm25Brand), 0.0f);
  EXPECT_EQ(m.At(0, Feature::kBm25f), 3.0f);
  EXPECT_EQ(m.At(0, Feature::kRetrievalScore), 0.75f);
  EXPECT_EQ(m.At(0, Feature::kCoverage), 1.0f);
  EXPECT_EQ(m.At(0, Feature::kExactMatch), 1.0f);
}

TEST_F(FeatureExtractorTest, TypoAndSynonymClearExactMatch) {
  const LexicalQuery words = WordsQuery({"navy", "shirt"});
  FeatureQuery query;
  query.lexical = &words;
  Candidate typo = TextCandidate(0, 1.0f);
  typo.typos = 1;
  Candidate synonym = TextCandidate(1, 1.0f);
  synonym.synonyms = 1;
  Candidate partial = TextCandidate(1, 1.0f);
  partial.matched_terms = 1;
  partial.level = 1;
  const FeatureMatrix m = Extract(query, {typo, synonym, partial});
  EXPECT_EQ(m.At(0, Feature::kExactMatch), 0.0f);
  EXPECT_EQ(m.At(0, Feature::kTypoEdits), 1.0f);
  EXPECT_EQ(m.At(1, Feature::kExactMatch), 0.0f);
  EXPECT_EQ(m.At(1, Feature::kSynonymWords), 1.0f);
  EXPECT_EQ(m.At(2, Feature::kCoverage), 0.5f);
  EXPECT_EQ(m.At(2, Feature::kWordsDropped), 1.0f);
}

TEST_F(FeatureExtractorTest, MissingValuesAreNaN) {
  // A photo query without words: no text feature, no price for p2, no photo for p0.
  FeatureQuery query;
  query.has_photo = true;
  Candidate c0, c2;
  c0.doc = 0;
  c2.doc = 2;
  const FeatureMatrix m = Extract(query, {c0, c2});
  EXPECT_TRUE(std::isnan(m.At(0, Feature::kBm25f)));
  EXPECT_TRUE(std::isnan(m.At(0, Feature::kBm25Title)));
  EXPECT_TRUE(std::isnan(m.At(0, Feature::kCoverage)));
  EXPECT_TRUE(std::isnan(m.At(0, Feature::kCosinePhoto)));  // p0 has no photo
  EXPECT_TRUE(std::isnan(m.At(0, Feature::kCosineFused)));  // the query has no joint vector
  EXPECT_TRUE(std::isnan(m.At(1, Feature::kPrice)));
  EXPECT_TRUE(std::isnan(m.At(1, Feature::kPriceBand)));
  EXPECT_EQ(m.At(0, Feature::kHasPhoto), 0.0f);
  EXPECT_EQ(m.At(0, Feature::kPersonalStrength), 0.0f);  // no shopper: zero, not missing
}

TEST_F(FeatureExtractorTest, PhotoPriceAndAge) {
  FeatureQuery query;
  query.has_photo = true;
  query.now_ms = 1'700'000'000'000;  // 2023-11-14
  Candidate c0, c1;
  c0.doc = 0;
  c1.doc = 1;
  c1.image_similarity = 0.8f;
  const FeatureMatrix m = Extract(query, {c0, c1});
  EXPECT_EQ(m.At(1, Feature::kCosinePhoto), 0.8f);
  EXPECT_EQ(m.At(1, Feature::kHasPhoto), 1.0f);
  EXPECT_EQ(m.At(0, Feature::kPrice), 500.0f);
  EXPECT_EQ(m.At(0, Feature::kPriceBand), 0.0f);  // the cheaper of two shirts
  EXPECT_EQ(m.At(1, Feature::kPriceBand), 1.0f);
  EXPECT_NEAR(m.At(0, Feature::kAgeYears), 11.37f, 0.01f);  // from mid-2012
  EXPECT_TRUE(std::isnan(m.At(1, Feature::kAgeYears)));      // no year
}

TEST_F(FeatureExtractorTest, PersonalFeaturesComeFromTheCallback) {
  FeatureQuery query;
  query.personal = [](const Product& p) {
    return PersonalFeatures{p.id == "p1" ? 1.0f : 0.0f, 0.5f, 0.25f, 0.0f, 0.4f};
  };
  Candidate c0, c1;
  c0.doc = 0;
  c1.doc = 1;
  const FeatureMatrix m = Extract(query, {c0, c1});
  EXPECT_EQ(m.At(0, Feature::kPersonalArticleType), 0.0f);
  EXPECT_EQ(m.At(1, Feature::kPersonalArticleType), 1.0f);
  EXPECT_EQ(m.At(1, Feature::kPersonalColour), 0.5f);
  EXPECT_EQ(m.At(1, Feature::kPersonalGender), 0.25f);
  EXPECT_EQ(m.At(1, Feature::kPersonalStrength), 0.4f);
}

TEST_F(FeatureExtractorTest, JointPartCosinesNeedThePart) {
  ExactVectorIndex text(2), photo(2), photo_text(2);
  ASSERT_TRUE(text.Upsert(0, std::vector<float>{1.0f, 0.0f}).ok());
  ASSERT_TRUE(text.Upsert(1, std::vector<float>{0.0f, 1.0f}).ok());
  ASSERT_TRUE(photo.Upsert(1, std::vector<float>{0.6f, 0.8f}).ok());
  FeatureQuery query;
  query.has_joint = true;
  query.joint_part_query = {1.0f, 0.0f};
  Candidate c0, c1;
  c0.doc = 0;
  c1.doc = 1;
  const FeatureExtractor extractor(index_, photos_, signals_, {&text, &photo, &photo_text});
  const FeatureMatrix m =
      extractor.Extract(query, std::vector<Candidate>{c0, c1}, [&](DocId doc) -> const Product& { return products_[doc]; });
  EXPECT_EQ(m.At(0, Feature::kCosineText), 1.0f);
  EXPECT_EQ(m.At(1, Feature::kCosineText), 0.0f);
  EXPECT_TRUE(std::isnan(m.At(0, Feature::kCosineJointPhoto)));  // p0 has no photo part
  EXPECT_FLOAT_EQ(m.At(1, Feature::kCosineJointPhoto), 0.6f);
  EXPECT_TRUE(std::isnan(m.At(1, Feature::kCosinePhotoText)));   // no words on its photo

  query.joint_part_query.clear();  // a query without a joint vector
  const FeatureMatrix none =
      extractor.Extract(query, std::vector<Candidate>{c0}, [&](DocId doc) -> const Product& { return products_[doc]; });
  EXPECT_TRUE(std::isnan(none.At(0, Feature::kCosineText)));
}

// Products for the consensus features: article type, colour, gender and a category path whose
// second level is the sub category.
Product ColumnsProduct(const std::string& id, const std::string& type, const std::string& colour,
                       const std::string& gender, const std::string& sub_category) {
  Product p;
  p.id = id;
  p.title = id;
  p.category_path = {"Apparel", sub_category, type};
  p.attributes["article_type"] = type;
  if (!colour.empty()) p.attributes["colour"] = colour;
  p.attributes["gender"] = gender;
  return p;
}

// The weight of the candidate at 0-based `rank` in the consensus.
double RankWeight(size_t rank) { return 1.0 / std::log2(static_cast<double>(rank) + 2.0); }

class ConsensusFeatureTest : public FeatureExtractorTest {
 protected:
  void SetUp() override {
    FeatureExtractorTest::SetUp();
    products_ = {ColumnsProduct("p0", "Shirts", "Navy Blue", "Men", "Topwear"),
                 ColumnsProduct("p1", "Shirts", "Navy Blue", "Women", "Topwear"),
                 ColumnsProduct("p2", "Tshirts", "Black", "Men", "Topwear"),
                 ColumnsProduct("p3", "Shirts", "Navy Blue", "Men", "Topwear"),
                 ColumnsProduct("p4", "Jeans", "", "Men", "Bottomwear")};
  }

  // A photo query's candidates p0 to p4, in that retrieval order; p0's photo cosine is
  // `first_cosine` and the others' 0.5.
  FeatureMatrix ExtractAll(size_t depth, float first_cosine = 0.9f) const {
    FeatureQuery query;
    query.has_photo = true;
    query.consensus_depth = depth;
    std::vector<Candidate> candidates(products_.size());
    for (size_t i = 0; i < candidates.size(); ++i) {
      candidates[i].doc = static_cast<DocId>(i);
      candidates[i].image_similarity = i == 0 ? first_cosine : 0.5f;
    }
    return Extract(query, candidates);
  }
};

TEST_F(ConsensusFeatureTest, SharesWeighTheHeadByRank) {
  // The head is p0, p1 and p2.
  const FeatureMatrix m = ExtractAll(3);
  const double head = RankWeight(0) + RankWeight(1) + RankWeight(2);

  // p0 is in the head, so it is compared with p1 and p2 only.
  EXPECT_FLOAT_EQ(m.At(0, Feature::kConsensusArticleType), RankWeight(1) / (head - RankWeight(0)));
  EXPECT_FLOAT_EQ(m.At(0, Feature::kConsensusGender), RankWeight(2) / (head - RankWeight(0)));
  EXPECT_EQ(m.At(0, Feature::kConsensusAll), 0.0f);  // no other Navy Blue Men's shirt in the head
  EXPECT_EQ(m.At(2, Feature::kConsensusArticleType), 0.0f);

  // p3 lies below the head, and the whole head counts.
  EXPECT_FLOAT_EQ(m.At(3, Feature::kConsensusArticleType), (RankWeight(0) + RankWeight(1)) / head);
  EXPECT_FLOAT_EQ(m.At(3, Feature::kConsensusColour), (RankWeight(0) + RankWeight(1)) / head);
  EXPECT_FLOAT_EQ(m.At(3, Feature::kConsensusGender), (RankWeight(0) + RankWeight(2)) / head);
  EXPECT_FLOAT_EQ(m.At(3, Feature::kConsensusAll), RankWeight(0) / head);
  EXPECT_FLOAT_EQ(m.At(3, Feature::kConsensusSubCategory), 1.0f);
  EXPECT_EQ(m.At(4, Feature::kConsensusSubCategory), 0.0f);
}

TEST_F(ConsensusFeatureTest, DeeperHeadAddsTheLowerCandidates) {
  const FeatureMatrix m = ExtractAll(5);
  const double head = RankWeight(0) + RankWeight(1) + RankWeight(2) + RankWeight(3) + RankWeight(4);
  EXPECT_FLOAT_EQ(m.At(0, Feature::kConsensusAll), RankWeight(3) / (head - RankWeight(0)));
  EXPECT_FLOAT_EQ(m.At(4, Feature::kConsensusGender), (RankWeight(0) + RankWeight(2) + RankWeight(3)) / (head - RankWeight(4)));
}

TEST_F(ConsensusFeatureTest, QueryPhotoCopyStaysOutOfTheHead) {
  // p0 has the query's own photo, so the head is p1, p2 and p3.
  const FeatureMatrix m = ExtractAll(3, 1.0f);
  const double head = RankWeight(0) + RankWeight(1) + RankWeight(2);
  EXPECT_FLOAT_EQ(m.At(0, Feature::kConsensusArticleType), (RankWeight(0) + RankWeight(2)) / head);
  EXPECT_FLOAT_EQ(m.At(4, Feature::kConsensusGender), (RankWeight(1) + RankWeight(2)) / head);
  EXPECT_FLOAT_EQ(m.At(1, Feature::kConsensusArticleType), RankWeight(2) / (head - RankWeight(0)));
}

TEST_F(ConsensusFeatureTest, EmptyValueIsMissing) {
  const FeatureMatrix m = ExtractAll(3);
  EXPECT_TRUE(std::isnan(m.At(4, Feature::kConsensusColour)));  // p4 has no colour
  EXPECT_TRUE(std::isnan(m.At(4, Feature::kConsensusAll)));
  EXPECT_EQ(m.At(4, Feature::kConsensusArticleType), 0.0f);
}

TEST_F(ConsensusFeatureTest, ZeroDepthMakesEveryShareMissing) {
  const FeatureMatrix m = ExtractAll(0);
  for (size_t row = 0; row < m.rows(); ++row) {
    for (Feature f : {Feature::kConsensusArticleType, Feature::kConsensusSubCategory, Feature::kConsensusColour,
                      Feature::kConsensusGender, Feature::kConsensusAll}) {
      EXPECT_TRUE(std::isnan(m.At(row, f))) << row << " " << FeatureName(f);
    }
  }
}

TEST_F(ConsensusFeatureTest, LoneCandidateHasNoPeers) {
  FeatureQuery query;
  Candidate only;
  only.doc = 0;
  const FeatureMatrix m = Extract(query, {only});
  EXPECT_TRUE(std::isnan(m.At(0, Feature::kConsensusArticleType)));
}

TEST(FeatureSchemaTest, NamesAreUniqueAndFound) {
  std::set<std::string> names;
  for (size_t i = 0; i < kFeatureCount; ++i) {
    const std::string name = FeatureInfos()[i].name;
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(FeatureByName(name), static_cast<Feature>(i)) << name;
    EXPECT_FALSE(std::string(FeatureInfos()[i].description).empty()) << name;
  }
  EXPECT_EQ(FeatureByName("no_such_feature"), Feature::kCount);
}

TEST(ProductSignalsTest, ClickThroughIsSmoothedTowardsTheMean) {
  ProductSignals signals(SignalOptions{.prior_strength = 10});
  for (int i = 0; i < 90; ++i) signals.Add("seen", SignalKind::kView);
  for (int i = 0; i < 9; ++i) signals.Add("seen", SignalKind::kClick);
  signals.Add("new", SignalKind::kView);
  signals.Add("new", SignalKind::kClick);
  // The catalogue's mean is 10 / 91; one view and one click stays near it.
  const double prior = 10.0 / 91.0;
  EXPECT_NEAR(signals.ClickThrough("new"), (1 + 10 * prior) / (1 + 10), 1e-9);
  EXPECT_NEAR(signals.ClickThrough("unknown"), prior, 1e-9);
  EXPECT_LT(signals.ClickThrough("new"), 0.25);
}

TEST(ProductSignalsTest, ErasedEventsLeaveTheCounts) {
  ProductSignals signals;
  signals.Add("p", SignalKind::kPurchase);
  signals.Add("p", SignalKind::kClick);
  EXPECT_NEAR(signals.Popularity("p"), std::log1p(8.0 + 2.0), 1e-9);
  signals.Add("p", SignalKind::kPurchase, -1);
  signals.Add("p", SignalKind::kClick, -1);
  signals.Add("p", SignalKind::kClick, -1);  // never below zero
  EXPECT_EQ(signals.Popularity("p"), 0.0);
  EXPECT_EQ(signals.Counts("p").clicks, 0u);
}

TEST(ProductSignalsTest, EqualPricesShareABand) {
  std::vector<Product> products = {MakeProduct("a", "Shirts", 100.0, ""), MakeProduct("b", "Shirts", 200.0, ""),
                                   MakeProduct("c", "Shirts", 200.0, ""), MakeProduct("d", "Shirts", 300.0, ""),
                                   MakeProduct("e", "Caps", 50.0, "")};
  std::vector<const Product*> all;
  for (const Product& p : products) all.push_back(&p);
  ProductSignals signals;
  signals.SetPriceBands(all);
  EXPECT_EQ(*signals.PriceBand("a"), 0.0);
  EXPECT_EQ(*signals.PriceBand("b"), 0.5);
  EXPECT_EQ(*signals.PriceBand("c"), 0.5);
  EXPECT_EQ(*signals.PriceBand("d"), 1.0);
  EXPECT_EQ(*signals.PriceBand("e"), 0.5);  // alone in its article type
}

}  // namespace
}  // namespace tessera
