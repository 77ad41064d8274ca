#include "engine/event_count_stream.h"

#include <charconv>
#include <chrono>

#include <spdlog/spdlog.h>

#include "engine/catalog_stream.h"
#include "engine/follow_loop.h"

namespace tessera {
namespace {

constexpr std::string_view kCountPrefix = "event_counts/";
constexpr const char* kPositionKey = "event_counts_position";
// Entries read per XREADGROUP call, so one saved batch covers at most this many.
constexpr const char* kReadCount = "1000";

std::string CountsText(const SignalCounts& counts) {
  return std::to_string(counts.views) + " " + std::to_string(counts.clicks) + " " + std::to_string(counts.carts) +
         " " + std::to_string(counts.purchases);
}

std::optional<SignalCounts> ParseCounts(std::string_view text) {
  SignalCounts counts;
  const char* at = text.data();
  const char* end = text.data() + text.size();
  for (uint64_t* field : {&counts.views, &counts.clicks, &counts.carts, &counts.purchases}) {
    if (field != &counts.views) {
      if (at == end || *at != ' ') return std::nullopt;
      ++at;
    }
    const std::from_chars_result read = std::from_chars(at, end, *field);
    if (read.ec != std::errc()) return std::nullopt;
    at = read.ptr;
  }
  if (at != end) return std::nullopt;
  return counts;
}

}  // namespace

EventCountStream::EventCountStream(EventCountStreamOptions options, KvStore* kv, ProductSignals* signals,
                                   EventCountApply apply, std::unique_ptr<RedisClient> client)
    : options_(std::move(options)), kv_(kv), signals_(signals), apply_(std::move(apply)), client_(std::move(client)) {}

Result<std::unique_ptr<EventCountStream>> EventCountStream::Open(EventCountStreamOptions options, KvStore* kv,
                                                                 ProductSignals* signals, EventCountApply apply) {
  if (options.replica_name.empty()) {
    return Status::InvalidArgument("shared event counts need a replica name, unique among the replicas: set --replica-name");
  }
  Result<RedisOptions> redis = ParseRedisUrl(options.url);
  if (!redis.ok()) return redis.status();
  std::unique_ptr<EventCountStream> stream(
      new EventCountStream(std::move(options), kv, signals, std::move(apply), std::make_unique<RedisClient>(*redis)));
  TESSERA_RETURN_IF_ERROR(stream->LoadSaved());
  return stream;
}

EventCountStream::~EventCountStream() {
  stopping_.store(true);
  if (follower_.joinable()) follower_.join();
}

Status EventCountStream::LoadSaved() {
  Result<std::optional<std::string>> position = kv_->Get(Family::kMeta, kPositionKey);
  if (!position.ok()) return position.status();
  if (!*position) return Status::Ok();
  size_t products = 0;
  Status corrupt;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kMeta, kCountPrefix, [&](std::string_view key, std::string_view value) {
    const std::optional<SignalCounts> counts = ParseCounts(value);
    if (!counts) {
      corrupt = Status::Corruption("saved event counts '" + std::string(key) + "' = '" + std::string(value) +
                                   "' are not four decimal counts");
      return false;
    }
    signals_->Set(std::string(key.substr(kCountPrefix.size())), *counts);
    ++products;
    return true;
  }));
  TESSERA_RETURN_IF_ERROR(corrupt);
  saved_position_ = applied_position_ = **position;
  spdlog::info("event counts: {} products loaded from the data dir, at entry {} of {}", products, saved_position_,
               options_.stream_key);
  return Status::Ok();
}

std::string EventCountStream::position() const {
  std::lock_guard lock(mutex_);
  return saved_position_;
}

Status EventCountStream::EnsureGroupLocked() {
  if (group_ready_) return Status::Ok();
  // The group starts after the last entry applied here, whether it is new, or existed and
  // delivered entries that this replica lost in a crash before saving them.
  const std::string start = applied_position_ == "0-0" ? "0" : applied_position_;
  Result<bool> created = CreateConsumerGroup(*client_, options_.stream_key, options_.replica_name, start);
  if (!created.ok()) return created.status();
  const bool existed = *created;
  if (existed) {
    Result<RedisReply> moved = client_->Command({"XGROUP", "SETID", options_.stream_key, options_.replica_name, start});
    if (!moved.ok()) return moved.status();
    if (moved->is_error()) {
      return Status::Internal("moving consumer group '" + options_.replica_name + "' of " + options_.stream_key +
                              " to entry " + start + " failed: " + moved->text);
    }
  }
  spdlog::info("event counts: consumer group {} of {} {} at entry {}", options_.replica_name, options_.stream_key,
               existed ? "moved" : "created", start);
  WarnIfTrimmedLocked();
  group_ready_ = true;
  return Status::Ok();
}

