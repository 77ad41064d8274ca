#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "ingest/catalog_record.h"
#include "personalize/event.h"
#include "personalize/personal_reranker.h"
#include "personalize/profile.h"
#include "personalize/profile_store.h"
#include "store/kv_store.h"
#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;
using nlohmann::json;

constexpr int64_t kHourMs = 3600 * 1000;
// 2024-06-01T00:00:00Z in Unix milliseconds.
constexpr int64_t kNowMs = 1717200000000;

Product MakeProduct(const std::string& id, const std::string& article_type, const std::string& colour,
                    const std::string& gender = "Men", const std::string& brand = "Acme") {
  Product p;
  p.id = id;
  p.title = brand + " " + gender + " " + colour + " " + article_type;
  p.brand = brand;
  p.attributes = {{"article_type", article_type}, {"colour", colour}, {"gender", gender}};
  return p;
}

Event MakeEvent(const std::string& user, EventType type, const std::string& product_id, int64_t timestamp_ms) {
  Event event;
  event.user_id = user;
  event.type = type;
  event.product_id = product_id;
  event.timestamp_ms = timestamp_ms;
  return event;
}

json ValidEventJson() {
  return {{"user_id", "shopper-1"}, {"type", "click"}, {"product_id", "15970"}, {"timestamp", kNowMs - 1000}};
}

// Returns the field named by the rejection of `object`, or "accepted".
std::string RejectedField(const json& object) {
  Result<Event> event = EventFromJson(object, kNowMs);
  if (event.ok()) return "accepted";
  EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument) << event.status().ToString();
  return FieldNamedIn(event.status().message());
}

TEST(EventFromJson, ParsesValidEvent) {
  json object = ValidEventJson();
  object["session_id"] = "s-9";
  Result<Event> event = EventFromJson(object, kNowMs);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->user_id, "shopper-1");
  EXPECT_EQ(event->type, EventType::kClick);
  EXPECT_EQ(event->product_id, "15970");
  EXPECT_EQ(event->timestamp_ms, kNowMs - 1000);
  EXPECT_EQ(event->session_id, "s-9");
}

TEST(EventFromJson, ParsesEveryType) {
  const std::map<std::string, EventType> types = {{"search", EventType::kSearch},
                                                  {"impression", EventType::kImpression},
                                                  {"view", EventType::kView},
                                                  {"click", EventType::kClick},
                                                  {"add_to_cart", EventType::kAddToCart},
                                                  {"purchase", EventType::kPurchase}};
  for (const auto& [name, type] : types) {
    json object = ValidEventJson();
    object["type"] = name;
    Result<Event> event = EventFromJson(object, kNowMs);
    ASSERT_TRUE(event.ok()) << name << ": " << event.status().ToString();
    EXPECT_EQ(event->type, type) << name;
    EXPECT_EQ(EventTypeName(type), name);
  }
}

TEST(EventFromJson, ParsesSearchContext) {
  json object = ValidEventJson();
  object["type"] = "impression";
  object["query_id"] = "q-42";
  object["position"] = 3;
  object["event_id"] = "e-1";
  Result<Event> event = EventFromJson(object, kNowMs);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->query_id, "q-42");
  EXPECT_EQ(event->position, 3u);
  EXPECT_EQ(event->event_id, "e-1");
  Result<Event> again = EventFromJson(EventToJson(*event), kNowMs);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->position, 3u);
  EXPECT_EQ(again->event_id, "e-1");
}

TEST(EventFromJson, SearchNeedsNoProduct) {
  const json object = {{"user_id", "shopper-1"}, {"type", "search"}, {"query", "navy shirts"}, {"query_id", "q-1"}};
  Result<Event> event = EventFromJson(object, kNowMs);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->query, "navy shirts");
  EXPECT_TRUE(event->product_id.empty());
  EXPECT_FALSE(EventToJson(*event).contains("product_id"));
}

TEST(EventFromJson, RejectsBadSearchContext) {
  for (const json& position : {json(0), json(-1), json(10001), json("3"), json(2.5)}) {
    json object = ValidEventJson();
    object["position"] = position;
    EXPECT_EQ(RejectedField(object), "position") << position.dump();
  }
  json long_query = ValidEventJson();
  long_query["query"] = std::string(1025, 'a');
  EXPECT_EQ(RejectedField(long_query), "query");
  json long_id = ValidEventJson();
  long_id["event_id"] = std::string(129, 'e');
  EXPECT_EQ(RejectedField(long_id), "event_id");
}

TEST(EventFromJson, MissingTimestampUsesNow) {
  json object = ValidEventJson();
  object.erase("timestamp");
  Result<Event> event = EventFromJson(object, kNowMs);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->timestamp_ms, kNowMs);
}

TEST(EventBatchFromJson, SingleEventIsBatchOfOne) {
  Result<EventBatch> batch = EventBatchFromJson(ValidEventJson(), kNowMs);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].product_id, "15970");
  EXPECT_TRUE(batch->invalid.ok());
}

