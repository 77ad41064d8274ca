// RedisProfileStore against a real redis-server that each test suite starts on 127.0.0.1:
// every ProfileStore method, two stores writing the same shopper (as two replicas do), the
// shared stream of product counts, and an unreachable or restarted server.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "personalize/event.h"
#include "personalize/profile.h"
#include "personalize/redis_profile_store.h"
#include "support/profile_test_support.h"
#include "support/redis_test_support.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::FreeRedisPort;
using testing_support::RedisServerProcess;
using testing_support::kDayMs;
using testing_support::kHourMs;
using testing_support::kNowMs;
using testing_support::MakeEvent;
using testing_support::MakeProduct;
using testing_support::TempDir;

const std::string kSecret(32, 'k');

class RedisProfileStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    temp_dir_ = new TempDir("tessera-redis-store-");
    server_ = new RedisServerProcess(temp_dir_->path() / "redis", FreeRedisPort());
    started_ = server_->Start();
    RedisOptions options;
    options.port = server_->port();
    options.min_retry_delay = std::chrono::milliseconds(1);
    options.max_retry_delay = std::chrono::milliseconds(1);
    redis_ = new RedisClient(options);
  }
  static void TearDownTestSuite() {
    delete redis_;
    redis_ = nullptr;
    delete server_;
    server_ = nullptr;
    delete temp_dir_;
    temp_dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(started_) << testing_support::ReadFile(server_->dir() / "redis.log");
    catalogue_ = {{"red", MakeProduct("red", "Red")}, {"blue", MakeProduct("blue", "Blue")},
                  {"green", MakeProduct("green", "Green")}};
    ASSERT_TRUE(Redis().Command({"FLUSHALL"}).ok());
    store_ = OpenStore();
  }

  std::unique_ptr<RedisProfileStore> OpenStore(const std::string& url = "") const {
    Result<std::unique_ptr<RedisProfileStore>> store =
        RedisProfileStore::Open(url.empty() ? server_->url() : url, options_, UserKeyer(kSecret));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // A client of the test's own, for checks and cleanup.
  static RedisClient& Redis() { return *redis_; }

  EventRecord Record(const Event& event) const { return {event, catalogue_.at(event.product_id)}; }

  std::vector<EventOutcome> RecordBatch(RedisProfileStore& store, const std::vector<Event>& events) {
    std::vector<EventRecord> records;
    for (const Event& event : events) records.push_back(Record(event));
    Result<std::vector<EventOutcome>> outcomes = store.RecordBatch(records);
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    return outcomes.ok() ? *outcomes : std::vector<EventOutcome>();
  }

  ProductLookup Lookup() const {
    return [this](const std::string& id) -> std::shared_ptr<const Product> {
      auto it = catalogue_.find(id);
      return it == catalogue_.end() ? nullptr : it->second;
    };
  }

  // The profile UserProfile::Apply makes of `events` in order, as the embedded store keeps it.
  UserProfile Expected(const std::vector<Event>& events) const {
    UserProfile profile;
    for (const Event& event : events) profile.Apply(event, *catalogue_.at(event.product_id), options_);
    return profile;
  }

  // Every Redis key whose name contains the user's key.
  std::vector<std::string> KeysOf(const std::string& user_id) const {
    const std::string hex = UserKeyer(kSecret).Key(user_id).substr(1);
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      Result<RedisReply> page = Redis().Command({"SCAN", cursor, "MATCH", "*" + hex + "*", "COUNT", "1000"});
      EXPECT_TRUE(page.ok());
      if (!page.ok()) break;
      cursor = page->elements[0].text;
      for (const RedisReply& key : page->elements[1].elements) keys.push_back(key.text);
    } while (cursor != "0");
    return keys;
  }

  static inline TempDir* temp_dir_ = nullptr;
  static inline RedisServerProcess* server_ = nullptr;
  static inline bool started_ = false;
  static inline RedisClient* redis_ = nullptr;
  ProfileOptions options_;
  std::map<std::string, std::shared_ptr<const Product>> catalogue_;
  std::unique_ptr<RedisProfileStore> store_;
};

