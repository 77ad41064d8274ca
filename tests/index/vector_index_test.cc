#include "index/vector_index.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "index/exact_vector_index.h"
#include "index/hnsw_vector_index.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::TempDir;

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

template <typename Index>
Index MakeIndex() {
  return Index(kDimension);
}

// A candidate list as long as these test sets makes the graph search exhaustive in practice, so
// the approximate index must return exactly what brute force returns.
template <>
HnswVectorIndex MakeIndex<HnswVectorIndex>() {
  HnswOptions options;
  options.ef_search = 400;
  return HnswVectorIndex(kDimension, options);
}

// Every behaviour below holds for both implementations, down to the exact results (see
// MakeIndex). HnswRecallTest measures recall at the default settings.
template <typename Index>
class VectorIndexTest : public ::testing::Test {
 protected:
  // Adds `count` random unit vectors as DocIds 0..count-1 with a fixed seed.
  void Fill(size_t count) {
    std::mt19937 random(20240601);
    for (size_t i = 0; i < count; ++i) {
      vectors_.push_back(RandomUnitVector(random));
      ASSERT_TRUE(index_.Upsert(static_cast<DocId>(i), vectors_.back()).ok());
    }
  }

  Index index_ = MakeIndex<Index>();
  std::vector<std::vector<float>> vectors_;
};

using Implementations = ::testing::Types<ExactVectorIndex, HnswVectorIndex>;
TYPED_TEST_SUITE(VectorIndexTest, Implementations);

TYPED_TEST(VectorIndexTest, ExactSearchEqualsBruteForce) {
  this->Fill(2000);
  std::mt19937 random(7);
  constexpr size_t kK = 10;
  constexpr int kQueries = 50;
  size_t found = 0;
  for (int q = 0; q < kQueries; ++q) {
    const std::vector<float> query = RandomUnitVector(random);
    const std::vector<DocId> expected = BruteForceTopK(this->vectors_, query, kK);
    const std::vector<DocId> actual = Docs(this->index_.Search(query, kK, nullptr));
    ASSERT_EQ(actual.size(), kK);
    const std::set<DocId> expected_set(expected.begin(), expected.end());
    for (DocId doc : actual) found += expected_set.count(doc);
  }
  const double recall = double(found) / (kK * kQueries);
  EXPECT_EQ(recall, 1.0);
}

TYPED_TEST(VectorIndexTest, HitsSortedWithInnerProductSimilarity) {
  this->Fill(500);
  std::mt19937 random(11);
  const std::vector<float> query = RandomUnitVector(random);
  const std::vector<VectorHit> hits = this->index_.Search(query, 20, nullptr);
  ASSERT_EQ(hits.size(), 20u);
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_NEAR(hits[i].similarity, Dot(this->vectors_[hits[i].doc], query), 1e-5) << "rank " << i;
    if (i > 0) {
      EXPECT_GE(hits[i - 1].similarity, hits[i].similarity) << "rank " << i;
    }
  }
}

TYPED_TEST(VectorIndexTest, StoredVectorIsOwnNearest) {
  this->Fill(300);
  const std::vector<VectorHit> hits = this->index_.Search(this->vectors_[123], 1, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].doc, 123u);
  EXPECT_NEAR(hits[0].similarity, 1.0, 1e-5);
}

TYPED_TEST(VectorIndexTest, RemovedDocNeverReturned) {
  this->Fill(300);
  ASSERT_TRUE(this->index_.Contains(123));
  this->index_.Remove(123);
  EXPECT_FALSE(this->index_.Contains(123));
  EXPECT_EQ(this->index_.size(), 299u);
  const std::vector<VectorHit> hits = this->index_.Search(this->vectors_[123], 300, nullptr);
  EXPECT_EQ(hits.size(), 299u);
  for (const VectorHit& hit : hits) EXPECT_NE(hit.doc, 123u);
}

TYPED_TEST(VectorIndexTest, RemoveKeepsOtherDocIds) {
  this->Fill(100);
  this->index_.Remove(10);
  this->index_.Remove(50);
  // Faiss compacts its storage on removal, so every remaining DocId must still map to its vector.
  for (DocId doc : {0u, 11u, 49u, 51u, 99u}) {
    const std::vector<VectorHit> hits = this->index_.Search(this->vectors_[doc], 1, nullptr);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].doc, doc);
  }
}

TYPED_TEST(VectorIndexTest, RemoveAbsentDocIsNoOp) {
  this->Fill(10);
  this->index_.Remove(999);
  EXPECT_EQ(this->index_.size(), 10u);
}

