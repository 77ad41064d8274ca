#include "engine/catalog_stream.h"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/text.h"
#include "engine/follow_loop.h"

namespace tessera {
namespace {

// Entries read per XREADGROUP call.
constexpr const char* kReadCount = "100";

// The field `name` of a stream entry's flat field list, or nullptr.
const std::string* EntryField(const RedisReply& fields, std::string_view name) {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].text == name) return &fields.elements[i + 1].text;
  }
  return nullptr;
}

// The entries of an XREADGROUP or XREAD reply for one stream: [[key, [[id, fields], ...]]].
const std::vector<RedisReply>* EntriesOf(const RedisReply& reply) {
  if (reply.elements.empty() || reply.elements[0].elements.size() != 2) return nullptr;
  return &reply.elements[0].elements[1].elements;
}

Result<CatalogRecord> ParseEntry(const std::string& id, const RedisReply& fields) {
  const std::string* op = EntryField(fields, "op");
  if (op == nullptr) return Status::Corruption("catalogue stream entry " + id + " has no field 'op'");
  CatalogRecord record;
  if (*op == "delete") {
    const std::string* product_id = EntryField(fields, "id");
    if (product_id == nullptr) return Status::Corruption("catalogue stream entry " + id + " deletes no 'id'");
    record.op = CatalogRecord::Op::kDelete;
    record.product.id = *product_id;
    return record;
  }
  const std::string* text = EntryField(fields, "product");
  if (*op != "upsert" || text == nullptr) {
    return Status::Corruption("catalogue stream entry " + id + " is neither an upsert with a product nor a delete");
  }
  const nlohmann::json object = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  // Image paths were made absolute by the replica that received the product.
  Result<Product> product = ProductFromJson(object, "");
  if (!product.ok()) return Status::Corruption("catalogue stream entry " + id + ": " + product.status().message());
  record.product = std::move(product).value();
  return record;
}

}  // namespace

int CompareStreamIds(const std::string& a, const std::string& b) {
  auto parse = [](const std::string& id) {
    uint64_t ms = 0, sequence = 0;
    const size_t dash = id.find('-');
    std::from_chars(id.data(), id.data() + std::min(dash, id.size()), ms);
    if (dash != std::string::npos) std::from_chars(id.data() + dash + 1, id.data() + id.size(), sequence);
    return std::pair{ms, sequence};
  };
  const auto pa = parse(a), pb = parse(b);
  return pa < pb ? -1 : (pa == pb ? 0 : 1);
}

CatalogStream::CatalogStream(CatalogStreamOptions options, CatalogApply apply, std::unique_ptr<RedisClient> client)
    : options_(std::move(options)), apply_(std::move(apply)), client_(std::move(client)) {}

Result<std::unique_ptr<CatalogStream>> CatalogStream::Open(CatalogStreamOptions options, CatalogApply apply) {
  if (options.replica_name.empty()) {
    return Status::InvalidArgument("a shared catalogue needs a replica name, unique among the replicas: set --replica-name");
  }
  Result<RedisOptions> redis = ParseRedisUrl(options.url);
  if (!redis.ok()) return redis.status();
  return std::unique_ptr<CatalogStream>(
      new CatalogStream(std::move(options), std::move(apply), std::make_unique<RedisClient>(*redis)));
}

CatalogStream::~CatalogStream() {
  stopping_.store(true);
  if (follower_.joinable()) follower_.join();
}

std::string CatalogStream::position() const {
  std::lock_guard lock(mutex_);
  return applied_;
}

Status CatalogStream::EnsureGroupLocked() {
  if (group_ready_) return Status::Ok();
  // A replica started from a copied data dir begins after the last entry that data dir applied.
  std::string start = "0";
  if (std::optional<std::string> saved = ReadFileBytes(options_.position_path)) {
    const std::string trimmed(TrimAscii(*saved));
    if (!trimmed.empty()) start = trimmed;
  }
  Result<bool> created = CreateConsumerGroup(*client_, options_.stream_key, options_.replica_name, start);
  if (!created.ok()) return created.status();
  const bool existed = *created;
  if (!existed) {
    spdlog::info("catalogue stream {}: consumer group {} created at entry {}", options_.stream_key,
                 options_.replica_name, start);
  }

  // The group's last delivered entry; entries delivered but not acknowledged are read again.
  Result<RedisReply> groups = client_->Command({"XINFO", "GROUPS", options_.stream_key});
  if (!groups.ok()) return groups.status();
  for (const RedisReply& group : groups->elements) {
    const std::string* name = EntryField(group, "name");
    const std::string* last = EntryField(group, "last-delivered-id");
    if (name != nullptr && last != nullptr && *name == options_.replica_name) applied_ = *last;
  }
  group_ready_ = true;
  has_pending_ = true;
  return Status::Ok();
}