TEST(EventBatchFromJson, StopsAtFirstInvalidEvent) {
  json bad_type = ValidEventJson();
  bad_type["type"] = "like";
  const json body = {{"events", {ValidEventJson(), ValidEventJson(), bad_type, ValidEventJson()}}};
  Result<EventBatch> batch = EventBatchFromJson(body, kNowMs);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(batch->invalid.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(batch->invalid.message().rfind("event 2: ", 0), 0u) << batch->invalid.message();
  EXPECT_NE(batch->invalid.message().find("like"), std::string::npos) << batch->invalid.message();
}

TEST(EventBatchFromJson, RejectsMalformedBatch) {
  const Result<EventBatch> not_array = EventBatchFromJson({{"events", "click"}}, kNowMs);
  EXPECT_EQ(not_array.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldNamedIn(not_array.status().message()), "events");

  const Result<EventBatch> extra_field = EventBatchFromJson({{"events", json::array()}, {"user_id", "u"}}, kNowMs);
  EXPECT_EQ(extra_field.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(extra_field.status().message().find("only the field 'events'"), std::string::npos);
}

TEST(EventBatchFromJson, EmptyBatchHasNoEvents) {
  Result<EventBatch> batch = EventBatchFromJson({{"events", json::array()}}, kNowMs);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_TRUE(batch->events.empty());
  EXPECT_TRUE(batch->invalid.ok());
}

TEST(EventFromJson, JsonRoundTrip) {
  Result<Event> event = EventFromJson(ValidEventJson(), kNowMs);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  Result<Event> again = EventFromJson(EventToJson(*event), kNowMs);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->user_id, event->user_id);
  EXPECT_EQ(again->type, event->type);
  EXPECT_EQ(again->product_id, event->product_id);
  EXPECT_EQ(again->timestamp_ms, event->timestamp_ms);
}

TEST(EventFromJson, RejectsUnknownType) {
  json object = ValidEventJson();
  object["type"] = "like";
  EXPECT_EQ(RejectedField(object), "type");
}

TEST(EventFromJson, RejectsUnknownField) {
  json object = ValidEventJson();
  object["price"] = 10;
  EXPECT_EQ(RejectedField(object), "price");
}

TEST(EventFromJson, RejectsMissingUserId) {
  json object = ValidEventJson();
  object.erase("user_id");
  EXPECT_EQ(RejectedField(object), "user_id");
  object["user_id"] = "";
  EXPECT_EQ(RejectedField(object), "user_id");
}

TEST(EventFromJson, RejectsBadUserIdCharacters) {
  for (const std::string user : {"a b", "a/b", "a,b", "caf\xC3\xA9"}) {
    json object = ValidEventJson();
    object["user_id"] = user;
    EXPECT_EQ(RejectedField(object), "user_id") << user;
  }
}

TEST(EventFromJson, AcceptsEmailLikeUserId) {
  json object = ValidEventJson();
  object["user_id"] = "a.b_c:d-e@f";
  EXPECT_EQ(RejectedField(object), "accepted");
}

TEST(EventFromJson, RejectsOverlongUserId) {
  json object = ValidEventJson();
  object["user_id"] = std::string(128, 'u');
  EXPECT_EQ(RejectedField(object), "accepted");
  object["user_id"] = std::string(129, 'u');
  EXPECT_EQ(RejectedField(object), "user_id");
}

TEST(EventFromJson, RejectsMissingProductId) {
  json object = ValidEventJson();
  object.erase("product_id");
  EXPECT_EQ(RejectedField(object), "product_id");
  object["product_id"] = "";
  EXPECT_EQ(RejectedField(object), "product_id");
}

TEST(EventFromJson, RejectsTimestampInSeconds) {
  json object = ValidEventJson();
  object["timestamp"] = kNowMs / 1000;
  EXPECT_EQ(RejectedField(object), "timestamp");
}

TEST(EventFromJson, RejectsTimestampFarInFuture) {
  json object = ValidEventJson();
  object["timestamp"] = kNowMs + kMaxEventClockSkewMs;
  EXPECT_EQ(RejectedField(object), "accepted");
  object["timestamp"] = kNowMs + kMaxEventClockSkewMs + 1;
  EXPECT_EQ(RejectedField(object), "timestamp");
}

TEST(EventFromJson, RejectsWrongTypes) {
  const struct {
    const char* field;
    json value;
  } cases[] = {
      {"user_id", 42},
      {"type", 1},
      {"product_id", 15970},
      {"timestamp", "1717200000000"},
      {"timestamp", 1717200000000.5},
      {"session_id", json::array()},
  };
  for (const auto& c : cases) {
    json object = ValidEventJson();
    object[c.field] = c.value;
    EXPECT_EQ(RejectedField(object), c.field) << c.value.dump();
  }
}

TEST(EventFromJson, RejectsNonObject) {
  EXPECT_EQ(RejectedField(json::array({"click"})), "record");
}

TEST(UserProfile, FieldsReadBackExactly) {
  const ProfileOptions options;
  UserProfile profile;
  // Values with a ':' and weights that are not short decimals.
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red:Dark"), options);
  profile.Apply(MakeEvent("u", EventType::kView, "b", kNowMs + 7 * kHourMs), MakeProduct("b", "Jeans", "Blue"), options);

  const std::map<std::string, std::string> fields = profile.ToFields();
  EXPECT_EQ(fields.at("format"), UserProfile::kFieldsFormat);
  EXPECT_EQ(fields.count("a:colour:Red:Dark"), 1u);
  Result<UserProfile> read = UserProfile::FromFields(fields);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->ToJson(), profile.ToJson());
  EXPECT_EQ(read->ToFields(), fields);
}

