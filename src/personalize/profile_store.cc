#include "personalize/profile_store.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

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

// Meta family key holding the highest event sequence used, as decimal text.
constexpr const char* kSequenceKey = "event_sequence";

// The timestamp part of an event key, or -1 when the key is not "<user key>/<timestamp>/<sequence>".
int64_t EventKeyTimestamp(std::string_view key) {
  const size_t first = key.find('/');
  if (first == std::string_view::npos) return -1;
  const std::string_view rest = key.substr(first + 1);
  int64_t timestamp = -1;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), timestamp);
  if (error != std::errc() || end == rest.data() + rest.size() || *end != '/') return -1;
  return timestamp;
}

Result<Event> ParseStoredEvent(std::string_view key, std::string_view value) {
  nlohmann::json object = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  // Stored events were validated on the way in; parse them against the far future.
  Result<Event> event = EventFromJson(object, INT64_MAX - kMaxEventClockSkewMs);
  if (!event.ok()) return Status::Corruption("event '" + std::string(key) + "': " + event.status().message());
  return event;
}

// The sequence part of an event key, or 0 when the key has none.
uint64_t EventKeySequence(std::string_view key) {
  const std::string_view digits = key.substr(key.rfind('/') + 1);
  uint64_t sequence = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
  return sequence;
}

// A stored profile: "@<sequence>\n<profile JSON>", the sequence being the highest event sequence
// the profile has applied.
std::string ProfileRecord(const UserProfile& profile, uint64_t sequence) {
  return "@" + std::to_string(sequence) + "\n" + profile.ToJson().dump();
}

// A profile record read back. Records written before the header existed are the bare JSON;
// `headed` is false for them.
struct StoredProfile {
  bool headed = false;
  uint64_t sequence = 0;
  std::string_view json;
};

Result<StoredProfile> ParseProfileHeader(std::string_view key, std::string_view value) {
  StoredProfile stored;
  stored.json = value;
  if (value.empty() || value.front() != '@') return stored;
  const size_t newline = value.find('\n');
  const auto [end, error] = std::from_chars(value.data() + 1, value.data() + std::min(newline, value.size()), stored.sequence);
  if (newline == std::string_view::npos || error != std::errc() || end != value.data() + newline) {
    return Status::Corruption("profile '" + std::string(key) + "' has a malformed sequence header");
  }
  stored.headed = true;
  stored.json = value.substr(newline + 1);
  return stored;
}

Result<UserProfile> ParseProfileJson(std::string_view json) {
  nlohmann::json object = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  return UserProfile::FromJson(object);
}

}  // namespace

Status ProfileStore::Record(const Event& event, const Product& product, bool* recorded) {
  if (recorded != nullptr) *recorded = false;
  std::vector<EventRecord> records;
  records.push_back({event, std::make_shared<const Product>(product)});
  Result<std::vector<EventOutcome>> outcomes = RecordBatch(records);
  if (!outcomes.ok()) return outcomes.status();
  if (recorded != nullptr) *recorded = outcomes->front() == EventOutcome::kRecorded;
  return Status::Ok();
}

// A RecordBatch caller waiting in the queue. The leader of its group fills `outcomes` and
// `status` and sets `done` under queue_mutex_.
struct EmbeddedProfileStore::Writer {
  const std::vector<EventRecord>* records = nullptr;
  std::vector<EventOutcome> outcomes;
  Status status;
  bool done = false;
  std::condition_variable ready;
};

Result<std::vector<EventOutcome>> EmbeddedProfileStore::RecordBatch(const std::vector<EventRecord>& records) {
  if (records.empty()) return std::vector<EventOutcome>();
  Writer self;
  self.records = &records;

  // Wait until a leader has committed this batch, or until it is this caller's turn to lead.
  std::unique_lock queue_lock(queue_mutex_);
  writers_.push_back(&self);
  self.ready.wait(queue_lock, [&] { return self.done || writers_.front() == &self; });
  if (self.done) {
    if (!self.status.ok()) return self.status;
    return std::move(self.outcomes);
  }

  // Lead: take this batch and the ones queued behind it, up to the group limit.
  std::vector<Writer*> group;
  size_t events = 0;
  for (Writer* writer : writers_) {
    if (!group.empty() && events + writer->records->size() > group_.max_group_events) break;
    group.push_back(writer);
    events += writer->records->size();
  }
  // Callers arriving during the commit queue up behind the group and form the next one.
  queue_lock.unlock();
  const Status committed = CommitGroup(group);
  queue_lock.lock();

  for (Writer* writer : group) {
    writers_.pop_front();
    writer->status = committed;
    writer->done = true;
    if (writer != &self) writer->ready.notify_one();
  }
  if (!writers_.empty()) writers_.front()->ready.notify_one();
  if (!committed.ok()) return committed;
  return std::move(self.outcomes);
}