TEST_F(RedisProfileStoreTest, RecordBatchAppliesEventsAsEmbeddedStore) {
  const std::vector<Event> events = {MakeEvent("ana", "red", kNowMs - 2 * kDayMs), MakeEvent("ana", "blue", kNowMs),
                                     MakeEvent("ana", "red", kNowMs - kDayMs)};
  const std::vector<EventOutcome> outcomes = RecordBatch(*store_, events);
  ASSERT_EQ(outcomes.size(), 3u);
  for (EventOutcome outcome : outcomes) EXPECT_EQ(outcome, EventOutcome::kRecorded);

  Result<std::optional<UserProfile>> profile = store_->Get("ana");
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_TRUE(profile->has_value());
  EXPECT_EQ((*profile)->ToJson(), Expected(events).ToJson());
  EXPECT_EQ((*profile)->event_count(), 3u);
}

TEST_F(RedisProfileStoreTest, ProfileIsHashOfFields) {
  const std::vector<Event> events = {MakeEvent("ana", "red", kNowMs - kDayMs), MakeEvent("ana", "blue", kNowMs)};
  RecordBatch(*store_, events);
  const std::string key = store_->UserKeys("ana")[0];
  Result<RedisReply> type = Redis().Command({"TYPE", key});
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type->text, "hash");
  Result<RedisReply> colour = Redis().Command({"HGET", key, "a:colour:Red"});
  ASSERT_TRUE(colour.ok());
  EXPECT_FALSE(colour->is_nil());
  Result<RedisReply> count = Redis().Command({"HGET", key, "event_count"});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->text, "2");
}

TEST_F(RedisProfileStoreTest, EventWritesOnlyChangedFields) {
  // A shopper with about 200 affinities: 100 products of distinct colours and brands.
  std::vector<Event> history;
  for (int i = 0; i < 100; ++i) {
    auto product = std::make_shared<Product>(*MakeProduct("p" + std::to_string(i), "Colour" + std::to_string(i)));
    product->brand = "Brand" + std::to_string(i);
    catalogue_["p" + std::to_string(i)] = product;
    history.push_back(MakeEvent("ana", "p" + std::to_string(i), kNowMs - kHourMs + i));
  }
  RecordBatch(*store_, history);
  Result<RedisReply> fields = Redis().Command({"HGETALL", store_->UserKeys("ana")[0]});
  ASSERT_TRUE(fields.ok());
  size_t hash_bytes = 0;
  for (const RedisReply& text : fields->elements) hash_bytes += text.text.size();
  ASSERT_GT(hash_bytes, 5000u);

  // Redis appends what a script wrote to its append-only file: the changed fields, or the
  // whole hash when the write replaced it.
  auto append_only_bytes = [] {
    uintmax_t bytes = 0;
    for (const auto& file : std::filesystem::recursive_directory_iterator(server_->dir())) {
      if (file.is_regular_file() && file.path().filename().string().find(".aof") != std::string::npos) {
        bytes += file.file_size();
      }
    }
    return bytes;
  };
  const uintmax_t before = append_only_bytes();
  RecordBatch(*store_, {MakeEvent("ana", "p7", kNowMs)});
  const uintmax_t written = append_only_bytes() - before;
  EXPECT_LT(written, hash_bytes / 3) << "the hash holds " << hash_bytes << " bytes";

  Result<std::optional<UserProfile>> profile = store_->Get("ana");
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_TRUE(profile->has_value());
  history.push_back(MakeEvent("ana", "p7", kNowMs));
  EXPECT_EQ((*profile)->ToJson(), Expected(history).ToJson());
}

TEST_F(RedisProfileStoreTest, RenormalizedScaleRewritesWeights) {
  // 200 days is more than 64 half-lives of 72 hours, so the second event renormalizes.
  const std::vector<Event> events = {MakeEvent("ana", "red", kNowMs - 200 * kDayMs), MakeEvent("ana", "blue", kNowMs)};
  RecordBatch(*store_, {events[0]});
  RecordBatch(*store_, {events[1]});
  Result<RedisReply> scale = Redis().Command({"HGET", store_->UserKeys("ana")[0], "scale"});
  ASSERT_TRUE(scale.ok());
  EXPECT_EQ(scale->text, "1");
  Result<std::optional<UserProfile>> profile = store_->Get("ana");
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_TRUE(profile->has_value());
  EXPECT_EQ((*profile)->ToJson(), Expected(events).ToJson());
}