TYPED_TEST(VectorIndexTest, ReAddAfterRemove) {
  this->Fill(10);
  this->index_.Remove(3);
  std::mt19937 random(99);
  const std::vector<float> replacement = RandomUnitVector(random);
  ASSERT_TRUE(this->index_.Upsert(3, replacement).ok());
  const std::vector<VectorHit> hits = this->index_.Search(replacement, 1, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].doc, 3u);
  EXPECT_NEAR(hits[0].similarity, 1.0, 1e-5);
}

TYPED_TEST(VectorIndexTest, FilteredSearchReturnsOnlyAllowedDocs) {
  this->Fill(2000);
  std::mt19937 random(5);
  std::set<DocId> allowed_set;
  Roaring allowed;
  for (DocId doc = 0; doc < 2000; doc += 7) {
    allowed_set.insert(doc);
    allowed.add(doc);
  }
  const std::vector<float> query = RandomUnitVector(random);
  const std::vector<DocId> actual = Docs(this->index_.Search(query, 10, &allowed));
  EXPECT_EQ(actual, BruteForceTopK(this->vectors_, query, 10, &allowed_set));
}

TYPED_TEST(VectorIndexTest, TinyAllowedSetFoundBeyondFirstPass) {
  this->Fill(2000);
  std::mt19937 random(3);
  const std::vector<float> query = RandomUnitVector(random);
  // The two docs least similar to the query are outside any over-fetched first pass.
  const std::vector<DocId> all = BruteForceTopK(this->vectors_, query, 2000);
  const DocId last = all[1999];
  const DocId second_last = all[1998];
  const Roaring allowed = Roaring::bitmapOf(2, last, second_last);

  const std::vector<DocId> actual = Docs(this->index_.Search(query, 10, &allowed));
  EXPECT_EQ(actual, (std::vector<DocId>{second_last, last}));
}

TYPED_TEST(VectorIndexTest, EmptyAllowedSetReturnsNothing) {
  this->Fill(100);
  const Roaring allowed;
  std::mt19937 random(1);
  EXPECT_TRUE(this->index_.Search(RandomUnitVector(random), 10, &allowed).empty());
}

TYPED_TEST(VectorIndexTest, KLargerThanIndexReturnsAll) {
  this->Fill(5);
  std::mt19937 random(1);
  EXPECT_EQ(this->index_.Search(RandomUnitVector(random), 100, nullptr).size(), 5u);
}

TYPED_TEST(VectorIndexTest, ZeroKReturnsNothing) {
  this->Fill(5);
  std::mt19937 random(1);
  EXPECT_TRUE(this->index_.Search(RandomUnitVector(random), 0, nullptr).empty());
}

TYPED_TEST(VectorIndexTest, EmptyIndexReturnsNothing) {
  std::mt19937 random(1);
  EXPECT_TRUE(this->index_.Search(RandomUnitVector(random), 10, nullptr).empty());
  EXPECT_EQ(this->index_.size(), 0u);
}

TYPED_TEST(VectorIndexTest, WrongDimensionRejected) {
  std::mt19937 random(1);
  const Status status = this->index_.Upsert(0, RandomUnitVector(random, kDimension - 1));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(this->index_.size(), 0u);
  EXPECT_FALSE(this->index_.Contains(0));
}

TYPED_TEST(VectorIndexTest, NonFiniteVectorRejectedNamingDocument) {
  std::mt19937 random(1);
  std::vector<float> vector = RandomUnitVector(random);
  vector[5] = std::nanf("");
  const Status status = this->index_.Upsert(42, vector);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("42"), std::string::npos) << status.message();
  EXPECT_FALSE(this->index_.Contains(42));
}

TYPED_TEST(VectorIndexTest, WrongDimensionQueryReturnsNothing) {
  std::mt19937 random(1);
  ASSERT_TRUE(this->index_.Upsert(0, RandomUnitVector(random)).ok());
  EXPECT_TRUE(this->index_.Search(RandomUnitVector(random, kDimension + 1), 10, nullptr).empty());
}

TYPED_TEST(VectorIndexTest, UpsertReplacesVector) {
  this->Fill(200);
  std::mt19937 random(77);
  const std::vector<float> replacement = RandomUnitVector(random);
  ASSERT_TRUE(this->index_.Upsert(17, replacement).ok());
  EXPECT_EQ(this->index_.size(), 200u);
  EXPECT_EQ(this->index_.Vector(17), replacement);
  const std::vector<VectorHit> hits = this->index_.Search(replacement, 1, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].doc, 17u);
  // The old vector no longer finds it first.
  EXPECT_NE(this->index_.Search(this->vectors_[17], 1, nullptr)[0].doc, 17u);
}

