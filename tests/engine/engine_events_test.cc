// Engine event paths on a real store: batches, retention and merging an anonymous shopper.
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

constexpr int64_t kDayMs = 24 * 3600 * 1000;

constexpr const char* kCatalogue = R"({"id":"s1","title":"Roadster Men Navy Blue Shirt","brand":"Roadster","category_path":["Apparel","Topwear","Shirts"],"price":899,"currency":"INR","attributes":{"gender":"Men","colour":"Navy Blue","article_type":"Shirts"}}
{"id":"s2","title":"Roadster Men White Shirt","brand":"Roadster","category_path":["Apparel","Topwear","Shirts"],"price":799,"currency":"INR","attributes":{"gender":"Men","colour":"White","article_type":"Shirts"}}
{"id":"s3","title":"Nike Women Black Shoes","brand":"Nike","category_path":["Footwear","Shoes","Sports Shoes"],"price":2999,"currency":"INR","attributes":{"gender":"Women","colour":"Black","article_type":"Sports Shoes"}}
)";

Event MakeEvent(const std::string& user, const std::string& product_id, int64_t timestamp_ms) {
  Event event;
  event.user_id = user;
  event.type = EventType::kClick;
  event.product_id = product_id;
  event.timestamp_ms = timestamp_ms;
  return event;
}

class EngineEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    Open();
    std::istringstream in(kCatalogue);
    Result<IngestReport> report = engine_->IngestJsonl(in, temp_dir_.path().string());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
  }

  // Opens the engine on `dir`, the fixture's folder when empty.
  void Open(int retention_days = 365, int64_t profile_flush_ms = EngineOptions().profile_flush_ms, const fs::path& dir = {}) {
    engine_.reset();
    EngineOptions options;
    options.data_dir = (dir.empty() ? temp_dir_.path() : dir).string();
    options.photo_encoder = "colour-shape";
    options.read_photo_text = false;
    options.retention_days = retention_days;
    options.profile_flush_ms = profile_flush_ms;
    Result<std::unique_ptr<Engine>> engine = Engine::Open(options, &clock_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }

  size_t EventCount(const std::string& user) {
    Result<std::vector<Event>> events = engine_->UserEvents(user);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    return events.ok() ? events->size() : 0;
  }

  // 2023-11-14T22:13:20Z.
  ManualClock clock_{1'700'000'000'000};
  TempDir temp_dir_{"tessera-engine-events-"};
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineEventsTest, BatchRecordsEventsBeforeTheInvalidOne) {
  const int64_t now = clock_.NowMillis();
  std::vector<Engine::EventOutcome> outcomes;
  const Status status = engine_->RecordEvents(
      {MakeEvent("shopper", "s1", now), MakeEvent("shopper", "s2", now), MakeEvent("shopper", "no-such-id", now),
       MakeEvent("shopper", "s3", now)},
      &outcomes);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("event 2"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("no-such-id"), std::string::npos) << status.message();
  EXPECT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(EventCount("shopper"), 2u);
}

TEST_F(EngineEventsTest, OversizedBatchRejectedWhole) {
  std::vector<Event> events(Engine::kMaxEventBatch + 1, MakeEvent("shopper", "s1", clock_.NowMillis()));
  std::vector<Engine::EventOutcome> outcomes;
  const Status status = engine_->RecordEvents(events, &outcomes);
  EXPECT_EQ(status.code(), StatusCode::kTooLarge);
  EXPECT_EQ(EventCount("shopper"), 0u);
}

TEST_F(EngineEventsTest, EventOlderThanRetentionRejected) {
  const int64_t old = clock_.NowMillis() - 366 * kDayMs;
  const Status status = engine_->RecordEvent(MakeEvent("shopper", "s1", old));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(std::to_string(old)), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(std::to_string(clock_.NowMillis() - 365 * kDayMs)), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("retention"), std::string::npos) << status.message();
  EXPECT_EQ(EventCount("shopper"), 0u);
  // One day inside the period is accepted.
  EXPECT_TRUE(engine_->RecordEvent(MakeEvent("shopper", "s1", clock_.NowMillis() - 364 * kDayMs)).ok());
}

