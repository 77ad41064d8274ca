#include "index/inverted_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/filter_index.h"

namespace tessera {
namespace {

using Terms = std::vector<std::string>;

// One field named "title" with the default BM25 parameters.
InvertedIndex TitleIndex() { return InvertedIndex({FieldSpec{"title"}}); }

std::vector<DocId> Ranking(const TermQueryResult& result) {
  std::vector<DocId> docs;
  for (const ScoredDoc& scored : result.top) docs.push_back(scored.doc);
  return docs;
}

float ScoreOf(const TermQueryResult& result, DocId doc) {
  for (const ScoredDoc& scored : result.top) {
    if (scored.doc == doc) return scored.score;
  }
  return -1;
}

TEST(InvertedIndex, MoreOccurrencesRankHigher) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt", "blue", "cotton", "slim"}});
  index.Add(1, {{"shirt", "shirt", "cotton", "slim"}});
  index.Add(2, {{"jeans", "blue", "denim", "slim"}});
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 10);
  EXPECT_EQ(Ranking(result), (std::vector<DocId>{1, 0}));
}

TEST(InvertedIndex, ShorterFieldRanksHigher) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt", "blue", "cotton", "slim", "fit", "casual"}});
  index.Add(1, {{"shirt", "blue"}});
  index.Add(2, {{"jeans", "blue"}});
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 10);
  EXPECT_EQ(Ranking(result), (std::vector<DocId>{1, 0}));
}

TEST(InvertedIndex, RarerTermWeighsMore) {
  InvertedIndex index = TitleIndex();
  // "blue" is in four documents and "linen" in one. Docs 0 and 1 each match one query term.
  index.Add(0, {{"blue", "shirt"}});
  index.Add(1, {{"linen", "shirt"}});
  index.Add(2, {{"blue", "jeans"}});
  index.Add(3, {{"blue", "cap"}});
  index.Add(4, {{"blue", "sock"}});
  // Docs 0 and 1 have the same length and one occurrence each, so only idf differs.
  EXPECT_GT(ScoreOf(index.Search({"linen"}, nullptr, 10), 1), ScoreOf(index.Search({"blue"}, nullptr, 10), 0));
  // With both words, no document has both; the rarer "linen" is kept.
  const TermQueryResult result = index.Search({"blue", "linen"}, nullptr, 10);
  ASSERT_FALSE(result.top.empty());
  EXPECT_EQ(result.top.front().doc, 1u);
}

TEST(InvertedIndex, MatchingAllTermsBeatsMatchingOne) {
  InvertedIndex index = TitleIndex();
  // Doc 0 repeats the rare "navy" but lacks "shirt". Doc 1 has both terms once.
  index.Add(0, {{"navy", "navy", "navy", "jeans"}});
  index.Add(1, {{"navy", "shirt", "cotton", "slim"}});
  for (DocId doc = 2; doc < 12; ++doc) index.Add(doc, {{"shirt", "white"}});
  const TermQueryResult result = index.Search({"navy", "shirt"}, nullptr, 10);
  ASSERT_FALSE(result.top.empty());
  EXPECT_EQ(result.top.front().doc, 1u);
  EXPECT_EQ(result.top.front().matched_terms, 2u);
  EXPECT_EQ(result.top.front().level, 0u);
  // Doc 0 scores higher on "navy" alone but comes after the document holding both words.
  EXPECT_GT(ScoreOf(result, 0), ScoreOf(result, 1));
  ASSERT_GE(result.top.size(), 2u);
  EXPECT_EQ(result.top[1].doc, 0u);
  EXPECT_EQ(result.top[1].level, 1u);
}

TEST(InvertedIndex, RelaxationDropsMostCommonWordFirst) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"navy", "jeans"}});                                      // lacks "shirt"
  index.Add(1, {{"white", "shirt"}});                                     // lacks "navy"
  for (DocId doc = 2; doc < 6; ++doc) index.Add(doc, {{"shirt", "slim"}});  // "shirt" is common
  const TermQueryResult result = index.Search({"navy", "shirt"}, nullptr, 10);
  // No document contains both. Dropping the common "shirt" keeps the rare "navy", and the rarest
  // word is never dropped, so documents with only "shirt" are not returned.
  ASSERT_EQ(result.top.size(), 1u);
  EXPECT_EQ(result.top[0].doc, 0u);
  EXPECT_EQ(result.top[0].level, 1u);
  EXPECT_EQ(result.matched.cardinality(), 1u);
}