TEST_F(RedisProfileStoreTest, StringProfileIsReadAndReplaced) {
  // A store writing the layout before hashes, as a Redis filled by an older version holds.
  RedisProfileStoreOptions string_options;
  string_options.profile_layout = ProfileLayout::kString;
  Result<std::unique_ptr<RedisProfileStore>> old_store =
      RedisProfileStore::Open(server_->url(), options_, UserKeyer(kSecret), string_options);
  ASSERT_TRUE(old_store.ok()) << old_store.status().ToString();
  const std::vector<Event> events = {MakeEvent("ana", "red", kNowMs - kDayMs), MakeEvent("ana", "blue", kNowMs)};
  RecordBatch(**old_store, {events[0]});
  const std::string key = store_->UserKeys("ana")[0];
  Result<RedisReply> type = Redis().Command({"TYPE", key});
  ASSERT_TRUE(type.ok());
  ASSERT_EQ(type->text, "string");

  Result<std::optional<UserProfile>> read = store_->Get("ana");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->ToJson(), Expected({events[0]}).ToJson());

  RecordBatch(*store_, {events[1]});
  type = Redis().Command({"TYPE", key});
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type->text, "hash");
  Result<std::optional<UserProfile>> written = store_->Get("ana");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_TRUE(written->has_value());
  EXPECT_EQ((*written)->ToJson(), Expected(events).ToJson());
}

TEST_F(RedisProfileStoreTest, GetWithoutEventsIsEmpty) {
  Result<std::optional<UserProfile>> profile = store_->Get("nobody");
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  EXPECT_FALSE(profile->has_value());
}

TEST_F(RedisProfileStoreTest, EventsAreOldestFirstWithRawUserId) {
  RecordBatch(*store_, {MakeEvent("ana", "blue", kNowMs), MakeEvent("ana", "red", kNowMs - kDayMs, "e1")});
  Result<std::vector<Event>> events = store_->Events("ana");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].product_id, "red");
  EXPECT_EQ((*events)[0].event_id, "e1");
  EXPECT_EQ((*events)[1].product_id, "blue");
  EXPECT_EQ((*events)[0].user_id, "ana");
}

TEST_F(RedisProfileStoreTest, RecentEventsReadsWindowAcrossPages) {
  constexpr int64_t kMinuteMs = 60 * 1000;
  // One event before the window, then 40 inside it, one a minute, so that the read goes past
  // the first page of 16 entries.
  std::vector<Event> events = {MakeEvent("ana", "green", kNowMs - 5 * kHourMs)};
  for (int i = 0; i < 40; ++i) {
    events.push_back(MakeEvent("ana", i % 2 == 0 ? "red" : "blue", kNowMs - (40 - i) * kMinuteMs));
  }
  RecordBatch(*store_, events);
  const int64_t since_ms = kNowMs - 2 * kHourMs;

  Result<std::vector<Event>> recent = store_->RecentEvents("ana", since_ms, 500);
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  ASSERT_EQ(recent->size(), 40u);
  for (size_t i = 0; i < recent->size(); ++i) {
    EXPECT_EQ((*recent)[i].timestamp_ms, kNowMs - static_cast<int64_t>(40 - i) * kMinuteMs) << i;
    EXPECT_EQ((*recent)[i].user_id, "ana") << i;
  }

  // The limit keeps the newest events.
  Result<std::vector<Event>> newest = store_->RecentEvents("ana", since_ms, 20);
  ASSERT_TRUE(newest.ok()) << newest.status().ToString();
  ASSERT_EQ(newest->size(), 20u);
  EXPECT_EQ(newest->front().timestamp_ms, kNowMs - 20 * kMinuteMs);
  EXPECT_EQ(newest->back().timestamp_ms, kNowMs - kMinuteMs);

  Result<std::vector<Event>> none = store_->RecentEvents("nobody", since_ms, 500);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
}

TEST_F(RedisProfileStoreTest, RecentEventsSortsOutOfOrderTimes) {
  constexpr int64_t kMinuteMs = 60 * 1000;
  // Stored in this order; the old event sits between two recent ones in the same page.
  RecordBatch(*store_, {MakeEvent("bob", "red", kNowMs - 5 * kMinuteMs, "late"),
                        MakeEvent("bob", "green", kNowMs - 3 * kHourMs, "old"),
                        MakeEvent("bob", "blue", kNowMs - 10 * kMinuteMs, "early")});
  Result<std::vector<Event>> recent = store_->RecentEvents("bob", kNowMs - 2 * kHourMs, 500);
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].event_id, "early");
  EXPECT_EQ((*recent)[1].event_id, "late");
}

