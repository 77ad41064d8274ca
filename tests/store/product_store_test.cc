#include "store/product_store.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/kv_store.h"
#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::ReadFile;
using testing_support::TempDir;

Product MakeProduct(const std::string& id, const std::string& title) {
  Product p;
  p.id = id;
  p.title = title;
  p.brand = "Turtle";
  p.category_path = {"Apparel", "Topwear", "Shirts"};
  p.price = 649.0;
  p.currency = "INR";
  p.attributes = {{"colour", "Navy Blue"}, {"gender", "Men"}};
  p.image_paths = {"/photos/" + id + ".jpg"};
  return p;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    dir_ = temp_dir_.path();
    Open();
  }

  void TearDown() override {
    kv_.reset();
  }

  // Opens the store in the temporary folder, closing any store open before.
  void Open() {
    kv_.reset();
    Result<std::unique_ptr<KvStore>> kv = KvStore::Open(dir_.string());
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    kv_ = std::move(kv).value();
  }

  // Returns the value of `key`, or "<absent>" when there is none.
  std::string GetValue(Family family, const std::string& key) {
    Result<std::optional<std::string>> value = kv_->Get(family, key);
    EXPECT_TRUE(value.ok()) << value.status().ToString();
    if (!value.ok() || !value->has_value()) return "<absent>";
    return **value;
  }

  std::map<std::string, std::vector<float>> Vectors(const std::string& encoder) {
    std::map<std::string, std::vector<float>> vectors;
    ProductStore products(kv_.get());
    const Status status = products.ForEachVector(
        encoder, [&](const std::string& id, std::vector<float>&& vector) { vectors[id] = std::move(vector); });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return vectors;
  }

  TempDir temp_dir_{"tessera-store-"};
  fs::path dir_;
  std::unique_ptr<KvStore> kv_;
};

TEST_F(StoreTest, PutThenGetReturnsSameProduct) {
  ProductStore products(kv_.get());
  const Product original = MakeProduct("15970", "Turtle Check Men Navy Blue Shirt");
  ASSERT_TRUE(products.Put(original).ok());

  Result<Product> loaded = products.Get("15970");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->id, original.id);
  EXPECT_EQ(loaded->title, original.title);
  EXPECT_EQ(loaded->brand, original.brand);
  EXPECT_EQ(loaded->category_path, original.category_path);
  ASSERT_TRUE(loaded->price.has_value());
  EXPECT_EQ(*loaded->price, *original.price);
  EXPECT_EQ(loaded->currency, original.currency);
  EXPECT_EQ(loaded->attributes, original.attributes);
  EXPECT_EQ(loaded->image_paths, original.image_paths);
}

TEST_F(StoreTest, PutReplacesProductWithSameId) {
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.Put(MakeProduct("a", "Old Title")).ok());
  ASSERT_TRUE(products.Put(MakeProduct("a", "New Title")).ok());
  Result<Product> loaded = products.Get("a");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->title, "New Title");
}

TEST_F(StoreTest, AbsentProductIsNotFound) {
  ProductStore products(kv_.get());
  Result<Product> loaded = products.Get("absent");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, DeletedProductNotFound) {
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.Put(MakeProduct("a", "Shirt")).ok());
  ASSERT_TRUE(products.Put(MakeProduct("b", "Jeans")).ok());
  ASSERT_TRUE(products.Delete("a").ok());

  Result<Product> deleted = products.Get("a");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(products.Get("b").ok());
}

TEST_F(StoreTest, DeletingAbsentProductSucceeds) {
  ProductStore products(kv_.get());
  const Status status = products.Delete("absent");
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_F(StoreTest, ProductsSurviveReopen) {
  {
    ProductStore products(kv_.get());
    ASSERT_TRUE(products.Put(MakeProduct("a", "Shirt"), /*sync=*/true).ok());
    ASSERT_TRUE(products.PutVector("enc", "a", {0.6f, 0.8f}).ok());
  }
  Open();
  ProductStore products(kv_.get());
  Result<Product> loaded = products.Get("a");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->title, "Shirt");
  EXPECT_EQ(Vectors("enc")["a"], (std::vector<float>{0.6f, 0.8f}));
}

TEST_F(StoreTest, PutBatchWritesEveryProduct) {
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.PutBatch({MakeProduct("a", "A"), MakeProduct("b", "B"), MakeProduct("c", "C")}).ok());
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_TRUE(products.Get(id).ok()) << id;
  }
}