TEST(InvertedIndex, RelaxationStopsWhenEnoughMatchAll) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"navy", "shirt"}});
  index.Add(1, {{"navy", "jeans"}});
  const TermQueryResult result = index.Search({"navy", "shirt"}, nullptr, 1);
  ASSERT_EQ(result.top.size(), 1u);
  EXPECT_EQ(result.top[0].doc, 0u);
  EXPECT_EQ(result.matched.cardinality(), 1u);
}

TEST(InvertedIndex, ScoreMatchesBm25Formula) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt", "shirt", "blue"}});
  index.Add(1, {{"jeans"}});
  // N = 2, df = 1, tf = 2, len = 3, avglen = 2, k1 = 1.2, b = 0.75.
  const double idf = std::log(1.0 + (2 - 1 + 0.5) / (1 + 0.5));
  const double expected = idf * 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / 2.0));
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 10);
  ASSERT_EQ(result.top.size(), 1u);
  EXPECT_NEAR(result.top[0].score, expected, 1e-5);
}

TEST(InvertedIndex, DuplicateQueryTermsCountOnce) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt", "blue"}});
  index.Add(1, {{"jeans"}});
  const TermQueryResult once = index.Search({"shirt"}, nullptr, 10);
  const TermQueryResult twice = index.Search({"shirt", "shirt"}, nullptr, 10);
  ASSERT_EQ(twice.top.size(), 1u);
  EXPECT_EQ(twice.top[0].score, once.top[0].score);
  EXPECT_EQ(twice.top[0].matched_terms, 1u);
}

TEST(InvertedIndex, RemovedDocNeverReturned) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt"}});
  index.Add(1, {{"shirt", "blue"}});
  index.Remove(0);
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 10);
  EXPECT_EQ(Ranking(result), (std::vector<DocId>{1}));
  EXPECT_FALSE(result.matched.contains(0));
  EXPECT_EQ(index.live_documents(), 1u);
}

TEST(InvertedIndex, RemoveUpdatesStatistics) {
  // After removing the other "shirt" documents, doc 0 scores as if they had never been added.
  InvertedIndex removed = TitleIndex();
  removed.Add(0, {{"shirt", "blue"}});
  removed.Add(1, {{"shirt", "shirt", "shirt", "red", "cotton", "slim"}});
  removed.Add(2, {{"shirt", "white", "linen", "casual", "party", "slim"}});
  removed.Add(3, {{"jeans"}});
  removed.Remove(1);
  removed.Remove(2);

  InvertedIndex fresh = TitleIndex();
  fresh.Add(0, {{"shirt", "blue"}});
  fresh.Add(3, {{"jeans"}});

  const TermQueryResult a = removed.Search({"shirt"}, nullptr, 10);
  const TermQueryResult b = fresh.Search({"shirt"}, nullptr, 10);
  ASSERT_EQ(a.top.size(), 1u);
  ASSERT_EQ(b.top.size(), 1u);
  EXPECT_NEAR(a.top[0].score, b.top[0].score, 1e-6);
}

TEST(InvertedIndex, RemovingEveryHolderOfTermMatchesNothing) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt"}});
  index.Add(1, {{"jeans"}});
  index.Remove(0);
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 10);
  EXPECT_TRUE(result.top.empty());
  EXPECT_EQ(result.matched.cardinality(), 0u);
}

TEST(InvertedIndex, RemoveAbsentDocIsNoOp) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt"}});
  index.Remove(7);
  index.Remove(0);
  index.Remove(0);
  EXPECT_EQ(index.live_documents(), 0u);
  EXPECT_TRUE(index.Search({"shirt"}, nullptr, 10).top.empty());
}

TEST(InvertedIndex, ReplacedProductFoundByNewTermsOnly) {
  // The engine replaces a product by removing its DocId and adding it under a new one.
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"red", "shirt"}});
  index.Remove(0);
  index.Add(1, {{"green", "shirt"}});
  EXPECT_TRUE(index.Search({"red"}, nullptr, 10).top.empty());
  EXPECT_EQ(Ranking(index.Search({"green"}, nullptr, 10)), (std::vector<DocId>{1}));
}

