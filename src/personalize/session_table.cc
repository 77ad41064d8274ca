#include "personalize/session_table.h"

namespace tessera {

Status SessionTable::Add(const std::string& user_key, const std::string& session_id, std::span<const float> vector,
                         double weight, int64_t timestamp_ms, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Key key{user_key, session_id};
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    recency_.push_front(key);
    it = sessions_.emplace(std::move(key), Entry{SessionVector(), recency_.begin()}).first;
  } else {
    recency_.splice(recency_.begin(), recency_, it->second.recency);
  }
  Status added = it->second.vector.Add(vector, weight, timestamp_ms, options_);
  if (it->second.vector.empty()) {
    // Nothing was added (a zero vector or a failure) to a new session: do not keep it.
    recency_.erase(it->second.recency);
    sessions_.erase(it);
  }
  EvictLocked(now_ms);
  return added;
}

std::optional<SessionVector> SessionTable::Find(const std::string& user_key, const std::string& session_id,
                                                int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  const SessionVector* found = nullptr;
  if (!session_id.empty()) {
    auto it = sessions_.find({user_key, session_id});
    if (it != sessions_.end()) found = &it->second.vector;
  } else {
    for (auto it = sessions_.lower_bound({user_key, ""}); it != sessions_.end() && it->first.first == user_key; ++it) {
      if (found == nullptr || it->second.vector.updated_ms() > found->updated_ms()) found = &it->second.vector;
    }
  }
  if (found == nullptr || IdleLocked(*found, now_ms)) return std::nullopt;
  return *found;
}

void SessionTable::EraseUser(const std::string& user_key) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.lower_bound({user_key, ""});
  while (it != sessions_.end() && it->first.first == user_key) {
    recency_.erase(it->second.recency);
    it = sessions_.erase(it);
  }
}

void SessionTable::MoveUser(const std::string& from_key, const std::string& to_key) {
  if (from_key == to_key) return;
  std::lock_guard lock(mutex_);
  auto it = sessions_.lower_bound({from_key, ""});
  while (it != sessions_.end() && it->first.first == from_key) {
    const Key target{to_key, it->first.second};
    auto existing = sessions_.find(target);
    if (existing != sessions_.end() && existing->second.vector.updated_ms() >= it->second.vector.updated_ms()) {
      recency_.erase(it->second.recency);
    } else {
      if (existing != sessions_.end()) {
        recency_.erase(existing->second.recency);
        sessions_.erase(existing);
      }
      *it->second.recency = target;  // keeps its place in the recency order
      sessions_.emplace(target, std::move(it->second));
    }
    it = sessions_.erase(it);
  }
}

size_t SessionTable::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool SessionTable::IdleLocked(const SessionVector& vector, int64_t now_ms) const {
  return now_ms - vector.updated_ms() > options_.ExpireAfterMs();
}

void SessionTable::EvictLocked(int64_t now_ms) {
  // The least recently updated session is at the back. Event times may arrive out of order, so
  // the back is not always the oldest by updated_ms: an idle session elsewhere in the list stays
  // until it reaches the back, but Find never returns it.
  while (!recency_.empty()) {
    auto it = sessions_.find(recency_.back());
    if (sessions_.size() <= options_.max_sessions && !IdleLocked(it->second.vector, now_ms)) break;
    sessions_.erase(it);
    recency_.pop_back();
  }
}

}  // namespace tessera
