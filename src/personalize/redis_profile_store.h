// RedisProfileStore: events and profiles in one Redis server, shared by several Tessera replicas,
// so that a shopper's event on one replica changes their next search on any other.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "personalize/profile_store.h"
#include "store/redis_client.h"

namespace tessera {

// The layout of a shopper's profile in Redis.
enum class ProfileLayout {
  // A hash with one field per affinity and counter (UserProfile::ToFields) and the version
  // token, so that an event writes only the fields it changed.
  kHash,
  // One string, "<version token>\n<profile JSON>": the layout before hashes, kept so that
  // tessera_redis_bench can compare both in one run. Not for production.
  kString,
};

struct RedisProfileStoreOptions {
  // Prefix of every key the store writes.
  std::string key_prefix = "tessera:";
  // Approximate length (XADD MAXLEN ~) at which the shared stream of product-count changes is
  // trimmed. A replica that starts later counts only the entries still in the stream.
  size_t shared_stream_max_entries = 1000000;
  // Attempts of a write whose optimistic check found that another replica changed the same
  // shopper in between. Each attempt reads the shopper again, after a random wait that grows
  // with the attempts (up to 10 ms).
  int max_write_attempts = 16;
  // The layout of profiles this store writes. Both layouts are read, and a write replaces a
  // profile of the other layout.
  ProfileLayout profile_layout = ProfileLayout::kHash;
};

// One change to a product's event counts, as read from the shared stream: +1 for a recorded
// event, -1 for an erased or expired one.
struct SharedEventDelta {
  std::string product_id;
  EventType type = EventType::kClick;
  int delta = 0;
};

// Parses the product-count changes of one entry of the shared stream (its flat field list, as
// XRANGE returns it). Malformed changes are left out; an entry without a JSON array of changes
// is kCorruption.
Result<std::vector<SharedEventDelta>> ParseSharedEventEntry(const RedisReply& fields);

// Keys, with P the key prefix and K the user key (UserKeyer::Key without its '#'). The braces
// are a Redis Cluster hash tag, so that all keys of one shopper share a slot:
//   P u:{K}:profile  hash: "token" = version token, plus UserProfile::ToFields (one field per
//                    affinity and counter); a string "<version token>\n<profile JSON>" in the
//                    layout before hashes, which is still read
//   P u:{K}:events   stream, one entry per event: e = event JSON (user_id K), p = product id, t = type
//   P u:{K}:eids     sorted set of the shopper's event ids, scored by event time
//   P u:{K}:optout   present while the shopper has opted out
//   P retention      sorted set of K scored by the shopper's oldest event time, for the sweep
//   P events         shared stream of product-count changes (origin, deltas as a JSON array of
//                    [product id, type, +1 or -1]); no user key or user id
//
// Writes are optimistic. The store reads the shopper's profile and its version token (HGETALL)
// and applies the events in C++ (UserProfile::Apply, the only decay arithmetic). A Lua script
// then writes the fields that changed and a new token only when the token, the opt-out flag and
// the event ids are unchanged, all in one atomic step. When another replica wrote in between, the store reads
// again and retries. A script also appends to the shared stream, so one Redis server is
// required: Redis Cluster would reject the scripts' cross-slot keys.
//
// Durability: a call returns OK only after Redis replied. With `appendonly yes` and
// `appendfsync always`, Redis writes its append-only file to disk before replying, so an
// acknowledged event survives a crash of Redis.
//
// Failures to reach Redis, and its timeouts, return kProfileStoreUnavailable; the client
// reconnects on a later call (RedisClient).
class RedisProfileStore final : public ProfileStore {
 public:
  RedisProfileStore(std::unique_ptr<RedisClient> client, ProfileOptions profile_options, UserKeyer keyer,
                    RedisProfileStoreOptions options = {});
  ~RedisProfileStore() override;

  // Connects to the Redis server at `url` (ParseRedisUrl). Fails only on an invalid URL: an
  // unreachable server is logged, and every call fails until it can be reached.
  static Result<std::unique_ptr<RedisProfileStore>> Open(const std::string& url, ProfileOptions profile_options,
                                                         UserKeyer keyer, RedisProfileStoreOptions options = {});