TEST(InvertedIndex, AllowedBitmapRestricts) {
  InvertedIndex index = TitleIndex();
  for (DocId doc = 0; doc < 6; ++doc) index.Add(doc, {{"shirt"}});
  const Roaring allowed = Roaring::bitmapOf(2, 1, 4);
  const TermQueryResult result = index.Search({"shirt"}, &allowed, 10);
  EXPECT_EQ(result.top.size(), 2u);
  for (const ScoredDoc& scored : result.top) {
    EXPECT_TRUE(scored.doc == 1 || scored.doc == 4) << scored.doc;
  }
  EXPECT_EQ(result.matched, Roaring::bitmapOf(2, 1, 4));
}

TEST(InvertedIndex, EmptyAllowedBitmapMatchesNothing) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt"}});
  const Roaring allowed;
  const TermQueryResult result = index.Search({"shirt"}, &allowed, 10);
  EXPECT_TRUE(result.top.empty());
  EXPECT_EQ(result.matched.cardinality(), 0u);
}

TEST(InvertedIndex, TopKBoundsResultsMatchedCountsAll) {
  InvertedIndex index = TitleIndex();
  for (DocId doc = 0; doc < 50; ++doc) index.Add(doc, {{"shirt"}});
  index.Add(50, {{"jeans"}});
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 5);
  EXPECT_EQ(result.top.size(), 5u);
  EXPECT_EQ(result.matched.cardinality(), 50u);
}

TEST(InvertedIndex, TopKZeroReturnsOnlyMatched) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt"}});
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 0);
  EXPECT_TRUE(result.top.empty());
  EXPECT_EQ(result.matched.cardinality(), 1u);
}

TEST(InvertedIndex, EqualScoresOrderedByDocId) {
  InvertedIndex index = TitleIndex();
  for (DocId doc : {7u, 3u, 5u}) index.Add(doc, {{"shirt"}});
  EXPECT_EQ(Ranking(index.Search({"shirt"}, nullptr, 10)), (std::vector<DocId>{3, 5, 7}));
}

TEST(InvertedIndex, ResultsSortedBestFirst) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt", "a", "b", "c", "d", "e"}});
  index.Add(1, {{"shirt"}});
  index.Add(2, {{"shirt", "shirt", "a"}});
  index.Add(3, {{"shirt", "a", "b"}});
  const TermQueryResult result = index.Search({"shirt"}, nullptr, 10);
  ASSERT_EQ(result.top.size(), 4u);
  for (size_t i = 1; i < result.top.size(); ++i) {
    EXPECT_GE(result.top[i - 1].score, result.top[i].score) << "rank " << i;
  }
}

TEST(InvertedIndex, FieldWeightsMatter) {
  // Doc 0 has "navy" in the title and doc 1 in the description. Otherwise they mirror each other.
  auto build = [](float title_weight, float description_weight) {
    auto index = std::make_unique<InvertedIndex>(std::vector<FieldSpec>{
        FieldSpec{"title", title_weight}, FieldSpec{"description", description_weight}});
    index->Add(0, {{"navy", "shirt"}, {"cotton", "shirt"}});
    index->Add(1, {{"cotton", "shirt"}, {"navy", "shirt"}});
    index->Add(2, {{"red", "jeans"}, {"denim", "jeans"}});
    return index;
  };
  EXPECT_EQ(build(3.0f, 1.0f)->Search({"navy"}, nullptr, 10).top.front().doc, 0u);
  EXPECT_EQ(build(1.0f, 3.0f)->Search({"navy"}, nullptr, 10).top.front().doc, 1u);
}

TEST(InvertedIndex, TermInTwoFieldsCountsOnceForCoordination) {
  InvertedIndex index({FieldSpec{"title"}, FieldSpec{"attributes"}});
  index.Add(0, {{"navy", "shirt"}, {"navy"}});
  const TermQueryResult result = index.Search({"navy"}, nullptr, 10);
  ASSERT_EQ(result.top.size(), 1u);
  EXPECT_EQ(result.top[0].matched_terms, 1u);
}

