#include "personalize/profile_store.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

// "<user key>/<timestamp, 20 digits>/": the prefix of every key of the user's events at that time.
std::string EventTimePrefix(const std::string& user_key, int64_t timestamp_ms) {
  char time[32];
  std::snprintf(time, sizeof(time), "/%020lld/", static_cast<long long>(timestamp_ms));
  return user_key + time;
}

std::string EventKey(const std::string& user_key, int64_t timestamp_ms, uint64_t sequence) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "%020llu", static_cast<unsigned long long>(sequence));
  return EventTimePrefix(user_key, timestamp_ms) + suffix;
}

// Meta family keys "event_id/<user key>/<event id>" mark the event ids a user has sent.
std::string EventIdPrefix(const std::string& user_key) { return "event_id/" + user_key + "/"; }

// Meta family key "opt_out/<user key>": present while the user has opted out.
std::string OptOutKey(const std::string& user_key) { return "opt_out/" + user_key; }

// The event as stored: its user id is the user key without the leading '#', which is a valid
// user id, so stored events parse like received ones.
std::string StoredEventJson(Event event, const std::string& user_key) {
  event.user_id = user_key.substr(1);
  return EventToJson(event).dump();
}

}  // namespace

Result<std::optional<UserProfile>> EmbeddedProfileStore::LoadLocked(const std::string& user_key) {
  if (auto it = cache_.find(user_key); it != cache_.end()) return std::optional<UserProfile>(it->second);
  Result<std::optional<std::string>> record = kv_->Get(Family::kProfiles, user_key);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return std::optional<UserProfile>();
  nlohmann::json object = nlohmann::json::parse(**record, nullptr, /*allow_exceptions=*/false);
  Result<UserProfile> profile = UserProfile::FromJson(object);
  if (!profile.ok()) return profile.status();
  cache_[user_key] = *profile;
  return std::optional<UserProfile>(std::move(profile).value());
}

Status EmbeddedProfileStore::Record(const Event& event, const Product& product, bool* recorded) {
  const std::string user_key = keyer_.Key(event.user_id);
  std::lock_guard lock(mutex_);
  if (recorded != nullptr) *recorded = false;
  Result<std::optional<std::string>> opted_out = kv_->Get(Family::kMeta, OptOutKey(user_key));
  if (!opted_out.ok()) return opted_out.status();
  if (opted_out->has_value()) return Status::Ok();  // collection stopped at the user's request
  const std::string event_id_key = event.event_id.empty() ? "" : EventIdPrefix(user_key) + event.event_id;
  if (!event_id_key.empty()) {
    Result<std::optional<std::string>> seen = kv_->Get(Family::kMeta, event_id_key);
    if (!seen.ok()) return seen.status();
    if (seen->has_value()) return Status::Ok();  // a retry of an event already stored
  }
  Result<std::optional<UserProfile>> loaded = LoadLocked(user_key);
  if (!loaded.ok()) return loaded.status();
  UserProfile profile = loaded->value_or(UserProfile());
  profile.Apply(event, product, options_);

  // sequence_ restarts at 0 when the store is reopened, so continue after the highest sequence
  // already stored at this user and time. Reusing a stored key would overwrite that event.
  const std::string time_prefix = EventTimePrefix(user_key, event.timestamp_ms);
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
  batch.Put(Family::kEvents, EventKey(user_key, event.timestamp_ms, sequence), StoredEventJson(event, user_key));
  batch.Put(Family::kProfiles, user_key, profile.ToJson().dump());
  if (!event_id_key.empty()) batch.Put(Family::kMeta, event_id_key, "");
  // Synced: an acknowledged event survives a crash.
  TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));
  cache_[user_key] = std::move(profile);
  if (recorded != nullptr) *recorded = true;
  return Status::Ok();
}

Result<std::optional<UserProfile>> EmbeddedProfileStore::Get(const std::string& user_id) {
  const std::string user_key = keyer_.Key(user_id);
  std::lock_guard lock(mutex_);
  return LoadLocked(user_key);
}

Result<std::vector<Event>> EmbeddedProfileStore::Events(const std::string& user_id) {
  std::vector<Event> events;
  TESSERA_RETURN_IF_ERROR(ScanEvents(keyer_.Key(user_id) + "/", [&](Event&& event) {
    event.user_id = user_id;
    events.push_back(std::move(event));
  }));
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
  const std::string user_key = keyer_.Key(user_id);
  std::lock_guard lock(mutex_);
  return EraseLocked(user_key);
}

Status EmbeddedProfileStore::SetOptOut(const std::string& user_id, bool opted_out) {
  const std::string user_key = keyer_.Key(user_id);
  std::lock_guard lock(mutex_);
  if (!opted_out) return kv_->Delete(Family::kMeta, OptOutKey(user_key), /*sync=*/true);
  // The flag is written first, so no event recorded between it and the erasure survives.
  TESSERA_RETURN_IF_ERROR(kv_->Put(Family::kMeta, OptOutKey(user_key), "", /*sync=*/true));
  Result<size_t> erased = EraseLocked(user_key);
  return erased.ok() ? Status::Ok() : erased.status();
}

Result<bool> EmbeddedProfileStore::OptedOut(const std::string& user_id) {
  Result<std::optional<std::string>> flag = kv_->Get(Family::kMeta, OptOutKey(keyer_.Key(user_id)));
  if (!flag.ok()) return flag.status();
  return flag->has_value();
}

Result<size_t> EmbeddedProfileStore::EraseLocked(const std::string& user_key) {
  Result<size_t> removed = kv_->DeletePrefix(Family::kEvents, user_key + "/", /*sync=*/false);
  if (!removed.ok()) return removed.status();
  Result<size_t> ids = kv_->DeletePrefix(Family::kMeta, EventIdPrefix(user_key), /*sync=*/false);
  if (!ids.ok()) return ids.status();
  TESSERA_RETURN_IF_ERROR(kv_->Delete(Family::kProfiles, user_key, /*sync=*/true));
  cache_.erase(user_key);
  return *removed;
}

Result<size_t> EmbeddedProfileStore::KeyRawUserIds() {
  std::lock_guard lock(mutex_);
  WriteBatch batch;
  size_t users = 0;
  std::string last_user;
  Status parse_error;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kEvents, "", [&](std::string_view key, std::string_view value) {
    const std::string_view user = key.substr(0, key.find('/'));
    if (UserKeyer::IsKey(user)) return true;
    nlohmann::json object = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    Result<Event> event = EventFromJson(object, INT64_MAX - kMaxEventClockSkewMs);
    if (!event.ok()) {
      parse_error = Status::Corruption("event '" + std::string(key) + "': " + event.status().message());
      return false;
    }
    const std::string user_key = keyer_.Key(std::string(user));
    const std::string_view rest = key.substr(user.size());  // "/<timestamp>/<sequence>"
    batch.Put(Family::kEvents, user_key + std::string(rest), StoredEventJson(*event, user_key));
    batch.Delete(Family::kEvents, key);
    if (user != last_user) ++users;
    last_user = std::string(user);
    return true;
  }));
  TESSERA_RETURN_IF_ERROR(parse_error);

  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kProfiles, "", [&](std::string_view key, std::string_view value) {
    if (UserKeyer::IsKey(key)) return true;
    batch.Put(Family::kProfiles, keyer_.Key(std::string(key)), value);
    batch.Delete(Family::kProfiles, key);
    return true;
  }));
  if (batch.Count() == 0) return size_t{0};

  TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));
  cache_.clear();
  return users;
}

}  // namespace tessera
