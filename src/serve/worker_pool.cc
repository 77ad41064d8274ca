#include "serve/worker_pool.h"

#include <algorithm>

namespace tessera {
namespace {

thread_local bool t_shedding = false;

}  // namespace

WorkerPool::WorkerPool(size_t threads, size_t max_queued, std::atomic<int64_t>* queued)
    : max_queued_(max_queued), queued_(queued) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
    workers_.threads.emplace_back([this] { Work(workers_, /*shedding=*/false); });
  }
  shedders_.threads.emplace_back([this] { Work(shedders_, /*shedding=*/true); });
}

WorkerPool::~WorkerPool() { shutdown(); }

bool WorkerPool::ShedCurrentConnection() { return t_shedding; }

void WorkerPool::enqueue(std::function<void()> connection) {
  {
    std::lock_guard lock(workers_.mutex);
    if (max_queued_ == 0 || workers_.tasks.size() < max_queued_) {
      workers_.tasks.push_back(std::move(connection));
      if (queued_ != nullptr) queued_->store(static_cast<int64_t>(workers_.tasks.size()));
      workers_.wake.notify_one();
      return;
    }
  }
  std::lock_guard lock(shedders_.mutex);
  shedders_.tasks.push_back(std::move(connection));
  shedders_.wake.notify_one();
}

void WorkerPool::Work(Lane& lane, bool shedding) {
  t_shedding = shedding;
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(lane.mutex);
      lane.wake.wait(lock, [&] { return lane.stopping || !lane.tasks.empty(); });
      if (lane.tasks.empty()) return;  // stopping, and nothing left to run
      task = std::move(lane.tasks.front());
      lane.tasks.pop_front();
      if (!shedding && queued_ != nullptr) queued_->store(static_cast<int64_t>(lane.tasks.size()));
    }
    task();
  }
}

void WorkerPool::Stop(Lane& lane) {
  {
    std::lock_guard lock(lane.mutex);
    lane.stopping = true;
  }
  lane.wake.notify_all();
  for (std::thread& thread : lane.threads) thread.join();
  lane.threads.clear();
}

void WorkerPool::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  Stop(workers_);
  Stop(shedders_);
}

}  // namespace tessera