// A user touched by a group: their key, opt-out flag and profile as the group leaves it.
// Write-through keeps a copy of the profile with the group's events applied, to write it with
// them. Write-behind keeps the events instead, and applies them to the cached profile in place
// once they are durable, which saves copying the profile.
struct EmbeddedProfileStore::GroupState {
  std::string user_key;
  bool opted_out = false;
  bool changed = false;
  UserProfile profile;                        // write-through only
  std::vector<const EventRecord*> recorded;  // write-behind only, in group order
};

Status EmbeddedProfileStore::CommitGroup(const std::vector<Writer*>& group) {
  std::lock_guard write_lock(write_mutex_);
  std::unordered_map<std::string, GroupState> users;  // by raw user id
  std::unordered_set<std::string> group_event_ids;   // event id keys recorded by this group
  const bool write_through = group_.profile_flush_ms <= 0;
  WriteBatch batch;

  for (Writer* writer : group) {
    writer->outcomes.clear();
    for (const EventRecord& record : *writer->records) {
      const Event& event = record.event;

      // The user's state, read once per group.
      auto [it, added] = users.try_emplace(event.user_id);
      GroupState& user = it->second;
      if (added) {
        user.user_key = keyer_.Key(event.user_id);
        Result<std::optional<std::string>> flag = kv_->Get(Family::kMeta, OptOutKey(user.user_key));
        if (!flag.ok()) return flag.status();
        user.opted_out = flag->has_value();
        if (write_through) {
          Result<std::optional<UserProfile>> loaded = LoadProfile(user.user_key);
          if (!loaded.ok()) return loaded.status();
          user.profile = loaded->value_or(UserProfile());
        } else {
          // Read before the write, so the profile can be updated without failing after it.
          std::lock_guard cache_lock(cache_mutex_);
          Result<const UserProfile*> cached = CachedProfileLocked(user.user_key);
          if (!cached.ok()) return cached.status();
        }
      }
      if (user.opted_out) {  // collection stopped at the user's request
        writer->outcomes.push_back(EventOutcome::kOptedOut);
        continue;
      }

      // A retry of an event already stored, or sent twice within the group.
      const std::string event_id_key = event.event_id.empty() ? "" : EventIdPrefix(user.user_key) + event.event_id;
      if (!event_id_key.empty()) {
        bool seen = group_event_ids.count(event_id_key) > 0;
        if (!seen) {
          Result<std::optional<std::string>> stored = kv_->Get(Family::kMeta, event_id_key);
          if (!stored.ok()) return stored.status();
          seen = stored->has_value();
        }
        if (seen) {
          writer->outcomes.push_back(EventOutcome::kDuplicate);
          continue;
        }
        group_event_ids.insert(event_id_key);
        batch.Put(Family::kMeta, event_id_key, "");
      }

      uint64_t sequence = 0;
      TESSERA_RETURN_IF_ERROR(NextSequenceLocked(&sequence));
      batch.Put(Family::kEvents, EventKey(user.user_key, event.timestamp_ms, sequence),
                StoredEventJson(event, user.user_key));
      if (write_through) {
        user.profile.Apply(event, *record.product, options_);
      } else {
        user.recorded.push_back(&record);
      }
      user.changed = true;
      writer->outcomes.push_back(EventOutcome::kRecorded);
    }
  }
  if (batch.Count() == 0) return Status::Ok();  // only duplicates and opted-out users

  // One synced write for the whole group: an acknowledged event survives a crash. The
  // profiles are derived from the events, so they are written behind unless write-through
  // was asked for.
  if (write_through) {
    for (const auto& [user_id, user] : users) {
      if (user.changed) batch.Put(Family::kProfiles, user.user_key, ProfileRecord(user.profile, sequence_));
    }
  }
  batch.Put(Family::kMeta, kSequenceKey, std::to_string(sequence_));
  TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));
  synced_writes_.fetch_add(1);

  std::lock_guard cache_lock(cache_mutex_);
  for (auto& [user_id, user] : users) {
    if (!user.changed) continue;
    if (write_through) {
      cache_[user.user_key] = std::move(user.profile);
      continue;
    }
    // A user without a stored profile starts from an empty one.
    UserProfile& profile = cache_[user.user_key];
    for (const EventRecord* record : user.recorded) profile.Apply(record->event, *record->product, options_);
    dirty_.insert(user.user_key);
    if (unflushed_events_.fetch_add(user.recorded.size()) == 0) {
      oldest_unflushed_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count());
    }
  }
  return Status::Ok();
}

