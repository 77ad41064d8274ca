#include "personalize/profile_store.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

// "<user>/<timestamp, 20 digits>/": the prefix of every key of the user's events at that time.
std::string EventTimePrefix(const Event& event) {
  char time[32];
  std::snprintf(time, sizeof(time), "/%020lld/", static_cast<long long>(event.timestamp_ms));
  return event.user_id + time;
}

std::string EventKey(const Event& event, uint64_t sequence) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "%020llu", static_cast<unsigned long long>(sequence));
  return EventTimePrefix(event) + suffix;
}

}  // namespace

Result<std::optional<UserProfile>> EmbeddedProfileStore::LoadLocked(const std::string& user_id) {
  if (auto it = cache_.find(user_id); it != cache_.end()) return std::optional<UserProfile>(it->second);
  Result<std::optional<std::string>> record = kv_->Get(Family::kProfiles, user_id);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return std::optional<UserProfile>();
  nlohmann::json object = nlohmann::json::parse(**record, nullptr, /*allow_exceptions=*/false);
  Result<UserProfile> profile = UserProfile::FromJson(object);
  if (!profile.ok()) return profile.status();
  cache_[user_id] = *profile;
  return std::optional<UserProfile>(std::move(profile).value());
}

Status EmbeddedProfileStore::Record(const Event& event, const Product& product) {
  std::lock_guard lock(mutex_);
  Result<std::optional<UserProfile>> loaded = LoadLocked(event.user_id);
  if (!loaded.ok()) return loaded.status();
  UserProfile profile = loaded->value_or(UserProfile());
  profile.Apply(event, product, options_);

  // sequence_ restarts at 0 when the store is reopened, so continue after the highest sequence
  // already stored at this user and time. Reusing a stored key would overwrite that event.
  const std::string time_prefix = EventTimePrefix(event);
  uint64_t sequence = ++sequence_;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kEvents, time_prefix, [&](std::string_view key, std::string_view) {
    const std::string_view digits = key.substr(time_prefix.size());
    uint64_t stored = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), stored);
    sequence = std::max(sequence, stored + 1);
    return true;
  }));
  sequence_ = sequence;

  WriteBatch batch;
  batch.Put(Family::kEvents, EventKey(event, sequence), EventToJson(event).dump());
  batch.Put(Family::kProfiles, event.user_id, profile.ToJson().dump());
  // Synced: an acknowledged event survives a crash.
  TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));
  cache_[event.user_id] = std::move(profile);
  return Status::Ok();
}

Result<std::optional<UserProfile>> EmbeddedProfileStore::Get(const std::string& user_id) {
  std::lock_guard lock(mutex_);
  return LoadLocked(user_id);
}

Result<std::vector<Event>> EmbeddedProfileStore::Events(const std::string& user_id) {
  std::vector<Event> events;
  TESSERA_RETURN_IF_ERROR(ScanEvents(user_id + "/", [&](Event&& event) { events.push_back(std::move(event)); }));
  return events;
}

Status EmbeddedProfileStore::ForEachEvent(const std::function<void(Event&&)>& visit) { return ScanEvents("", visit); }

Status EmbeddedProfileStore::ScanEvents(const std::string& prefix, const std::function<void(Event&&)>& visit) {
  Status parse_error;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kEvents, prefix, [&](std::string_view key, std::string_view value) {
    nlohmann::json object = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    // Stored events were validated on the way in; parse them against the far future.
    Result<Event> event = EventFromJson(object, INT64_MAX - kMaxEventClockSkewMs);
    if (!event.ok()) {
      parse_error = Status::Corruption("event '" + std::string(key) + "': " + event.status().message());
      return false;
    }
    visit(std::move(event).value());
    return true;
  }));
  return parse_error;
}

Result<size_t> EmbeddedProfileStore::Erase(const std::string& user_id) {
  std::lock_guard lock(mutex_);
  Result<size_t> removed = kv_->DeletePrefix(Family::kEvents, user_id + "/", /*sync=*/false);
  if (!removed.ok()) return removed.status();
  TESSERA_RETURN_IF_ERROR(kv_->Delete(Family::kProfiles, user_id, /*sync=*/true));
  cache_.erase(user_id);
  return *removed;
}

}  // namespace tessera