TEST(UserProfile, InvalidFieldsAreCorruption) {
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), ProfileOptions());
  const std::map<std::string, std::string> valid = profile.ToFields();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"format", "2"}, {"scale", "0"}, {"scale", "abc"}, {"event_count", "-1"},
      {"updated_ms", "1.5"}, {"a:colour", "1"}, {"a:colour:Red", "x"}, {"unknown", "1"}};
  for (const auto& [field, value] : cases) {
    std::map<std::string, std::string> fields = valid;
    fields[field] = value;
    Result<UserProfile> read = UserProfile::FromFields(fields);
    EXPECT_EQ(read.status().code(), StatusCode::kCorruption) << field << " = " << value;
  }
  std::map<std::string, std::string> missing = valid;
  missing.erase("total_weight");
  EXPECT_EQ(UserProfile::FromFields(missing).status().code(), StatusCode::kCorruption);
}

TEST(UserProfile, EventHalfLifeAgoCountsHalf) {
  const ProfileOptions options;  // 72-hour half-life, click weight 2
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  profile.Apply(MakeEvent("u", EventType::kClick, "b", kNowMs + 72 * kHourMs), MakeProduct("b", "Shirts", "Blue"),
                options);
  // Red decayed to 2 * 0.5 = 1, Blue is 2: shares 1/3 and 2/3.
  EXPECT_NEAR(profile.Share("colour", "Red"), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(profile.Share("colour", "Blue"), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(profile.Strength(kNowMs + 72 * kHourMs, options), 3.0, 1e-12);
}

TEST(UserProfile, OlderEventCountsWithItsAge) {
  const ProfileOptions options;
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "b", kNowMs + 72 * kHourMs), MakeProduct("b", "Shirts", "Blue"),
                options);
  // Arrives late, but happened a half-life before the first.
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  EXPECT_NEAR(profile.Share("colour", "Red"), 1.0 / 3.0, 1e-12);
  EXPECT_EQ(profile.updated_ms(), kNowMs + 72 * kHourMs);
  EXPECT_EQ(profile.event_count(), 2u);
}

TEST(UserProfile, StrengthDecaysWithTime) {
  const ProfileOptions options;
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kPurchase, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  EXPECT_NEAR(profile.Strength(kNowMs, options), 8.0, 1e-12);
  EXPECT_NEAR(profile.Strength(kNowMs + 72 * kHourMs, options), 4.0, 1e-12);
  EXPECT_NEAR(profile.Strength(kNowMs + 144 * kHourMs, options), 2.0, 1e-12);
  // Reading before the last event does not amplify the profile.
  EXPECT_NEAR(profile.Strength(kNowMs - kHourMs, options), 8.0, 1e-12);
}

TEST(UserProfile, ShareIndependentOfReadingTime) {
  const ProfileOptions options;
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kView, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  profile.Apply(MakeEvent("u", EventType::kAddToCart, "b", kNowMs), MakeProduct("b", "Jeans", "Blue"), options);
  // View weighs 1 and add-to-cart 4.
  EXPECT_NEAR(profile.Share("colour", "Red"), 0.2, 1e-12);
  EXPECT_NEAR(profile.Share("article_type", "Jeans"), 0.8, 1e-12);
}

TEST(UserProfile, ShareOfUnknownValueOrFacetIsZero) {
  const ProfileOptions options;
  UserProfile profile;
  EXPECT_EQ(profile.Share("colour", "Red"), 0.0);
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  EXPECT_EQ(profile.Share("colour", "Green"), 0.0);
  EXPECT_EQ(profile.Share("season", "Summer"), 0.0);
}

TEST(UserProfile, TracksBrandFromProductField) {
  const ProfileOptions options;
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red", "Men", "Turtle"),
                options);
  EXPECT_EQ(profile.Share("brand", "Turtle"), 1.0);
  EXPECT_EQ(profile.Share("gender", "Men"), 1.0);
}

TEST(UserProfile, JsonRoundTrip) {
  const ProfileOptions options;
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  profile.Apply(MakeEvent("u", EventType::kView, "b", kNowMs + kHourMs), MakeProduct("b", "Jeans", "Blue"), options);
  Result<UserProfile> again = UserProfile::FromJson(profile.ToJson());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->Shares(), profile.Shares());
  EXPECT_EQ(again->event_count(), profile.event_count());
  EXPECT_EQ(again->updated_ms(), profile.updated_ms());
  EXPECT_EQ(again->Strength(kNowMs + 9 * kHourMs, options), profile.Strength(kNowMs + 9 * kHourMs, options));
}

// The formulas UserProfile applied before it decayed through one common scale: every affinity is
// multiplied by the decay at each event. The lazy form must give the same values up to rounding.
struct EagerProfile {
  std::map<std::string, std::map<std::string, double>> weights;
  double total_weight = 0;
  int64_t updated_ms = 0;

