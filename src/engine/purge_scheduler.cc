#include "engine/purge_scheduler.h"

#include <spdlog/spdlog.h>

namespace tessera {

PurgeScheduler::PurgeScheduler(std::function<Status()> purge, std::chrono::milliseconds delay)
    : purge_(std::move(purge)), delay_(delay) {
  if (delay_.count() > 0) thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

PurgeScheduler::~PurgeScheduler() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  if (due_) {
    const Status status = purge_();
    if (!status.ok()) spdlog::error("purge of erased data at shutdown failed: {}", status.ToString());
  }
}

Status PurgeScheduler::Schedule() {
  if (delay_.count() <= 0) {
    std::lock_guard lock(mutex_);  // one purge at a time
    Status status = purge_();
    if (status.ok()) ++completed_;
    return status;
  }
  std::lock_guard lock(mutex_);
  if (!due_) {
    due_ = std::chrono::steady_clock::now() + delay_;
    wake_.notify_all();
  }
  return Status::Ok();
}

uint64_t PurgeScheduler::completed() const {
  std::lock_guard lock(mutex_);
  return completed_;
}

void PurgeScheduler::Run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    if (!due_) {
      wake_.wait(lock, stop, [this] { return due_.has_value(); });
      continue;
    }
    const auto due = *due_;
    if (wake_.wait_until(lock, stop, due, [] { return false; }); stop.stop_requested()) break;
    // An erasure during this purge schedules the next one, because this one may miss it.
    due_.reset();
    lock.unlock();
    const Status status = purge_();
    lock.lock();
    if (status.ok()) {
      ++completed_;
    } else {
      spdlog::error("purge of erased data failed, the next erasure retries it: {}", status.ToString());
    }
  }
}

}  // namespace tessera
