// EventCountStream: the product counts behind the popularity and click-through features, built
// from the shared stream of product-count changes (`tessera:events`) through this replica's
// consumer group, and kept in its data dir so that a restart resumes where it stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "personalize/redis_profile_store.h"
#include "rank/product_signals.h"
#include "store/kv_store.h"
#include "store/redis_client.h"

namespace tessera {

struct EventCountStreamOptions {
  std::string url;           // the Redis server, as for RedisClient (ParseRedisUrl)
  std::string replica_name;  // this replica's consumer group and consumer name; unique per replica
  std::string stream_key = "tessera:events";
};

// Adds one product-count change to the counts in `signals`.
using EventCountApply = std::function<void(const SharedEventDelta&)>;

// Every replica applies every entry of the stream once, in stream order, its own included: a
// replica does not count its events when it records them, but when it reads them back. After
// applying entries it writes the changed products' counts and the id of the last entry applied
// to the data dir in one synced RocksDB batch, and only then acknowledges the entries (XACK).
// At start it loads the saved counts and moves its consumer group to the saved id (XGROUP
// CREATE, or XGROUP SETID when the group exists). So an entry applied before a crash but not
// saved is applied again to counts that lack it, and no entry after the saved id is missed. A
// replica started from a copied data dir resumes from the copy's position.
//
// Saved in the meta family (docs/storage-format.md): "event_counts/<product id>" = "<views>
// <clicks> <carts> <purchases>" (decimal text) and "event_counts_position" = the entry id.
//
// Thread safety: every method may be called concurrently; entries are applied one batch at a time.
class EventCountStream {
 public:
  // Loads the saved counts into `signals`. Does not read the stream yet: call CatchUp, then
  // StartFollowing. Entries are applied through `apply`, which must change `signals`; the
  // counts saved are read back from `signals`. `kv` and `signals` must outlive the stream.
  static Result<std::unique_ptr<EventCountStream>> Open(EventCountStreamOptions options, KvStore* kv,
                                                         ProductSignals* signals, EventCountApply apply);
  ~EventCountStream();

  // Applies every entry after the saved position, up to the end of the stream.
  Status CatchUp();
  // Starts a thread that applies entries as they arrive, until destruction.
  void StartFollowing();
  // The id of the last entry applied and saved ("0-0" before any).
  std::string position() const;

 private:
  EventCountStream(EventCountStreamOptions options, KvStore* kv, ProductSignals* signals, EventCountApply apply,
                   std::unique_ptr<RedisClient> client);
  Status LoadSaved();
  Status EnsureGroupLocked();
  // Logs a warning when entries after the applied position may have been trimmed from the stream.
  void WarnIfTrimmedLocked();
  // Reads one batch of new entries (waiting up to `block` for the first; 0 returns at once),
  // applies, saves and acknowledges them. Sets `*read` to the number of entries read.
  Status ReadBatchLocked(std::chrono::milliseconds block, size_t* read);
  // Saves the counts of `unsaved_products_` and `position`, then acknowledges `unacknowledged_`.
  Status SaveAndAcknowledgeLocked(const std::string& position);

  EventCountStreamOptions options_;
  KvStore* kv_;
  ProductSignals* signals_;
  EventCountApply apply_;
  std::unique_ptr<RedisClient> client_;
  // Serializes reading, applying and saving. Guards the members below.
  mutable std::mutex mutex_;
  bool group_ready_ = false;
  std::string saved_position_ = "0-0";    // the position in the data dir
  std::string applied_position_ = "0-0";  // the last entry applied to `signals_`, saved or not
  // Applied to `signals_` but not yet saved, after a failed save: saved with the next batch.
  std::set<std::string> unsaved_products_;
  std::vector<std::string> unacknowledged_;
  std::atomic<bool> stopping_ = false;
  std::thread follower_;
};

}  // namespace tessera