TEST_F(StoreTest, ForEachVisitsInIdOrder) {
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.PutBatch({MakeProduct("c", "C"), MakeProduct("a", "A"), MakeProduct("b", "B")}).ok());
  std::vector<std::string> ids;
  const Status status = products.ForEach([&](Product&& p) { ids.push_back(p.id); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(StoreTest, ForEachReportsCorruptRecord) {
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.Put(MakeProduct("a", "A")).ok());
  ASSERT_TRUE(kv_->Put(Family::kProducts, "b", "not a product record").ok());
  const Status status = products.ForEach([](Product&&) {});
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
}

TEST_F(StoreTest, VectorsRoundTripPerEncoder) {
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.PutVector("colour-shape-v1", "a", {1.0f, 0.0f, -0.5f}).ok());
  ASSERT_TRUE(products.PutVector("colour-shape-v1", "b", {0.25f, 0.5f, 0.75f}).ok());
  ASSERT_TRUE(products.PutVector("other-v2", "a", {9.0f}).ok());

  std::map<std::string, std::vector<float>> vectors = Vectors("colour-shape-v1");
  ASSERT_EQ(vectors.size(), 2u);
  EXPECT_EQ(vectors["a"], (std::vector<float>{1.0f, 0.0f, -0.5f}));
  EXPECT_EQ(vectors["b"], (std::vector<float>{0.25f, 0.5f, 0.75f}));
  std::map<std::string, std::vector<float>> other = Vectors("other-v2");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other["a"], (std::vector<float>{9.0f}));
}

TEST_F(StoreTest, DeleteRemovesProductVectors) {
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.Put(MakeProduct("a", "A")).ok());
  ASSERT_TRUE(products.Put(MakeProduct("a.b", "AB")).ok());
  ASSERT_TRUE(products.PutVector("enc1", "a", {1.0f}).ok());
  ASSERT_TRUE(products.PutVector("enc2", "a", {2.0f}).ok());
  ASSERT_TRUE(products.PutVector("enc1", "a.b", {3.0f}).ok());

  ASSERT_TRUE(products.Delete("a").ok());
  EXPECT_EQ(Vectors("enc1").count("a"), 0u);
  EXPECT_EQ(Vectors("enc2").count("a"), 0u);
  // A product whose id starts with the deleted id keeps its vector.
  EXPECT_EQ(Vectors("enc1")["a.b"], (std::vector<float>{3.0f}));
}

TEST_F(StoreTest, MalformedVectorRecordIsCorruption) {
  ASSERT_TRUE(kv_->Put(Family::kVectors, "a/enc", std::string(1, kProductRecordVersion) + "abc").ok());
  ProductStore products(kv_.get());
  const Status status = products.ForEachVector("enc", [](const std::string&, std::vector<float>&&) {});
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
}

TEST(ProductRecord, WrongVersionIsCorruption) {
  std::string record = EncodeProductRecord(MakeProduct("a", "A"));
  record[0] = static_cast<char>(kProductRecordVersion + 1);
  Result<Product> decoded = DecodeProductRecord(record);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
}

TEST(ProductRecord, EmptyRecordIsCorruption) {
  Result<Product> decoded = DecodeProductRecord("");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
}

TEST(ProductRecord, InvalidJsonIsCorruption) {
  Result<Product> decoded = DecodeProductRecord(std::string(1, kProductRecordVersion) + "{not json");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
}

TEST_F(StoreTest, NewStoreStampedWithFormat) {
  EXPECT_EQ(GetValue(Family::kMeta, "magic"), "tessera-store");
  EXPECT_EQ(GetValue(Family::kMeta, "format_version"), std::to_string(kStoreFormatVersion));
}

TEST_F(StoreTest, OtherFormatVersionRejectedAtOpen) {
  ASSERT_TRUE(kv_->Put(Family::kMeta, "format_version", std::to_string(kStoreFormatVersion + 1), true).ok());
  kv_.reset();

  Result<std::unique_ptr<KvStore>> reopened = KvStore::Open(dir_.string());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kCorruption);
  EXPECT_NE(reopened.status().message().find(std::to_string(kStoreFormatVersion + 1)), std::string::npos)
      << reopened.status().message();
}

TEST_F(StoreTest, SecondOpenOfSameFolderFails) {
  Result<std::unique_ptr<KvStore>> second = KvStore::Open(dir_.string());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
}

