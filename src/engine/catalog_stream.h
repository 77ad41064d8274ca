// CatalogStream: catalogue upserts and deletes shared by several replicas through a Redis
// stream, so that a change sent to any replica reaches every replica's index.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "ingest/catalog_record.h"
#include "store/redis_client.h"

namespace tessera {

struct CatalogStreamOptions {
  std::string url;           // the Redis server, as for RedisClient (ParseRedisUrl)
  std::string replica_name;  // this replica's consumer group and consumer name; unique per replica
  std::string stream_key = "tessera:catalog";
  // File containing the id of the last entry applied to this replica's data dir. A new replica
  // started from a copy of that data dir creates its consumer group at that entry, so it
  // applies exactly the changes made after the copy.
  std::string position_path;
};

// Applies changes, in order, to this replica's store and index without publishing them. A delete
// of a product the replica does not have must succeed.
using CatalogApply = std::function<Status(std::vector<CatalogRecord>&&)>;

// Every replica applies every entry in stream order, its own included. A replica that receives
// a change appends it to the stream and then applies the stream up to that entry before it
// returns. So two replicas that receive changes to one product at once still end with the same
// version. Each replica reads through its own consumer group and acknowledges an entry after
// applying it, so a replica that stops resumes at its first unacknowledged entry.
//
// Thread safety: every method may be called concurrently; entries are applied one at a time.
class CatalogStream {
 public:
  // Does not read the stream yet; call CatchUp, then StartFollowing.
  static Result<std::unique_ptr<CatalogStream>> Open(CatalogStreamOptions options, CatalogApply apply);
  ~CatalogStream();

  // Appends the records to the stream and applies the stream up to the last of them. Returns
  // the first error of applying them here; kUnavailable when Redis cannot be reached, and then
  // nothing was published unless the error states otherwise.
  Status Publish(const std::vector<CatalogRecord>& records);
  // Applies every entry this replica has not applied yet.
  Status CatchUp();
  // Starts a thread that applies other replicas' entries as they arrive, until destruction.
  void StartFollowing();
  // The id of the last entry applied ("0-0" before any).
  std::string position() const;

 private:
  CatalogStream(CatalogStreamOptions options, CatalogApply apply, std::unique_ptr<RedisClient> client);
  Status EnsureGroupLocked();
  // Reads and applies entries until none is left, and `on_applied` receives each entry's id and status.
  Status DrainLocked(const std::function<void(const std::string& id, const Status& status)>& on_applied);
  void SavePosition(const std::string& id) const;

  CatalogStreamOptions options_;
  CatalogApply apply_;
  std::unique_ptr<RedisClient> client_;
  // Serializes reading and applying entries. Guards the members below.
  mutable std::mutex mutex_;
  bool group_ready_ = false;
  bool has_pending_ = true;  // entries delivered but not acknowledged may exist (after a start or a failure)
  std::string applied_ = "0-0";
  std::atomic<bool> stopping_ = false;
  std::thread follower_;
};

// Orders stream entry ids ("<milliseconds>-<sequence>"): negative, zero or positive as a < b,
// a == b or a > b.
int CompareStreamIds(const std::string& a, const std::string& b);

}  // namespace tessera