  void Apply(const Event& event, const Product& product, const ProfileOptions& options) {
    const int64_t at = std::max(event.timestamp_ms, updated_ms);
    const double decay = DecayFactor(at - updated_ms, options.half_life_hours);
    for (auto& [facet, values] : weights) {
      for (auto& [value, weight] : values) weight *= decay;
    }
    total_weight *= decay;
    const double weight = options.WeightOf(event.type) * DecayFactor(at - event.timestamp_ms, options.half_life_hours);
    for (const char* facet : kProfileFacets) {
      const std::string value = FacetValue(product, facet);
      if (!value.empty() && weight > 0) weights[facet][value] += weight;
    }
    total_weight += weight;
    updated_ms = at;
  }

  double Share(const std::string& facet, const std::string& value) const {
    double total = 0;
    for (const auto& [v, weight] : weights.at(facet)) total += weight;
    return weights.at(facet).at(value) / total;
  }
};

// Relative closeness, for values that went through different but equivalent roundings.
void ExpectClose(double actual, double expected, const std::string& description) {
  EXPECT_NEAR(actual, expected, 1e-12 * std::max(1.0, std::abs(expected))) << description;
}

TEST(UserProfile, LazyDecayMatchesEagerFormulas) {
  const ProfileOptions options;
  ManualClock clock(kNowMs);
  std::mt19937_64 random(11);
  const std::vector<std::string> colours = {"Red", "Blue", "Navy Blue", "Black", "White"};
  const std::vector<std::string> types = {"Shirts", "Jeans", "Tshirts"};
  const EventType event_types[] = {EventType::kView, EventType::kClick, EventType::kAddToCart, EventType::kPurchase,
                                   EventType::kImpression};
  UserProfile lazy;
  EagerProfile eager;
  for (int i = 0; i < 2000; ++i) {
    // Steps from a second to a week, an idle gap of 300 days (100 half-lives, past the
    // renormalization point) once, and every tenth event arriving a day late.
    clock.Advance(i == 1000 ? 300 * 24 * kHourMs : static_cast<int64_t>(random() % (7 * 24 * kHourMs / 100)) * 100);
    const int64_t timestamp = i % 10 == 9 ? clock.NowMillis() - 24 * kHourMs : clock.NowMillis();
    const Product product = MakeProduct("p" + std::to_string(i), types[random() % types.size()],
                                        colours[random() % colours.size()], i % 3 == 0 ? "Women" : "Men");
    const Event event = MakeEvent("u", event_types[random() % 5], product.id, timestamp);
    lazy.Apply(event, product, options);
    eager.Apply(event, product, options);

    ASSERT_EQ(lazy.updated_ms(), eager.updated_ms);
    ExpectClose(lazy.Strength(clock.NowMillis() + kHourMs, options),
                eager.total_weight * DecayFactor(clock.NowMillis() + kHourMs - eager.updated_ms, options.half_life_hours),
                "strength after event " + std::to_string(i));
    const auto weights = lazy.Weights();
    ASSERT_EQ(weights.size(), eager.weights.size());
    for (const auto& [facet, values] : eager.weights) {
      for (const auto& [value, weight] : values) {
        const std::string entry = facet + "=" + value + " after event " + std::to_string(i);
        ExpectClose(weights.at(facet).at(value), weight, "weight of " + entry);
        ExpectClose(lazy.Share(facet, value), eager.Share(facet, value), "share of " + entry);
      }
    }
  }
  EXPECT_EQ(lazy.event_count(), 2000u);
}

TEST(UserProfile, ReadsVersionOneRecord) {
  const ProfileOptions options;
  // A record as written before the scale: the weights decayed to updated_ms.
  const json stored = {{"version", 1},
                       {"weights", {{"colour", {{"Red", 1.0}, {"Blue", 2.0}}}}},
                       {"total_weight", 3.0},
                       {"updated_ms", kNowMs},
                       {"event_count", 2}};
  Result<UserProfile> profile = UserProfile::FromJson(stored);
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  EXPECT_NEAR(profile->Share("colour", "Red"), 1.0 / 3.0, 1e-12);

  // It decays on from there: a half-life later Red is 0.5 and Blue 1 + 2.
  profile->Apply(MakeEvent("u", EventType::kClick, "b", kNowMs + 72 * kHourMs), MakeProduct("b", "Shirts", "Blue"),
                 options);
  EXPECT_NEAR(profile->Weights().at("colour").at("Red"), 0.5, 1e-12);
  EXPECT_NEAR(profile->Weights().at("colour").at("Blue"), 3.0, 1e-12);
  EXPECT_NEAR(profile->Strength(kNowMs + 72 * kHourMs, options), 3.5, 1e-12);
  EXPECT_EQ(profile->event_count(), 3u);
}

TEST(UserProfile, ReadBackProfileStaysBitExact) {
  const ProfileOptions options;
  UserProfile in_memory;
  Result<UserProfile> reread = UserProfile();
  const char* colours[] = {"Red", "Blue", "Green"};
  for (int i = 0; i < 30; ++i) {
    // A 300-day gap halfway takes the scale below its renormalization point.
    const int64_t gap = i >= 15 ? 300 * 24 * kHourMs : 0;
    const Event event = MakeEvent("u", EventType::kClick, "p", kNowMs + i * 7 * kHourMs + gap);
    const Product product = MakeProduct("p", "Shirts", colours[i % 3]);
    in_memory.Apply(event, product, options);
    reread->Apply(event, product, options);
    // Written and read back every third event, as flushes and restarts do.
    if (i % 3 == 0) reread = UserProfile::FromJson(json::parse(reread->ToJson().dump()));
    ASSERT_TRUE(reread.ok()) << reread.status().ToString();
  }
  EXPECT_EQ(reread->ToJson(), in_memory.ToJson());
}

