// Stop signals of `tessera serve`: SIGINT and SIGTERM are taken by one thread with sigwait, so
// that stopping can log, wait and flush, none of which a signal handler may do.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace tessera {

// Blocks SIGINT and SIGTERM in the calling thread, and ignores SIGPIPE in the process. Threads
// started later inherit the mask, so call it at the start of main, before any thread starts. A
// thread that does not block them could otherwise take a signal and end the process at once.
void BlockStopSignals();

// Waits on a thread of its own for SIGINT or SIGTERM, blocked by BlockStopSignals, and calls
// `on_stop` with the signal number on that thread, once. The destructor stops waiting and joins
// the thread, so it waits for a running `on_stop` to return.
class StopSignalWatcher {
 public:
  explicit StopSignalWatcher(std::function<void(int signal)> on_stop);
  ~StopSignalWatcher();
  StopSignalWatcher(const StopSignalWatcher&) = delete;
  StopSignalWatcher& operator=(const StopSignalWatcher&) = delete;

 private:
  std::atomic<bool> done_ = false;
  std::thread thread_;
};

}  // namespace tessera
