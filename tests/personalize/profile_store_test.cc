// EmbeddedProfileStore on a real KvStore: group commit, batches, merges and the retention sweep.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "personalize/event.h"
#include "personalize/profile.h"
#include "personalize/profile_store.h"
#include "store/kv_store.h"
#include "support/profile_test_support.h"
#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::kDayMs;
using testing_support::kHourMs;
using testing_support::kNowMs;
using testing_support::MakeEvent;
using testing_support::MakeProduct;
using testing_support::TempDir;

class ProfileStoreGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    catalogue_ = {{"red", MakeProduct("red", "Red")}, {"blue", MakeProduct("blue", "Blue")},
                  {"green", MakeProduct("green", "Green")}};
    Open();
  }

  // Opens the store in `dir`, the fixture's folder when empty.
  void Open(GroupCommitOptions group = {}, const fs::path& dir = {}) {
    profiles_.reset();
    kv_.reset();
    Result<std::unique_ptr<KvStore>> kv = KvStore::Open((dir.empty() ? temp_dir_.path() : dir).string());
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    kv_ = std::move(kv).value();
    profiles_ = std::make_unique<EmbeddedProfileStore>(kv_.get(), options_, UserKeyer(std::string(32, 'k')), group);
  }

  EventRecord Record(const Event& event) { return {event, catalogue_.at(event.product_id)}; }

  ProductLookup Lookup() const {
    return [this](const std::string& id) -> std::shared_ptr<const Product> {
      auto it = catalogue_.find(id);
      return it == catalogue_.end() ? nullptr : it->second;
    };
  }

  std::vector<EventOutcome> RecordBatch(const std::vector<Event>& events) {
    std::vector<EventRecord> records;
    for (const Event& event : events) records.push_back(Record(event));
    Result<std::vector<EventOutcome>> outcomes = profiles_->RecordBatch(records);
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    return outcomes.ok() ? *outcomes : std::vector<EventOutcome>();
  }

  std::vector<std::string> EventProducts(const std::string& user) {
    Result<std::vector<Event>> events = profiles_->Events(user);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    std::vector<std::string> products;
    if (events.ok()) {
      for (const Event& event : *events) products.push_back(event.product_id);
    }
    return products;
  }

  std::optional<UserProfile> Get(const std::string& user) {
    Result<std::optional<UserProfile>> profile = profiles_->Get(user);
    EXPECT_TRUE(profile.ok()) << profile.status().ToString();
    return profile.ok() ? *profile : std::nullopt;
  }

  // The profile of `events` applied in order to an empty one: what a recomputation must give.
  UserProfile ExpectedProfile(const std::vector<Event>& events) const {
    UserProfile profile;
    for (const Event& event : events) profile.Apply(event, *catalogue_.at(event.product_id), options_);
    return profile;
  }

  TempDir temp_dir_{"tessera-profile-store-"};
  ProfileOptions options_;
  std::map<std::string, std::shared_ptr<const Product>> catalogue_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<EmbeddedProfileStore> profiles_;
};

TEST_F(ProfileStoreGroupTest, BatchCostsOneSyncedWrite) {
  std::vector<Event> events;
  for (int i = 0; i < 100; ++i) events.push_back(MakeEvent("u" + std::to_string(i % 7), "red", kNowMs + i));
  const std::vector<EventOutcome> outcomes = RecordBatch(events);
  ASSERT_EQ(outcomes.size(), 100u);
  for (EventOutcome outcome : outcomes) EXPECT_EQ(outcome, EventOutcome::kRecorded);
  EXPECT_EQ(profiles_->synced_writes(), 1u);
  EXPECT_EQ(EventProducts("u0").size(), 15u);
  ASSERT_TRUE(Get("u0").has_value());
  EXPECT_EQ(Get("u0")->event_count(), 15u);
}

TEST_F(ProfileStoreGroupTest, BatchSurvivesReopen) {
  RecordBatch({MakeEvent("u1", "red", kNowMs), MakeEvent("u1", "blue", kNowMs), MakeEvent("u2", "green", kNowMs)});
  Open();
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"red", "blue"}));
  EXPECT_EQ(EventProducts("u2"), (std::vector<std::string>{"green"}));
  ASSERT_TRUE(Get("u1").has_value());
  EXPECT_EQ(Get("u1")->event_count(), 2u);
  // Sequences continue after the stored ones, so a new event at the same time overwrites none.
  RecordBatch({MakeEvent("u1", "green", kNowMs)});
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"red", "blue", "green"}));
}

