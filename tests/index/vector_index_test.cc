#include "index/vector_index.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

constexpr size_t kDimension = 64;

std::vector<float> RandomUnitVector(std::mt19937& random, size_t dimension = kDimension) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dimension);
  double norm = 0;
  for (float& x : v) {
    x = normal(random);
    norm += double(x) * x;
  }
  norm = std::sqrt(norm);
  for (float& x : v) x = static_cast<float>(x / norm);
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
  return sum;
}

// The exact reference: the k docs of `vectors` (DocId = position) with the largest inner
// product, restricted to `allowed` when not null.
std::vector<DocId> BruteForceTopK(const std::vector<std::vector<float>>& vectors, const std::vector<float>& query,
                                  size_t k, const std::set<DocId>* allowed = nullptr) {
  std::vector<std::pair<double, DocId>> scored;
  for (DocId doc = 0; doc < vectors.size(); ++doc) {
    if (allowed != nullptr && !allowed->count(doc)) continue;
    scored.emplace_back(Dot(vectors[doc], query), doc);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<DocId> top;
  for (size_t i = 0; i < std::min(k, scored.size()); ++i) top.push_back(scored[i].second);
  return top;
}

std::vector<DocId> Docs(const std::vector<VectorHit>& hits) {
  std::vector<DocId> docs;
  for (const VectorHit& hit : hits) docs.push_back(hit.doc);
  return docs;
}

class VectorIndexTest : public ::testing::Test {
 protected:
  // Adds `count` random unit vectors as DocIds 0..count-1 with a fixed seed.
  void Fill(size_t count) {
    std::mt19937 random(20240601);
    for (size_t i = 0; i < count; ++i) {
      vectors_.push_back(RandomUnitVector(random));
      ASSERT_TRUE(index_.Add(static_cast<DocId>(i), vectors_.back()).ok());
    }
  }

  VectorIndex index_{kDimension};
  std::vector<std::vector<float>> vectors_;
};

TEST_F(VectorIndexTest, ExactSearchEqualsBruteForce) {
  Fill(2000);
  std::mt19937 random(7);
  constexpr size_t kK = 10;
  constexpr int kQueries = 50;
  size_t found = 0;
  for (int q = 0; q < kQueries; ++q) {
    const std::vector<float> query = RandomUnitVector(random);
    const std::vector<DocId> expected = BruteForceTopK(vectors_, query, kK);
    const std::vector<DocId> actual = Docs(index_.Search(query, kK, nullptr));
    ASSERT_EQ(actual.size(), kK);
    const std::set<DocId> expected_set(expected.begin(), expected.end());
    for (DocId doc : actual) found += expected_set.count(doc);
  }
  const double recall = double(found) / (kK * kQueries);
  EXPECT_EQ(recall, 1.0);
}

TEST_F(VectorIndexTest, HitsSortedWithInnerProductSimilarity) {
  Fill(500);
  std::mt19937 random(11);
  const std::vector<float> query = RandomUnitVector(random);
  const std::vector<VectorHit> hits = index_.Search(query, 20, nullptr);
  ASSERT_EQ(hits.size(), 20u);
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_NEAR(hits[i].similarity, Dot(vectors_[hits[i].doc], query), 1e-5) << "rank " << i;
    if (i > 0) {
      EXPECT_GE(hits[i - 1].similarity, hits[i].similarity) << "rank " << i;
    }
  }
}

TEST_F(VectorIndexTest, StoredVectorIsOwnNearest) {
  Fill(300);
  const std::vector<VectorHit> hits = index_.Search(vectors_[123], 1, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].doc, 123u);
  EXPECT_NEAR(hits[0].similarity, 1.0, 1e-5);
}

TEST_F(VectorIndexTest, RemovedDocNeverReturned) {
  Fill(300);
  ASSERT_TRUE(index_.Contains(123));
  index_.Remove(123);
  EXPECT_FALSE(index_.Contains(123));
  EXPECT_EQ(index_.size(), 299u);
  const std::vector<VectorHit> hits = index_.Search(vectors_[123], 300, nullptr);
  EXPECT_EQ(hits.size(), 299u);
  for (const VectorHit& hit : hits) EXPECT_NE(hit.doc, 123u);
}