TEST_F(RedisProfileStoreTest, RepeatedEventIdIsDuplicate) {
  std::vector<EventOutcome> first =
      RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs, "e1"), MakeEvent("ana", "red", kNowMs, "e1")});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], EventOutcome::kRecorded);
  EXPECT_EQ(first[1], EventOutcome::kDuplicate);
  std::vector<EventOutcome> retry = RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs, "e1")});
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0], EventOutcome::kDuplicate);
  Result<std::vector<Event>> events = store_->Events("ana");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 1u);
}

TEST_F(RedisProfileStoreTest, UserIdStoredOnlyAsKeyedHash) {
  RecordBatch(*store_, {MakeEvent("ana.lopez@example.com", "red", kNowMs)});
  Result<RedisReply> keys = Redis().Command({"KEYS", "*"});
  ASSERT_TRUE(keys.ok());
  for (const RedisReply& key : keys->elements) {
    EXPECT_EQ(key.text.find("ana"), std::string::npos) << key.text;
    Result<RedisReply> dump = Redis().Command({"DUMP", key.text});
    ASSERT_TRUE(dump.ok());
    EXPECT_EQ(dump->text.find("ana.lopez"), std::string::npos) << key.text;
  }
}

TEST_F(RedisProfileStoreTest, EraseRemovesEveryKeyOfUser) {
  RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs, "e1"), MakeEvent("ana", "blue", kNowMs)});
  RecordBatch(*store_, {MakeEvent("bob", "red", kNowMs)});
  ASSERT_FALSE(KeysOf("ana").empty());

  Result<size_t> erased = store_->Erase("ana");
  ASSERT_TRUE(erased.ok()) << erased.status().ToString();
  EXPECT_EQ(*erased, 2u);
  EXPECT_TRUE(KeysOf("ana").empty());
  Result<RedisReply> in_retention = Redis().Command({"ZSCORE", "tessera:retention", UserKeyer(kSecret).Key("ana").substr(1)});
  ASSERT_TRUE(in_retention.ok());
  EXPECT_TRUE(in_retention->is_nil());
  Result<std::optional<UserProfile>> other = store_->Get("bob");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->has_value());
}

TEST_F(RedisProfileStoreTest, AppendOnlyRewriteDropsErasedUser) {
  RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs), MakeEvent("bob", "blue", kNowMs)});
  ASSERT_TRUE(store_->Erase("ana").ok());
  const std::string hex = UserKeyer(kSecret).Key("ana").substr(1);
  auto files_contain = [&](const std::string& text) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(server_->dir())) {
      if (entry.is_regular_file() && testing_support::ReadFile(entry.path()).find(text) != std::string::npos) return true;
    }
    return false;
  };
  ASSERT_TRUE(files_contain(hex)) << "the append-only file should still hold the erased events";

  ASSERT_TRUE(store_->RewriteAppendOnlyFile().ok());
  // A second request while the first may still run waits for it instead of failing.
  Status again = store_->RewriteAppendOnlyFile();
  EXPECT_TRUE(again.ok()) << again.ToString();
  // The rewrite runs in a child process; Redis then deletes the old files.
  bool erased_from_files = false;
  for (int attempt = 0; attempt < 100 && !erased_from_files; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Result<RedisReply> info = Redis().Command({"INFO", "persistence"});
    ASSERT_TRUE(info.ok());
    const bool rewriting = info->text.find("aof_rewrite_in_progress:1") != std::string::npos ||
                           info->text.find("aof_rewrite_scheduled:1") != std::string::npos;
    erased_from_files = !rewriting && !files_contain(hex);
  }
  EXPECT_TRUE(erased_from_files) << "the erased user's key is still in Redis's files";
  EXPECT_TRUE(files_contain(UserKeyer(kSecret).Key("bob").substr(1)));
}

TEST_F(RedisProfileStoreTest, OptOutErasesAndDropsLaterEvents) {
  RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs)});
  ASSERT_TRUE(store_->SetOptOut("ana", true).ok());
  Result<bool> opted_out = store_->OptedOut("ana");
  ASSERT_TRUE(opted_out.ok());
  EXPECT_TRUE(*opted_out);
  Result<std::optional<UserProfile>> profile = store_->Get("ana");
  ASSERT_TRUE(profile.ok());
  EXPECT_FALSE(profile->has_value());

  std::vector<EventOutcome> dropped = RecordBatch(*store_, {MakeEvent("ana", "blue", kNowMs)});
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0], EventOutcome::kOptedOut);

  ASSERT_TRUE(store_->SetOptOut("ana", false).ok());
  std::vector<EventOutcome> recorded = RecordBatch(*store_, {MakeEvent("ana", "blue", kNowMs)});
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0], EventOutcome::kRecorded);
}