TEST_F(ProfileStoreGroupTest, ConcurrentCallersShareSyncs) {
  constexpr int kThreads = 8;
  constexpr int kEventsPerThread = 100;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string user = "u" + std::to_string(t);
      for (int i = 0; i < kEventsPerThread; ++i) {
        bool recorded = false;
        const Status status = profiles_->Record(MakeEvent(user, "red", kNowMs + i), *catalogue_.at("red"), &recorded);
        if (!status.ok() || !recorded) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    const std::string user = "u" + std::to_string(t);
    EXPECT_EQ(EventProducts(user).size(), static_cast<size_t>(kEventsPerThread)) << user;
    ASSERT_TRUE(Get(user).has_value()) << user;
    EXPECT_EQ(Get(user)->event_count(), static_cast<uint64_t>(kEventsPerThread)) << user;
  }
  // Eight callers each waiting for a sync leave others queued behind the leader.
  EXPECT_LT(profiles_->synced_writes(), static_cast<uint64_t>(kThreads * kEventsPerThread));
}

TEST_F(ProfileStoreGroupTest, GroupLimitOfOneSyncsEveryEvent) {
  Open(GroupCommitOptions{1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        EXPECT_TRUE(profiles_->Record(MakeEvent("u" + std::to_string(t), "red", kNowMs + i), *catalogue_.at("red")).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(profiles_->synced_writes(), 80u);
}

TEST_F(ProfileStoreGroupTest, DuplicateEventIdWithinBatchStoredOnce) {
  const std::vector<EventOutcome> outcomes = RecordBatch({MakeEvent("u1", "red", kNowMs, "order-1"),
                                                          MakeEvent("u1", "blue", kNowMs + 1, "order-1"),
                                                          MakeEvent("u2", "blue", kNowMs + 1, "order-1")});
  EXPECT_EQ(outcomes, (std::vector<EventOutcome>{EventOutcome::kRecorded, EventOutcome::kDuplicate,
                                                 EventOutcome::kRecorded}));
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"red"}));
  EXPECT_EQ(EventProducts("u2"), (std::vector<std::string>{"blue"}));
  // A later batch repeating it is a duplicate too.
  EXPECT_EQ(RecordBatch({MakeEvent("u1", "green", kNowMs + 2, "order-1")}),
            (std::vector<EventOutcome>{EventOutcome::kDuplicate}));
}

TEST_F(ProfileStoreGroupTest, OptedOutUserDroppedWithinBatch) {
  ASSERT_TRUE(profiles_->SetOptOut("quiet", true).ok());
  const std::vector<EventOutcome> outcomes =
      RecordBatch({MakeEvent("quiet", "red", kNowMs), MakeEvent("u1", "red", kNowMs), MakeEvent("quiet", "blue", kNowMs)});
  EXPECT_EQ(outcomes, (std::vector<EventOutcome>{EventOutcome::kOptedOut, EventOutcome::kRecorded,
                                                 EventOutcome::kOptedOut}));
  EXPECT_TRUE(EventProducts("quiet").empty());
  EXPECT_FALSE(Get("quiet").has_value());
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"red"}));
}

TEST_F(ProfileStoreGroupTest, BatchProfileMatchesEventByEvent) {
  const std::vector<Event> events = {MakeEvent("u1", "red", kNowMs), MakeEvent("u1", "blue", kNowMs + kHourMs),
                                     MakeEvent("u1", "blue", kNowMs + 2 * kHourMs)};
  RecordBatch(events);
  const UserProfile expected = ExpectedProfile(events);
  ASSERT_TRUE(Get("u1").has_value());
  EXPECT_EQ(Get("u1")->ToJson(), expected.ToJson());
}

