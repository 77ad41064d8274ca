// Engine: the pipeline in-process, on a JSONL catalogue and a real store in a temp folder.
#include "engine/engine.h"

#include <barrier>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "encode/image_encoder.h"
#include "encode/joint_space_trainer.h"
#include "engine/joint_text.h"
#include "personalize/user_key.h"
#include "rank/xgboost_ranker.h"
#include "store/kv_store.h"
#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

constexpr const char* kCatalogue = R"({"id":"s1","title":"Roadster Men Navy Blue Shirt","brand":"Roadster","category_path":["Apparel","Topwear","Shirts"],"price":899,"currency":"INR","attributes":{"gender":"Men","colour":"Navy Blue","article_type":"Shirts"}}
{"id":"s2","title":"Roadster Men White Shirt","brand":"Roadster","category_path":["Apparel","Topwear","Shirts"],"price":799,"currency":"INR","attributes":{"gender":"Men","colour":"White","article_type":"Shirts"}}
{"id":"s3","title":"Nike Women Black Shoes","brand":"Nike","category_path":["Footwear","Shoes","Sports Shoes"],"price":2999,"currency":"INR","attributes":{"gender":"Women","colour":"Black","article_type":"Sports Shoes"}}
{"id":"bad","title":"","price":-1}
{"id":"s4","title":"耐克 男士 藏青色 衬衫","attributes":{"colour":"Navy Blue","article_type":"Shirts"}}
)";

Event MakeEvent(const std::string& user, EventType type, const std::string& product_id, int64_t timestamp_ms) {
  Event event;
  event.user_id = user;
  event.type = type;
  event.product_id = product_id;
  event.timestamp_ms = timestamp_ms;
  return event;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    dir_ = temp_dir_.path();
    Open();
    std::istringstream in(kCatalogue);
    Result<IngestReport> report = engine_->IngestJsonl(in, dir_.string());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    report_ = *report;
  }
  void TearDown() override {
    engine_.reset();
  }
  void Open() {
    engine_.reset();
    EngineOptions options = options_;
    options.data_dir = dir_.string();
    options.purge_delay_seconds = purge_delay_seconds_;
    Result<std::unique_ptr<Engine>> engine = Engine::Open(options, &clock_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  std::vector<std::string> SearchIds(SearchRequest request) {
    Result<SearchResponse> response = engine_->Search(request);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    std::vector<std::string> ids;
    if (response.ok()) {
      for (const SearchHit& hit : response->hits) ids.push_back(hit.product->id);
    }
    return ids;
  }

  TempDir temp_dir_{"tessera-engine-"};
  EngineOptions options_;  // data_dir is set by Open
  fs::path dir_;
  ManualClock clock_{1'700'000'000'000};
  double purge_delay_seconds_ = 10;
  std::unique_ptr<Engine> engine_;
  IngestReport report_;
};

TEST_F(EngineTest, IngestReportsRejectedLineAndKeepsTheRest) {
  EXPECT_EQ(report_.accepted, 4u);
  EXPECT_EQ(report_.rejected, 1u);
  ASSERT_EQ(report_.rejections.size(), 1u);
  EXPECT_EQ(report_.rejections[0].line, 4u);
}

TEST_F(EngineTest, TextSearchRanksFullMatchFirst) {
  SearchRequest request;
  request.text = "navy blue shirt";
  const std::vector<std::string> ids = SearchIds(request);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "s1");
}

TEST_F(EngineTest, ChineseQueryFindsChineseTitle) {
  SearchRequest request;
  request.text = "衬衫";
  EXPECT_EQ(SearchIds(request), std::vector<std::string>{"s4"});
}

TEST_F(EngineTest, PriceFilterExcludesUnpricedAndOutOfRange) {
  SearchRequest request;
  request.text = "shirt";
  request.filters.price_max = 850;
  EXPECT_EQ(SearchIds(request), std::vector<std::string>{"s2"});
}

TEST_F(EngineTest, DeletedProductNeverReturned) {
  ASSERT_TRUE(engine_->Delete("s1").ok());
  SearchRequest request;
  request.text = "navy blue shirt";
  for (const std::string& id : SearchIds(request)) EXPECT_NE(id, "s1");
  EXPECT_EQ(engine_->GetProduct("s1").status().code(), StatusCode::kNotFound);
  Open();
  EXPECT_EQ(engine_->GetProduct("s1").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(engine_->GetProduct("s2").ok());
}

TEST_F(EngineTest, EventForUnknownProductRejected) {
  const Event event = MakeEvent("shopper", EventType::kClick, "missing", clock_.NowMillis());
  const Status status = engine_->RecordEvent(event);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("missing"), std::string::npos);
}

TEST_F(EngineTest, ClickMovesSameRelevanceProductUp) {
  SearchRequest request;
  request.text = "roadster shirt";
  request.user_id = "shopper";
  const std::vector<std::string> before = SearchIds(request);
  ASSERT_EQ(before.size(), 2u);
  const std::string second = before[1];
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", EventType::kClick, second, clock_.NowMillis())).ok());
  EXPECT_EQ(SearchIds(request)[0], second);

  request.user_id = "someone-else";
  EXPECT_EQ(SearchIds(request), before);
}