TEST(UserProfile, RejectsInvalidScale) {
  json stored = {{"version", 2}, {"weights", json::object()}, {"scale", 0.0},
                 {"total_weight", 0.0}, {"updated_ms", kNowMs}, {"event_count", 0}};
  Result<UserProfile> zero = UserProfile::FromJson(stored);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().code(), StatusCode::kCorruption);
  stored.erase("scale");
  Result<UserProfile> missing = UserProfile::FromJson(stored);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kCorruption);
}

TEST(UserProfile, PreferenceProbabilityFollowsFormula) {
  const ProfileOptions options;  // a click weighs 2
  UserProfile profile;
  EXPECT_EQ(profile.PreferenceProbability("colour", "Red", 0.5, 10), 0.0);
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  profile.Apply(MakeEvent("u", EventType::kClick, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  profile.Apply(MakeEvent("u", EventType::kClick, "b", kNowMs), MakeProduct("b", "Shirts", "Blue"), options);
  // Red has weight 4 and Blue 2: exp(0.5 * 4) / (exp(2) + exp(1) + 10).
  const double total = std::exp(2.0) + std::exp(1.0) + 10;
  EXPECT_NEAR(profile.PreferenceProbability("colour", "Red", 0.5, 10), std::exp(2.0) / total, 1e-12);
  EXPECT_NEAR(profile.PreferenceProbability("colour", "Blue", 0.5, 10), std::exp(1.0) / total, 1e-12);
  // A value never seen has the prior's share of what the seen ones leave.
  EXPECT_NEAR(profile.PreferenceProbability("colour", "Green", 0.5, 10), 1 / total, 1e-12);
  EXPECT_EQ(profile.PreferenceProbability("season", "Summer", 0.5, 10), 0.0);
}

TEST(UserProfile, PreferenceProbabilityWithoutOverflow) {
  const ProfileOptions options;
  UserProfile profile;
  for (int i = 0; i < 500; ++i) {
    profile.Apply(MakeEvent("u", EventType::kPurchase, "r", kNowMs), MakeProduct("r", "Shirts", "Red"), options);
  }
  // exp(0.5 * 4000) overflows a double; the probability must still be 1.
  EXPECT_NEAR(profile.PreferenceProbability("colour", "Red", 0.5, 10), 1.0, 1e-12);
  EXPECT_NEAR(profile.PreferenceProbability("colour", "Blue", 0.5, 10), 0.0, 1e-12);
}

TEST(UserProfile, MalformedJsonIsCorruption) {
  Result<UserProfile> missing = UserProfile::FromJson(json{{"version", 1}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kCorruption);
  Result<UserProfile> future = UserProfile::FromJson(json{{"version", 3}});
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.status().code(), StatusCode::kCorruption);
}

TEST(DecayFactor, HalvesEveryHalfLife) {
  EXPECT_DOUBLE_EQ(DecayFactor(0, 72.0), 1.0);
  EXPECT_DOUBLE_EQ(DecayFactor(72 * kHourMs, 72.0), 0.5);
  EXPECT_DOUBLE_EQ(DecayFactor(144 * kHourMs, 72.0), 0.25);
  EXPECT_DOUBLE_EQ(DecayFactor(-kHourMs, 72.0), 1.0);
}

class ProfileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    dir_ = temp_dir_.path();
    Open();
  }

  void TearDown() override {
    profiles_.reset();
    kv_.reset();
  }

  // Opens the KvStore and a new profile store on it, closing any open before.
  void Open() {
    profiles_.reset();
    kv_.reset();
    Result<std::unique_ptr<KvStore>> kv = KvStore::Open(dir_.string());
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    kv_ = std::move(kv).value();
    profiles_ = std::make_unique<EmbeddedProfileStore>(kv_.get(), options_, UserKeyer(std::string(32, 'k')));
  }

  void Record(const std::string& user, const std::string& product_id, int64_t timestamp_ms,
              const std::string& colour = "Red") {
    const Status status = profiles_->Record(MakeEvent(user, EventType::kClick, product_id, timestamp_ms),
                                            MakeProduct(product_id, "Shirts", colour));
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  std::optional<UserProfile> Get(const std::string& user) {
    Result<std::optional<UserProfile>> profile = profiles_->Get(user);
    EXPECT_TRUE(profile.ok()) << profile.status().ToString();
    return profile.ok() ? *profile : std::nullopt;
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

  TempDir temp_dir_{"tessera-profiles-"};
  fs::path dir_;
  ProfileOptions options_;
  std::unique_ptr<KvStore> kv_;
  std::unique_ptr<EmbeddedProfileStore> profiles_;
};

TEST_F(ProfileStoreTest, UnknownUserHasNoProfile) {
  EXPECT_FALSE(Get("nobody").has_value());
  EXPECT_TRUE(EventProducts("nobody").empty());
}

TEST_F(ProfileStoreTest, RecordThenGetReflectsEvent) {
  Record("u1", "p1", kNowMs, "Red");
  const std::optional<UserProfile> profile = Get("u1");
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->event_count(), 1u);
  EXPECT_EQ(profile->Share("colour", "Red"), 1.0);
  EXPECT_NEAR(profile->Strength(kNowMs, options_), options_.click_weight, 1e-12);
}

TEST_F(ProfileStoreTest, ProfileAndEventsSurviveReopen) {
  Record("u1", "p1", kNowMs, "Red");
  Record("u1", "p2", kNowMs + kHourMs, "Blue");
  Open();
  const std::optional<UserProfile> profile = Get("u1");
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->event_count(), 2u);
  EXPECT_NEAR(profile->Share("colour", "Red") + profile->Share("colour", "Blue"), 1.0, 1e-12);
  EXPECT_GT(profile->Share("colour", "Blue"), profile->Share("colour", "Red"));
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"p1", "p2"}));
}