void EventCountStream::WarnIfTrimmedLocked() {
  // XADD MAXLEN trims the oldest entries. When some were removed (entries-added above length)
  // and the first entry left comes after the applied position, the entries between them may be
  // ones this replica never counted. Redis 7.0 leaves max-deleted-entry-id at 0-0 on trimming,
  // so it cannot tell more precisely.
  Result<RedisReply> info = client_->Command({"XINFO", "STREAM", options_.stream_key});
  if (!info.ok() || info->type != RedisReply::Type::kArray) return;
  int64_t length = 0, added = 0;
  std::string first;
  const std::vector<RedisReply>& fields = info->elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const RedisReply& value = fields[i + 1];
    if (fields[i].text == "length") length = value.integer;
    if (fields[i].text == "entries-added") added = value.integer;
    if (fields[i].text == "first-entry" && !value.elements.empty()) first = value.elements[0].text;
  }
  if (added > length && !first.empty() && CompareStreamIds(first, applied_position_) > 0) {
    spdlog::warn("event counts: {} entries of {} were trimmed before this replica read them (it was at entry {}, the "
                 "first left is {}), so its popularity and click-through counts may lack some; start it from a copy "
                 "of an up-to-date replica's data dir to count them all",
                 added - length, options_.stream_key, applied_position_, first);
  }
}

Status EventCountStream::ReadBatchLocked(std::chrono::milliseconds block, size_t* read) {
  *read = 0;
  TESSERA_RETURN_IF_ERROR(EnsureGroupLocked());
  std::vector<std::string> command = {"XREADGROUP", "GROUP", options_.replica_name, options_.replica_name,
                                      "COUNT",      kReadCount};
  if (block.count() > 0) command.insert(command.end(), {"BLOCK", std::to_string(block.count())});
  command.insert(command.end(), {"STREAMS", options_.stream_key, ">"});
  Result<RedisReply> reply = block.count() > 0 ? client_->BlockingCommand(command, block) : client_->Command(command);
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) {
    // The stream or the group was deleted (or Redis lost its data): create the group again.
    if (reply->text.rfind("NOGROUP", 0) == 0) group_ready_ = false;
    return Status::Unavailable("reading the shared event stream " + options_.stream_key + " failed: " + reply->text);
  }

  // [[stream name, [[id, [field, value, ...]], ...]]], or nil when no entry arrived.
  std::string last = applied_position_;
  if (!reply->elements.empty() && reply->elements[0].elements.size() == 2) {
    for (const RedisReply& entry : reply->elements[0].elements[1].elements) {
      if (entry.elements.size() != 2) continue;
      const std::string& id = entry.elements[0].text;
      ++*read;
      unacknowledged_.push_back(id);
      // Entries up to the applied position were counted before the group was moved back.
      if (CompareStreamIds(id, applied_position_) <= 0) continue;
      last = id;
      Result<std::vector<SharedEventDelta>> deltas = ParseSharedEventEntry(entry.elements[1]);
      if (!deltas.ok()) {
        // Logged and passed over, so that one malformed entry cannot stop the counts.
        spdlog::error("event counts: entry {} of {} skipped: {}", id, options_.stream_key, deltas.status().ToString());
        continue;
      }
      for (const SharedEventDelta& delta : *deltas) {
        if (delta.product_id.empty()) continue;
        apply_(delta);
        unsaved_products_.insert(delta.product_id);
      }
    }
  }
  applied_position_ = last;
  if (unacknowledged_.empty()) return Status::Ok();
  return SaveAndAcknowledgeLocked(last);
}

Status EventCountStream::SaveAndAcknowledgeLocked(const std::string& position) {
  if (position != saved_position_ || !unsaved_products_.empty()) {
    WriteBatch batch;
    for (const std::string& product_id : unsaved_products_) {
      batch.Put(Family::kMeta, std::string(kCountPrefix) + product_id, CountsText(signals_->Counts(product_id)));
    }
    batch.Put(Family::kMeta, kPositionKey, position);
    // Synced, because the entries are acknowledged next and never delivered again.
    TESSERA_RETURN_IF_ERROR(kv_->Write(&batch, /*sync=*/true));
    unsaved_products_.clear();
    saved_position_ = position;
  }

  std::vector<std::string> acknowledge = {"XACK", options_.stream_key, options_.replica_name};
  acknowledge.insert(acknowledge.end(), unacknowledged_.begin(), unacknowledged_.end());
  Result<RedisReply> acknowledged = client_->Command(acknowledge);
  if (!acknowledged.ok()) return acknowledged.status();
  if (acknowledged->is_error()) {
    return Status::Unavailable("acknowledging entries of " + options_.stream_key + " failed: " + acknowledged->text);
  }
  unacknowledged_.clear();
  return Status::Ok();
}

Status EventCountStream::CatchUp() {
  std::lock_guard lock(mutex_);
  const auto start = std::chrono::steady_clock::now();
  size_t total = 0;
  for (size_t read = 1; read > 0; total += read) {
    TESSERA_RETURN_IF_ERROR(ReadBatchLocked(std::chrono::milliseconds(0), &read));
  }
  spdlog::info("event counts: {} entries of {} applied in {:.0f} ms, at entry {}", total, options_.stream_key,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
               saved_position_);
  return Status::Ok();
}

void EventCountStream::StartFollowing() {
  follower_ = std::thread([this] {
    FollowUntilStopped(
        stopping_, "event counts: reading " + options_.stream_key,
        [this] {
          // NOTE: the lock is held while XREADGROUP blocks (up to 500 ms), so position() may wait
          // that long.
          std::lock_guard lock(mutex_);
          size_t read = 0;
          return ReadBatchLocked(std::chrono::milliseconds(500), &read);
        },
        [this] { return position(); });
  });
}

}  // namespace tessera