EmbeddedProfileStore::~EmbeddedProfileStore() {
  if (flusher_.joinable()) {
    {
      std::lock_guard lock(flush_mutex_);
      stopping_ = true;
    }
    flush_wake_.notify_all();
    flusher_.join();
  }
  const Status flushed = Flush();
  if (!flushed.ok()) spdlog::error("profiles not written at shutdown, recovered from events at the next open: {}", flushed.ToString());
}

void EmbeddedProfileStore::FlushPeriodically() {
  std::unique_lock lock(flush_mutex_);
  while (!stopping_) {
    flush_wake_.wait_for(lock, std::chrono::milliseconds(group_.profile_flush_ms), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const Status flushed = Flush();
    if (!flushed.ok()) spdlog::error("profiles not written behind, retried at the next flush: {}", flushed.ToString());
    lock.lock();
  }
}

Status EmbeddedProfileStore::Flush() {
  // Under write_mutex_ every acknowledged event is applied to the cached profiles and no
  // erasure runs, so each record holds exactly the events up to sequence_.
  std::lock_guard write_lock(write_mutex_);
  WriteBatch batch;
  std::unordered_set<std::string> flushing;
  {
    std::lock_guard cache_lock(cache_mutex_);
    if (dirty_.empty()) {
      unflushed_events_.store(0);  // their users were erased since
      oldest_unflushed_ns_.store(0);
      return Status::Ok();
    }
    for (const std::string& user_key : dirty_) {
      batch.Put(Family::kProfiles, user_key, ProfileRecord(cache_.at(user_key), sequence_));
    }
    flushing.swap(dirty_);
  }
  // Unsynced: the events are durable, and a lost profile write is redone by Recover.
  const Status written = kv_->Write(&batch, /*sync=*/false);
  std::lock_guard cache_lock(cache_mutex_);
  if (!written.ok()) {
    dirty_.merge(flushing);
    return written;
  }
  // write_mutex_ is still held, so no event was applied since the records were taken.
  unflushed_events_.store(0);
  oldest_unflushed_ns_.store(0);
  return written;
}

WriteBehindLag EmbeddedProfileStore::Lag() const {
  WriteBehindLag lag;
  lag.events = unflushed_events_.load();
  const int64_t oldest_ns = oldest_unflushed_ns_.load();
  if (lag.events > 0 && oldest_ns != 0) {
    lag.oldest = std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(oldest_ns));
  }
  return lag;
}