TYPED_TEST(VectorIndexTest, SimilarityEqualsInnerProduct) {
  this->Fill(50);
  EXPECT_NEAR(this->index_.Similarity(this->vectors_[3], 7), Dot(this->vectors_[3], this->vectors_[7]), 1e-5);
  EXPECT_NEAR(this->index_.Similarity(this->vectors_[3], 3), 1.0, 1e-5);
  EXPECT_EQ(this->index_.Similarity(this->vectors_[3], 999), 0.0f);
  std::mt19937 random(4);
  EXPECT_EQ(this->index_.Similarity(RandomUnitVector(random, kDimension + 1), 3), 0.0f);
}

TYPED_TEST(VectorIndexTest, VectorOfAbsentDocIsEmpty) {
  this->Fill(10);
  EXPECT_EQ(this->index_.Vector(3), this->vectors_[3]);
  this->index_.Remove(3);
  EXPECT_TRUE(this->index_.Vector(3).empty());
  EXPECT_TRUE(this->index_.Vector(999).empty());
}

// Vectors grouped around `centres` random centres, as encoders produce them, because products of
// a kind lie close together. Random vectors in 64 dimensions would be an unrealistically hard case.
std::vector<std::vector<float>> ClusteredVectors(size_t count, size_t centres, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::vector<float>> centre_vectors;
  for (size_t c = 0; c < centres; ++c) centre_vectors.push_back(RandomUnitVector(random));
  std::normal_distribution<float> noise(0.0f, 0.08f);
  std::vector<std::vector<float>> vectors;
  for (size_t i = 0; i < count; ++i) {
    std::vector<float> v = centre_vectors[i % centres];
    double norm = 0;
    for (float& x : v) {
      x += noise(random);
      norm += double(x) * x;
    }
    for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
    vectors.push_back(std::move(v));
  }
  return vectors;
}

// Recall@10 of `approximate` against `exact` over `queries`, restricted to `allowed`.
double RecallAt10(const VectorIndex& approximate, const VectorIndex& exact,
                  const std::vector<std::vector<float>>& queries, const Roaring* allowed) {
  size_t found = 0;
  size_t expected_total = 0;
  for (const auto& query : queries) {
    const std::vector<DocId> expected = Docs(exact.Search(query, 10, allowed));
    const std::set<DocId> got = [&] {
      const std::vector<DocId> docs = Docs(approximate.Search(query, 10, allowed));
      return std::set<DocId>(docs.begin(), docs.end());
    }();
    for (DocId doc : expected) found += got.count(doc);
    expected_total += expected.size();
  }
  return double(found) / double(expected_total);
}

class HnswRecallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vectors_ = ClusteredVectors(5000, 100, 31);
    for (DocId doc = 0; doc < vectors_.size(); ++doc) {
      ASSERT_TRUE(hnsw_.Upsert(doc, vectors_[doc]).ok());
      ASSERT_TRUE(exact_.Upsert(doc, vectors_[doc]).ok());
    }
    const std::vector<std::vector<float>> fresh = ClusteredVectors(200, 100, 32);
    queries_.assign(fresh.begin(), fresh.end());
  }

  HnswVectorIndex hnsw_{kDimension};
  ExactVectorIndex exact_{kDimension};
  std::vector<std::vector<float>> vectors_;
  std::vector<std::vector<float>> queries_;
};

TEST_F(HnswRecallTest, RecallAt10AgainstExactAbove95Percent) {
  EXPECT_GE(RecallAt10(hnsw_, exact_, queries_, nullptr), 0.95);
}

TEST_F(HnswRecallTest, FilteredRecallAt10AgainstExactAbove95Percent) {
  // A third of the documents pass: above the exact-search cut-off, so the graph is searched.
  Roaring allowed;
  for (DocId doc = 0; doc < vectors_.size(); doc += 3) allowed.add(doc);
  EXPECT_GE(RecallAt10(hnsw_, exact_, queries_, &allowed), 0.95);
  for (const auto& query : queries_) {
    for (const VectorHit& hit : hnsw_.Search(query, 10, &allowed)) ASSERT_TRUE(allowed.contains(hit.doc));
  }
}

TEST_F(HnswRecallTest, RecallHoldsAfterDeletingMostDocuments) {
  // Removing three quarters compacts the graph, and every result must stay live and near-exact.
  for (DocId doc = 0; doc < vectors_.size(); ++doc) {
    if (doc % 4 != 0) {
      hnsw_.Remove(doc);
      exact_.Remove(doc);
    }
  }
  EXPECT_LT(hnsw_.deleted_count(), hnsw_.size());
  EXPECT_GE(RecallAt10(hnsw_, exact_, queries_, nullptr), 0.95);
  for (const VectorHit& hit : hnsw_.Search(queries_[0], 50, nullptr)) EXPECT_EQ(hit.doc % 4, 0u);
}

