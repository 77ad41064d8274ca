// WorkerPool: the server's worker threads behind a bounded queue, so that beyond capacity the
// server responds at once with 503 instead of letting requests wait without limit.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace tessera {

// cpp-httplib (0.11) hands each accepted connection to its TaskQueue as one task, and the thread
// that runs the task serves every request of that connection (keep-alive) until it closes. So
// the queue contains connections, and a full queue means every worker is busy and `max_queued`
// connections already wait.
//
// A connection that arrives at a full queue goes to a separate shedding thread instead. There,
// ShedCurrentConnection() is true, and the route wrapper responds to each request with 503,
// Retry-After and Connection: close, which takes microseconds. Shed connections queue
// without limit, because dropping a task would leak its socket, but they drain fast.
// NOTE: there is one shedding thread, so a client that keeps a shed connection open without
// sending occupies it for up to cpp-httplib's keep-alive timeout (5 s) and delays the others.
class WorkerPool final : public httplib::TaskQueue {
 public:
  // Starts `threads` workers (at least 1) and the shedding thread. At most `max_queued`
  // connections wait for a worker; 0 lets any number wait (no shedding). `queued`, when not
  // null, is kept equal to the number waiting and must outlive the pool.
  WorkerPool(size_t threads, size_t max_queued, std::atomic<int64_t>* queued);
  ~WorkerPool() override;

  void enqueue(std::function<void()> connection) override;
  // Runs the connections already queued, then joins every thread.
  void shutdown() override;

  // True on the shedding thread: the connection it serves arrived while the queue was full.
  static bool ShedCurrentConnection();

 private:
  // Threads taking tasks from one queue.
  struct Lane {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> tasks;
    std::vector<std::thread> threads;
    bool stopping = false;  // guarded by mutex
  };

  void Work(Lane& lane, bool shedding);
  static void Stop(Lane& lane);

  const size_t max_queued_;
  std::atomic<int64_t>* queued_;
  Lane workers_;
  Lane shedders_;
  bool stopped_ = false;
};

}  // namespace tessera