Status EmbeddedProfileStore::Recover(const ProductLookup& product_of) {
  std::lock_guard write_lock(write_mutex_);
  TESSERA_RETURN_IF_ERROR(LoadSequenceLocked());

  // The sequence each stored profile has applied; a profile without the header was written
  // with its events, so it has applied every stored event.
  std::unordered_map<std::string, uint64_t> applied;
  std::vector<std::string> unheaded;
  Status parse_error;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kProfiles, "", [&](std::string_view key, std::string_view value) {
    Result<StoredProfile> stored = ParseProfileHeader(key, value);
    if (!stored.ok()) {
      parse_error = stored.status();
      return false;
    }
    applied[std::string(key)] = stored->headed ? stored->sequence : sequence_;
    if (!stored->headed) unheaded.emplace_back(key);
    return true;
  }));
  TESSERA_RETURN_IF_ERROR(parse_error);

  // The events no stored profile has applied, by user; only those are parsed.
  struct Pending {
    uint64_t sequence;
    Event event;
  };
  std::unordered_map<std::string, std::vector<Pending>> pending;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kEvents, "", [&](std::string_view key, std::string_view value) {
    const std::string user_key(key.substr(0, key.find('/')));
    const uint64_t sequence = EventKeySequence(key);
    auto it = applied.find(user_key);
    if (it != applied.end() && sequence <= it->second) return true;
    Result<Event> event = ParseStoredEvent(key, value);
    if (!event.ok()) {
      parse_error = event.status();
      return false;
    }
    pending[user_key].push_back({sequence, std::move(event).value()});
    return true;
  }));
  TESSERA_RETURN_IF_ERROR(parse_error);

  // Each such profile, brought up to date in the order the events were recorded.
  static const Product kNoProduct;
  WriteBatch batch;
  std::unordered_map<std::string, UserProfile> recovered;
  for (auto& [user_key, events] : pending) {
    UserProfile profile;
    if (applied.count(user_key) > 0) {
      Result<std::optional<std::string>> record = kv_->Get(Family::kProfiles, user_key);
      if (!record.ok()) return record.status();
      Result<StoredProfile> stored = ParseProfileHeader(user_key, **record);
      if (!stored.ok()) return stored.status();
      Result<UserProfile> parsed = ParseProfileJson(stored->json);
      if (!parsed.ok()) return parsed.status();
      profile = std::move(parsed).value();
    }
    std::sort(events.begin(), events.end(), [](const Pending& a, const Pending& b) { return a.sequence < b.sequence; });
    for (const Pending& pending_event : events) {
      // NOTE: as in RecomputeProfile, an event whose product has left the catalogue adds to no facet.
      const Event& event = pending_event.event;
      const std::shared_ptr<const Product> product = event.product_id.empty() ? nullptr : product_of(event.product_id);
      profile.Apply(event, product ? *product : kNoProduct, options_);
    }
    batch.Put(Family::kProfiles, user_key, ProfileRecord(profile, sequence_));
    recovered[user_key] = std::move(profile);
  }
  // Profiles without the header get it now, before any event is recorded without them.
  for (const std::string& user_key : unheaded) {
    if (recovered.count(user_key) > 0) continue;
    Result<std::optional<std::string>> record = kv_->Get(Family::kProfiles, user_key);
    if (!record.ok()) return record.status();
    batch.Put(Family::kProfiles, user_key, "@" + std::to_string(sequence_) + "\n" + **record);
  }
  if (batch.Count() == 0) return Status::Ok();
  TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));
  if (!recovered.empty()) spdlog::info("profiles of {} users brought up to date with their events", recovered.size());

  std::lock_guard cache_lock(cache_mutex_);
  for (auto& [user_key, profile] : recovered) cache_[user_key] = std::move(profile);
  return Status::Ok();
}

// Precondition: write_mutex_ held. Event keys of one user and time differ by their sequence.
// Stores written before the "event_sequence" key existed get it from a scan of every event key.
Status EmbeddedProfileStore::LoadSequenceLocked() {
  if (!sequence_loaded_) {
    Result<std::optional<std::string>> stored = kv_->Get(Family::kMeta, kSequenceKey);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      const std::string& text = **stored;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), sequence_);
      if (error != std::errc() || end != text.data() + text.size()) {
        return Status::Corruption("meta key 'event_sequence' holds '" + text + "', not a whole number");
      }
    } else {
      TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kEvents, "", [&](std::string_view key, std::string_view) {
        sequence_ = std::max(sequence_, EventKeySequence(key));
        return true;
      }));
    }
    sequence_loaded_ = true;
  }
  return Status::Ok();
}

// Precondition: write_mutex_ held.
Status EmbeddedProfileStore::NextSequenceLocked(uint64_t* sequence) {
  TESSERA_RETURN_IF_ERROR(LoadSequenceLocked());
  *sequence = ++sequence_;
  return Status::Ok();
}

Result<std::optional<UserProfile>> EmbeddedProfileStore::LoadProfile(const std::string& user_key) {
  // The read from the store happens under cache_mutex_, so a profile a writer caches after its
  // write is never replaced by an older copy read before it.
  std::lock_guard cache_lock(cache_mutex_);
  Result<const UserProfile*> cached = CachedProfileLocked(user_key);
  if (!cached.ok()) return cached.status();
  if (*cached == nullptr) return std::optional<UserProfile>();
  return std::optional<UserProfile>(**cached);
}

Result<const UserProfile*> EmbeddedProfileStore::CachedProfileLocked(const std::string& user_key) {
  if (auto it = cache_.find(user_key); it != cache_.end()) return &it->second;
  Result<std::optional<std::string>> record = kv_->Get(Family::kProfiles, user_key);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return static_cast<const UserProfile*>(nullptr);
  Result<StoredProfile> stored = ParseProfileHeader(user_key, **record);
  if (!stored.ok()) return stored.status();
  Result<UserProfile> profile = ParseProfileJson(stored->json);
  if (!profile.ok()) return profile.status();
  auto [it, added] = cache_.insert_or_assign(user_key, std::move(profile).value());
  return static_cast<const UserProfile*>(&it->second);
}