TEST_F(ProfileStoreTest, EventsReturnedOldestFirst) {
  Record("u1", "late", kNowMs + 2 * kHourMs);
  Record("u1", "early", kNowMs);
  Record("u1", "middle", kNowMs + kHourMs);
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"early", "middle", "late"}));
}

TEST_F(ProfileStoreTest, SameTimestampEventsKeepRecordingOrder) {
  Record("u1", "first", kNowMs);
  Record("u1", "second", kNowMs);
  Record("u1", "third", kNowMs);
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"first", "second", "third"}));
}

TEST_F(ProfileStoreTest, SameTimestampEventsKeptAcrossReopen) {
  Record("u1", "before", kNowMs);
  Open();
  Record("u1", "after", kNowMs);
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"before", "after"}));
  const std::optional<UserProfile> profile = Get("u1");
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->event_count(), 2u);
}

TEST_F(ProfileStoreTest, EventsKeepEveryField) {
  Event event = MakeEvent("u1", EventType::kAddToCart, "p1", kNowMs);
  event.session_id = "s-1";
  ASSERT_TRUE(profiles_->Record(event, MakeProduct("p1", "Shirts", "Red")).ok());
  Result<std::vector<Event>> events = profiles_->Events("u1");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].user_id, "u1");
  EXPECT_EQ((*events)[0].type, EventType::kAddToCart);
  EXPECT_EQ((*events)[0].product_id, "p1");
  EXPECT_EQ((*events)[0].timestamp_ms, kNowMs);
  EXPECT_EQ((*events)[0].session_id, "s-1");
}

TEST_F(ProfileStoreTest, EventsOfOneUserOnly) {
  Record("u1", "p1", kNowMs);
  Record("u10", "p10", kNowMs);
  EXPECT_EQ(EventProducts("u1"), (std::vector<std::string>{"p1"}));
}

TEST_F(ProfileStoreTest, EraseRemovesEventsAndProfile) {
  Record("u1", "p1", kNowMs);
  Record("u1", "p2", kNowMs + 1);
  Record("u10", "p3", kNowMs);
  Record("u2", "p4", kNowMs);

  Result<size_t> removed = profiles_->Erase("u1");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2u);
  EXPECT_FALSE(Get("u1").has_value());
  EXPECT_TRUE(EventProducts("u1").empty());

  EXPECT_TRUE(Get("u10").has_value());
  EXPECT_EQ(EventProducts("u10"), (std::vector<std::string>{"p3"}));
  EXPECT_TRUE(Get("u2").has_value());
  EXPECT_EQ(EventProducts("u2"), (std::vector<std::string>{"p4"}));
}

TEST_F(ProfileStoreTest, EraseSurvivesReopen) {
  Record("u1", "p1", kNowMs);
  ASSERT_TRUE(profiles_->Erase("u1").ok());
  Open();
  EXPECT_FALSE(Get("u1").has_value());
  EXPECT_TRUE(EventProducts("u1").empty());
}

TEST_F(ProfileStoreTest, RecordAfterEraseStartsFresh) {
  Record("u1", "p1", kNowMs, "Red");
  ASSERT_TRUE(profiles_->Erase("u1").ok());
  Record("u1", "p2", kNowMs, "Blue");
  const std::optional<UserProfile> profile = Get("u1");
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->event_count(), 1u);
  EXPECT_EQ(profile->Share("colour", "Red"), 0.0);
  EXPECT_EQ(profile->Share("colour", "Blue"), 1.0);
}

// Every key and value of the events and profiles families.
std::string StoredBytes(const KvStore& kv) {
  std::string bytes;
  for (Family family : {Family::kEvents, Family::kProfiles}) {
    const Status scanned = kv.Scan(family, "", [&](std::string_view key, std::string_view value) {
      bytes.append(key).append(" ").append(value).append("\n");
      return true;
    });
    EXPECT_TRUE(scanned.ok()) << scanned.ToString();
  }
  return bytes;
}