TEST_F(EngineTest, ExplainShowsFeaturesAndContributions) {
  SearchRequest request;
  request.text = "navy shirt";
  request.explain = true;
  Result<SearchResponse> response = engine_->Search(request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  ASSERT_FALSE(response->hits.empty());
  EXPECT_EQ(response->ranker, "retrieval-score");
  for (const SearchHit& hit : response->hits) {
    ASSERT_TRUE(hit.features.has_value());
    ASSERT_TRUE(hit.explanation.has_value());
    float sum = hit.explanation->bias;
    for (const FeatureContribution& c : hit.explanation->contributions) sum += c.contribution;
    EXPECT_FLOAT_EQ(sum, hit.relevance) << hit.product->id;
    EXPECT_GT((*hit.features)[static_cast<size_t>(Feature::kBm25f)], 0.0f) << hit.product->id;
  }
  // s1 has both words in its title; s4 has them only in its attributes.
  EXPECT_EQ(response->hits[0].product->id, "s1");
  EXPECT_GT((*response->hits[0].features)[static_cast<size_t>(Feature::kBm25Title)], 0.0f);
  EXPECT_FLOAT_EQ((*response->hits[0].features)[static_cast<size_t>(Feature::kPrice)], 899.0f);
}

// The popularity of a product, as the feature rows of `query` show it.
float PopularityOf(const Engine& engine, const std::string& query, const std::string& id) {
  SearchRequest request;
  request.text = query;
  Result<FeatureRows> rows = engine.ExtractFeatures(request);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok()) return -1;
  for (size_t r = 0; r < rows->product_ids.size(); ++r) {
    if (rows->product_ids[r] == id) return rows->features.At(r, Feature::kPopularity);
  }
  ADD_FAILURE() << id << " not among the candidates of " << query;
  return -1;
}

TEST_F(EngineTest, EventsRaisePopularityUntilErased) {
  EXPECT_EQ(PopularityOf(*engine_, "shirt", "s2"), 0.0f);
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", EventType::kPurchase, "s2", clock_.NowMillis())).ok());
  const float popular = PopularityOf(*engine_, "shirt", "s2");
  EXPECT_GT(popular, 0.0f);

  Open();  // the counts are rebuilt from the stored events
  EXPECT_EQ(PopularityOf(*engine_, "shirt", "s2"), popular);

  ASSERT_TRUE(engine_->EraseUser("shopper").ok());
  EXPECT_EQ(PopularityOf(*engine_, "shirt", "s2"), 0.0f);
}

TEST_F(EngineTest, SearchAndImpressionEventsAreRecorded) {
  Event search = MakeEvent("shopper", EventType::kSearch, "", clock_.NowMillis());
  search.query = "navy shirt";
  ASSERT_TRUE(engine_->RecordEvent(search).ok());
  Event impression = MakeEvent("shopper", EventType::kImpression, "s1", clock_.NowMillis());
  impression.position = 1;
  ASSERT_TRUE(engine_->RecordEvent(impression).ok());
  EXPECT_EQ(engine_->UserEvents("shopper")->size(), 2u);
  // An impression is a view for click-through, and adds no affinity.
  EXPECT_GT(PopularityOf(*engine_, "shirt", "s1"), 0.0f);
  EXPECT_EQ((*engine_->Profile("shopper"))->Share("article_type", "Shirts"), 0.0);
}

TEST_F(EngineTest, RetriedEventCountsOnce) {
  Event event = MakeEvent("shopper", EventType::kPurchase, "s2", clock_.NowMillis());
  event.event_id = "order-17";
  Engine::EventOutcome outcome;
  ASSERT_TRUE(engine_->RecordEvent(event, &outcome).ok());
  EXPECT_EQ(outcome, Engine::EventOutcome::kRecorded);
  const float popularity = PopularityOf(*engine_, "shirt", "s2");
  ASSERT_TRUE(engine_->RecordEvent(event, &outcome).ok());
  EXPECT_EQ(outcome, Engine::EventOutcome::kDuplicate);
  EXPECT_EQ(PopularityOf(*engine_, "shirt", "s2"), popularity);
}

TEST_F(EngineTest, OptOutErasesAndStopsCollection) {
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", EventType::kPurchase, "s2", clock_.NowMillis())).ok());
  ASSERT_TRUE(engine_->SetOptOut("shopper", true).ok());
  EXPECT_TRUE(*engine_->OptedOut("shopper"));
  EXPECT_TRUE(engine_->UserEvents("shopper")->empty());
  EXPECT_FALSE(engine_->Profile("shopper")->has_value());
  EXPECT_EQ(PopularityOf(*engine_, "shirt", "s2"), 0.0f);

  Engine::EventOutcome outcome;
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", EventType::kClick, "s1", clock_.NowMillis()), &outcome).ok());
  EXPECT_EQ(outcome, Engine::EventOutcome::kOptedOut);
  EXPECT_TRUE(engine_->UserEvents("shopper")->empty());
  EXPECT_EQ(PopularityOf(*engine_, "shirt", "s1"), 0.0f);

  ASSERT_TRUE(engine_->SetOptOut("shopper", false).ok());
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", EventType::kClick, "s1", clock_.NowMillis()), &outcome).ok());
  EXPECT_EQ(outcome, Engine::EventOutcome::kRecorded);
  EXPECT_EQ(engine_->UserEvents("shopper")->size(), 1u);
}

