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
#include "store/kv_store.h"

namespace tessera {

// Thread safety: every method may be called concurrently.
class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // Appends the event and applies it to the user's profile atomically. When this returns OK the
  // event is durable and the next Get reflects it.
  virtual Status Record(const Event& event, const Product& product) = 0;

  // The user's profile, or std::nullopt when they have none.
  virtual Result<std::optional<UserProfile>> Get(const std::string& user_id) = 0;

  // Every stored event of the user, oldest first.
  virtual Result<std::vector<Event>> Events(const std::string& user_id) = 0;

  // Removes the user's events and profile; returns how many events were removed.
  virtual Result<size_t> Erase(const std::string& user_id) = 0;
};

// Keys: events family "<user>/<timestamp, 20 digits>/<sequence, 20 digits>" -> event JSON;
// profiles family "<user>" -> profile JSON. User ids never contain '/', so "<user>/" is a prefix
// of exactly that user's events.
class EmbeddedProfileStore final : public ProfileStore {
 public:
  // Does not own `kv`, which must outlive the store.
  EmbeddedProfileStore(KvStore* kv, ProfileOptions options) : kv_(kv), options_(options) {}

  Status Record(const Event& event, const Product& product) override;
  Result<std::optional<UserProfile>> Get(const std::string& user_id) override;
  Result<std::vector<Event>> Events(const std::string& user_id) override;
  Result<size_t> Erase(const std::string& user_id) override;

  // Calls `visit` with every stored event of every user, in key order (user, then time). Fails
  // with kCorruption naming the key when a stored event cannot be read.
  Status ForEachEvent(const std::function<void(Event&&)>& visit);

 private:
  Status ScanEvents(const std::string& prefix, const std::function<void(Event&&)>& visit);
  Result<std::optional<UserProfile>> LoadLocked(const std::string& user_id);

  KvStore* kv_;
  ProfileOptions options_;
  std::mutex mutex_;  // serializes read-modify-write of profiles
  std::unordered_map<std::string, UserProfile> cache_;
  uint64_t sequence_ = 0;
};

}  // namespace tessera