TEST_F(ProfileStoreTest, RepeatedEventIdIsStoredOnce) {
  Event event = MakeEvent("u1", EventType::kClick, "p1", kNowMs);
  event.event_id = "retry-me";
  bool recorded = false;
  ASSERT_TRUE(profiles_->Record(event, MakeProduct("p1", "Shirts", "Red"), &recorded).ok());
  EXPECT_TRUE(recorded);
  ASSERT_TRUE(profiles_->Record(event, MakeProduct("p1", "Shirts", "Red"), &recorded).ok());
  EXPECT_FALSE(recorded);
  Open();  // the id is remembered in the store, not only in memory
  ASSERT_TRUE(profiles_->Record(event, MakeProduct("p1", "Shirts", "Red"), &recorded).ok());
  EXPECT_FALSE(recorded);
  EXPECT_EQ(EventProducts("u1").size(), 1u);
  EXPECT_EQ(Get("u1")->event_count(), 1u);

  // Another user may use the same id, and an erased user starts afresh.
  Event other = event;
  other.user_id = "u2";
  ASSERT_TRUE(profiles_->Record(other, MakeProduct("p1", "Shirts", "Red"), &recorded).ok());
  EXPECT_TRUE(recorded);
  ASSERT_TRUE(profiles_->Erase("u1").ok());
  ASSERT_TRUE(profiles_->Record(event, MakeProduct("p1", "Shirts", "Red"), &recorded).ok());
  EXPECT_TRUE(recorded);
}

TEST_F(ProfileStoreTest, StoreHoldsNoRawUserId) {
  Record("shopper-alice", "p1", kNowMs);
  const std::string stored = StoredBytes(*kv_);
  EXPECT_FALSE(stored.empty());
  EXPECT_EQ(stored.find("shopper-alice"), std::string::npos) << stored;
  ASSERT_EQ(profiles_->Events("shopper-alice")->size(), 1u);
  EXPECT_EQ(profiles_->Events("shopper-alice")->front().user_id, "shopper-alice");
}

TEST_F(ProfileStoreTest, RawUserIdsAreKeyedOnce) {
  // Events and a profile as versions before user keys stored them.
  const Event event = MakeEvent("old-user", EventType::kClick, "p1", kNowMs);
  ASSERT_TRUE(kv_->Put(Family::kEvents, "old-user/00000001700000000000/00000000000000000001", EventToJson(event).dump()).ok());
  UserProfile profile;
  profile.Apply(event, MakeProduct("p1", "Shirts", "Red"), options_);
  ASSERT_TRUE(kv_->Put(Family::kProfiles, "old-user", profile.ToJson().dump()).ok());

  Result<size_t> rekeyed = profiles_->KeyRawUserIds();
  ASSERT_TRUE(rekeyed.ok()) << rekeyed.status().ToString();
  EXPECT_EQ(*rekeyed, 1u);
  EXPECT_EQ(StoredBytes(*kv_).find("old-user"), std::string::npos);
  EXPECT_EQ(EventProducts("old-user"), (std::vector<std::string>{"p1"}));
  EXPECT_TRUE(Get("old-user").has_value());
  EXPECT_EQ(*profiles_->KeyRawUserIds(), 0u);
}

TEST(UserKeyerTest, KeyFileIsCreatedOnceAndPrivate) {
  TempDir dir("tessera-user-key-");
  const std::string path = (dir.path() / "secrets" / "user-id.key").string();
  Result<UserKeyer> first = UserKeyer::LoadOrCreate(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(fs::file_size(path), 32u);
  EXPECT_EQ(fs::status(path).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  Result<UserKeyer> second = UserKeyer::LoadOrCreate(path);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(first->Key("alice"), second->Key("alice"));
  EXPECT_NE(first->Key("alice"), first->Key("bob"));
  EXPECT_TRUE(UserKeyer::IsKey(first->Key("alice")));
  EXPECT_NE(first->Key("alice"), UserKeyer(std::string(32, 'x')).Key("alice"));
}

// A crash right after an earlier build created the key file left it empty. No key was made
// from it, so the next start replaces it instead of refusing to open.
TEST(UserKeyerTest, EmptyKeyFileIsReplaced) {
  TempDir dir("tessera-user-key-");
  const fs::path path = dir.path() / "secrets" / "user-id.key";
  fs::create_directories(path.parent_path());
  std::ofstream(path).close();
  Result<UserKeyer> keyer = UserKeyer::LoadOrCreate(path.string());
  ASSERT_TRUE(keyer.ok()) << keyer.status().ToString();
  EXPECT_EQ(fs::file_size(path), 32u);
  EXPECT_EQ(fs::status(path).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  Result<UserKeyer> again = UserKeyer::LoadOrCreate(path.string());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->Key("alice"), keyer->Key("alice"));
}

TEST(UserKeyerTest, ShortKeyFileIsRejected) {
  TempDir dir("tessera-user-key-");
  const fs::path path = dir.path() / "user-id.key";
  std::ofstream(path) << "short";
  Result<UserKeyer> keyer = UserKeyer::LoadOrCreate(path.string());
  ASSERT_FALSE(keyer.ok());
  EXPECT_EQ(keyer.status().code(), StatusCode::kCorruption);
  EXPECT_NE(keyer.status().message().find(path.string()), std::string::npos) << keyer.status().message();
}

TEST_F(ProfileStoreTest, EraseUnknownUserRemovesNothing) {
  Result<size_t> removed = profiles_->Erase("nobody");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 0u);
}

// Two products of equal relevance, a blue pair of jeans and a red shirt.
class PersonalRerankerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    products_ = {MakeProduct("jeans", "Jeans", "Blue"), MakeProduct("shirt", "Shirts", "Red")};
  }

  std::vector<RankedItem> EqualItems() const {
    std::vector<RankedItem> items(2);
    for (DocId doc = 0; doc < 2; ++doc) {
      items[doc].candidate.doc = doc;
      items[doc].relevance = 0.5f;
      items[doc].score = 0.5f;
    }
    return items;
  }

  void Rerank(std::vector<RankedItem>* items, const UserProfile& profile) const {
    reranker_.Rerank(items, profile, kNowMs, options_, [&](DocId doc) -> const Product& { return products_[doc]; });
  }

  std::vector<Product> products_;
  ProfileOptions options_;
  PersonalReranker reranker_{PersonalizationOptions{}};
};