TEST_F(StoreTest, GetAbsentKeyReturnsNullopt) {
  Result<std::optional<std::string>> value = kv_->Get(Family::kEvents, "absent");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_FALSE(value->has_value());
}

TEST_F(StoreTest, FamiliesAreSeparate) {
  ASSERT_TRUE(kv_->Put(Family::kEvents, "k", "event").ok());
  ASSERT_TRUE(kv_->Put(Family::kProfiles, "k", "profile").ok());
  EXPECT_EQ(GetValue(Family::kEvents, "k"), "event");
  EXPECT_EQ(GetValue(Family::kProfiles, "k"), "profile");
  EXPECT_EQ(GetValue(Family::kProducts, "k"), "<absent>");
}

TEST_F(StoreTest, WriteBatchAppliesPutsAndDeletes) {
  ASSERT_TRUE(kv_->Put(Family::kEvents, "old", "x").ok());
  WriteBatch batch;
  batch.Put(Family::kEvents, "new", "y");
  batch.Delete(Family::kEvents, "old");
  EXPECT_EQ(batch.Count(), 2u);
  ASSERT_TRUE(kv_->Write(&batch).ok());
  EXPECT_EQ(GetValue(Family::kEvents, "new"), "y");
  EXPECT_EQ(GetValue(Family::kEvents, "old"), "<absent>");
}

TEST_F(StoreTest, ScanVisitsOnlyPrefixInKeyOrder) {
  for (const char* key : {"u1/3", "u1/1", "u10/1", "u1/2", "u2/1", "u0/9"}) {
    ASSERT_TRUE(kv_->Put(Family::kEvents, key, std::string("v") + key).ok());
  }
  std::vector<std::string> keys;
  std::vector<std::string> values;
  const Status status = kv_->Scan(Family::kEvents, "u1/", [&](std::string_view key, std::string_view value) {
    keys.emplace_back(key);
    values.emplace_back(value);
    return true;
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(keys, (std::vector<std::string>{"u1/1", "u1/2", "u1/3"}));
  EXPECT_EQ(values, (std::vector<std::string>{"vu1/1", "vu1/2", "vu1/3"}));
}

TEST_F(StoreTest, ScanStopsWhenVisitReturnsFalse) {
  for (const char* key : {"a1", "a2", "a3"}) ASSERT_TRUE(kv_->Put(Family::kEvents, key, "v").ok());
  int visits = 0;
  const Status status = kv_->Scan(Family::kEvents, "a", [&](std::string_view, std::string_view) {
    ++visits;
    return visits < 2;
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(visits, 2);
}

TEST_F(StoreTest, DeletePrefixCountsAndKeepsOthers) {
  for (const char* key : {"u1/1", "u1/2", "u1/3", "u10/1", "u2/1"}) {
    ASSERT_TRUE(kv_->Put(Family::kEvents, key, "v").ok());
  }
  Result<size_t> deleted = kv_->DeletePrefix(Family::kEvents, "u1/");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(GetValue(Family::kEvents, "u1/1"), "<absent>");
  EXPECT_EQ(GetValue(Family::kEvents, "u10/1"), "v");
  EXPECT_EQ(GetValue(Family::kEvents, "u2/1"), "v");

  Result<size_t> again = kv_->DeletePrefix(Family::kEvents, "u1/");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 0u);
}

// Returns true when any file under `dir` contains `needle`.
bool AnyFileContains(const fs::path& dir, const std::string& needle) {
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string content = ReadFile(entry.path());
    if (content.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST_F(StoreTest, CompactionErasesDeletedProductFromDisk) {
  const std::string title = "Unmistakable Zebra Pattern Cardigan 7f3c";
  ProductStore products(kv_.get());
  ASSERT_TRUE(products.Put(MakeProduct("secret", title), /*sync=*/true).ok());
  ASSERT_TRUE(products.Put(MakeProduct("kept", "Plain Shirt"), /*sync=*/true).ok());
  ASSERT_TRUE(kv_->CompactAll().ok());
  // The title must be on disk before the delete, or its absence afterwards would prove nothing.
  ASSERT_TRUE(AnyFileContains(dir_, title));

  ASSERT_TRUE(products.Delete("secret", /*sync=*/true).ok());
  ASSERT_TRUE(kv_->CompactAll().ok());
  EXPECT_FALSE(AnyFileContains(dir_, title));
  EXPECT_TRUE(products.Get("kept").ok());
}

}  // namespace
}  // namespace tessera
