#include "engine/follow_loop.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

namespace tessera {

void FollowUntilStopped(const std::atomic<bool>& stopping, const std::string& what, const std::function<Status()>& step,
                        const std::function<std::string()>& position) {
  bool failing = false;
  while (!stopping.load()) {
    const Status status = step();
    if (!status.ok()) {
      if (!failing) spdlog::warn("{} failed, retrying: {}", what, status.ToString());
      failing = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (failing) spdlog::info("{} again, at entry {}", what, position());
    failing = false;
  }
}

}  // namespace tessera