TEST(InvertedIndex, TermReachingNewFieldKeepsScores) {
  // "navy" is in the title of docs 0 to 2 before doc 3 has it in the category too, so the index
  // widens the postings it holds. Adding doc 3 first needs no widening, and every score, per
  // field as well, must come out the same.
  const std::vector<std::vector<std::vector<std::string>>> docs = {
      {{"navy", "shirt"}, {"tops"}, {}},
      {{"navy", "slim", "jeans"}, {"bottoms"}, {"denim"}},
      {{"navy", "cotton", "polo", "shirt"}, {"tops"}, {"cotton"}},
      {{"navy", "blue", "shirt"}, {"navy", "tops"}, {"linen"}},
  };
  const std::vector<FieldSpec> fields = {FieldSpec{"title", 0.6f}, FieldSpec{"category", 1.5f},
                                         FieldSpec{"attributes", 0.8f}};
  InvertedIndex widened(fields);
  for (DocId doc = 0; doc < 4; ++doc) widened.Add(doc, docs[doc]);
  InvertedIndex direct(fields);
  direct.Add(3, docs[3]);
  for (DocId doc = 0; doc < 3; ++doc) direct.Add(doc, docs[doc]);

  const TermQueryResult expected = direct.Search({"navy"}, nullptr, 10);
  const TermQueryResult actual = widened.Search({"navy"}, nullptr, 10);
  ASSERT_EQ(expected.top.size(), 4u);
  ASSERT_EQ(actual.top.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE("rank " + std::to_string(i));
    EXPECT_EQ(actual.top[i].doc, expected.top[i].doc);
    EXPECT_EQ(actual.top[i].score, expected.top[i].score);
  }
  LexicalQuery query;
  query.groups.push_back({"navy", {{{"navy"}, 1.0f, 0}}});
  for (DocId doc = 0; doc < 4; ++doc) {
    SCOPED_TRACE("doc " + std::to_string(doc));
    EXPECT_EQ(widened.FieldScores(query, doc), direct.FieldScores(query, doc));
  }
}

TEST(InvertedIndex, EmptyIndexOrQueryReturnsNothing) {
  InvertedIndex empty = TitleIndex();
  EXPECT_TRUE(empty.Search({"shirt"}, nullptr, 10).top.empty());
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"shirt"}});
  EXPECT_TRUE(index.Search(std::vector<std::string>{}, nullptr, 10).top.empty());
  EXPECT_TRUE(index.Search({"unknown"}, nullptr, 10).top.empty());
}

// A word with a synonym is one group of two alternatives, whose union is kept between queries.
// Documents added and removed must still show in the next query.
TEST(InvertedIndex, KeptGroupUnionFollowsAddAndRemove) {
  InvertedIndex index = TitleIndex();
  index.Add(0, {{"tee", "navy"}});
  index.Add(1, {{"tshirt", "navy"}});
  index.Add(2, {{"jeans", "navy"}});
  LexicalQuery query;
  query.groups.push_back({"tshirt", {{{"tshirt"}, 1.0f, 0}, {{"tee"}, 0.8f, 0, true}}});
  auto matches = [&] {
    TermQueryResult result = index.Search(query, nullptr, 10);
    std::vector<DocId> docs = Ranking(result);
    std::sort(docs.begin(), docs.end());
    return docs;
  };

  EXPECT_EQ(matches(), (std::vector<DocId>{0, 1}));
  EXPECT_EQ(matches(), (std::vector<DocId>{0, 1}));
  EXPECT_EQ(index.group_union_misses(), 1u);
  EXPECT_EQ(index.group_union_hits(), 1u);

  index.Add(3, {{"tee", "white"}});
  EXPECT_EQ(matches(), (std::vector<DocId>{0, 1, 3}));
  index.Remove(0);
  EXPECT_EQ(matches(), (std::vector<DocId>{1, 3}));
  EXPECT_EQ(index.group_union_misses(), 3u);

  // With no bytes to keep them, every query computes its unions.
  index.SetGroupUnionCacheBytes(0);
  EXPECT_EQ(matches(), (std::vector<DocId>{1, 3}));
  EXPECT_EQ(matches(), (std::vector<DocId>{1, 3}));
  EXPECT_EQ(index.group_union_hits(), 1u);
  EXPECT_EQ(index.group_union_misses(), 3u);
}

TEST(InvertedIndex, TermCountCountsDistinctTerms) {
  InvertedIndex index({FieldSpec{"title"}, FieldSpec{"description"}});
  index.Add(0, {{"navy", "shirt"}, {"navy", "cotton", "cotton"}});
  EXPECT_EQ(index.term_count(), 3u);
}

TEST(FilterIndex, MatchingIgnoresAsciiCase) {
  FilterIndex filters;
  filters.Add(0, "colour", "Navy Blue");
  filters.Add(1, "colour", "navy blue");
  filters.Add(2, "colour", "Red");
  EXPECT_EQ(filters.Matching("colour", "NAVY BLUE"), Roaring::bitmapOf(2, 0, 1));
}

