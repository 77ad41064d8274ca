// Candidate fusion of a lexical list and a vector list.
#include "retrieve/candidate_fusion.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

std::vector<DocId> Docs(const std::vector<FusedEntry>& fused) {
  std::vector<DocId> docs;
  for (const FusedEntry& e : fused) docs.push_back(e.doc);
  return docs;
}

TEST(CandidateFusionTest, ReciprocalRankFavoursBothLists) {
  const std::vector<LexicalEntry> lexical = {{1, 0, 9.0f}, {2, 0, 8.0f}, {3, 0, 7.0f}};
  const std::vector<VectorEntry> vector = {{4, 0.9f}, {3, 0.8f}, {1, 0.1f}};
  const std::vector<FusedEntry> fused = FuseCandidates(lexical, vector, {}, 10);
  // 1: 1/61 + 1/63; 3: 1/63 + 1/62; 2: 1/62; 4: 1/61.
  EXPECT_EQ(Docs(fused), (std::vector<DocId>{1, 3, 4, 2}));
  EXPECT_TRUE(fused[0].lexical);
  EXPECT_TRUE(fused[0].vector);
  EXPECT_FALSE(fused[2].lexical);
  EXPECT_NEAR(fused[0].score, 1.0f / 61 + 1.0f / 63, 1e-7);
}

TEST(CandidateFusionTest, VectorOrderBreaksLexicalTies) {
  // Documents 7 and 3 tie on the words; the lexical list lists 3 first, as the index does by id.
  const std::vector<LexicalEntry> lexical = {{3, 0, 5.0f}, {7, 0, 5.0f}};
  for (const FusionMethod method : {FusionMethod::kReciprocalRank, FusionMethod::kNormalized}) {
    FusionOptions options;
    options.method = method;
    EXPECT_EQ(Docs(FuseCandidates(lexical, {{7, 0.9f}, {3, 0.2f}}, options, 10)), (std::vector<DocId>{7, 3}));
    EXPECT_EQ(Docs(FuseCandidates(lexical, {{3, 0.9f}, {7, 0.2f}}, options, 10)), (std::vector<DocId>{3, 7}));
  }
}

TEST(CandidateFusionTest, NormalizedKeepsFullMatchesFirst) {
  // Document 2 dropped a word (band 16) but has a higher BM25F than document 1.
  const std::vector<LexicalEntry> lexical = {{1, 0, 2.0f}, {2, 16, 9.0f}};
  FusionOptions options;
  options.method = FusionMethod::kNormalized;
  options.vector_weight = 0;
  EXPECT_EQ(Docs(FuseCandidates(lexical, {}, options, 10)), (std::vector<DocId>{1, 2}));
}

TEST(CandidateFusionTest, DepthLimitsTheList) {
  const std::vector<LexicalEntry> lexical = {{1, 0, 3.0f}, {2, 0, 2.0f}};
  const std::vector<VectorEntry> vector = {{3, 0.9f}, {4, 0.8f}};
  EXPECT_EQ(FuseCandidates(lexical, vector, {}, 3).size(), 3u);
  EXPECT_TRUE(FuseCandidates({}, {}, {}, 3).empty());
}

TEST(CandidateFusionTest, BandsKeepTheLexicalList) {
  FusionOptions options;
  options.method = FusionMethod::kBands;
  const std::vector<LexicalEntry> lexical = {{3, 0, 5.0f}, {7, 0, 5.0f}};
  EXPECT_EQ(Docs(FuseCandidates(lexical, {{7, 0.9f}, {9, 0.8f}}, options, 10)), (std::vector<DocId>{3, 7}));
}

TEST(CandidateFusionTest, MethodNamesParse) {
  FusionMethod method;
  EXPECT_TRUE(ParseFusionMethod("rrf", &method));
  EXPECT_EQ(method, FusionMethod::kReciprocalRank);
  EXPECT_TRUE(ParseFusionMethod("normalized", &method));
  EXPECT_EQ(method, FusionMethod::kNormalized);
  EXPECT_TRUE(ParseFusionMethod("bands", &method));
  EXPECT_EQ(method, FusionMethod::kBands);
  EXPECT_FALSE(ParseFusionMethod("RRF", &method));
}

}  // namespace
}  // namespace tessera
