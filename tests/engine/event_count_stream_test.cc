// EventCountStream against a real redis-server on loopback: a replica whose position in the shared
// stream of count changes was trimmed away logs a warning.
#include "engine/event_count_stream.h"

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "rank/product_signals.h"
#include "store/kv_store.h"
#include "store/redis_client.h"
#include "support/redis_test_support.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using testing_support::FreeRedisPort;
using testing_support::RedisServerProcess;

constexpr char kTrimmedWarning[] = "were trimmed before this replica read them";

class EventCountStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << dir_.error();
    redis_ = std::make_unique<RedisServerProcess>(dir_.path() / "redis", FreeRedisPort());
    ASSERT_TRUE(redis_->Start()) << "redis-server did not start (install it with scripts/setup.sh)";
    Result<RedisOptions> options = ParseRedisUrl(redis_->url());
    ASSERT_TRUE(options.ok()) << options.status().ToString();
    client_ = std::make_unique<RedisClient>(*options);
  }

  // Appends `count` entries of one click on product p1 to the shared stream.
  void AppendClicks(int count) {
    for (int i = 0; i < count; ++i) {
      Result<RedisReply> added =
          client_->Command({"XADD", "tessera:events", "*", "origin", "other-replica", "deltas", R"([["p1","click",1]])"});
      ASSERT_TRUE(added.ok()) << added.status().ToString();
      ASSERT_FALSE(added->is_error()) << added->text;
    }
  }

  // Opens a new replica's counts, catches up with the stream, and returns what it logged.
  std::string CatchUpNewReplica(int* applied) {
    Result<std::unique_ptr<KvStore>> kv = KvStore::Open((dir_.path() / "kv").string());
    EXPECT_TRUE(kv.ok()) << kv.status().ToString();
    if (!kv.ok()) return "";
    ProductSignals signals;
    std::ostringstream log;
    auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
    const std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    spdlog::set_default_logger(logger);
    Result<std::unique_ptr<EventCountStream>> stream = EventCountStream::Open(
        {redis_->url(), "replica-a"}, kv->get(), &signals, [applied](const SharedEventDelta&) { ++*applied; });
    EXPECT_TRUE(stream.ok()) << stream.status().ToString();
    if (stream.ok()) {
      const Status caught_up = (*stream)->CatchUp();
      EXPECT_TRUE(caught_up.ok()) << caught_up.ToString();
    }
    spdlog::set_default_logger(previous);
    return log.str();
  }

  testing_support::TempDir dir_{"tessera-event-counts-"};
  std::unique_ptr<RedisServerProcess> redis_;
  std::unique_ptr<RedisClient> client_;
};

TEST_F(EventCountStreamTest, TrimmedEntriesAreReported) {
  AppendClicks(3);
  Result<RedisReply> trimmed = client_->Command({"XTRIM", "tessera:events", "MAXLEN", "1"});
  ASSERT_TRUE(trimmed.ok()) << trimmed.status().ToString();
  ASSERT_EQ(trimmed->integer, 2);

  int applied = 0;
  const std::string log = CatchUpNewReplica(&applied);
  EXPECT_EQ(applied, 1);
  EXPECT_NE(log.find(kTrimmedWarning), std::string::npos) << log;
}

TEST_F(EventCountStreamTest, WholeStreamLogsNoTrimming) {
  AppendClicks(3);

  int applied = 0;
  const std::string log = CatchUpNewReplica(&applied);
  EXPECT_EQ(applied, 3);
  EXPECT_EQ(log.find(kTrimmedWarning), std::string::npos) << log;
}

}  // namespace
}  // namespace tessera