Result<UserProfile> EmbeddedProfileStore::RecomputeProfile(const std::vector<Event>& events,
                                                           const ProductLookup& product_of) const {
  static const Product kNoProduct;
  UserProfile profile;
  for (const Event& event : events) {
    // NOTE: an event whose product has left the catalogue still counts, but adds to no facet.
    const std::shared_ptr<const Product> product = event.product_id.empty() ? nullptr : product_of(event.product_id);
    profile.Apply(event, product ? *product : kNoProduct, options_);
  }
  return profile;
}

Result<std::optional<UserProfile>> EmbeddedProfileStore::Get(const std::string& user_id) {
  return LoadProfile(keyer_.Key(user_id));
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
    Result<Event> event = ParseStoredEvent(key, value);
    if (!event.ok()) {
      parse_error = event.status();
      return false;
    }
    visit(std::move(event).value());
    return true;
  }));
  return parse_error;
}

Result<size_t> EmbeddedProfileStore::Erase(const std::string& user_id) {
  const std::string user_key = keyer_.Key(user_id);
  std::lock_guard write_lock(write_mutex_);
  return EraseLocked(user_key);
}

Status EmbeddedProfileStore::SetOptOut(const std::string& user_id, bool opted_out) {
  const std::string user_key = keyer_.Key(user_id);
  std::lock_guard write_lock(write_mutex_);
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
  std::lock_guard cache_lock(cache_mutex_);
  cache_.erase(user_key);
  dirty_.erase(user_key);
  return *removed;
}

Result<size_t> EmbeddedProfileStore::KeyRawUserIds() {
  std::lock_guard write_lock(write_mutex_);
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
  std::lock_guard cache_lock(cache_mutex_);
  std::erase_if(cache_, [&](const auto& entry) { return dirty_.count(entry.first) == 0; });
  return users;
}

Result<size_t> EmbeddedProfileStore::Merge(const std::string& from_user_id, const std::string& to_user_id,
                                           const ProductLookup& product_of) {
  if (from_user_id == to_user_id) {
    return Status::InvalidArgument("cannot merge user '" + from_user_id + "' into itself: send another user's id as 'from'");
  }
  const std::string from_key = keyer_.Key(from_user_id);
  const std::string to_key = keyer_.Key(to_user_id);
  std::lock_guard write_lock(write_mutex_);
  for (const auto& [user_id, user_key] : {std::pair{from_user_id, from_key}, std::pair{to_user_id, to_key}}) {
    Result<std::optional<std::string>> flag = kv_->Get(Family::kMeta, OptOutKey(user_key));
    if (!flag.ok()) return flag.status();
    if (flag->has_value()) {
      return Status::InvalidArgument("user '" + user_id +
                                     "' opted out of event collection, so their events cannot be merged");
    }
  }

  // Both users' events, read by key so they can be moved and deleted.
  struct Stored {
    std::string key;
    Event event;
  };
  auto read_events = [&](const std::string& user_key, std::vector<Stored>* out) -> Status {
    Status parse_error;
    TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kEvents, user_key + "/", [&](std::string_view key, std::string_view value) {
      Result<Event> event = ParseStoredEvent(key, value);
      if (!event.ok()) {
        parse_error = event.status();
        return false;
      }
      out->push_back({std::string(key), std::move(event).value()});
      return true;
    }));
    return parse_error;
  };
  std::vector<Stored> moving, staying;
  TESSERA_RETURN_IF_ERROR(read_events(from_key, &moving));
  TESSERA_RETURN_IF_ERROR(read_events(to_key, &staying));

  // Re-key the moving events under the target, and delete the source's events, event ids and
  // profile. The event ids move too, so a retry of an anonymous event is still a duplicate
  // when the storefront resends it under the account's id.
  WriteBatch batch;
  for (Stored& stored : moving) {
    uint64_t sequence = 0;
    TESSERA_RETURN_IF_ERROR(NextSequenceLocked(&sequence));
    batch.Put(Family::kEvents, EventKey(to_key, stored.event.timestamp_ms, sequence), StoredEventJson(stored.event, to_key));
    batch.Delete(Family::kEvents, stored.key);
    if (!stored.event.event_id.empty()) batch.Put(Family::kMeta, EventIdPrefix(to_key) + stored.event.event_id, "");
  }
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kMeta, EventIdPrefix(from_key), [&](std::string_view key, std::string_view) {
    batch.Delete(Family::kMeta, key);
    return true;
  }));
  batch.Delete(Family::kProfiles, from_key);

  // The target's profile, recomputed from all its events in time order.
  std::vector<Event> all;
  all.reserve(moving.size() + staying.size());
  for (Stored& stored : staying) all.push_back(std::move(stored.event));
  for (Stored& stored : moving) all.push_back(std::move(stored.event));
  std::stable_sort(all.begin(), all.end(), [](const Event& a, const Event& b) { return a.timestamp_ms < b.timestamp_ms; });
  std::optional<UserProfile> profile;
  if (!all.empty()) {
    Result<UserProfile> recomputed = RecomputeProfile(all, product_of);
    if (!recomputed.ok()) return recomputed.status();
    profile = std::move(recomputed).value();
    TESSERA_RETURN_IF_ERROR(LoadSequenceLocked());
    batch.Put(Family::kProfiles, to_key, ProfileRecord(*profile, sequence_));
  }
  if (!moving.empty()) batch.Put(Family::kMeta, kSequenceKey, std::to_string(sequence_));
  TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));

  std::lock_guard cache_lock(cache_mutex_);
  cache_.erase(from_key);
  dirty_.erase(from_key);
  dirty_.erase(to_key);
  if (profile) cache_[to_key] = std::move(*profile);
  return moving.size();
}