TEST_F(RedisProfileStoreTest, MergeMovesEventsAndRecomputesProfile) {
  const Event anonymous_click = MakeEvent("anon-1", "red", kNowMs - kHourMs, "a1");
  const Event account_click = MakeEvent("ana", "blue", kNowMs - 2 * kHourMs);
  RecordBatch(*store_, {anonymous_click, account_click});

  Result<size_t> moved = store_->Merge("anon-1", "ana", Lookup());
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 1u);
  EXPECT_TRUE(KeysOf("anon-1").empty());
  Result<std::optional<UserProfile>> profile = store_->Get("ana");
  ASSERT_TRUE(profile.ok());
  ASSERT_TRUE(profile->has_value());
  EXPECT_EQ((*profile)->ToJson(), Expected({account_click, anonymous_click}).ToJson());
  // The moved event id stays a duplicate under the account.
  std::vector<EventOutcome> retry = RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs - kHourMs, "a1")});
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0], EventOutcome::kDuplicate);
}

TEST_F(RedisProfileStoreTest, MergeRejectsSameUserAndOptedOutUser) {
  Result<size_t> same = store_->Merge("ana", "ana", Lookup());
  EXPECT_EQ(same.status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->SetOptOut("bob", true).ok());
  Result<size_t> opted_out = store_->Merge("bob", "ana", Lookup());
  EXPECT_EQ(opted_out.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RedisProfileStoreTest, DeleteEventsBeforeRecomputesProfiles) {
  const Event old_click = MakeEvent("ana", "red", kNowMs - 10 * kDayMs, "old");
  const Event new_click = MakeEvent("ana", "blue", kNowMs);
  RecordBatch(*store_, {old_click, new_click, MakeEvent("bob", "green", kNowMs - 20 * kDayMs)});

  Result<std::vector<Event>> expired = store_->DeleteEventsBefore(kNowMs - 5 * kDayMs, Lookup());
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  EXPECT_EQ(expired->size(), 2u);

  Result<std::vector<Event>> remaining = store_->Events("ana");
  ASSERT_TRUE(remaining.ok());
  ASSERT_EQ(remaining->size(), 1u);
  EXPECT_EQ((*remaining)[0].product_id, "blue");
  Result<std::optional<UserProfile>> profile = store_->Get("ana");
  ASSERT_TRUE(profile.ok());
  ASSERT_TRUE(profile->has_value());
  EXPECT_EQ((*profile)->ToJson(), Expected({new_click}).ToJson());
  // A user left with no event loses everything.
  EXPECT_TRUE(KeysOf("bob").empty());
  // The expired event's id is forgotten too, so it may be sent again.
  Result<RedisReply> ids = Redis().Command({"ZCARD", store_->UserKeys("ana")[2]});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->integer, 0);
}

TEST_F(RedisProfileStoreTest, TwoStoresWritingOneUserLoseNoUpdate) {
  // Two stores are two replicas: their writes to one shopper interleave in Redis.
  std::unique_ptr<RedisProfileStore> other = OpenStore();
  constexpr int kThreads = 4;
  constexpr int kEventsPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    RedisProfileStore* store = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([this, store, t] {
      for (int i = 0; i < kEventsPerThread; ++i) {
        const Event event = MakeEvent("ana", i % 2 == 0 ? "red" : "blue", kNowMs + i,
                                      "t" + std::to_string(t) + "-" + std::to_string(i));
        Result<std::vector<EventOutcome>> outcome = store->RecordBatch({Record(event)});
        EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  Result<std::optional<UserProfile>> profile = store_->Get("ana");
  ASSERT_TRUE(profile.ok());
  ASSERT_TRUE(profile->has_value());
  EXPECT_EQ((*profile)->event_count(), static_cast<uint64_t>(kThreads * kEventsPerThread));
  Result<std::vector<Event>> events = other->Events("ana");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), static_cast<size_t>(kThreads * kEventsPerThread));
}

TEST_F(RedisProfileStoreTest, SharedStreamCarriesOtherStoresCounts) {
  std::unique_ptr<RedisProfileStore> other = OpenStore();
  RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs), MakeEvent("ana", "blue", kNowMs)});
  ASSERT_TRUE(store_->Erase("ana").ok());

  std::map<std::string, int> seen_by_other, seen_by_writer;
  Result<std::string> end = other->ReadSharedEvents("0-0", 100, std::chrono::milliseconds(0), [&](const SharedEventDelta& d) {
    seen_by_other[d.product_id] += d.delta;
    EXPECT_EQ(d.type, EventType::kClick);
  });
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_NE(*end, "0-0");
  // Each product was added once and taken away once by the erasure.
  EXPECT_EQ(seen_by_other.size(), 2u);
  EXPECT_EQ(seen_by_other["red"], 0);
  Result<std::string> own = store_->ReadSharedEvents("0-0", 100, std::chrono::milliseconds(0),
                                                     [&](const SharedEventDelta& d) { seen_by_writer[d.product_id] += 1; });
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(seen_by_writer.empty());
  // Reading on from the end finds nothing new.
  Result<std::string> again = other->ReadSharedEvents(*end, 100, std::chrono::milliseconds(0), [](const SharedEventDelta&) {
    ADD_FAILURE() << "an entry was read twice";
  });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *end);
}