TEST_F(ProfileStoreGroupTest, MergeMovesEventsAndErasesSource) {
  RecordBatch({MakeEvent("anon-1", "red", kNowMs, "e-1"), MakeEvent("anon-1", "blue", kNowMs + 2 * kHourMs),
               MakeEvent("alice", "green", kNowMs + kHourMs)});
  Result<size_t> moved = profiles_->Merge("anon-1", "alice", Lookup());
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 2u);

  EXPECT_TRUE(EventProducts("anon-1").empty());
  EXPECT_FALSE(Get("anon-1").has_value());
  EXPECT_EQ(EventProducts("alice"), (std::vector<std::string>{"red", "green", "blue"}));
  const UserProfile expected = ExpectedProfile({MakeEvent("alice", "red", kNowMs),
                                                MakeEvent("alice", "green", kNowMs + kHourMs),
                                                MakeEvent("alice", "blue", kNowMs + 2 * kHourMs)});
  ASSERT_TRUE(Get("alice").has_value());
  EXPECT_EQ(Get("alice")->ToJson(), expected.ToJson());

  // The merged event's id stays known under its new owner, and the same profile is read back
  // from the store.
  EXPECT_EQ(RecordBatch({MakeEvent("alice", "red", kNowMs, "e-1")}), std::vector<EventOutcome>{EventOutcome::kDuplicate});
  Open();
  ASSERT_TRUE(Get("alice").has_value());
  EXPECT_EQ(Get("alice")->ToJson(), expected.ToJson());
  EXPECT_FALSE(Get("anon-1").has_value());
}

TEST_F(ProfileStoreGroupTest, MergeIntoNewUserCreatesProfile) {
  RecordBatch({MakeEvent("anon-2", "red", kNowMs)});
  Result<size_t> moved = profiles_->Merge("anon-2", "bob", Lookup());
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 1u);
  ASSERT_TRUE(Get("bob").has_value());
  EXPECT_EQ(Get("bob")->event_count(), 1u);
}

TEST_F(ProfileStoreGroupTest, MergeRejectsSameUserAndOptedOut) {
  RecordBatch({MakeEvent("anon-3", "red", kNowMs), MakeEvent("carol", "blue", kNowMs)});
  Result<size_t> same = profiles_->Merge("carol", "carol", Lookup());
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(same.status().message().find("carol"), std::string::npos) << same.status().message();

  ASSERT_TRUE(profiles_->SetOptOut("anon-3", true).ok());
  Result<size_t> opted_out = profiles_->Merge("anon-3", "carol", Lookup());
  ASSERT_FALSE(opted_out.ok());
  EXPECT_EQ(opted_out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(opted_out.status().message().find("anon-3"), std::string::npos) << opted_out.status().message();
  EXPECT_EQ(EventProducts("carol"), (std::vector<std::string>{"blue"}));
}

TEST_F(ProfileStoreGroupTest, DeleteBeforeCutoffRecomputesProfiles) {
  RecordBatch({MakeEvent("u1", "red", kNowMs, "old-1"), MakeEvent("u1", "blue", kNowMs + 10 * kDayMs),
               MakeEvent("u2", "green", kNowMs + kHourMs), MakeEvent("u3", "blue", kNowMs + 20 * kDayMs)});
  Result<std::vector<Event>> expired = profiles_->DeleteEventsBefore(kNowMs + 5 * kDayMs, Lookup());
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  ASSERT_EQ(expired->size(), 2u);
  EXPECT_EQ((*expired)[0].product_id == "red" || (*expired)[1].product_id == "red", true);

  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"blue"}));
  ASSERT_TRUE(Get("u1").has_value());
  EXPECT_EQ(Get("u1")->ToJson(), ExpectedProfile({MakeEvent("u1", "blue", kNowMs + 10 * kDayMs)}).ToJson());
  EXPECT_TRUE(EventProducts("u2").empty());
  EXPECT_FALSE(Get("u2").has_value());
  ASSERT_TRUE(Get("u3").has_value());
  EXPECT_EQ(Get("u3")->event_count(), 1u);

  // The expired event's id is forgotten with it, and a second sweep finds nothing.
  EXPECT_EQ(RecordBatch({MakeEvent("u1", "red", kNowMs + 30 * kDayMs, "old-1")}),
            std::vector<EventOutcome>{EventOutcome::kRecorded});
  Result<std::vector<Event>> again = profiles_->DeleteEventsBefore(kNowMs + 5 * kDayMs, Lookup());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->empty());
  Open();
  EXPECT_FALSE(Get("u2").has_value());
  EXPECT_EQ(Get("u1")->event_count(), 2u);
}

