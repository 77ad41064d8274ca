#include "engine/follow_loop.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>

namespace tessera {
namespace {

size_t Count(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
  return count;
}

// A stream that fails three times, recovers, fails once more and recovers again logs one
// warning per outage and one line per recovery, and the loop returns once `stopping` is set.
TEST(FollowUntilStoppedTest, LogsEachOutageOnceAndStops) {
  std::ostringstream log;
  auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  std::atomic<bool> stopping{false};
  int calls = 0;
  // Step results in order (F: failure, S: success). The last step sets `stopping`.
  const std::string script = "FFFSSFS";
  FollowUntilStopped(
      stopping, "reading stream s",
      [&]() -> Status {
        const char result = script[static_cast<size_t>(calls++)];
        if (calls == static_cast<int>(script.size())) stopping.store(true);
        return result == 'F' ? Status::IoError("connection refused") : Status::Ok();
      },
      [&] { return "7-0"; });
  spdlog::set_default_logger(previous);

  EXPECT_EQ(calls, static_cast<int>(script.size()));
  const std::string text = log.str();
  EXPECT_EQ(Count(text, "reading stream s failed, retrying: "), 2u) << text;
  EXPECT_EQ(Count(text, "connection refused"), 2u) << text;
  EXPECT_EQ(Count(text, "reading stream s again, at entry 7-0"), 2u) << text;
}

}  // namespace
}  // namespace tessera