Status CatalogStream::DrainLocked(const std::function<void(const std::string&, const Status&)>& on_applied) {
  TESSERA_RETURN_IF_ERROR(EnsureGroupLocked());
  for (;;) {
    // Entries delivered before but not acknowledged come first ("0"), then new ones (">").
    const bool pending = has_pending_;
    Result<RedisReply> reply = client_->Command({"XREADGROUP", "GROUP", options_.replica_name, options_.replica_name,
                                                 "COUNT", kReadCount, "STREAMS", options_.stream_key, pending ? "0" : ">"});
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) {
      // The stream or the group was deleted (or Redis lost its data): create the group again.
      if (reply->text.rfind("NOGROUP", 0) == 0) group_ready_ = false;
      return Status::Unavailable("reading catalogue stream " + options_.stream_key + " failed: " + reply->text);
    }
    const std::vector<RedisReply>* entries = EntriesOf(*reply);
    if (entries == nullptr || entries->empty()) {
      if (!pending) return Status::Ok();
      has_pending_ = false;
      continue;
    }

    std::vector<CatalogRecord> records;
    std::vector<std::string> ids;
    for (const RedisReply& entry : *entries) {
      if (entry.elements.size() != 2) continue;
      const std::string& id = entry.elements[0].text;
      ids.push_back(id);
      Result<CatalogRecord> record = ParseEntry(id, entry.elements[1]);
      if (!record.ok()) {
        // A malformed entry would stop every replica forever, so it is logged and passed over.
        spdlog::error("catalogue stream {}: entry {} skipped: {}", options_.stream_key, id, record.status().ToString());
        continue;
      }
      records.push_back(std::move(record).value());
    }
    if (ids.empty()) continue;
    const Status applied = records.empty() ? Status::Ok() : apply_(std::move(records));
    if (!applied.ok()) {
      has_pending_ = true;
      if (on_applied) {
        for (const std::string& id : ids) on_applied(id, applied);
      }
      return applied;
    }
    std::vector<std::string> acknowledge = {"XACK", options_.stream_key, options_.replica_name};
    acknowledge.insert(acknowledge.end(), ids.begin(), ids.end());
    Result<RedisReply> acknowledged = client_->Command(acknowledge);
    if (!acknowledged.ok()) {
      // Applied but not acknowledged: applying them again later does no harm.
      has_pending_ = true;
      return acknowledged.status();
    }
    for (const std::string& id : ids) {
      if (CompareStreamIds(id, applied_) > 0) applied_ = id;
      if (on_applied) on_applied(id, applied);
    }
    SavePosition(applied_);
  }
}

void CatalogStream::SavePosition(const std::string& id) const {
  if (options_.position_path.empty()) return;
  const std::string temporary = options_.position_path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << id << "\n";
    if (!out) {
      spdlog::warn("catalogue stream position {} not saved to {}", id, temporary);
      return;
    }
  }
  if (std::rename(temporary.c_str(), options_.position_path.c_str()) != 0) {
    spdlog::warn("catalogue stream position {} not saved to {}", id, options_.position_path);
  }
}

Status CatalogStream::CatchUp() {
  std::lock_guard lock(mutex_);
  return DrainLocked(nullptr);
}

Status CatalogStream::Publish(const std::vector<CatalogRecord>& records) {
  if (records.empty()) return Status::Ok();
  std::vector<std::vector<std::string>> commands;
  for (const CatalogRecord& record : records) {
    if (record.op == CatalogRecord::Op::kDelete) {
      commands.push_back({"XADD", options_.stream_key, "*", "origin", options_.replica_name, "op", "delete", "id",
                          record.product.id});
    } else {
      commands.push_back({"XADD", options_.stream_key, "*", "origin", options_.replica_name, "op", "upsert", "product",
                          ProductToJson(record.product).dump()});
    }
  }
  Result<std::vector<RedisReply>> added = client_->Pipeline(commands);
  if (!added.ok()) {
    return Status::Unavailable("the catalogue change was not published to " + options_.stream_key + ": " +
                               added.status().message());
  }
  std::set<std::string> ours;
  for (const RedisReply& reply : *added) {
    if (reply.is_error()) {
      return Status::Unavailable("the catalogue change was not published to " + options_.stream_key + ": " + reply.text);
    }
    ours.insert(reply.text);
  }
  const std::string last = added->back().text;

  // Apply the stream up to the last published entry, so the change is searchable here on return.
  std::lock_guard lock(mutex_);
  Status first_error;
  while (CompareStreamIds(applied_, last) < 0) {
    const std::string before = applied_;
    Status drained = DrainLocked([&](const std::string& id, const Status& status) {
      if (ours.count(id) > 0 && !status.ok() && first_error.ok()) first_error = status;
    });
    if (!first_error.ok()) return first_error;
    if (!drained.ok()) {
      return Status(drained.code(), "the catalogue change was published, but not yet applied on this replica: " +
                                        drained.message());
    }
    if (applied_ == before) {
      return Status::Internal("catalogue stream " + options_.stream_key + " ended before the published entry " + last);
    }
  }
  return first_error;
}

void CatalogStream::StartFollowing() {
  follower_ = std::thread([this] {
    FollowUntilStopped(
        stopping_, "catalogue stream " + options_.stream_key + ": applying entries",
        [this] {
          std::string from;
          bool must_drain = false;
          {
            std::lock_guard lock(mutex_);
            from = applied_;
            must_drain = has_pending_ || !group_ready_;
          }
          // Waits for an entry after the last applied one; draining happens under the lock.
          Result<RedisReply> waited = client_->BlockingCommand(
              {"XREAD", "COUNT", "1", "BLOCK", "500", "STREAMS", options_.stream_key, from},
              std::chrono::milliseconds(500));
          if (!waited.ok()) return waited.status();
          if (!must_drain && (EntriesOf(*waited) == nullptr || EntriesOf(*waited)->empty())) return Status::Ok();
          std::lock_guard lock(mutex_);
          return DrainLocked(nullptr);
        },
        [this] { return position(); });
  });
}

}  // namespace tessera
