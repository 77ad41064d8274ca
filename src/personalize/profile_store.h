// ProfileStore: where events and profiles live. The embedded implementation keeps them in the
// KvStore; a shared store (e.g. Redis for several replicas) implements the same interface.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "personalize/profile.h"
#include "personalize/user_key.h"
#include "store/kv_store.h"

namespace tessera {

// The fate of an event the store accepted.
enum class EventOutcome {
  kRecorded,   // stored and applied to the profile
  kDuplicate,  // repeats an event_id its user already sent (stored or earlier in the batch): not stored
  kOptedOut,   // its user opted out of collection: not stored
};

// One event to record and the catalogue product it names (an empty Product for a search).
struct EventRecord {
  Event event;
  std::shared_ptr<const Product> product;  // never null
};

// Returns the catalogue product with `id`, or null when the catalogue has none.
using ProductLookup = std::function<std::shared_ptr<const Product>(const std::string& id)>;

// Events acknowledged whose profile changes a write-behind store has not written yet.
struct WriteBehindLag {
  uint64_t events = 0;
  // When the oldest of those events was acknowledged; nullopt when `events` is 0.
  std::optional<std::chrono::steady_clock::time_point> oldest;
};

// Thread safety: every method may be called concurrently.
class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // Appends the events and applies them, in order, to their users' profiles. When this returns
  // OK every event is durable and the next Get reflects it, and the result has one outcome per
  // event. The batch is all-or-nothing on failure: an error (e.g. an I/O error) means no event
  // of it was stored. An event whose event_id its user already sent, stored or earlier in the
  // same batch, is not stored again (kDuplicate).
  virtual Result<std::vector<EventOutcome>> RecordBatch(const std::vector<EventRecord>& records) = 0;

  // Records one event as RecordBatch does; `recorded` (when not null) is set to whether it was stored.
  Status Record(const Event& event, const Product& product, bool* recorded = nullptr);

  // The user's profile, or std::nullopt when they have none.
  virtual Result<std::optional<UserProfile>> Get(const std::string& user_id) = 0;

  // Every stored event of the user, oldest first.
  virtual Result<std::vector<Event>> Events(const std::string& user_id) = 0;

  // Removes the user's events and profile; returns how many events were removed.
  virtual Result<size_t> Erase(const std::string& user_id) = 0;

  // Opting out erases what is held about the user and makes RecordBatch drop their later events
  // (kOptedOut) until they opt in again.
  virtual Status SetOptOut(const std::string& user_id, bool opted_out) = 0;
  virtual Result<bool> OptedOut(const std::string& user_id) = 0;

  // Moves every event of `from_user_id` to `to_user_id` (e.g. an anonymous session's events to
  // the account the shopper logged in to), recomputes the target's profile from all its events
  // in time order, and erases `from_user_id` as Erase does, in one atomic write. Returns how
  // many events moved. Fails with kInvalidArgument when the ids are equal or either user opted
  // out. `product_of` supplies the products the profile is recomputed from.
  virtual Result<size_t> Merge(const std::string& from_user_id, const std::string& to_user_id,
                               const ProductLookup& product_of) = 0;

  // Deletes every stored event older than `cutoff_ms` (Unix milliseconds) and recomputes the
  // profiles of the users who had one from their remaining events (a user left with none loses
  // the profile). Returns the deleted events; their user_id is the store's pseudonym, not the
  // raw id.
  virtual Result<std::vector<Event>> DeleteEventsBefore(int64_t cutoff_ms, const ProductLookup& product_of) = 0;

  // Writes the profiles that changed since the last flush. Profiles are derived from the
  // events, which are durable on their own, so a store may defer writing them. A store that
  // writes them with the events has nothing to flush.
  virtual Status Flush() { return Status::Ok(); }

  // The events whose profile changes wait for the next Flush; a store that writes profiles with
  // their events has none.
  virtual WriteBehindLag Lag() const { return {}; }

  // Calls that failed because a remote store could not be reached or timed out; an embedded
  // store has none.
  virtual uint64_t failures() const { return 0; }
};

// Limits of EmbeddedProfileStore's group commit.
struct GroupCommitOptions {
  // Events one group may hold; a caller's own batch always goes whole into its group, even when
  // larger. 1 gives every event its own synced write (no grouping).
  size_t max_group_events = 4096;
  // How often changed profiles are written behind the events, unsynced, in milliseconds. 0
  // writes every touched profile into the group's synced batch instead (write-through).
  int64_t profile_flush_ms = 1000;
};