TEST(FilterIndex, MatchingUnknownFieldOrValueIsEmpty) {
  FilterIndex filters;
  filters.Add(0, "colour", "Red");
  EXPECT_EQ(filters.Matching("colour", "Blue").cardinality(), 0u);
  EXPECT_EQ(filters.Matching("gender", "Red").cardinality(), 0u);
}

TEST(FilterIndex, EmptyValueNotIndexed) {
  FilterIndex filters;
  filters.Add(0, "colour", "");
  EXPECT_EQ(filters.Matching("colour", "").cardinality(), 0u);
  EXPECT_TRUE(filters.Facet("colour", Roaring::bitmapOf(1, 0)).empty());
}

TEST(FilterIndex, RemovedDocNoLongerMatches) {
  FilterIndex filters;
  filters.Add(0, "colour", "Red");
  filters.Add(1, "colour", "Red");
  filters.SetPrice(0, 10.0);
  filters.Remove(0);
  EXPECT_EQ(filters.Matching("colour", "red"), Roaring::bitmapOf(1, 1));
  EXPECT_EQ(filters.PriceBetween(std::nullopt, std::nullopt).cardinality(), 0u);
}

TEST(FilterIndex, PriceBoundsInclusive) {
  FilterIndex filters;
  filters.SetPrice(0, 10.0);
  filters.SetPrice(1, 20.0);
  filters.SetPrice(2, 30.0);
  EXPECT_EQ(filters.PriceBetween(10.0, 20.0), Roaring::bitmapOf(2, 0, 1));
  EXPECT_EQ(filters.PriceBetween(20.0, 20.0), Roaring::bitmapOf(1, 1));
  EXPECT_EQ(filters.PriceBetween(10.5, 29.5), Roaring::bitmapOf(1, 1));
}

TEST(FilterIndex, OpenPriceBounds) {
  FilterIndex filters;
  filters.SetPrice(0, 10.0);
  filters.SetPrice(1, 20.0);
  filters.SetPrice(2, 0.0);
  EXPECT_EQ(filters.PriceBetween(15.0, std::nullopt), Roaring::bitmapOf(1, 1));
  EXPECT_EQ(filters.PriceBetween(std::nullopt, 10.0), Roaring::bitmapOf(2, 0, 2));
  EXPECT_EQ(filters.PriceBetween(std::nullopt, std::nullopt), Roaring::bitmapOf(3, 0, 1, 2));
}

TEST(FilterIndex, UnpricedExcluded) {
  FilterIndex filters;
  filters.SetPrice(0, 10.0);
  filters.SetPrice(1, std::nullopt);
  filters.SetPrice(5, 12.0);  // docs 2 to 4 never had a price set
  EXPECT_EQ(filters.PriceBetween(std::nullopt, std::nullopt), Roaring::bitmapOf(2, 0, 5));
  EXPECT_EQ(filters.PriceBetween(0.0, 100.0), Roaring::bitmapOf(2, 0, 5));
}

TEST(FilterIndex, PriceCanBeCleared) {
  FilterIndex filters;
  filters.SetPrice(0, 10.0);
  filters.SetPrice(0, std::nullopt);
  EXPECT_EQ(filters.PriceBetween(std::nullopt, std::nullopt).cardinality(), 0u);
}

TEST(FilterIndex, FacetCountsWithinSet) {
  FilterIndex filters;
  filters.Add(0, "colour", "Navy Blue");
  filters.Add(1, "colour", "navy blue");
  filters.Add(2, "colour", "Red");
  filters.Add(3, "colour", "Red");
  filters.Add(4, "colour", "Green");
  const std::map<std::string, uint64_t> counts = filters.Facet("colour", Roaring::bitmapOf(4, 0, 1, 2, 3));
  // The key is the value as first added. Green has no document in the set and is left out.
  const std::map<std::string, uint64_t> expected = {{"Navy Blue", 2}, {"Red", 2}};
  EXPECT_EQ(counts, expected);
}

TEST(FilterIndex, FacetOfUnknownFieldIsEmpty) {
  FilterIndex filters;
  filters.Add(0, "colour", "Red");
  EXPECT_TRUE(filters.Facet("gender", Roaring::bitmapOf(1, 0)).empty());
}

}  // namespace
}  // namespace tessera
