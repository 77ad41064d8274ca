// SessionTable: the in-memory session vectors of every (user, session), bounded in count and
// dropped when idle.
//
// Sessions are short-lived and rebuilt from stored events at start, so they are never written
// to the store. Users are named by their stored user key (UserKeyer), never by the raw id.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "common/status.h"
#include "personalize/session_vector.h"

namespace tessera {

// Thread safety: every method may be called concurrently.
class SessionTable {
 public:
  explicit SessionTable(SessionOptions options) : options_(options) {}

  // Adds `vector` with `weight` at `timestamp_ms` to the session (user_key, session_id), creating
  // it when absent, then drops sessions idle at `now_ms` and the least recently updated ones
  // beyond options.max_sessions. Fails with kInvalidArgument when the vector's dimension differs
  // from the session's.
  Status Add(const std::string& user_key, const std::string& session_id, std::span<const float> vector,
             double weight, int64_t timestamp_ms, int64_t now_ms);

  // A copy of the session (user_key, session_id), or, when `session_id` is empty, of the user's
  // most recently updated session. std::nullopt when there is none or it is idle at `now_ms`.
  std::optional<SessionVector> Find(const std::string& user_key, const std::string& session_id, int64_t now_ms) const;

  // Drops every session of the user.
  void EraseUser(const std::string& user_key);

  // Gives every session of `from_key` to `to_key` under the same session id, as when an anonymous
  // shopper logs in. Where `to_key` already has a session of that id, the one updated last stays.
  void MoveUser(const std::string& from_key, const std::string& to_key);

  size_t size() const;
  const SessionOptions& options() const { return options_; }

 private:
  using Key = std::pair<std::string, std::string>;  // (user key, session id)
  struct Entry {
    SessionVector vector;
    std::list<Key>::iterator recency;  // position in recency_
  };

  bool IdleLocked(const SessionVector& vector, int64_t now_ms) const;
  // Precondition: mutex_ held.
  void EvictLocked(int64_t now_ms);

  const SessionOptions options_;
  mutable std::mutex mutex_;
  // Ordered by user key first, so a user's sessions are one contiguous range.
  std::map<Key, Entry> sessions_;
  std::list<Key> recency_;  // most recently updated first
};

}  // namespace tessera