// Keys: events family "<user key>/<timestamp, 20 digits>/<sequence, 20 digits>" -> event JSON;
// profiles family "<user key>" -> "@<sequence>\n" followed by the profile JSON, where the
// sequence is the highest event sequence the profile has applied. The user key is UserKeyer's
// keyed hash of the user id, which is never stored raw. A stored event's user_id is the key
// without its '#'. Keys never contain '/', so "<user key>/" is a prefix of exactly that user's
// events. The meta key "event_sequence" contains the highest sequence used, so keys stay unique
// across reopens.
//
// Writes use group commit, as LevelDB's writer queue does. Concurrent RecordBatch callers
// queue up. The caller at the head (the leader) applies every queued event to the profiles in
// memory, writes the group's events in one WriteBatch with one WAL sync, and then wakes the
// others with their own outcomes. So N concurrent callers cost one sync, not N.
//
// Profiles are written behind: the synced batch holds only events, event ids and the sequence;
// changed profiles stay in memory and a background thread writes them, unsynced, every
// profile_flush_ms and when the store is destroyed. After a crash, Recover re-applies to each
// stored profile the events with a higher sequence than it has applied. Erase, SetOptOut,
// Merge and DeleteEventsBefore still write or delete profiles in their own synced write.
class EmbeddedProfileStore final : public ProfileStore {
 public:
  // Does not own `kv`, which must outlive the store.
  EmbeddedProfileStore(KvStore* kv, ProfileOptions options, UserKeyer keyer, GroupCommitOptions group = {})
      : kv_(kv), options_(options), keyer_(std::move(keyer)), group_(group) {
    if (group_.profile_flush_ms > 0) flusher_ = std::thread([this] { FlushPeriodically(); });
  }
  // Flushes the changed profiles; a failed flush is logged, and Recover redoes it at the next open.
  ~EmbeddedProfileStore() override;

  Result<std::vector<EventOutcome>> RecordBatch(const std::vector<EventRecord>& records) override;
  Result<std::optional<UserProfile>> Get(const std::string& user_id) override;
  Result<std::vector<Event>> Events(const std::string& user_id) override;
  Result<size_t> Erase(const std::string& user_id) override;
  Status SetOptOut(const std::string& user_id, bool opted_out) override;
  Result<bool> OptedOut(const std::string& user_id) override;
  Result<size_t> Merge(const std::string& from_user_id, const std::string& to_user_id,
                       const ProductLookup& product_of) override;
  Result<std::vector<Event>> DeleteEventsBefore(int64_t cutoff_ms, const ProductLookup& product_of) override;
  Status Flush() override;
  // Lock-free, so that metrics can read it on every scrape.
  WriteBehindLag Lag() const override;

  // Brings the stored profiles up to date with the stored events after a crash. Each profile
  // gets its user's events with a higher sequence than it has applied, in sequence order (a
  // user without a stored profile gets every event), and the results go in one synced write.
  // Profiles stored before the sequence header count as up to date. Call once after opening,
  // before recording events. `product_of` supplies the events' products.
  Status Recover(const ProductLookup& product_of);

  // Calls `visit` with every stored event of every user, in key order (user key, then time).
  // Each event's user_id is its user key without the '#', not the raw id. Fails with
  // kCorruption naming the key when a stored event cannot be read.
  Status ForEachEvent(const std::function<void(Event&&)>& visit);

  // Rewrites events and profiles stored under raw user ids (by versions before user keys)
  // under their user keys; returns how many users were rewritten.
  Result<size_t> KeyRawUserIds();

  // Synced writes made by RecordBatch since the store was created: with group commit, fewer
  // than the events recorded.
  uint64_t synced_writes() const { return synced_writes_.load(); }

 private:
  struct Writer;
  struct GroupState;

  Status CommitGroup(const std::vector<Writer*>& group);
  Status LoadSequenceLocked();
  Status NextSequenceLocked(uint64_t* sequence);
  void FlushPeriodically();
  Status ScanEvents(const std::string& prefix, const std::function<void(Event&&)>& visit);
  Result<std::optional<UserProfile>> LoadProfile(const std::string& user_key);
  // The cached profile, read from the store into the cache when missing; null when the user has
  // none. Precondition: cache_mutex_ held. The pointer is valid while it is held.
  Result<const UserProfile*> CachedProfileLocked(const std::string& user_key);
  Result<UserProfile> RecomputeProfile(const std::vector<Event>& events, const ProductLookup& product_of) const;
  Result<size_t> EraseLocked(const std::string& user_key);

  KvStore* kv_;
  ProfileOptions options_;
  UserKeyer keyer_;
  GroupCommitOptions group_;

  // Lock order: write_mutex_, then queue_mutex_ or cache_mutex_.
  // Serializes every write: a group's leader, Erase, SetOptOut, Merge and DeleteEventsBefore.
  std::mutex write_mutex_;
  // Guards writers_, the queue of RecordBatch callers; its head is the leader.
  std::mutex queue_mutex_;
  std::deque<Writer*> writers_;
  // Guards cache_, the profiles read so far, updated only after their events are durable, and
  // dirty_, the keys of cached profiles newer than their stored copy. A dirty profile is never
  // dropped from cache_ except by erasure.
  std::mutex cache_mutex_;
  std::unordered_map<std::string, UserProfile> cache_;
  std::unordered_set<std::string> dirty_;
  // Events applied to dirty profiles since the last successful flush, and the steady-clock time
  // (nanoseconds since its epoch) the first of them was acknowledged; written under cache_mutex_.
  // NOTE: erasing a user with unflushed events leaves them counted until the next flush.
  std::atomic<uint64_t> unflushed_events_ = 0;
  std::atomic<int64_t> oldest_unflushed_ns_ = 0;
  // The last sequence given to an event key; loaded lazily under write_mutex_.
  uint64_t sequence_ = 0;
  bool sequence_loaded_ = false;
  std::atomic<uint64_t> synced_writes_ = 0;

  // The write-behind thread; it waits on flush_wake_ until the next flush or stopping_.
  std::thread flusher_;
  std::mutex flush_mutex_;
  std::condition_variable flush_wake_;
  bool stopping_ = false;  // guarded by flush_mutex_
};

}  // namespace tessera