TEST_F(VectorIndexTest, RemoveKeepsOtherDocIds) {
  Fill(100);
  index_.Remove(10);
  index_.Remove(50);
  // Faiss compacts its storage on removal, so every remaining DocId must still map to its vector.
  for (DocId doc : {0u, 11u, 49u, 51u, 99u}) {
    const std::vector<VectorHit> hits = index_.Search(vectors_[doc], 1, nullptr);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].doc, doc);
  }
}

TEST_F(VectorIndexTest, RemoveAbsentDocIsNoOp) {
  Fill(10);
  index_.Remove(999);
  EXPECT_EQ(index_.size(), 10u);
}

TEST_F(VectorIndexTest, ReAddAfterRemove) {
  Fill(10);
  index_.Remove(3);
  std::mt19937 random(99);
  const std::vector<float> replacement = RandomUnitVector(random);
  ASSERT_TRUE(index_.Add(3, replacement).ok());
  const std::vector<VectorHit> hits = index_.Search(replacement, 1, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].doc, 3u);
  EXPECT_NEAR(hits[0].similarity, 1.0, 1e-5);
}

TEST_F(VectorIndexTest, FilteredSearchReturnsOnlyAllowedDocs) {
  Fill(2000);
  std::mt19937 random(5);
  std::set<DocId> allowed_set;
  Roaring allowed;
  for (DocId doc = 0; doc < 2000; doc += 7) {
    allowed_set.insert(doc);
    allowed.add(doc);
  }
  const std::vector<float> query = RandomUnitVector(random);
  const std::vector<DocId> actual = Docs(index_.Search(query, 10, &allowed));
  EXPECT_EQ(actual, BruteForceTopK(vectors_, query, 10, &allowed_set));
}

TEST_F(VectorIndexTest, TinyAllowedSetFoundBeyondFirstPass) {
  Fill(2000);
  std::mt19937 random(3);
  const std::vector<float> query = RandomUnitVector(random);
  // The two docs least similar to the query are outside any over-fetched first pass.
  const std::vector<DocId> all = BruteForceTopK(vectors_, query, 2000);
  const DocId last = all[1999];
  const DocId second_last = all[1998];
  const Roaring allowed = Roaring::bitmapOf(2, last, second_last);

  const std::vector<DocId> actual = Docs(index_.Search(query, 10, &allowed));
  EXPECT_EQ(actual, (std::vector<DocId>{second_last, last}));
}

TEST_F(VectorIndexTest, EmptyAllowedSetReturnsNothing) {
  Fill(100);
  const Roaring allowed;
  std::mt19937 random(1);
  EXPECT_TRUE(index_.Search(RandomUnitVector(random), 10, &allowed).empty());
}

TEST_F(VectorIndexTest, KLargerThanIndexReturnsAll) {
  Fill(5);
  std::mt19937 random(1);
  EXPECT_EQ(index_.Search(RandomUnitVector(random), 100, nullptr).size(), 5u);
}

TEST_F(VectorIndexTest, ZeroKReturnsNothing) {
  Fill(5);
  std::mt19937 random(1);
  EXPECT_TRUE(index_.Search(RandomUnitVector(random), 0, nullptr).empty());
}

TEST(VectorIndex, EmptyIndexReturnsNothing) {
  VectorIndex index(kDimension);
  std::mt19937 random(1);
  EXPECT_TRUE(index.Search(RandomUnitVector(random), 10, nullptr).empty());
  EXPECT_EQ(index.size(), 0u);
}

TEST(VectorIndex, WrongDimensionRejected) {
  VectorIndex index(kDimension);
  std::mt19937 random(1);
  const Status status = index.Add(0, RandomUnitVector(random, kDimension - 1));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.Contains(0));
}

TEST(VectorIndex, WrongDimensionQueryReturnsNothing) {
  VectorIndex index(kDimension);
  std::mt19937 random(1);
  ASSERT_TRUE(index.Add(0, RandomUnitVector(random)).ok());
  EXPECT_TRUE(index.Search(RandomUnitVector(random, kDimension + 1), 10, nullptr).empty());
}

}  // namespace
}  // namespace tessera
