// ProfileStore: where events and profiles live. The embedded implementation keeps them in the
// KvStore; a shared store (e.g. Redis for several replicas) implements the same interface.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "personalize/profile.h"
#include "personalize/user_key.h"
#include "store/kv_store.h"

namespace tessera {

// Thread safety: every method may be called concurrently.
class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // Appends the event and applies it to the user's profile atomically. When this returns OK the
  // event is durable and the next Get reflects it. An event whose event_id the user already
  // sent is not stored again; `recorded` (when not null) is then set to false.
  virtual Status Record(const Event& event, const Product& product, bool* recorded = nullptr) = 0;

  // The user's profile, or std::nullopt when they have none.
  virtual Result<std::optional<UserProfile>> Get(const std::string& user_id) = 0;

  // Every stored event of the user, oldest first.
  virtual Result<std::vector<Event>> Events(const std::string& user_id) = 0;

  // Removes the user's events and profile; returns how many events were removed.
  virtual Result<size_t> Erase(const std::string& user_id) = 0;

  // Opting out erases what is held about the user and makes Record drop their later events
  // (recorded = false) until they opt in again.
  virtual Status SetOptOut(const std::string& user_id, bool opted_out) = 0;
  virtual Result<bool> OptedOut(const std::string& user_id) = 0;
};

// Keys: events family "<user key>/<timestamp, 20 digits>/<sequence, 20 digits>" -> event JSON;
// profiles family "<user key>" -> profile JSON. The user key is UserKeyer's keyed hash of the
// user id, which is never stored raw. A stored event's user_id is the key without its '#'.
// Keys never contain '/', so "<user key>/" is a prefix of exactly that user's events.
class EmbeddedProfileStore final : public ProfileStore {
 public:
  // Does not own `kv`, which must outlive the store.
  EmbeddedProfileStore(KvStore* kv, ProfileOptions options, UserKeyer keyer)
      : kv_(kv), options_(options), keyer_(std::move(keyer)) {}

  Status Record(const Event& event, const Product& product, bool* recorded = nullptr) override;
  Result<std::optional<UserProfile>> Get(const std::string& user_id) override;
  Result<std::vector<Event>> Events(const std::string& user_id) override;
  Result<size_t> Erase(const std::string& user_id) override;
  Status SetOptOut(const std::string& user_id, bool opted_out) override;
  Result<bool> OptedOut(const std::string& user_id) override;

  // Calls `visit` with every stored event of every user, in key order (user key, then time).
  // Each event's user_id is its user key without the '#', not the raw id. Fails with
  // kCorruption naming the key when a stored event cannot be read.
  Status ForEachEvent(const std::function<void(Event&&)>& visit);

  // Rewrites events and profiles stored under raw user ids (by versions before user keys)
  // under their user keys; returns how many users were rewritten.
  Result<size_t> KeyRawUserIds();

 private:
  Status ScanEvents(const std::string& prefix, const std::function<void(Event&&)>& visit);
  Result<std::optional<UserProfile>> LoadLocked(const std::string& user_key);
  Result<size_t> EraseLocked(const std::string& user_key);

  KvStore* kv_;
  ProfileOptions options_;
  UserKeyer keyer_;
  std::mutex mutex_;  // serializes read-modify-write of profiles
  std::unordered_map<std::string, UserProfile> cache_;
  uint64_t sequence_ = 0;
};

}  // namespace tessera