// Every file under `dir` that contains `needle`.
std::vector<std::string> FilesContaining(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) found.push_back(entry.path().filename().string());
  }
  return found;
}

TEST_F(EngineTest, ErasedUserLeavesNoBytesInTheStore) {
  Result<UserKeyer> keyer = UserKeyer::LoadOrCreate((dir_ / "secrets" / "user-id.key").string());
  ASSERT_TRUE(keyer.ok()) << keyer.status().ToString();
  // The stored events carry the key without its '#'.
  const std::string stored_id = keyer->Key("erase-me").substr(1);
  for (const char* product : {"s1", "s2", "s3"}) {
    ASSERT_TRUE(engine_->RecordEvent(MakeEvent("erase-me", EventType::kClick, product, clock_.NowMillis())).ok());
  }
  ASSERT_TRUE(engine_->CompactStore().ok());
  // The control: before erasure the files do contain the user's key.
  EXPECT_FALSE(FilesContaining(dir_ / "store", stored_id).empty());

  ASSERT_TRUE(engine_->EraseUser("erase-me").ok());
  ASSERT_TRUE(engine_->CompactStore().ok());
  EXPECT_EQ(FilesContaining(dir_ / "store", stored_id), std::vector<std::string>{});
  EXPECT_EQ(FilesContaining(dir_, "erase-me"), std::vector<std::string>{});
  EXPECT_TRUE(engine_->UserEvents("erase-me")->empty());
}

// Records three clicks of `user`, compacts, and returns the text its stored events carry, after
// checking that the store's files contain it.
std::string RecordAndFindStoredId(Engine& engine, const fs::path& dir, const std::string& user, int64_t now_ms) {
  Result<UserKeyer> keyer = UserKeyer::LoadOrCreate((dir / "secrets" / "user-id.key").string());
  EXPECT_TRUE(keyer.ok()) << keyer.status().ToString();
  const std::string stored_id = keyer->Key(user).substr(1);
  for (const char* product : {"s1", "s2", "s3"}) {
    EXPECT_TRUE(engine.RecordEvent(MakeEvent(user, EventType::kClick, product, now_ms)).ok());
  }
  EXPECT_TRUE(engine.CompactStore().ok());
  EXPECT_FALSE(FilesContaining(dir / "store", stored_id).empty());
  return stored_id;
}

TEST_F(EngineTest, ZeroPurgeDelayCleansFilesOnErase) {
  purge_delay_seconds_ = 0;
  Open();
  const std::string stored_id = RecordAndFindStoredId(*engine_, dir_, "erase-me", clock_.NowMillis());
  ASSERT_TRUE(engine_->EraseUser("erase-me").ok());
  // No CompactStore: the erasure itself purged the files.
  EXPECT_EQ(FilesContaining(dir_ / "store", stored_id), std::vector<std::string>{});
}

TEST_F(EngineTest, DelayedPurgeCleansFilesAfterOptOut) {
  purge_delay_seconds_ = 0.2;
  Open();
  const std::string stored_id = RecordAndFindStoredId(*engine_, dir_, "opt-me-out", clock_.NowMillis());
  // The opt-out flag stays under the user key, so look for the events' keys instead:
  // "<user key>/<timestamp>/<sequence>".
  const std::string stored_event = "#" + stored_id + "/";
  ASSERT_FALSE(FilesContaining(dir_ / "store", stored_event).empty());
  ASSERT_TRUE(engine_->SetOptOut("opt-me-out", true).ok());

  // The purge runs on its own thread; allow a slow machine far more than the delay.
  std::vector<std::string> files = FilesContaining(dir_ / "store", stored_event);
  for (int wait = 0; wait < 300 && !files.empty(); ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    files = FilesContaining(dir_ / "store", stored_event);
  }
  EXPECT_EQ(files, std::vector<std::string>{});
}

TEST_F(EngineTest, BrokenRankerModelKeepsTheCurrentRanker) {
  const fs::path model = dir_ / "models" / "ranker.model";
  fs::create_directories(model.parent_path());
  std::ofstream(model) << "not a model";
  const Status loaded = engine_->LoadRanker();
  EXPECT_EQ(loaded.code(), StatusCode::kCorruption) << loaded.ToString();
  EXPECT_NE(loaded.message().find(model.string()), std::string::npos) << loaded.message();
  EXPECT_EQ(engine_->ranker_info().name, "retrieval-score");

  Open();  // a broken model at start is logged, and the retrieval score ranks
  EXPECT_EQ(engine_->ranker_info().name, "retrieval-score");
  SearchRequest request;
  request.text = "shirt";
  EXPECT_FALSE(SearchIds(request).empty());
}

