// ParseRedisUrl: the parts of a redis:// URL, their defaults, and errors that name the bad part.
// RedisClient: failing fast while the server is unreachable, and reconnecting after a restart.
#include <gtest/gtest.h>

#include "store/redis_client.h"
#include "support/redis_test_support.h"
#include "support/test_support.h"

namespace tessera {
namespace {

TEST(ParseRedisUrl, HostAloneTakesDefaults) {
  Result<RedisOptions> options = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->host, "cache.internal");
  EXPECT_EQ(options->port, 6379);
  EXPECT_EQ(options->database, 0);
  EXPECT_EQ(options->command_timeout, RedisOptions().command_timeout);
}

TEST(ParseRedisUrl, ReadsPortDatabaseAndTimeout) {
  Result<RedisOptions> options = ParseRedisUrl("redis://127.0.0.1:6380/2?timeout_ms=250");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->host, "127.0.0.1");
  EXPECT_EQ(options->port, 6380);
  EXPECT_EQ(options->database, 2);
  EXPECT_EQ(options->command_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(options->connect_timeout, std::chrono::milliseconds(250));
}

TEST(ParseRedisUrl, InvalidPartsAreNamed) {
  const struct {
    const char* url;
    const char* named;
  } cases[] = {
      {"http://127.0.0.1:6379/0", "redis://"},
      {"redis://127.0.0.1:0/0", "port '0'"},
      {"redis://127.0.0.1:65536/0", "port '65536'"},
      {"redis://127.0.0.1:six/0", "port 'six'"},
      {"redis://127.0.0.1:6379/first", "database 'first'"},
      {"redis://127.0.0.1:6379/0?timeout=5", "timeout_ms"},
      {"redis://127.0.0.1:6379/0?timeout_ms=0", "timeout_ms"},
      {"redis://:6379/0", "no host"},
  };
  for (const auto& c : cases) {
    Result<RedisOptions> options = ParseRedisUrl(c.url);
    ASSERT_FALSE(options.ok()) << c.url;
    EXPECT_EQ(options.status().code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_NE(options.status().message().find(c.named), std::string::npos) << options.status().message();
  }
}

TEST(RedisClient, UnreachableServerFailsAtOnceDuringRetryDelay) {
  RedisOptions options;
  options.port = testing_support::FreeRedisPort();  // free, so nothing listens on it
  options.min_retry_delay = std::chrono::milliseconds(5000);
  RedisClient client(options);
  Result<RedisReply> first = client.Command({"PING"});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  Result<RedisReply> second = client.Command({"PING"});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("next attempt in"), std::string::npos) << second.status().message();
}

TEST(RedisClient, RestartedServerNeedsNoFailedCall) {
  testing_support::TempDir dir("tessera-redis-client-");
  ASSERT_FALSE(dir.path().empty()) << dir.error();
  testing_support::RedisServerProcess server(dir.path() / "redis", testing_support::FreeRedisPort());
  ASSERT_TRUE(server.Start());
  RedisOptions options;
  options.port = server.port();
  RedisClient client(options);
  ASSERT_TRUE(client.Command({"PING"}).ok());

  // The connection kept idle from the first call was closed by the crash.
  server.Stop(SIGKILL);
  ASSERT_TRUE(server.Start());
  Result<RedisReply> after_restart = client.Command({"PING"});
  ASSERT_TRUE(after_restart.ok()) << after_restart.status().ToString();
  EXPECT_EQ(after_restart->text, "PONG");
}

}  // namespace
}  // namespace tessera
