#include "cli/stop_signals.h"

#include <signal.h>

#include <cerrno>
#include <ctime>

namespace tessera {
namespace {

sigset_t StopSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockStopSignals() {
  const sigset_t set = StopSignalSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // cpp-httplib sends without MSG_NOSIGNAL (its CPPHTTPLIB_SEND_FLAGS defaults to 0), so a client
  // that closes its connection mid-response would raise SIGPIPE and end the server. Ignored, the
  // write fails with EPIPE and only that connection ends.
  signal(SIGPIPE, SIG_IGN);
}

StopSignalWatcher::StopSignalWatcher(std::function<void(int signal)> on_stop)
    : thread_([this, on_stop = std::move(on_stop)] {
        const sigset_t set = StopSignalSet();
        // Wakes every 200 ms to see whether the watcher is being destroyed.
        const timespec poll{0, 200'000'000};
        while (!done_.load()) {
          const int signal = sigtimedwait(&set, nullptr, &poll);
          if (signal == SIGINT || signal == SIGTERM) {
            on_stop(signal);
            return;
          }
        }
      }) {}

StopSignalWatcher::~StopSignalWatcher() {
  done_.store(true);
  thread_.join();
}

}  // namespace tessera
