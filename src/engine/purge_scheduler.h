// PurgeScheduler: runs a purge (a compaction that removes erased bytes from the store's files)
// once after a delay, however many erasures requested it meanwhile, on its own thread.
//
// RocksDB deletes by writing tombstones: an erased shopper's events stay in the store's files
// until a compaction rewrites them. Compacting on every erasure would cost a compaction per
// request, so erasures within one delay share one purge.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/status.h"

namespace tessera {

class PurgeScheduler {
 public:
  // Runs `purge` on the scheduler's thread `delay` after the first Schedule() that finds no
  // purge pending. A zero delay runs it inside Schedule() instead, before Schedule() returns.
  PurgeScheduler(std::function<Status()> purge, std::chrono::milliseconds delay);

  // Runs a pending purge before returning, so erased data does not outlive a clean shutdown.
  ~PurgeScheduler();

  PurgeScheduler(const PurgeScheduler&) = delete;
  PurgeScheduler& operator=(const PurgeScheduler&) = delete;

  // Requests a purge. Returns the purge's status when the delay is zero, and OK otherwise (a
  // failed background purge is logged and retried at the next request).
  Status Schedule();

  // Number of completed purges, for tests and logs.
  uint64_t completed() const;

 private:
  void Run(std::stop_token stop);

  std::function<Status()> purge_;
  const std::chrono::milliseconds delay_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::optional<std::chrono::steady_clock::time_point> due_;  // set while a purge is pending
  uint64_t completed_ = 0;
  std::jthread thread_;  // last, so it stops before the members it reads are destroyed
};

}  // namespace tessera