  Result<std::vector<EventOutcome>> RecordBatch(const std::vector<EventRecord>& records) override;
  Result<std::optional<UserProfile>> Get(const std::string& user_id) override;
  Result<std::vector<Event>> Events(const std::string& user_id) override;
  Result<size_t> Erase(const std::string& user_id) override;
  Status SetOptOut(const std::string& user_id, bool opted_out) override;
  Result<bool> OptedOut(const std::string& user_id) override;
  Result<size_t> Merge(const std::string& from_user_id, const std::string& to_user_id,
                       const ProductLookup& product_of) override;
  Result<std::vector<Event>> DeleteEventsBefore(int64_t cutoff_ms, const ProductLookup& product_of) override;
  uint64_t failures() const override { return failures_.load(); }

  // The user's events with a timestamp at or after `since_ms`, oldest first as Events returns
  // them, from which any replica rebuilds the user's session vectors. Reads the stream backward
  // from the last stored entry, in pages, and stops after `max_events` entries or after the
  // first page that contains an event older than `since_ms`.
  // NOTE: so an event stored before that page is left out even when its own timestamp is at or
  // after `since_ms`, which happens only with timestamps sent out of order.
  Result<std::vector<Event>> RecentEvents(const std::string& user_id, int64_t since_ms, size_t max_events);

  // Calls `apply` with each product-count change of the shared stream after the entry
  // `after_id` ("0-0" for the start), skipping the changes this store wrote itself, and
  // returns the id of the last entry read (`after_id` when there was none). Reads at most
  // `count` entries, and waits up to `block` for the first one (0: returns at once).
  Result<std::string> ReadSharedEvents(const std::string& after_id, size_t count, std::chrono::milliseconds block,
                                       const std::function<void(const SharedEventDelta&)>& apply);

  // Starts a rewrite of Redis's append-only file (BGREWRITEAOF), after which the file no longer
  // contains erased data. Redis runs it in the background. When a rewrite is already running,
  // this waits for it to end (at most 60 s) and then starts another.
  Status RewriteAppendOnlyFile();

  // Every key name of the user's data, for tests and for checking an erasure.
  std::vector<std::string> UserKeys(const std::string& user_id) const;
  const std::string& url() const { return url_; }

 private:
  struct Script;
  struct UserState;

  Status StoreError(const Status& status);
  Status ReplyError(const RedisReply& reply, const std::string& operation);
  // Runs one command; a failure to reach Redis or an error reply becomes an error status.
  Result<RedisReply> Call(const std::vector<std::string>& command);
  Result<RedisReply> RunScript(Script& script, const std::vector<std::string>& keys,
                               const std::vector<std::string>& arguments);
  Result<UserState> ReadUser(const std::string& user_key, bool with_events);
  Result<std::vector<EventOutcome>> TryRecordBatch(const std::vector<EventRecord>& records, bool* conflict);
  Result<size_t> EraseKey(const std::string& user_key, bool opt_out);
  Result<size_t> TryMerge(const std::string& from_key, const std::string& to_key, const std::string& from_user_id,
                          const std::string& to_user_id, const ProductLookup& product_of, bool* conflict);
  Result<std::vector<Event>> SweepUser(const std::string& member, int64_t cutoff_ms, const ProductLookup& product_of);
  UserProfile Recompute(std::vector<Event> events, const ProductLookup& product_of) const;

  std::string UserPrefix(const std::string& user_key) const;
  std::string ProfileKey(const std::string& user_key) const { return UserPrefix(user_key) + "profile"; }
  std::string EventsKey(const std::string& user_key) const { return UserPrefix(user_key) + "events"; }
  std::string EventIdsKey(const std::string& user_key) const { return UserPrefix(user_key) + "eids"; }
  std::string OptOutKey(const std::string& user_key) const { return UserPrefix(user_key) + "optout"; }
  std::string SharedEventsKey() const { return options_.key_prefix + "events"; }
  std::string RetentionKey() const { return options_.key_prefix + "retention"; }

  std::unique_ptr<RedisClient> client_;
  ProfileOptions profile_options_;
  UserKeyer keyer_;
  RedisProfileStoreOptions options_;
  std::string url_;
  // Names this process's entries in the shared stream, so that it skips them when reading.
  std::string origin_;
  std::unique_ptr<Script> record_script_, erase_script_, merge_script_, sweep_script_;
  std::atomic<uint64_t> failures_ = 0;
};

}  // namespace tessera