// A LambdaMART model trained on rows whose grade follows the personal colour share: it ranks by
// the shopper's affinities itself.
std::shared_ptr<const Ranker> PersonalColourRanker() {
  RankingDataset train, validation;
  std::mt19937_64 random(5);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (size_t q = 0; q < 40; ++q) {
    FeatureMatrix rows(10);
    std::vector<float> labels;
    for (size_t r = 0; r < 10; ++r) {
      rows.At(r, Feature::kRetrievalScore) = unit(random);
      rows.At(r, Feature::kPersonalColour) = (r + q) % 3 == 0 ? 1.0f : 0.0f;
      rows.At(r, Feature::kPersonalStrength) = 0.5f;
      labels.push_back(rows.At(r, Feature::kPersonalColour) > 0 ? 2.0f : 0.0f);
    }
    (q % 4 == 0 ? validation : train).AddQuery("q" + std::to_string(q), rows, labels);
  }
  RankerTrainingOptions options;
  options.max_rounds = 20;
  Result<std::unique_ptr<XgboostRanker>> model = XgboostRanker::Train(train, validation, options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::shared_ptr<const Ranker>(std::move(model).value()) : nullptr;
}

TEST_F(EngineTest, LearnedPersonalRankerSkipsFacetBoost) {
  std::shared_ptr<const Ranker> ranker = PersonalColourRanker();
  ASSERT_NE(ranker, nullptr);
  ASSERT_TRUE(ranker->learned_personal());
  engine_->UseRanker(ranker, "personal-colour");
  SearchRequest request;
  request.text = "roadster shirt";
  request.user_id = "shopper";
  request.explain = true;
  const std::vector<std::string> before = SearchIds(request);
  ASSERT_EQ(before.size(), 2u);
  const std::string second = before[1];
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", EventType::kClick, second, clock_.NowMillis())).ok());

  Result<SearchResponse> response = engine_->Search(request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  ASSERT_EQ(response->hits.size(), 2u);
  // The model moves the clicked colour up through its personal_colour feature, with no facet
  // boost on top: the score is the model's relevance, whose contributions sum to it.
  EXPECT_EQ(response->hits[0].product->id, second);
  for (const SearchHit& hit : response->hits) {
    EXPECT_TRUE(hit.boost_by_facet.empty()) << hit.product->id;
    EXPECT_EQ(hit.personal_boost, 0.0f) << hit.product->id;
    EXPECT_FLOAT_EQ(hit.score, hit.relevance) << hit.product->id;
    ASSERT_TRUE(hit.features.has_value());
    const float colour_share = (*hit.features)[static_cast<size_t>(Feature::kPersonalColour)];
    EXPECT_EQ(colour_share, hit.product->id == second ? 1.0f : 0.0f) << hit.product->id;
  }
  request.user_id = "someone-else";
  EXPECT_EQ(SearchIds(request), before);
}

TEST_F(EngineTest, VoiceSearchWithoutModelIsUnavailable) {
  // The JSONL path does not build a speech model; RebuildSpeechModel does.
  Result<SearchResponse> response = engine_->SearchByVoice("RIFF", SearchRequest());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
}

TEST_F(EngineTest, DeepPagesKeepMatchesAndOrder) {
  // 5 products contain all three words, 245 "alpha beta", 300 "alpha", 100 "beta" and 600
  // "gamma". The 200 re-ranked products are found after dropping "gamma". Deeper pages must not
  // drop "alpha" as well, which would add the 100 "beta" products from page 3 on.
  std::ostringstream catalogue;
  auto add = [&](const std::string& id, const std::string& title) {
    catalogue << R"({"id":")" << id << R"(","title":")" << title << R"("})" << "\n";
  };
  for (int i = 0; i < 5; ++i) add("all-" + std::to_string(i), "alpha beta gamma");
  for (int i = 0; i < 245; ++i) add("ab-" + std::to_string(i), "alpha beta");
  for (int i = 0; i < 300; ++i) add("a-" + std::to_string(i), "alpha");
  for (int i = 0; i < 100; ++i) add("b-" + std::to_string(i), "beta");
  for (int i = 0; i < 600; ++i) add("g-" + std::to_string(i), "gamma");
  std::istringstream in(catalogue.str());
  ASSERT_TRUE(engine_->IngestJsonl(in, dir_.string()).ok());

  SearchRequest request;
  request.text = "alpha beta gamma";
  request.per_page = 100;
  request.facets = false;
  std::set<std::string> seen;
  uint64_t first_total = 0;
  for (request.page = 1; request.page <= 10; ++request.page) {
    Result<SearchResponse> response = engine_->Search(request);
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    if (request.page == 1) first_total = response->total;
    EXPECT_EQ(response->total, first_total) << "page " << request.page;
    for (const SearchHit& hit : response->hits) {
      EXPECT_TRUE(seen.insert(hit.product->id).second) << hit.product->id << " repeated on page " << request.page;
    }
  }
  EXPECT_EQ(first_total, 250u);
  EXPECT_EQ(seen.size(), 250u);
}

// Two writers upsert the same products at the same time, each its own version. Whichever
// version the engine serves after both return is the one the store keeps, so a restart serves
// the same version of every product.
TEST_F(EngineTest, ConcurrentUpsertsServeTheStoredVersion) {
  constexpr int kProducts = 1000;
  // Both writers start each product's upsert together, so that every pair of writes overlaps.
  std::barrier start(2);
  std::vector<std::jthread> writers;
  for (const std::string writer : {"a", "b"}) {
    writers.emplace_back([this, writer, &start] {
      for (int i = 0; i < kProducts; ++i) {
        start.arrive_and_wait();
        Product product;
        product.id = "contended-" + std::to_string(i);
        product.title = "Linen Shirt " + writer;
        EXPECT_TRUE(engine_->Upsert(product).ok());
      }
    });
  }
  writers.clear();
  std::vector<std::string> served;
  for (int i = 0; i < kProducts; ++i) {
    Result<Product> product = engine_->GetProduct("contended-" + std::to_string(i));
    ASSERT_TRUE(product.ok()) << product.status().ToString();
    served.push_back(product->title);
  }

  Open();
  int differing = 0;
  for (int i = 0; i < kProducts; ++i) {
    Result<Product> product = engine_->GetProduct("contended-" + std::to_string(i));
    ASSERT_TRUE(product.ok()) << product.status().ToString();
    if (product->title != served[i]) ++differing;
  }
  EXPECT_EQ(differing, 0) << "products served in another version before the restart";
}

TEST_F(EngineTest, DeleteRecordRemovesStoredPhotoVector) {
  if (!testing_support::HasProgram("convert")) GTEST_SKIP() << "ImageMagick's convert is needed to make the photo";
  const fs::path photo = dir_ / "red.png";
  ASSERT_EQ(testing_support::RunShell("convert -size 30x40 xc:red '" + photo.string() + "'"), 0);
  std::istringstream upsert(R"({"id":"photo-1","title":"Red Scarf","images":[")" + photo.string() + R"("]})");
  ASSERT_TRUE(engine_->IngestJsonl(upsert, dir_.string()).ok());
  ASSERT_EQ(engine_->Stats().photo_vectors, 1u);

  std::istringstream remove(R"({"op":"delete","id":"photo-1"})");
  ASSERT_TRUE(engine_->IngestJsonl(remove, dir_.string()).ok());
  engine_.reset();

  // Nothing of the deleted product may stay in the store, its photo vector included.
  Result<std::unique_ptr<KvStore>> kv = KvStore::Open((dir_ / "store").string());
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  size_t vectors = 0;
  ASSERT_TRUE((*kv)->Scan(Family::kVectors, "photo-1/", [&](std::string_view, std::string_view) {
    ++vectors;
    return true;
  }).ok());
  EXPECT_EQ(vectors, 0u);
}

// Photo search over the approximate index across restarts: the saved index is reused when it
// matches the store, and rebuilt when it is damaged or older than the store.
class EnginePhotoIndexTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (!testing_support::HasProgram("convert")) GTEST_SKIP() << "ImageMagick's convert is needed to make photos";
    photo_encoder_ = engine_->photo_encoder_name();
    AddPhotoProduct("photo-red", "red");
    AddPhotoProduct("photo-blue", "blue");
  }

  void AddPhotoProduct(const std::string& id, const std::string& colour) {
    const fs::path photo = dir_ / (colour + ".png");
    ASSERT_EQ(testing_support::RunShell("convert -size 30x40 xc:" + colour + " '" + photo.string() + "'"), 0);
    std::istringstream upsert(R"({"id":")" + id + R"(","title":"Scarf","images":[")" + photo.string() + R"("]})");
    ASSERT_TRUE(engine_->IngestJsonl(upsert, dir_.string()).ok());
  }

  std::string FirstByPhoto(const std::string& colour) {
    const std::string bytes = testing_support::ReadFile(dir_ / (colour + ".png"));
    Result<SearchResponse> response = engine_->SearchByImage(bytes, SearchRequest{});
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() && !response->hits.empty() ? response->hits[0].product->id : "";
  }

  fs::path IndexFile() const { return dir_ / "index" / (photo_encoder_ + ".hnsw"); }

  std::string photo_encoder_;
};