TEST_F(PersonalRerankerTest, MatchingProductMovesUp) {
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "x", kNowMs), MakeProduct("x", "Shirts", "Red"), options_);
  std::vector<RankedItem> items = EqualItems();
  Rerank(&items, profile);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].candidate.doc, 1u);
  EXPECT_GT(items[0].personal_boost, 0.0f);
  EXPECT_FLOAT_EQ(items[0].score, items[0].relevance + items[0].personal_boost);
}

TEST_F(PersonalRerankerTest, EmptyProfileKeepsOrder) {
  std::vector<RankedItem> items = EqualItems();
  Rerank(&items, UserProfile());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].candidate.doc, 0u);
  EXPECT_EQ(items[1].candidate.doc, 1u);
  EXPECT_EQ(items[0].personal_boost, 0.0f);
  EXPECT_EQ(items[1].personal_boost, 0.0f);
  EXPECT_EQ(items[0].score, 0.5f);
}

TEST_F(PersonalRerankerTest, EmptyProfileKeepsOrderOfManyTies) {
  // Enough tied items that an unstable sort would reorder them.
  std::vector<RankedItem> items(64);
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].candidate.doc = static_cast<DocId>(i % 2);
    items[i].candidate.matched_terms = static_cast<uint32_t>(i);
    items[i].relevance = 0.5f;
  }
  Rerank(&items, UserProfile());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].candidate.matched_terms, i) << "position " << i;
  }
}

TEST_F(PersonalRerankerTest, BoostBoundedByMaxBoost) {
  UserProfile profile;
  // Many purchases of exactly this product: every facet share is 1, strength is large.
  for (int i = 0; i < 50; ++i) {
    profile.Apply(MakeEvent("u", EventType::kPurchase, "shirt", kNowMs), products_[1], options_);
  }
  const PersonalizationOptions defaults;
  const double strength_factor = reranker_.StrengthFactor(profile, kNowMs, options_);
  BoostExplanation explanation;
  const double boost = reranker_.Boost(products_[1], profile, strength_factor, &explanation);
  EXPECT_LE(boost, defaults.max_boost);
  EXPECT_GT(boost, 0.9 * defaults.max_boost);
  EXPECT_EQ(explanation.by_facet.size(), 4u);
}

TEST_F(PersonalRerankerTest, PosteriorScoringMovesMatchUp) {
  PersonalizationOptions posterior;
  posterior.facet_scoring = PersonalizationOptions::FacetScoring::kPosterior;
  const PersonalReranker reranker(posterior);
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "x", kNowMs), MakeProduct("x", "Shirts", "Red"), options_);
  BoostExplanation explanation;
  const double boost = reranker.Boost(products_[1], profile, /*strength_factor=*/0, &explanation);
  // Every facet of the clicked product has probability exp(1) / (exp(1) + 10), whatever the
  // strength factor.
  const double probability = std::exp(1.0) / (std::exp(1.0) + 10);
  EXPECT_NEAR(explanation.by_facet.at("colour"), posterior.max_boost * 0.3 * probability, 1e-12);
  EXPECT_NEAR(boost, posterior.max_boost * (0.5 + 0.3 + 0.1 + 0.1) * probability, 1e-12);
  // The jeans share gender and brand with the click; their type and colour were never seen.
  const double unseen = 1 / (std::exp(1.0) + 10);
  EXPECT_NEAR(reranker.Boost(products_[0], profile, 0, nullptr),
              posterior.max_boost * ((0.5 + 0.3) * unseen + (0.1 + 0.1) * probability), 1e-12);
}

TEST_F(PersonalRerankerTest, OneClickGivesHalfStrength) {
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "x", kNowMs), MakeProduct("x", "Shirts", "Red"), options_);
  EXPECT_NEAR(reranker_.StrengthFactor(profile, kNowMs, options_), 0.5, 1e-12);
}

TEST_F(PersonalRerankerTest, MuchMoreRelevantProductStaysFirst) {
  UserProfile profile;
  profile.Apply(MakeEvent("u", EventType::kClick, "x", kNowMs), MakeProduct("x", "Shirts", "Red"), options_);
  std::vector<RankedItem> items = EqualItems();
  items[0].relevance = 1.0f;
  items[1].relevance = 0.2f;
  Rerank(&items, profile);
  EXPECT_EQ(items[0].candidate.doc, 0u);
}

}  // namespace
}  // namespace tessera