TEST_F(RedisProfileStoreTest, UnreachableServerFailsRetryably) {
  std::unique_ptr<RedisProfileStore> orphan = OpenStore("redis://127.0.0.1:" + std::to_string(FreeRedisPort()) + "/0");
  Result<std::vector<EventOutcome>> recorded = orphan->RecordBatch({Record(MakeEvent("ana", "red", kNowMs))});
  EXPECT_EQ(recorded.status().code(), StatusCode::kProfileStoreUnavailable);
  Result<std::optional<UserProfile>> profile = orphan->Get("ana");
  EXPECT_EQ(profile.status().code(), StatusCode::kProfileStoreUnavailable);
  EXPECT_GE(orphan->failures(), 2u);
}

TEST_F(RedisProfileStoreTest, StalledServerTimesOutRetryably) {
  std::unique_ptr<RedisProfileStore> impatient = OpenStore(server_->url() + "?timeout_ms=200");
  RecordBatch(*impatient, {MakeEvent("ana", "red", kNowMs)});
  server_->Signal(SIGSTOP);

  const auto start = std::chrono::steady_clock::now();
  Result<std::optional<UserProfile>> stalled = impatient->Get("ana");
  const auto timed_out_after = std::chrono::steady_clock::now() - start;
  // Until the retry delay passes, calls fail at once instead of waiting for the timeout again.
  Result<std::vector<EventOutcome>> rejected = impatient->RecordBatch({Record(MakeEvent("ana", "blue", kNowMs))});
  const auto rejected_after = std::chrono::steady_clock::now() - start - timed_out_after;
  server_->Signal(SIGCONT);

  EXPECT_EQ(stalled.status().code(), StatusCode::kProfileStoreUnavailable);
  EXPECT_LT(timed_out_after, std::chrono::seconds(2));
  EXPECT_EQ(rejected.status().code(), StatusCode::kProfileStoreUnavailable);
  EXPECT_LT(rejected_after, std::chrono::milliseconds(100));
  Result<std::optional<UserProfile>> resumed = Status::Unavailable("not tried");
  for (int attempt = 0; attempt < 50 && !resumed.ok(); ++attempt) {
    resumed = impatient->Get("ana");
    if (!resumed.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_TRUE(resumed->has_value());
  EXPECT_EQ((*resumed)->event_count(), 1u);
}

TEST_F(RedisProfileStoreTest, RestartKeepsAcknowledgedEvents) {
  RecordBatch(*store_, {MakeEvent("ana", "red", kNowMs, "before")});
  server_->Stop(SIGKILL);
  Result<std::optional<UserProfile>> while_down = store_->Get("ana");
  EXPECT_EQ(while_down.status().code(), StatusCode::kProfileStoreUnavailable);

  ASSERT_TRUE(server_->Start()) << testing_support::ReadFile(server_->dir() / "redis.log");
  // The client waits out its retry delay (at most 2 s) before connecting again.
  Result<std::vector<EventOutcome>> after = Status::Unavailable("not tried");
  for (int attempt = 0; attempt < 50 && !after.ok(); ++attempt) {
    after = store_->RecordBatch({Record(MakeEvent("ana", "blue", kNowMs, "after"))});
    if (!after.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  // The event acknowledged before the crash was synced to the append-only file.
  Result<std::vector<Event>> events = store_->Events("ana");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].event_id, "before");
}

}  // namespace
}  // namespace tessera