Result<std::vector<Event>> EmbeddedProfileStore::DeleteEventsBefore(int64_t cutoff_ms, const ProductLookup& product_of) {
  std::lock_guard write_lock(write_mutex_);

  // Expired events, found by the timestamp in their keys; only those are parsed.
  // NOTE: every expired event is deleted in one write held in memory, and event writes wait for
  // the whole sweep. A first sweep of a store with years of events builds a large batch.
  WriteBatch batch;
  std::vector<Event> expired;
  std::vector<std::string> user_keys;  // users who lost events, each once, in key order
  Status parse_error;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kEvents, "", [&](std::string_view key, std::string_view value) {
    const int64_t timestamp = EventKeyTimestamp(key);
    if (timestamp < 0) {
      parse_error = Status::Corruption("event key '" + std::string(key) + "' has no timestamp");
      return false;
    }
    if (timestamp >= cutoff_ms) return true;
    Result<Event> event = ParseStoredEvent(key, value);
    if (!event.ok()) {
      parse_error = event.status();
      return false;
    }
    const std::string user_key = "#" + event->user_id;
    if (user_keys.empty() || user_keys.back() != user_key) user_keys.push_back(user_key);
    if (!event->event_id.empty()) batch.Delete(Family::kMeta, EventIdPrefix(user_key) + event->event_id);
    batch.Delete(Family::kEvents, key);
    expired.push_back(std::move(event).value());
    return true;
  }));
  TESSERA_RETURN_IF_ERROR(parse_error);
  if (expired.empty()) return expired;

  // Each affected profile, recomputed from the events that remain.
  TESSERA_RETURN_IF_ERROR(LoadSequenceLocked());
  std::unordered_map<std::string, std::optional<UserProfile>> profiles;
  for (const std::string& user_key : user_keys) {
    std::vector<Event> remaining;
    TESSERA_RETURN_IF_ERROR(ScanEvents(user_key + "/", [&](Event&& event) {
      if (event.timestamp_ms >= cutoff_ms) remaining.push_back(std::move(event));
    }));
    if (remaining.empty()) {
      batch.Delete(Family::kProfiles, user_key);
      profiles[user_key] = std::nullopt;
      continue;
    }
    Result<UserProfile> recomputed = RecomputeProfile(remaining, product_of);
    if (!recomputed.ok()) return recomputed.status();
    batch.Put(Family::kProfiles, user_key, ProfileRecord(*recomputed, sequence_));
    profiles[user_key] = std::move(recomputed).value();
  }
  TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));

  std::lock_guard cache_lock(cache_mutex_);
  for (auto& [user_key, profile] : profiles) {
    dirty_.erase(user_key);
    if (profile) {
      cache_[user_key] = std::move(*profile);
    } else {
      cache_.erase(user_key);
    }
  }
  return expired;
}

}  // namespace tessera