TEST_F(EnginePhotoIndexTest, SavedIndexIsReloadedAfterRestart) {
  Open();
  ASSERT_TRUE(fs::exists(IndexFile()));
  ASSERT_TRUE(fs::exists(IndexFile().string() + ".meta"));
  EXPECT_EQ(engine_->Stats().photo_vectors, 2u);
  EXPECT_EQ(FirstByPhoto("red"), "photo-red");
  EXPECT_EQ(FirstByPhoto("blue"), "photo-blue");
}

TEST_F(EnginePhotoIndexTest, PhotoWithWordsKeepsOnlyMatchingProducts) {
  // A mug with the very same blue photo: most like the photo, but not what the words ask for.
  const fs::path photo = dir_ / "blue.png";
  std::istringstream mug(R"({"id":"mug-1","title":"Blue Mug","images":[")" + photo.string() + R"("]})");
  ASSERT_TRUE(engine_->IngestJsonl(mug, dir_.string()).ok());

  SearchRequest request;
  request.text = "scarf";
  Result<SearchResponse> response = engine_->SearchByImage(testing_support::ReadFile(photo), request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  std::vector<std::string> ids;
  for (const SearchHit& hit : response->hits) ids.push_back(hit.product->id);
  EXPECT_EQ(ids, (std::vector<std::string>{"photo-blue", "photo-red"}));
}

TEST_F(EnginePhotoIndexTest, DamagedIndexIsRebuiltFromTheStore) {
  engine_.reset();
  {
    std::ofstream damage(IndexFile(), std::ios::binary | std::ios::in | std::ios::out);
    damage.seekp(20);
    damage.write("garbage", 7);
  }
  Open();
  EXPECT_EQ(engine_->Stats().photo_vectors, 2u);
  EXPECT_EQ(FirstByPhoto("red"), "photo-red");
  EXPECT_EQ(FirstByPhoto("blue"), "photo-blue");
}

TEST_F(EnginePhotoIndexTest, IndexOlderThanTheStoreIsNotUsed) {
  engine_.reset();
  const fs::path old_copy = dir_ / "old.hnsw";
  fs::copy_file(IndexFile(), old_copy);
  fs::copy_file(IndexFile().string() + ".meta", old_copy.string() + ".meta");
  Open();
  AddPhotoProduct("photo-green", "lime");
  engine_.reset();
  // Put back the index saved before the green product existed, as a crash before the save would.
  fs::copy_file(old_copy, IndexFile(), fs::copy_options::overwrite_existing);
  fs::copy_file(old_copy.string() + ".meta", IndexFile().string() + ".meta", fs::copy_options::overwrite_existing);
  Open();
  EXPECT_EQ(engine_->Stats().photo_vectors, 3u);
  EXPECT_EQ(FirstByPhoto("lime"), "photo-green");
}

TEST_F(EngineTest, WordsPrintedOnPhotoAreSearchable) {
  if (!testing_support::HasProgram("convert")) GTEST_SKIP() << "ImageMagick's convert is needed to make the photo";
  const fs::path photo = dir_ / "tee.png";
  ASSERT_EQ(testing_support::RunShell("convert -size 900x1200 xc:'#f4f4f4' -font DejaVu-Sans-Bold -pointsize 80 "
                                      "-fill navy -gravity center -annotate +0+0 'COAST GUARD' '" +
                                      photo.string() + "'"),
            0);
  std::istringstream upsert(R"({"id":"tee-1","title":"Graphic Tee","images":[")" + photo.string() + R"("]})");
  ASSERT_TRUE(engine_->IngestJsonl(upsert, dir_.string()).ok());

  SearchRequest request;
  request.text = "coast guard";
  EXPECT_EQ(SearchIds(request), std::vector<std::string>{"tee-1"});
  // The words are stored, so a restart serves them without reading the photo again.
  Open();
  EXPECT_EQ(SearchIds(request), std::vector<std::string>{"tee-1"});
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// Session vectors need a joint model: a small one is trained on the catalogue's titles. The
// products have no photos, so each fused vector is the product's text vector.
class EngineSessionTest : public EngineTest {
 protected:
  void SetUp() override {
    options_.photo_encoder = "colour-shape";
    EngineTest::SetUp();
    if (HasFatalFailure()) return;
    TrainModel(/*seed=*/42);
    if (HasFatalFailure()) return;
    Open();
    ASSERT_NE(engine_->joint_model(), nullptr);
  }

  // Trains a small joint model on the catalogue's titles and saves it where the engine loads it.
  void TrainModel(uint64_t seed) {
    JointSpaceTrainingOptions training;
    training.seed = seed;
    training.config.dimension = 16;
    training.config.text_embedding_dim = 16;
    training.config.photo_hidden_dim = 16;
    training.config.hashing.buckets = 1 << 10;
    training.config.photo = {engine_->photo_encoder_name(), ColourShapeEncoder().dimension()};
    training.epochs = 2;
    training.batch_size = 4;
    training.holdout_fraction = 0;
    training.validation_fraction = 0;
    training.patience = 0;
    training.type_loss_weight = 0;
    training.type_colour_loss_weight = 0;

    std::vector<JointSpacePair> pairs;
    for (const Product& product : engine_->AllProducts()) {
      JointSpacePair pair;
      pair.id = product.id;
      pair.text = product.title;
      pair.photo.assign(training.config.photo.dimension, 0.0f);
      pair.photo[pairs.size() % pair.photo.size()] = 1.0f;
      pairs.push_back(std::move(pair));
    }
    Result<JointSpaceTrainingResult> trained = TrainJointSpace(pairs, training);
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();

    ASSERT_TRUE(trained->model->Save((dir_ / "models" / "joint-space.model").string()).ok());
  }

  // Returns the similarity of each product's stored joint vector to the vector the loaded model
  // gives its text. The products have no photo, so the two are the same vector.
  std::vector<float> SelfSimilarities() {
    std::vector<float> similarities;
    for (const Product& product : engine_->AllProducts()) {
      Result<std::vector<float>> query = engine_->JointQueryVector(JointSpaceProductText(product), {});
      EXPECT_TRUE(query.ok()) << query.status().ToString();
      if (!query.ok()) continue;
      Result<std::vector<Engine::Neighbour>> nearest = engine_->Nearest(Engine::Space::kJoint, *query, 1, true);
      EXPECT_TRUE(nearest.ok()) << nearest.status().ToString();
      if (nearest.ok() && !nearest->empty()) similarities.push_back(nearest->front().similarity);
    }
    return similarities;
  }

  // The hits of "shirt" for `user` in `session`, with explanations.
  std::map<std::string, SearchHit> ExplainedHits(const std::string& user, const std::string& session = "") {
    SearchRequest request;
    request.text = "shirt";
    request.user_id = user;
    request.session_id = session;
    request.explain = true;
    Result<SearchResponse> response = engine_->Search(request);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    std::map<std::string, SearchHit> hits;
    if (response.ok()) {
      for (SearchHit& hit : response->hits) hits[hit.product->id] = std::move(hit);
    }
    return hits;
  }

  Status Click(const std::string& user, const std::string& product, const std::string& session) {
    Event event = MakeEvent(user, EventType::kClick, product, clock_.NowMillis());
    event.session_id = session;
    return engine_->RecordEvent(event);
  }
};

// A model retrained on the same products with another seed gives other vectors, so the engine
// computes the products' joint vectors again instead of keeping those of the earlier model.
TEST_F(EngineSessionTest, RetrainedModelRecomputesJointVectors) {
  for (float similarity : SelfSimilarities()) EXPECT_NEAR(similarity, 1.0f, 1e-4f);
  const std::string before = engine_->joint_model()->provenance().fingerprint;

  TrainModel(/*seed=*/7);
  ASSERT_FALSE(HasFatalFailure());
  Open();
  ASSERT_NE(engine_->joint_model(), nullptr);
  EXPECT_NE(engine_->joint_model()->provenance().fingerprint, before);
  const std::vector<float> after = SelfSimilarities();
  EXPECT_EQ(after.size(), engine_->AllProducts().size());
  for (float similarity : after) EXPECT_NEAR(similarity, 1.0f, 1e-4f);
}

// Once the retrained model's vectors are stored, the earlier model's vectors, generation keys
// and saved index are deleted. The vectors of the model in use stay.
TEST_F(EngineSessionTest, RetrainedModelDeletesEarlierVectors) {
  const std::string before = engine_->joint_model()->provenance().fingerprint;
  TrainModel(/*seed=*/7);
  ASSERT_FALSE(HasFatalFailure());
  engine_.reset();  // saves the joint space's index
  const fs::path earlier_index = dir_ / "index" / ("joint-sum-" + before + ".hnsw");
  ASSERT_TRUE(fs::exists(earlier_index));

  Open();
  ASSERT_NE(engine_->joint_model(), nullptr);
  const std::string now = engine_->joint_model()->provenance().fingerprint;
  ASSERT_NE(now, before);
  const size_t product_count = engine_->AllProducts().size();
  engine_.reset();
  EXPECT_FALSE(fs::exists(earlier_index));
  EXPECT_FALSE(fs::exists(earlier_index.string() + ".meta"));

  Result<std::unique_ptr<KvStore>> kv = KvStore::Open((dir_ / "store").string());
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  size_t earlier_vectors = 0, current_fused = 0, current_text_parts = 0;
  ASSERT_TRUE((*kv)->Scan(Family::kVectors, "", [&](std::string_view key, std::string_view) {
    earlier_vectors += key.ends_with("-" + before);
    current_fused += key.ends_with("/joint-sum-" + now);
    current_text_parts += key.ends_with("/joint-part-text-" + now);
    return true;
  }).ok());
  EXPECT_EQ(earlier_vectors, 0u);
  EXPECT_EQ(current_fused, product_count);
  EXPECT_EQ(current_text_parts, product_count);
  size_t earlier_generations = 0;
  ASSERT_TRUE((*kv)->Scan(Family::kMeta, "vector_generation/", [&](std::string_view key, std::string_view) {
    earlier_generations += key.ends_with("-" + before);
    return true;
  }).ok());
  EXPECT_EQ(earlier_generations, 0u);
}

// The parts of the joint vectors are shared by both fusions, so opening the catalogue with
// another fusion must still compute that fusion's vectors.
TEST_F(EngineSessionTest, SecondFusionGetsItsOwnVectors) {
  options_.joint.fusion = "concat";
  Open();
  ASSERT_NE(engine_->joint_model(), nullptr);
  const std::vector<float> similarities = SelfSimilarities();
  EXPECT_EQ(similarities.size(), engine_->AllProducts().size());
  // A text query fills the text, photo and photo-text blocks of a concatenated vector with its
  // text vector, and a product without a photo has the text block only: cosine 1 / sqrt(3).
  for (float similarity : similarities) EXPECT_NEAR(similarity, 1.0f / std::sqrt(3.0f), 1e-4f);
}

TEST_F(EngineSessionTest, SessionTermShowsInExplain) {
  SearchRequest request;
  request.text = "shirt";
  request.user_id = "shopper-a";
  const std::vector<std::string> before = SearchIds(request);
  ASSERT_GE(before.size(), 2u);
  const std::string clicked = before[1];
  const std::string other = before[0];
  ASSERT_TRUE(Click("shopper-a", clicked, "visit-1").ok());
  // The click moves the product up for shopper-a only.
  EXPECT_EQ(SearchIds(request)[0], clicked);
  request.user_id = "shopper-b";
  EXPECT_EQ(SearchIds(request), before);

  std::map<std::string, SearchHit> a = ExplainedHits("shopper-a");
  ASSERT_TRUE(a.contains(clicked));
  ASSERT_TRUE(a.contains(other));
  // The session holds only the clicked product, so its direction is that product's fused vector.
  EXPECT_NEAR(a[clicked].session_cosine, 1.0, 1e-4);
  EXPECT_LT(a[other].session_cosine, a[clicked].session_cosine);
  // One click weighs 2, so the session factor is 2 / (2 + 2) with the default options.
  const PersonalizationOptions defaults;
  EXPECT_NEAR(a[clicked].session_boost, defaults.session_weight * 0.5, 1e-4);
  EXPECT_GT(a[clicked].session_boost, a[other].session_boost);
  // personal_boost = facet boosts + session term.
  double facets = 0;
  for (const auto& [facet, boost] : a[clicked].boost_by_facet) facets += boost;
  EXPECT_NEAR(a[clicked].personal_boost, facets + a[clicked].session_boost, 1e-4);

  for (const auto& [id, hit] : ExplainedHits("shopper-b")) {
    EXPECT_EQ(hit.session_boost, 0.0f) << id;
    EXPECT_EQ(hit.personal_boost, 0.0f) << id;
  }
}

TEST_F(EngineSessionTest, RequestChoosesSessionOrTheLatest) {
  ASSERT_TRUE(Click("shopper", "s2", "visit-1").ok());
  clock_.Advance(60'000);
  ASSERT_TRUE(Click("shopper", "s1", "visit-2").ok());
  EXPECT_NEAR(ExplainedHits("shopper", "visit-1")["s2"].session_cosine, 1.0, 1e-4);
  EXPECT_NEAR(ExplainedHits("shopper", "visit-2")["s1"].session_cosine, 1.0, 1e-4);
  EXPECT_NEAR(ExplainedHits("shopper")["s1"].session_cosine, 1.0, 1e-4);
  // A session the shopper never had adds nothing.
  EXPECT_EQ(ExplainedHits("shopper", "visit-9")["s1"].session_boost, 0.0f);
}

TEST_F(EngineSessionTest, SessionsAreRebuiltAtOpenUntilIdle) {
  ASSERT_TRUE(Click("shopper", "s2", "visit-1").ok());
  const float boost = ExplainedHits("shopper")["s2"].session_boost;
  ASSERT_GT(boost, 0.0f);
  EXPECT_EQ(engine_->Stats().sessions, 1u);

  Open();
  EXPECT_EQ(engine_->Stats().sessions, 1u);
  EXPECT_NEAR(ExplainedHits("shopper")["s2"].session_boost, boost, 1e-5);

  // Past expire_half_lives half-lives of inactivity the session is gone, and is not replayed.
  const SessionOptions session;
  clock_.Advance(session.ExpireAfterMs() + 1);
  EXPECT_EQ(ExplainedHits("shopper")["s2"].session_boost, 0.0f);
  Open();
  EXPECT_EQ(engine_->Stats().sessions, 0u);
  EXPECT_EQ(ExplainedHits("shopper")["s2"].session_boost, 0.0f);
}

TEST_F(EngineSessionTest, EraseAndOptOutDropTheSession) {
  ASSERT_TRUE(Click("erased", "s2", "visit-1").ok());
  ASSERT_TRUE(Click("opted-out", "s2", "visit-1").ok());
  ASSERT_EQ(engine_->Stats().sessions, 2u);

  ASSERT_TRUE(engine_->EraseUser("erased").ok());
  EXPECT_EQ(engine_->Stats().sessions, 1u);
  ASSERT_TRUE(engine_->SetOptOut("opted-out", true).ok());
  EXPECT_EQ(engine_->Stats().sessions, 0u);
  EXPECT_EQ(ExplainedHits("erased")["s2"].session_boost, 0.0f);
  EXPECT_EQ(ExplainedHits("opted-out")["s2"].session_boost, 0.0f);
  // Events dropped while opted out build no session either.
  ASSERT_TRUE(Click("opted-out", "s2", "visit-2").ok());
  EXPECT_EQ(engine_->Stats().sessions, 0u);
}

}  // namespace
}  // namespace tessera
