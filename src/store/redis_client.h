// RedisClient: a small synchronous Redis client over hiredis 0.14, shared by the threads of one
// process through a pool of connections, with timeouts and automatic reconnection.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

struct redisContext;

namespace tessera {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int database = 0;
  // Time to open a connection, and time to wait for any one reply. A command that times out
  // fails with kUnavailable and its connection is closed, since its reply may still arrive.
  std::chrono::milliseconds connect_timeout{500};
  std::chrono::milliseconds command_timeout{1000};
  // After a failure to connect or a timeout, calls fail at once for this long before the next
  // attempt. The delay doubles up to max_retry_delay while the server stays unreachable, so a
  // down Redis costs each request microseconds rather than a timeout.
  std::chrono::milliseconds min_retry_delay{100};
  std::chrono::milliseconds max_retry_delay{2000};
  // Connections kept open between calls; more are opened under load and closed after use.
  size_t max_idle_connections = 16;
};

// Parses "redis://HOST[:PORT][/DATABASE][?timeout_ms=N]" (port 6379 and database 0 by default).
// Errors name the part that is invalid.
Result<RedisOptions> ParseRedisUrl(const std::string& url);

// A reply, copied out of hiredis's reply object.
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus and kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
};

// Thread safety: every method may be called concurrently; each call uses its own connection.
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command (its arguments are binary-safe) and returns its reply. A reply of type
  // kError is returned as a value; only a connection failure or a timeout is an error status
  // (kUnavailable, naming the server).
  Result<RedisReply> Command(const std::vector<std::string>& arguments);
  // Sends the commands in one round trip and returns their replies in order.
  Result<std::vector<RedisReply>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // As Command, but waits up to `timeout` for the reply, for blocking reads such as XREAD BLOCK.
  Result<RedisReply> BlockingCommand(const std::vector<std::string>& arguments, std::chrono::milliseconds timeout);

  // "redis://host:port/database", for messages.
  std::string url() const;
  const RedisOptions& options() const { return options_; }

 private:
  Result<redisContext*> Acquire();
  void Release(redisContext* context, bool healthy);
  Status Failed(const std::string& reason);
  Result<std::vector<RedisReply>> Run(const std::vector<std::vector<std::string>>& commands,
                                      std::chrono::milliseconds timeout);

  RedisOptions options_;
  std::mutex mutex_;  // guards everything below
  std::vector<redisContext*> idle_;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds retry_delay_{0};
  std::string last_error_;
};

// Creates the consumer group `group` of `stream` at entry `start`, and the stream when it is
// missing. Returns true when the group existed already (Redis replies BUSYGROUP), in which
// case it is left where it was.
Result<bool> CreateConsumerGroup(RedisClient& client, const std::string& stream, const std::string& group,
                                 const std::string& start);

}  // namespace tessera