TEST_F(EngineEventsTest, SweepDeletesExpiredEventsAndRecomputesProfile) {
  const int64_t start = clock_.NowMillis();
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", "s3", start)).ok());
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", "s1", start + 100 * kDayMs)).ok());
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("leaver", "s3", start)).ok());

  clock_.Set(start + 365 * kDayMs);  // the cut-off is `start`: nothing is older yet
  Result<size_t> none = engine_->SweepExpiredEvents();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0u);

  clock_.Set(start + 366 * kDayMs);
  Result<size_t> swept = engine_->SweepExpiredEvents();
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, 2u);
  EXPECT_EQ(EventCount("shopper"), 1u);
  Result<std::optional<UserProfile>> profile = engine_->Profile("shopper");
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_TRUE(profile->has_value());
  EXPECT_EQ((*profile)->event_count(), 1u);
  EXPECT_EQ((*profile)->Share("article_type", "Sports Shoes"), 0.0);
  EXPECT_EQ((*profile)->Share("article_type", "Shirts"), 1.0);
  EXPECT_EQ(EventCount("leaver"), 0u);
  EXPECT_FALSE(engine_->Profile("leaver")->has_value());
}

TEST_F(EngineEventsTest, OpenSweepsExpiredEvents) {
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", "s1", clock_.NowMillis())).ok());
  clock_.Advance(400 * kDayMs);
  Open();
  EXPECT_EQ(EventCount("shopper"), 0u);
  EXPECT_FALSE(engine_->Profile("shopper")->has_value());
}

TEST_F(EngineEventsTest, RetentionZeroKeepsEveryEvent) {
  Open(/*retention_days=*/0);
  const int64_t old = clock_.NowMillis() - 3000 * kDayMs;
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", "s1", old)).ok());
  Result<size_t> swept = engine_->SweepExpiredEvents();
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, 0u);
  EXPECT_EQ(EventCount("shopper"), 1u);
}

TEST_F(EngineEventsTest, MergeMovesAnonymousEventsToUser) {
  const int64_t now = clock_.NowMillis();
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("anon-7f3a", "s3", now)).ok());
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("anon-7f3a", "s3", now + 1)).ok());
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("alice", "s1", now - 1)).ok());

  Result<size_t> moved = engine_->MergeUsers("anon-7f3a", "alice");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 2u);
  EXPECT_EQ(EventCount("anon-7f3a"), 0u);
  EXPECT_FALSE(engine_->Profile("anon-7f3a")->has_value());
  EXPECT_EQ(EventCount("alice"), 3u);
  Result<std::optional<UserProfile>> profile = engine_->Profile("alice");
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_TRUE(profile->has_value());
  EXPECT_EQ((*profile)->event_count(), 3u);
  EXPECT_GT((*profile)->Share("article_type", "Sports Shoes"), 0.5);
}

TEST_F(EngineEventsTest, OpenRecoversProfilesNotWrittenBeforeCrash) {
  Open(365, /*profile_flush_ms=*/3600 * 1000);  // no timed write-behind within the test
  const int64_t now = clock_.NowMillis();
  std::vector<Engine::EventOutcome> outcomes;
  ASSERT_TRUE(engine_->RecordEvents({MakeEvent("shopper", "s1", now), MakeEvent("other", "s2", now)}, &outcomes).ok());
  ASSERT_TRUE(engine_->RecordEvent(MakeEvent("shopper", "s3", now + 1)).ok());
  std::map<std::string, std::string> acknowledged;
  for (const std::string user : {"shopper", "other"}) {
    Result<std::optional<UserProfile>> profile = engine_->Profile(user);
    ASSERT_TRUE(profile.ok()) << user;
    ASSERT_TRUE(profile->has_value()) << user;
    acknowledged[user] = (*profile)->ToJson().dump();
  }

  // The folder as a crash would leave it: the events synced, no profile written yet.
  TempDir crashed("tessera-engine-crash-");
  ASSERT_FALSE(crashed.path().empty()) << crashed.error();
  fs::copy(temp_dir_.path(), crashed.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  Open(365, EngineOptions().profile_flush_ms, crashed.path());
  for (const std::string user : {"shopper", "other"}) {
    Result<std::optional<UserProfile>> profile = engine_->Profile(user);
    ASSERT_TRUE(profile.ok()) << profile.status().ToString();
    ASSERT_TRUE(profile->has_value()) << user;
    EXPECT_EQ((*profile)->ToJson().dump(), acknowledged[user]) << user;
  }
  EXPECT_EQ((*engine_->Profile("shopper"))->event_count(), 2u);
}

TEST_F(EngineEventsTest, MergeRejectsInvalidUserId) {
  Result<size_t> moved = engine_->MergeUsers("bad id", "alice");
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
