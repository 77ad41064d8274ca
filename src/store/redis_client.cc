#include "store/redis_client.h"

#include <poll.h>

#include <charconv>

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

namespace tessera {
namespace {

timeval ToTimeval(std::chrono::milliseconds duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return tv;
}

// True when an idle connection can no longer be used: the server closed it (a restart or an
// idle timeout), or sent data that no command asked for. poll() with no wait sends nothing, so
// no command can run twice because of this check.
bool IsClosed(const redisContext& context) {
  pollfd descriptor{};
  descriptor.fd = context.fd;
  descriptor.events = POLLIN;
  return poll(&descriptor, 1, 0) != 0;
}

RedisReply CopyReply(const redisReply& reply) {
  RedisReply copy;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      copy.type = RedisReply::Type::kString;
      copy.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      copy.type = RedisReply::Type::kStatus;
      copy.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      copy.type = RedisReply::Type::kError;
      copy.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      copy.type = RedisReply::Type::kInteger;
      copy.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      copy.type = RedisReply::Type::kArray;
      copy.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) copy.elements.push_back(CopyReply(*reply.element[i]));
      break;
    default:
      copy.type = RedisReply::Type::kNil;
      break;
  }
  return copy;
}

bool ParseInt(std::string_view text, int* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<RedisOptions> ParseRedisUrl(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.rfind(kScheme, 0) != 0) {
    return Status::InvalidArgument("Redis URL '" + url + "' does not start with redis://: use redis://HOST:PORT/DATABASE");
  }
  RedisOptions options;
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  if (const size_t query = rest.find('?'); query != std::string_view::npos) {
    const std::string_view parameter = rest.substr(query + 1);
    rest = rest.substr(0, query);
    constexpr std::string_view kTimeout = "timeout_ms=";
    int timeout_ms = 0;
    if (parameter.rfind(kTimeout, 0) != 0 || !ParseInt(parameter.substr(kTimeout.size()), &timeout_ms) ||
        timeout_ms <= 0) {
      return Status::InvalidArgument("Redis URL '" + url + "' has the query '" + std::string(parameter) +
                                     "': the only parameter is timeout_ms=MILLISECONDS, a positive number");
    }
    options.command_timeout = std::chrono::milliseconds(timeout_ms);
    options.connect_timeout = std::chrono::milliseconds(timeout_ms);
  }
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view database = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!database.empty() && (!ParseInt(database, &options.database) || options.database < 0)) {
      return Status::InvalidArgument("Redis URL '" + url + "' names database '" + std::string(database) +
                                     "': use a number such as 0");
    }
  }
  if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!ParseInt(port, &options.port) || options.port <= 0 || options.port > 65535) {
      return Status::InvalidArgument("Redis URL '" + url + "' has port '" + std::string(port) +
                                     "': use a number from 1 to 65535");
    }
  }
  if (rest.empty()) return Status::InvalidArgument("Redis URL '" + url + "' names no host: use redis://HOST:PORT/DATABASE");
  options.host = std::string(rest);
  return options;
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() {
  for (redisContext* context : idle_) redisFree(context);
}

std::string RedisClient::url() const {
  return "redis://" + options_.host + ":" + std::to_string(options_.port) + "/" + std::to_string(options_.database);
}

Status RedisClient::Failed(const std::string& reason) {
  std::lock_guard lock(mutex_);
  retry_delay_ = retry_delay_.count() == 0 ? options_.min_retry_delay : std::min(2 * retry_delay_, options_.max_retry_delay);
  retry_at_ = std::chrono::steady_clock::now() + retry_delay_;
  last_error_ = reason;
  // A broken server breaks every pooled connection too.
  for (redisContext* context : idle_) redisFree(context);
  idle_.clear();
  return Status::Unavailable("Redis at " + url() + " failed: " + reason + "; retrying in " +
                             std::to_string(retry_delay_.count()) + " ms");
}

