// FollowUntilStopped: the loop of a thread that follows a Redis stream until it is stopped.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "common/status.h"

namespace tessera {

// Calls `step` until `stopping` is true. Stopping waits for the running step, so `step` should
// block for at most about a second. A failed step is tried again after 200 ms. Only the first failure in a
// row is logged, as the warning "<what> failed, retrying: <error>", and the first success after
// it as "<what> again, at entry <position()>", so an outage writes two lines instead of five a
// second.
void FollowUntilStopped(const std::atomic<bool>& stopping, const std::string& what, const std::function<Status()>& step,
                        const std::function<std::string()>& position);

}  // namespace tessera