// Persistence: the saved index reloads under new DocIds, and any damage is reported.
class HnswPersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 random(8);
    for (DocId doc = 0; doc < 500; ++doc) {
      vectors_.push_back(RandomUnitVector(random));
      ASSERT_TRUE(index_.Upsert(doc, vectors_.back()).ok());
    }
    index_.Remove(7);
    ASSERT_TRUE(index_.Save(path_, 12, [](DocId doc) { return "p" + std::to_string(doc); }).ok());
  }

  // Loads with every product's DocId shifted by 1000, as a restart that assigns DocIds afresh.
  Result<std::unique_ptr<HnswVectorIndex>> Load(uint64_t generation = 12) {
    return HnswVectorIndex::Load(path_, kDimension, generation, [](const std::string& key) -> std::optional<DocId> {
      if (key == "p9") return std::nullopt;  // deleted while the index was not running
      return static_cast<DocId>(std::stoul(key.substr(1)) + 1000);
    });
  }

  void FlipByte(const std::string& path, size_t offset) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(offset));
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x20);
    file.seekp(static_cast<std::streamoff>(offset));
    file.write(&byte, 1);
  }

  TempDir dir_{"tessera-vector-index-"};
  std::string path_ = (std::filesystem::path(dir_.path()) / "photo.hnsw").string();
  HnswVectorIndex index_{kDimension};
  std::vector<std::vector<float>> vectors_;
};

TEST_F(HnswPersistenceTest, ReloadMapsDocumentsToTheirNewIds) {
  Result<std::unique_ptr<HnswVectorIndex>> loaded = Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const HnswVectorIndex& index = **loaded;
  EXPECT_EQ(index.size(), 498u);  // 500, less 7 (removed) and 9 (no longer in the catalogue)
  EXPECT_FALSE(index.Contains(1007));
  EXPECT_FALSE(index.Contains(1009));
  EXPECT_EQ(index.Vector(1123), vectors_[123]);
  for (DocId doc : {0u, 123u, 499u}) {
    const std::vector<VectorHit> hits = index.Search(vectors_[doc], 1, nullptr);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].doc, doc + 1000);
  }
  for (const VectorHit& hit : index.Search(vectors_[9], 500, nullptr)) {
    EXPECT_GE(hit.doc, 1000u);
    EXPECT_NE(hit.doc, 1009u);
    EXPECT_NE(hit.doc, 1007u);
  }
}

TEST_F(HnswPersistenceTest, ReloadedIndexAcceptsUpserts) {
  Result<std::unique_ptr<HnswVectorIndex>> loaded = Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::mt19937 random(9);
  for (DocId doc = 5000; doc < 6500; ++doc) ASSERT_TRUE((*loaded)->Upsert(doc, RandomUnitVector(random)).ok());
  EXPECT_EQ((*loaded)->size(), 498u + 1500u);
  EXPECT_EQ((*loaded)->Search(vectors_[200], 1, nullptr)[0].doc, 1200u);
}

TEST_F(HnswPersistenceTest, MissingFilesAreNotFound) {
  std::filesystem::remove(path_ + ".meta");
  EXPECT_EQ(Load().status().code(), StatusCode::kNotFound);
}

TEST_F(HnswPersistenceTest, OtherGenerationIsRefused) {
  const Status status = Load(13).status();
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("generation"), std::string::npos) << status.message();
}

TEST_F(HnswPersistenceTest, DamagedGraphIsRefused) {
  FlipByte(path_, std::filesystem::file_size(path_) / 2);
  const Status status = Load().status();
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("graph checksum"), std::string::npos) << status.message();
}

TEST_F(HnswPersistenceTest, DamagedHeaderOrKeysAreRefused) {
  FlipByte(path_ + ".meta", 10);
  EXPECT_EQ(Load().status().code(), StatusCode::kCorruption);
  ASSERT_TRUE(index_.Save(path_, 12, [](DocId doc) { return "p" + std::to_string(doc); }).ok());
  FlipByte(path_ + ".meta", std::filesystem::file_size(path_ + ".meta") - 2);
  const Status status = Load().status();
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("key checksum"), std::string::npos) << status.message();
}

TEST_F(HnswPersistenceTest, OtherDimensionIsRefused) {
  const Status status =
      HnswVectorIndex::Load(path_, kDimension * 2, 12, [](const std::string&) { return std::optional<DocId>(0); })
          .status();
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("dimension"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace tessera