// Group commit whose write-behind thread never runs within a test: profiles reach the store
// only by Flush or when the store is destroyed.
GroupCommitOptions WithoutTimedFlush() {
  GroupCommitOptions group;
  group.profile_flush_ms = 3600 * 1000;
  return group;
}

// Whether the profiles family contains a record for `user`.
bool HoldsProfile(KvStore& kv, const std::string& user) {
  Result<std::optional<std::string>> record = kv.Get(Family::kProfiles, UserKeyer(std::string(32, 'k')).Key(user));
  EXPECT_TRUE(record.ok()) << record.status().ToString();
  return record.ok() && record->has_value();
}

TEST_F(ProfileStoreGroupTest, ProfilesRecoveredFromEventsAfterCrash) {
  Open(WithoutTimedFlush());
  const std::vector<std::string> users = {"u0", "u1", "u2", "u3"};
  const std::vector<std::string> colours = {"red", "blue", "green"};
  std::map<std::string, std::vector<Event>> sent;
  int64_t time = kNowMs;
  auto send_round = [&](const std::vector<std::string>& senders) {
    std::vector<Event> batch;
    for (const std::string& user : senders) {
      const Event event = MakeEvent(user, colours[sent[user].size() % colours.size()], time += kHourMs);
      sent[user].push_back(event);
      batch.push_back(event);
    }
    RecordBatch(batch);
  };
  // u0 has every event in its stored profile, u1 and u2 some, and u3 none: its first event
  // comes after the flush.
  for (int round = 0; round < 3; ++round) send_round({"u0", "u1", "u2"});
  ASSERT_TRUE(profiles_->Flush().ok());
  for (int round = 0; round < 4; ++round) send_round({"u1", "u2", "u3"});

  // The folder as a crash would leave it: the events synced, the later profiles never written.
  TempDir crashed("tessera-profile-crash-");
  ASSERT_FALSE(crashed.path().empty()) << crashed.error();
  fs::copy(temp_dir_.path(), crashed.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  std::map<std::string, std::string> acknowledged;
  for (const std::string& user : users) {
    ASSERT_TRUE(Get(user).has_value()) << user;
    acknowledged[user] = Get(user)->ToJson().dump();
  }

  Open(WithoutTimedFlush(), crashed.path());
  ASSERT_FALSE(HoldsProfile(*kv_, "u3"));
  ASSERT_TRUE(profiles_->Recover(Lookup()).ok());
  for (const std::string& user : users) {
    ASSERT_TRUE(Get(user).has_value()) << user;
    EXPECT_EQ(Get(user)->ToJson().dump(), acknowledged[user]) << user;
    EXPECT_EQ(Get(user)->ToJson(), ExpectedProfile(sent[user]).ToJson()) << user;
  }

  // Recover wrote the profiles it rebuilt: a second crash needs nothing from the first.
  Open(WithoutTimedFlush(), crashed.path());
  ASSERT_TRUE(HoldsProfile(*kv_, "u3"));
  for (const std::string& user : users) EXPECT_EQ(Get(user)->ToJson().dump(), acknowledged[user]) << user;
  send_round({"u3"});
  EXPECT_EQ(Get("u3")->ToJson(), ExpectedProfile(sent["u3"]).ToJson());
}

TEST_F(ProfileStoreGroupTest, LagCountsEventsUntilFlush) {
  Open(WithoutTimedFlush());
  EXPECT_EQ(profiles_->Lag().events, 0u);
  EXPECT_FALSE(profiles_->Lag().oldest.has_value());

  const auto before = std::chrono::steady_clock::now();
  RecordBatch({MakeEvent("u1", "red", kNowMs), MakeEvent("u2", "blue", kNowMs)});
  RecordBatch({MakeEvent("u1", "green", kNowMs, "dup"), MakeEvent("u1", "green", kNowMs, "dup")});
  const WriteBehindLag lag = profiles_->Lag();
  EXPECT_EQ(lag.events, 3u) << "the duplicate event_id is not applied";
  ASSERT_TRUE(lag.oldest.has_value());
  EXPECT_GE(*lag.oldest, before);

  ASSERT_TRUE(profiles_->Flush().ok());
  EXPECT_EQ(profiles_->Lag().events, 0u);
  EXPECT_FALSE(profiles_->Lag().oldest.has_value());
}

TEST_F(ProfileStoreGroupTest, WriteThroughHasNoLag) {
  GroupCommitOptions write_through;
  write_through.profile_flush_ms = 0;
  Open(write_through);
  RecordBatch({MakeEvent("u1", "red", kNowMs)});
  EXPECT_EQ(profiles_->Lag().events, 0u);
}

TEST_F(ProfileStoreGroupTest, RecoverAddsNothingToUpToDateProfiles) {
  RecordBatch({MakeEvent("u1", "red", kNowMs), MakeEvent("u1", "blue", kNowMs + kHourMs)});
  Open();  // destroying the store flushed the profile
  ASSERT_TRUE(profiles_->Recover(Lookup()).ok());
  ASSERT_TRUE(Get("u1").has_value());
  EXPECT_EQ(Get("u1")->ToJson(), ExpectedProfile({MakeEvent("u1", "red", kNowMs),
                                                  MakeEvent("u1", "blue", kNowMs + kHourMs)}).ToJson());
}

TEST_F(ProfileStoreGroupTest, ErasureAndMergeLeaveNoProfileBehind) {
  Open(WithoutTimedFlush());
  RecordBatch({MakeEvent("gone", "red", kNowMs), MakeEvent("opted", "blue", kNowMs), MakeEvent("anon-4", "green", kNowMs),
               MakeEvent("dave", "red", kNowMs + kHourMs)});
  // Each profile is newer in memory than in the store when it is erased.
  ASSERT_TRUE(profiles_->Erase("gone").ok());
  ASSERT_TRUE(profiles_->SetOptOut("opted", true).ok());
  ASSERT_TRUE(profiles_->Merge("anon-4", "dave", Lookup()).ok());
  ASSERT_TRUE(profiles_->Flush().ok());
  for (const char* user : {"gone", "opted", "anon-4"}) {
    EXPECT_FALSE(HoldsProfile(*kv_, user)) << user;
    EXPECT_FALSE(Get(user).has_value()) << user;
  }

  Open(WithoutTimedFlush());
  ASSERT_TRUE(profiles_->Recover(Lookup()).ok());
  for (const char* user : {"gone", "opted", "anon-4"}) {
    EXPECT_FALSE(HoldsProfile(*kv_, user)) << user;
    EXPECT_FALSE(Get(user).has_value()) << user;
  }
  ASSERT_TRUE(Get("dave").has_value());
  EXPECT_EQ(Get("dave")->event_count(), 2u);
}

TEST_F(ProfileStoreGroupTest, ProfileWithoutSequenceHeaderCountsAsUpToDate) {
  RecordBatch({MakeEvent("u1", "red", kNowMs)});
  ASSERT_TRUE(profiles_->Flush().ok());
  // A profile as versions before the header wrote it: the bare JSON, written with its events.
  const std::string user_key = UserKeyer(std::string(32, 'k')).Key("u1");
  const UserProfile stored = ExpectedProfile({MakeEvent("u1", "red", kNowMs)});
  ASSERT_TRUE(kv_->Put(Family::kProfiles, user_key, stored.ToJson().dump(), /*sync=*/true).ok());
  Open(WithoutTimedFlush());
  ASSERT_TRUE(profiles_->Recover(Lookup()).ok());
  EXPECT_EQ(Get("u1")->ToJson(), stored.ToJson());

  // The header is added at once, so a later event missing from the stored profile is recovered.
  RecordBatch({MakeEvent("u1", "blue", kNowMs + kHourMs)});
  TempDir crashed("tessera-profile-crash-");
  ASSERT_FALSE(crashed.path().empty()) << crashed.error();
  fs::copy(temp_dir_.path(), crashed.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  Open(WithoutTimedFlush(), crashed.path());
  ASSERT_TRUE(profiles_->Recover(Lookup()).ok());
  EXPECT_EQ(Get("u1")->event_count(), 2u);
}

}  // namespace
}  // namespace tessera