Result<redisContext*> RedisClient::Acquire() {
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now).count();
      return Status::Unavailable("Redis at " + url() + " is unreachable (" + last_error_ + "); next attempt in " +
                                 std::to_string(wait) + " ms");
    }
    while (!idle_.empty()) {
      redisContext* context = idle_.back();
      idle_.pop_back();
      if (!IsClosed(*context)) return context;
      redisFree(context);
    }
  }
  redisContext* context = redisConnectWithTimeout(options_.host.c_str(), options_.port, ToTimeval(options_.connect_timeout));
  if (context == nullptr) return Failed("cannot allocate a connection");
  if (context->err != 0) {
    const std::string error = context->errstr;
    redisFree(context);
    return Failed("connect: " + error);
  }
  redisSetTimeout(context, ToTimeval(options_.command_timeout));
  if (options_.database != 0) {
    auto* reply = static_cast<redisReply*>(redisCommand(context, "SELECT %d", options_.database));
    const bool selected = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
    const std::string error = reply == nullptr ? std::string(context->errstr) : std::string(reply->str, reply->len);
    if (reply != nullptr) freeReplyObject(reply);
    if (!selected) {
      redisFree(context);
      return Failed("SELECT " + std::to_string(options_.database) + ": " + error);
    }
  }
  bool recovered = false;
  {
    std::lock_guard lock(mutex_);
    recovered = retry_delay_.count() != 0;
    retry_delay_ = std::chrono::milliseconds(0);
  }
  if (recovered) spdlog::info("Redis at {} reachable again", url());
  return context;
}

void RedisClient::Release(redisContext* context, bool healthy) {
  if (healthy) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < options_.max_idle_connections) {
      idle_.push_back(context);
      return;
    }
  }
  redisFree(context);
}

Result<std::vector<RedisReply>> RedisClient::Run(const std::vector<std::vector<std::string>>& commands,
                                                 std::chrono::milliseconds timeout) {
  Result<redisContext*> acquired = Acquire();
  if (!acquired.ok()) return acquired.status();
  redisContext* context = *acquired;
  const bool custom_timeout = timeout != options_.command_timeout;
  if (custom_timeout) redisSetTimeout(context, ToTimeval(timeout));

  for (const std::vector<std::string>& arguments : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& argument : arguments) {
      argv.push_back(argument.data());
      lengths.push_back(argument.size());
    }
    if (redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK) {
      const std::string error = context->errstr;
      Release(context, false);
      return Failed("sending " + arguments.front() + ": " + error);
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (const std::vector<std::string>& arguments : commands) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      const std::string error = context->errstr;
      Release(context, false);
      return Failed(arguments.front() + ": " + error);
    }
    replies.push_back(CopyReply(*static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  if (custom_timeout) redisSetTimeout(context, ToTimeval(options_.command_timeout));
  Release(context, true);
  return replies;
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string>& arguments) {
  Result<std::vector<RedisReply>> replies = Run({arguments}, options_.command_timeout);
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return std::vector<RedisReply>();
  return Run(commands, options_.command_timeout);
}

Result<RedisReply> RedisClient::BlockingCommand(const std::vector<std::string>& arguments,
                                                std::chrono::milliseconds timeout) {
  Result<std::vector<RedisReply>> replies = Run({arguments}, timeout + options_.command_timeout);
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

Result<bool> CreateConsumerGroup(RedisClient& client, const std::string& stream, const std::string& group,
                                 const std::string& start) {
  Result<RedisReply> created = client.Command({"XGROUP", "CREATE", stream, group, start, "MKSTREAM"});
  if (!created.ok()) return created.status();
  const bool existed = created->is_error() && created->text.rfind("BUSYGROUP", 0) == 0;
  if (created->is_error() && !existed) {
    return Status::Internal("creating consumer group '" + group + "' of " + stream + " failed: " + created->text);
  }
  return existed;
}

}  // namespace tessera
