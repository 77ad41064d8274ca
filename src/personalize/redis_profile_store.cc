#include "personalize/redis_profile_store.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace tessera {
namespace {

// Helpers of every script. token_of returns the version token of a stored profile, or "" when
// there is none. A hash keeps it in the field "token", a string (the layout before hashes)
// before its first newline.
// write_profile writes the profile block of ARGV that starts at `at` and returns the index after
// it. The block is a mode, the new token, a field count m and m field-value pairs. Mode "fields"
// sets the given fields and the token, "replace" deletes the hash first, "string" sets the one
// value as a string, and "none" writes nothing.
constexpr const char* kProfileLua = R"lua(
local function token_of(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'hash' then return redis.call('HGET', key, 'token') or '' end
  if kind ~= 'string' then return '' end
  local record = redis.call('GET', key)
  local newline = string.find(record, '\n', 1, true)
  if not newline then return '' end
  return string.sub(record, 1, newline - 1)
end
local function write_profile(key, at)
  local mode, token, m = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local after = at + 3 + 2 * m
  if mode == 'none' then return after end
  if mode == 'string' then
    redis.call('SET', key, ARGV[at + 4])
    return after
  end
  if mode == 'replace' then redis.call('DEL', key) end
  -- HSET in chunks, because unpack() takes at most a few thousand values.
  local command = {'HSET', key, 'token', token}
  for i = 0, m - 1 do
    command[#command + 1] = ARGV[at + 3 + 2 * i]
    command[#command + 1] = ARGV[at + 4 + 2 * i]
    if #command >= 2000 then
      redis.call(unpack(command))
      command = {'HSET', key, 'token', token}
    end
  end
  redis.call(unpack(command))
  return after
end
)lua";

// KEYS: shared stream, retention set, then per user: profile, events, event ids, opt-out flag.
// ARGV: origin, stream length, deltas JSON ("" for none) and user count. Then per user: expected
// token, retention member, oldest event time, event count n, the profile block (write_profile),
// and per event: event JSON, product id, type, event id ("" for none) and event time.
// Returns 1 when written, 0 when a check failed and nothing was written.
constexpr const char* kRecordLua = R"lua(
local users = tonumber(ARGV[4])
local a = 5
for u = 0, users - 1 do
  local k = 2 + u * 4
  local n = tonumber(ARGV[a + 3])
  local first_event = a + 7 + 2 * tonumber(ARGV[a + 6])
  if token_of(KEYS[k + 1]) ~= ARGV[a] then return 0 end
  if redis.call('EXISTS', KEYS[k + 4]) == 1 then return 0 end
  for e = 0, n - 1 do
    local id = ARGV[first_event + e * 5 + 3]
    if id ~= '' and redis.call('ZSCORE', KEYS[k + 3], id) then return 0 end
  end
  a = first_event + n * 5
end
a = 5
for u = 0, users - 1 do
  local k = 2 + u * 4
  local n = tonumber(ARGV[a + 3])
  local first_event = write_profile(KEYS[k + 1], a + 4)
  for e = 0, n - 1 do
    local b = first_event + e * 5
    redis.call('XADD', KEYS[k + 2], '*', 'e', ARGV[b], 'p', ARGV[b + 1], 't', ARGV[b + 2])
    if ARGV[b + 3] ~= '' then redis.call('ZADD', KEYS[k + 3], ARGV[b + 4], ARGV[b + 3]) end
  end
  redis.call('ZADD', KEYS[2], 'LT', ARGV[a + 2], ARGV[a + 1])
  a = first_event + n * 5
end
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'origin', ARGV[1], 'deltas', ARGV[3])
end
return 1
)lua";

// KEYS: shared stream, retention set, profile, events, event ids, opt-out flag.
// ARGV: origin, stream length, retention member, "1" to set the opt-out flag first.
// Returns the number of events erased.
constexpr const char* kEraseLua = R"lua(
if ARGV[4] == '1' then redis.call('SET', KEYS[6], '1') end
local entries = redis.call('XRANGE', KEYS[4], '-', '+')
local deltas = {}
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local product, kind = '', ''
  for j = 1, #fields, 2 do
    if fields[j] == 'p' then product = fields[j + 1] elseif fields[j] == 't' then kind = fields[j + 1] end
  end
  deltas[#deltas + 1] = {product, kind, -1}
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[2], ARGV[3])
if #deltas > 0 then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'origin', ARGV[1], 'deltas', cjson.encode(deltas))
end
return #entries
)lua";

// KEYS: retention set, then the source's and the target's profile, events, event ids and
// opt-out flag. ARGV: source token, target token, source member, target member, target's
// oldest event time ("" for none), moved count n, the target's profile block (write_profile),
// and per moved event: event JSON, product id, type, event id, event time.
// Returns the number moved, or -1 when a check failed and nothing was written.
constexpr const char* kMergeLua = R"lua(
if token_of(KEYS[2]) ~= ARGV[1] then return -1 end
if token_of(KEYS[6]) ~= ARGV[2] then return -1 end
if redis.call('EXISTS', KEYS[5]) == 1 or redis.call('EXISTS', KEYS[9]) == 1 then return -1 end
local n = tonumber(ARGV[6])
local first_event = write_profile(KEYS[6], 7)
for e = 0, n - 1 do
  local b = first_event + e * 5
  redis.call('XADD', KEYS[7], '*', 'e', ARGV[b], 'p', ARGV[b + 1], 't', ARGV[b + 2])
  if ARGV[b + 3] ~= '' then redis.call('ZADD', KEYS[8], ARGV[b + 4], ARGV[b + 3]) end
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[1], ARGV[3])
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[1], 'LT', ARGV[5], ARGV[4]) end
return n
)lua";

// KEYS: shared stream, retention set, profile, events, event ids.
// ARGV: origin, stream length, retention member, expected token, new oldest event time ("" when
// no event remains), cut-off, deltas JSON, expired count n, the expired entries' stream ids,
// then the new profile block (write_profile). Returns 1 when written, 0 when the token changed.
constexpr const char* kSweepLua = R"lua(
if token_of(KEYS[3]) ~= ARGV[4] then return 0 end
local n = tonumber(ARGV[8])
if ARGV[5] == '' then
  redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
  redis.call('ZREM', KEYS[2], ARGV[3])
else
  for i = 1, n do redis.call('XDEL', KEYS[4], ARGV[8 + i]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[6])
  write_profile(KEYS[3], 9 + n)
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3])
end
if ARGV[7] ~= '' then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'origin', ARGV[1], 'deltas', ARGV[7])
end
return 1
)lua";

// Error replies that mean "not now" rather than a bug: loading, busy with a script, a failed
// disk write (MISCONF), out of memory, a read-only replica, a failover in progress.
bool IsTransientError(const std::string& message) {
  for (const char* prefix : {"LOADING", "BUSY", "MISCONF", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", "NOREPLICAS"}) {
    if (message.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::string RandomHex(size_t bytes) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < bytes; ++i) {
    const auto byte = static_cast<unsigned>(generator() & 0xff);
    text += kDigits[byte >> 4];
    text += kDigits[byte & 0xf];
  }
  return text;
}

// Waits before attempt `attempt` (0-based) of an optimistic write: nothing before the first,
// then a random time up to 0.1 ms doubled per attempt and capped at 10 ms. The jitter keeps
// writers that conflicted once from meeting again at the next attempt.
void BackOff(int attempt) {
  if (attempt == 0) return;
  thread_local std::mt19937_64 generator{std::random_device{}()};
  const int64_t max_us = std::min<int64_t>(10000, int64_t{100} << std::min(attempt, 10));
  std::this_thread::sleep_for(std::chrono::microseconds(
      std::uniform_int_distribution<int64_t>(0, max_us)(generator)));
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (EventType type : {EventType::kSearch, EventType::kImpression, EventType::kView, EventType::kClick,
                         EventType::kAddToCart, EventType::kPurchase}) {
    if (name == EventTypeName(type)) return type;
  }
  return std::nullopt;
}

// A shopper's stored profile, as read before a write.
struct ProfileRecord {
  std::string token;  // "" when no profile is stored
  std::optional<UserProfile> profile;
  // The stored fields (UserProfile::ToFields), without the token; empty for a string profile,
  // so that the next write replaces it with a hash.
  std::map<std::string, std::string> fields;
};

// Parses a string profile, "<token>\n<profile JSON>", the layout before hashes.
Result<ProfileRecord> ParseStringProfile(const RedisReply& reply, const std::string& key) {
  ProfileRecord record;
  if (reply.is_nil()) return record;
  const size_t newline = reply.text.find('\n');
  if (reply.type != RedisReply::Type::kString || newline == std::string::npos) {
    return Status::Corruption("profile '" + key + "' is not a version token and a profile");
  }
  record.token = reply.text.substr(0, newline);
  nlohmann::json object = nlohmann::json::parse(reply.text.substr(newline + 1), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return Status::Corruption("profile '" + key + "' is not valid JSON");
  Result<UserProfile> profile = UserProfile::FromJson(object);
  if (!profile.ok()) return Status::Corruption("profile '" + key + "': " + profile.status().message());
  record.profile = std::move(profile).value();
  return record;
}

// Parses the reply of HGETALL on a profile hash: an empty array when none is stored.
Result<ProfileRecord> ParseHashProfile(const RedisReply& reply, const std::string& key) {
  ProfileRecord record;
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() % 2 != 0) {
    return Status::Corruption("profile '" + key + "' is not a hash of field-value pairs");
  }
  if (reply.elements.empty()) return record;
  for (size_t i = 0; i < reply.elements.size(); i += 2) {
    if (reply.elements[i].text == "token") {
      record.token = reply.elements[i + 1].text;
    } else {
      record.fields.emplace(reply.elements[i].text, reply.elements[i + 1].text);
    }
  }
  if (record.token.empty()) return Status::Corruption("profile '" + key + "' has no version token");
  Result<UserProfile> profile = UserProfile::FromFields(record.fields);
  if (!profile.ok()) return Status::Corruption("profile '" + key + "': " + profile.status().message());
  record.profile = std::move(profile).value();
  return record;
}

// True for the reply of HGETALL on a key that is a string, a profile of the layout before hashes.
bool IsWrongType(const RedisReply& reply) { return reply.is_error() && reply.text.rfind("WRONGTYPE", 0) == 0; }

// Parses the HGETALL reply of a profile key. A string profile (the layout before hashes) makes
// HGETALL fail with WRONGTYPE; it is then read with `read_string`, which runs GET.
Result<ProfileRecord> ParseProfileReply(const RedisReply& reply, const std::string& key,
                                        const std::function<Result<RedisReply>()>& read_string) {
  if (!IsWrongType(reply)) return ParseHashProfile(reply, key);
  Result<RedisReply> text = read_string();
  if (!text.ok()) return text.status();
  return ParseStringProfile(*text, key);
}

// Appends a profile block of the scripts (write_profile): mode, new token, field count and the
// field-value pairs. A hash gets only the fields whose text differs from `stored`, unless every
// field differs or one was removed: then the hash is replaced. That is the case for a new
// profile, a recomputed one (pass an empty `stored`), a string profile of the old layout, and a
// renormalized scale, which rewrites every weight. `profile` null writes nothing.
void AddProfileArguments(const UserProfile* profile, const ProfileRecord& stored, bool string_layout,
                         std::vector<std::string>* arguments) {
  const std::string token = RandomHex(8);
  if (profile == nullptr) {
    arguments->insert(arguments->end(), {"none", token, "0"});
    return;
  }
  if (string_layout) {
    arguments->insert(arguments->end(), {"string", token, "1", "record", token + "\n" + profile->ToJson().dump()});
    return;
  }
  const std::map<std::string, std::string> fields = profile->ToFields();
  std::vector<const std::pair<const std::string, std::string>*> changed;
  bool removed = false;
  for (const auto& [field, value] : stored.fields) removed = removed || fields.count(field) == 0;
  for (const auto& entry : fields) {
    auto old = stored.fields.find(entry.first);
    if (old == stored.fields.end() || old->second != entry.second) changed.push_back(&entry);
  }
  // "format" never changes within one format, so it is left out of "every field differs".
  const bool replace = removed || changed.size() + 1 >= fields.size();
  if (replace) {
    changed.clear();
    for (const auto& entry : fields) changed.push_back(&entry);
  }
  arguments->insert(arguments->end(), {replace ? "replace" : "fields", token, std::to_string(changed.size())});
  for (const auto* entry : changed) arguments->insert(arguments->end(), {entry->first, entry->second});
}

// The field `name` of a stream entry's flat field list, or nullptr.
const std::string* EntryField(const RedisReply& fields, std::string_view name) {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].text == name) return &fields.elements[i + 1].text;
  }
  return nullptr;
}

// One stream entry of a shopper's events.
struct StoredEvent {
  std::string stream_id;
  Event event;
};

// True when the stream entry id `a` ("<milliseconds>-<sequence>") comes before `b`.
bool StreamIdBefore(const std::string& a, const std::string& b) {
  auto parse = [](const std::string& id) {
    const size_t dash = id.find('-');
    const uint64_t ms = std::strtoull(id.c_str(), nullptr, 10);
    const uint64_t sequence = dash == std::string::npos ? 0 : std::strtoull(id.c_str() + dash + 1, nullptr, 10);
    return std::pair<uint64_t, uint64_t>(ms, sequence);
  };
  return parse(a) < parse(b);
}

Result<std::vector<StoredEvent>> ParseEventEntries(const RedisReply& reply, const std::string& key) {
  std::vector<StoredEvent> events;
  if (reply.type != RedisReply::Type::kArray) return events;
  for (const RedisReply& entry : reply.elements) {
    if (entry.elements.size() != 2) return Status::Corruption("stream '" + key + "' has a malformed entry");
    const std::string* json_text = EntryField(entry.elements[1], "e");
    if (json_text == nullptr) {
      return Status::Corruption("entry " + entry.elements[0].text + " of stream '" + key + "' has no event");
    }
    nlohmann::json object = nlohmann::json::parse(*json_text, nullptr, /*allow_exceptions=*/false);
    // Stored events were validated on the way in; parse them against the far future.
    Result<Event> event = EventFromJson(object, INT64_MAX - kMaxEventClockSkewMs);
    if (!event.ok()) {
      return Status::Corruption("entry " + entry.elements[0].text + " of stream '" + key +
                                "': " + event.status().message());
    }
    events.push_back({entry.elements[0].text, std::move(event).value()});
  }
  // Entries are in arrival order; events are returned oldest first.
  std::stable_sort(events.begin(), events.end(), [](const StoredEvent& a, const StoredEvent& b) {
    return a.event.timestamp_ms < b.event.timestamp_ms;
  });
  return events;
}

// The arguments of one event in the record and merge scripts.
void AddEventArguments(const Event& event, const std::string& stored_user, std::vector<std::string>* arguments) {
  Event stored = event;
  stored.user_id = stored_user;
  arguments->push_back(EventToJson(stored).dump());
  arguments->push_back(event.product_id);
  arguments->push_back(EventTypeName(event.type));
  arguments->push_back(event.event_id);
  arguments->push_back(std::to_string(event.timestamp_ms));
}

}  // namespace

struct RedisProfileStore::Script {
  std::string source;
  std::string sha;  // "" until loaded; guarded by mutex
  std::mutex mutex;
};

// A shopper's state as read before a write.
struct RedisProfileStore::UserState {
  ProfileRecord record;
  bool opted_out = false;
  std::vector<StoredEvent> events;  // only when read with events
};

RedisProfileStore::RedisProfileStore(std::unique_ptr<RedisClient> client, ProfileOptions profile_options,
                                     UserKeyer keyer, RedisProfileStoreOptions options)
    : client_(std::move(client)),
      profile_options_(profile_options),
      keyer_(std::move(keyer)),
      options_(std::move(options)),
      url_(client_->url()),
      origin_(RandomHex(8)) {
  auto make = [](const char* body) {
    auto script = std::make_unique<Script>();
    script->source = std::string(kProfileLua) + body;
    return script;
  };
  record_script_ = make(kRecordLua);
  erase_script_ = make(kEraseLua);
  merge_script_ = make(kMergeLua);
  sweep_script_ = make(kSweepLua);
}

RedisProfileStore::~RedisProfileStore() = default;

Result<std::unique_ptr<RedisProfileStore>> RedisProfileStore::Open(const std::string& url, ProfileOptions profile_options,
                                                                   UserKeyer keyer, RedisProfileStoreOptions options) {
  Result<RedisOptions> redis_options = ParseRedisUrl(url);
  if (!redis_options.ok()) return redis_options.status();
  auto store = std::make_unique<RedisProfileStore>(std::make_unique<RedisClient>(*redis_options), profile_options,
                                                   std::move(keyer), std::move(options));
  Result<RedisReply> fsync = store->client_->Command({"CONFIG", "GET", "appendfsync"});
  Result<RedisReply> append_only = store->client_->Command({"CONFIG", "GET", "appendonly"});
  if (!fsync.ok()) {
    spdlog::warn("profile store {} is unreachable at start, so searches are not personalized and events are "
                 "rejected until it is: {}", store->url_, fsync.status().ToString());
  } else if (fsync->elements.size() == 2 && append_only.ok() && append_only->elements.size() == 2 &&
             (fsync->elements[1].text != "always" || append_only->elements[1].text != "yes")) {
    spdlog::warn("profile store {} runs with appendonly {} and appendfsync {}: an acknowledged event can be lost "
                 "when Redis crashes; set appendonly yes and appendfsync always for durable events",
                 store->url_, append_only->elements[1].text, fsync->elements[1].text);
  }
  spdlog::info("profile store: Redis at {}", store->url_);
  return store;
}

std::string RedisProfileStore::UserPrefix(const std::string& user_key) const {
  // The key without UserKeyer's '#'.
  return options_.key_prefix + "u:{" + user_key.substr(1) + "}:";
}

std::vector<std::string> RedisProfileStore::UserKeys(const std::string& user_id) const {
  const std::string key = keyer_.Key(user_id);
  return {ProfileKey(key), EventsKey(key), EventIdsKey(key), OptOutKey(key)};
}

Status RedisProfileStore::StoreError(const Status& status) {
  failures_.fetch_add(1);
  return Status::ProfileStoreUnavailable("profile store " + url_ + ": " + status.message() +
                                         "; retry later (nothing of this request was stored)");
}

Status RedisProfileStore::ReplyError(const RedisReply& reply, const std::string& operation) {
  if (IsTransientError(reply.text)) return StoreError(Status::Unavailable(operation + ": " + reply.text));
  return Status::Internal("profile store " + url_ + ": " + operation + " failed: " + reply.text);
}

Result<RedisReply> RedisProfileStore::Call(const std::vector<std::string>& command) {
  Result<RedisReply> reply = client_->Command(command);
  if (!reply.ok()) return StoreError(reply.status());
  if (reply->is_error()) return ReplyError(*reply, command.front());
  return reply;
}

Result<RedisReply> RedisProfileStore::RunScript(Script& script, const std::vector<std::string>& keys,
                                                const std::vector<std::string>& arguments) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string sha;
    {
      std::lock_guard lock(script.mutex);
      sha = script.sha;
    }
    if (sha.empty()) {
      Result<RedisReply> loaded = client_->Command({"SCRIPT", "LOAD", script.source});
      if (!loaded.ok()) return StoreError(loaded.status());
      if (loaded->is_error()) return ReplyError(*loaded, "SCRIPT LOAD");
      sha = loaded->text;
      std::lock_guard lock(script.mutex);
      script.sha = sha;
    }
    std::vector<std::string> command = {"EVALSHA", sha, std::to_string(keys.size())};
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), arguments.begin(), arguments.end());
    Result<RedisReply> reply = client_->Command(command);
    if (!reply.ok()) return StoreError(reply.status());
    // A restarted Redis has lost its scripts: load it again.
    if (reply->is_error() && reply->text.rfind("NOSCRIPT", 0) == 0) {
      std::lock_guard lock(script.mutex);
      script.sha.clear();
      continue;
    }
    if (reply->is_error()) return ReplyError(*reply, "script");
    return reply;
  }
  return Status::Internal("profile store " + url_ + ": a script was unloaded twice in a row");
}

Result<RedisProfileStore::UserState> RedisProfileStore::ReadUser(const std::string& user_key, bool with_events) {
  const std::string profile_key = ProfileKey(user_key);
  std::vector<std::vector<std::string>> commands = {{"HGETALL", profile_key}, {"EXISTS", OptOutKey(user_key)}};
  if (with_events) commands.push_back({"XRANGE", EventsKey(user_key), "-", "+"});
  Result<std::vector<RedisReply>> replies = client_->Pipeline(commands);
  if (!replies.ok()) return StoreError(replies.status());
  for (size_t i = 0; i < replies->size(); ++i) {
    const RedisReply& reply = (*replies)[i];
    if (reply.is_error() && !(i == 0 && IsWrongType(reply))) return ReplyError(reply, "reading a shopper");
  }
  UserState state;
  Result<ProfileRecord> record =
      ParseProfileReply((*replies)[0], profile_key, [&] { return Call({"GET", profile_key}); });
  if (!record.ok()) return record.status();
  state.record = std::move(record).value();
  state.opted_out = (*replies)[1].integer == 1;
  if (with_events) {
    Result<std::vector<StoredEvent>> events = ParseEventEntries((*replies)[2], EventsKey(user_key));
    if (!events.ok()) return events.status();
    state.events = std::move(events).value();
  }
  return state;
}

UserProfile RedisProfileStore::Recompute(std::vector<Event> events, const ProductLookup& product_of) const {
  static const Product kNoProduct;
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.timestamp_ms < b.timestamp_ms; });
  UserProfile profile;
  for (const Event& event : events) {
    // NOTE: as in the embedded store, an event whose product has left the catalogue still
    // counts, but adds to no facet.
    const std::shared_ptr<const Product> product = event.product_id.empty() ? nullptr : product_of(event.product_id);
    profile.Apply(event, product ? *product : kNoProduct, profile_options_);
  }
  return profile;
}

Result<std::vector<EventOutcome>> RedisProfileStore::RecordBatch(const std::vector<EventRecord>& records) {
  if (records.empty()) return std::vector<EventOutcome>();
  for (int attempt = 0; attempt < options_.max_write_attempts; ++attempt) {
    BackOff(attempt);
    bool conflict = false;
    Result<std::vector<EventOutcome>> outcomes = TryRecordBatch(records, &conflict);
    if (!conflict) return outcomes;
  }
  return StoreError(Status::Unavailable("the shoppers of this batch were changed by other writers " +
                                        std::to_string(options_.max_write_attempts) + " times in a row"));
}

Result<std::vector<EventOutcome>> RedisProfileStore::TryRecordBatch(const std::vector<EventRecord>& records,
                                                                    bool* conflict) {
  // The batch's users, each once, in order of first appearance.
  std::vector<std::string> user_keys;
  std::unordered_map<std::string, size_t> user_index;
  std::vector<size_t> user_of(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string key = keyer_.Key(records[i].event.user_id);
    auto [it, added] = user_index.emplace(key, user_keys.size());
    if (added) user_keys.push_back(key);
    user_of[i] = it->second;
  }

  // One round trip reads every user's profile, opt-out flag and the event ids the batch sends.
  std::vector<std::vector<std::string>> commands;
  std::vector<std::vector<size_t>> ids_of_user(user_keys.size());  // record indexes with an event id
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].event.event_id.empty()) ids_of_user[user_of[i]].push_back(i);
  }
  for (size_t u = 0; u < user_keys.size(); ++u) {
    commands.push_back({"HGETALL", ProfileKey(user_keys[u])});
    commands.push_back({"EXISTS", OptOutKey(user_keys[u])});
    std::vector<std::string> scores = {"ZMSCORE", EventIdsKey(user_keys[u])};
    for (size_t i : ids_of_user[u]) scores.push_back(records[i].event.event_id);
    if (scores.size() == 2) scores.push_back("");  // ZMSCORE needs a member
    commands.push_back(std::move(scores));
  }
  Result<std::vector<RedisReply>> replies = client_->Pipeline(commands);
  if (!replies.ok()) return StoreError(replies.status());
  for (size_t i = 0; i < replies->size(); ++i) {
    const RedisReply& reply = (*replies)[i];
    if (reply.is_error() && !(i % 3 == 0 && IsWrongType(reply))) {
      return ReplyError(reply, "reading the shoppers of a batch");
    }
  }

  struct Pending {
    ProfileRecord record;
    bool opted_out = false;
    std::unordered_set<std::string> seen_ids;  // stored, or earlier in the batch
    std::vector<size_t> recorded;              // record indexes applied to the profile
  };
  std::vector<Pending> pending(user_keys.size());
  for (size_t u = 0; u < user_keys.size(); ++u) {
    const std::string profile_key = ProfileKey(user_keys[u]);
    Result<ProfileRecord> record =
        ParseProfileReply((*replies)[3 * u], profile_key, [&] { return Call({"GET", profile_key}); });
    if (!record.ok()) return record.status();
    pending[u].record = std::move(record).value();
    pending[u].opted_out = (*replies)[3 * u + 1].integer == 1;
    const RedisReply& scores = (*replies)[3 * u + 2];
    for (size_t j = 0; j < ids_of_user[u].size() && j < scores.elements.size(); ++j) {
      if (!scores.elements[j].is_nil()) pending[u].seen_ids.insert(records[ids_of_user[u][j]].event.event_id);
    }
  }

  // Outcomes and new profiles, by UserProfile::Apply as in the embedded store.
  std::vector<EventOutcome> outcomes(records.size());
  nlohmann::json deltas = nlohmann::json::array();
  for (size_t i = 0; i < records.size(); ++i) {
    Pending& user = pending[user_of[i]];
    const Event& event = records[i].event;
    if (user.opted_out) {
      outcomes[i] = EventOutcome::kOptedOut;
      continue;
    }
    if (!event.event_id.empty() && !user.seen_ids.insert(event.event_id).second) {
      outcomes[i] = EventOutcome::kDuplicate;
      continue;
    }
    if (!user.record.profile) user.record.profile.emplace();
    user.record.profile->Apply(event, *records[i].product, profile_options_);
    user.recorded.push_back(i);
    outcomes[i] = EventOutcome::kRecorded;
    if (!event.product_id.empty()) deltas.push_back({event.product_id, EventTypeName(event.type), 1});
  }

  // One script writes every user's events and profile, or nothing when any changed meanwhile.
  const bool string_layout = options_.profile_layout == ProfileLayout::kString;
  std::vector<std::string> keys = {SharedEventsKey(), RetentionKey()};
  std::vector<std::string> arguments = {origin_, std::to_string(options_.shared_stream_max_entries),
                                        deltas.empty() ? std::string() : deltas.dump(), ""};
  size_t written_users = 0;
  for (size_t u = 0; u < user_keys.size(); ++u) {
    const Pending& user = pending[u];
    if (user.recorded.empty()) continue;
    ++written_users;
    for (const std::string& key : {ProfileKey(user_keys[u]), EventsKey(user_keys[u]), EventIdsKey(user_keys[u]),
                                   OptOutKey(user_keys[u])}) {
      keys.push_back(key);
    }
    int64_t oldest = INT64_MAX;
    for (size_t i : user.recorded) oldest = std::min(oldest, records[i].event.timestamp_ms);
    arguments.push_back(user.record.token);
    arguments.push_back(user_keys[u].substr(1));
    arguments.push_back(std::to_string(oldest));
    arguments.push_back(std::to_string(user.recorded.size()));
    AddProfileArguments(&*user.record.profile, user.record, string_layout, &arguments);
    for (size_t i : user.recorded) AddEventArguments(records[i].event, user_keys[u].substr(1), &arguments);
  }
  if (written_users == 0) return outcomes;
  arguments[3] = std::to_string(written_users);
  Result<RedisReply> written = RunScript(*record_script_, keys, arguments);
  if (!written.ok()) return written.status();
  *conflict = written->integer != 1;
  return outcomes;
}

Result<std::optional<UserProfile>> RedisProfileStore::Get(const std::string& user_id) {
  const std::string key = ProfileKey(keyer_.Key(user_id));
  Result<RedisReply> reply = client_->Command({"HGETALL", key});
  if (!reply.ok()) return StoreError(reply.status());
  if (reply->is_error() && !IsWrongType(*reply)) return ReplyError(*reply, "HGETALL");
  Result<ProfileRecord> record = ParseProfileReply(*reply, key, [&] { return Call({"GET", key}); });
  if (!record.ok()) return record.status();
  return std::move(record->profile);
}

Result<std::vector<Event>> RedisProfileStore::Events(const std::string& user_id) {
  const std::string key = EventsKey(keyer_.Key(user_id));
  Result<RedisReply> reply = client_->Command({"XRANGE", key, "-", "+"});
  if (!reply.ok()) return StoreError(reply.status());
  if (reply->is_error()) return ReplyError(*reply, "XRANGE");
  Result<std::vector<StoredEvent>> stored = ParseEventEntries(*reply, key);
  if (!stored.ok()) return stored.status();
  std::vector<Event> events;
  events.reserve(stored->size());
  for (StoredEvent& entry : *stored) {
    entry.event.user_id = user_id;
    events.push_back(std::move(entry.event));
  }
  return events;
}

Result<std::vector<Event>> RedisProfileStore::RecentEvents(const std::string& user_id, int64_t since_ms,
                                                           size_t max_events) {
  const std::string key = EventsKey(keyer_.Key(user_id));
  std::vector<StoredEvent> recent;
  std::string end = "+";
  size_t read = 0;
  // A session usually spans a few events, so the first page is small. Each next page is four
  // times larger.
  size_t page = 16;
  while (read < max_events) {
    page = std::min(page, max_events - read);
    Result<RedisReply> reply = client_->Command({"XREVRANGE", key, end, "-", "COUNT", std::to_string(page)});
    if (!reply.ok()) return StoreError(reply.status());
    if (reply->is_error()) return ReplyError(*reply, "XREVRANGE");
    if (reply->elements.empty()) break;
    // The next page ends before this page's earliest stored entry, the reply's last. It is
    // taken from the reply because ParseEventEntries sorts by event time.
    const std::string first_stored_id = reply->elements.back().elements.empty()
                                            ? std::string()
                                            : reply->elements.back().elements[0].text;
    Result<std::vector<StoredEvent>> stored = ParseEventEntries(*reply, key);
    if (!stored.ok()) return stored.status();
    read += stored->size();

    bool reached_older = false;
    for (StoredEvent& entry : *stored) {
      if (entry.event.timestamp_ms < since_ms) {
        reached_older = true;
      } else {
        recent.push_back(std::move(entry));
      }
    }
    if (reached_older || reply->elements.size() < page) break;
    end = "(" + first_stored_id;
    page *= 4;
  }

  // Oldest first, as Events returns them; events of the same time in the order they were stored.
  std::sort(recent.begin(), recent.end(), [](const StoredEvent& a, const StoredEvent& b) {
    if (a.event.timestamp_ms != b.event.timestamp_ms) return a.event.timestamp_ms < b.event.timestamp_ms;
    return StreamIdBefore(a.stream_id, b.stream_id);
  });
  std::vector<Event> events;
  events.reserve(recent.size());
  for (StoredEvent& entry : recent) {
    entry.event.user_id = user_id;
    events.push_back(std::move(entry.event));
  }
  return events;
}

Result<size_t> RedisProfileStore::EraseKey(const std::string& user_key, bool opt_out) {
  Result<RedisReply> erased = RunScript(*erase_script_,
                                        {SharedEventsKey(), RetentionKey(), ProfileKey(user_key), EventsKey(user_key),
                                         EventIdsKey(user_key), OptOutKey(user_key)},
                                        {origin_, std::to_string(options_.shared_stream_max_entries),
                                         user_key.substr(1), opt_out ? "1" : "0"});
  if (!erased.ok()) return erased.status();
  return static_cast<size_t>(erased->integer);
}

Result<size_t> RedisProfileStore::Erase(const std::string& user_id) { return EraseKey(keyer_.Key(user_id), false); }

Status RedisProfileStore::SetOptOut(const std::string& user_id, bool opted_out) {
  const std::string user_key = keyer_.Key(user_id);
  if (opted_out) {
    // The flag and the erasure are one script, so no event recorded in between survives.
    Result<size_t> erased = EraseKey(user_key, true);
    return erased.ok() ? Status::Ok() : erased.status();
  }
  Result<RedisReply> deleted = client_->Command({"DEL", OptOutKey(user_key)});
  if (!deleted.ok()) return StoreError(deleted.status());
  if (deleted->is_error()) return ReplyError(*deleted, "DEL");
  return Status::Ok();
}

Result<bool> RedisProfileStore::OptedOut(const std::string& user_id) {
  Result<RedisReply> exists = client_->Command({"EXISTS", OptOutKey(keyer_.Key(user_id))});
  if (!exists.ok()) return StoreError(exists.status());
  if (exists->is_error()) return ReplyError(*exists, "EXISTS");
  return exists->integer == 1;
}

Result<size_t> RedisProfileStore::Merge(const std::string& from_user_id, const std::string& to_user_id,
                                        const ProductLookup& product_of) {
  if (from_user_id == to_user_id) {
    return Status::InvalidArgument("cannot merge user '" + from_user_id + "' into itself: send another user's id as 'from'");
  }
  const std::string from_key = keyer_.Key(from_user_id);
  const std::string to_key = keyer_.Key(to_user_id);
  for (int attempt = 0; attempt < options_.max_write_attempts; ++attempt) {
    BackOff(attempt);
    bool conflict = false;
    Result<size_t> moved = TryMerge(from_key, to_key, from_user_id, to_user_id, product_of, &conflict);
    if (!conflict) return moved;
  }
  return StoreError(Status::Unavailable("the merged shoppers were changed by other writers " +
                                        std::to_string(options_.max_write_attempts) + " times in a row"));
}

Result<size_t> RedisProfileStore::TryMerge(const std::string& from_key, const std::string& to_key,
                                           const std::string& from_user_id, const std::string& to_user_id,
                                           const ProductLookup& product_of, bool* conflict) {
  Result<UserState> from = ReadUser(from_key, /*with_events=*/true);
  if (!from.ok()) return from.status();
  Result<UserState> to = ReadUser(to_key, /*with_events=*/true);
  if (!to.ok()) return to.status();
  for (const auto& [user_id, state] : {std::pair{&from_user_id, &*from}, std::pair{&to_user_id, &*to}}) {
    if (state->opted_out) {
      return Status::InvalidArgument("user '" + *user_id +
                                     "' opted out of event collection, so their events cannot be merged");
    }
  }

  // The target's profile, recomputed from all its events in time order.
  std::vector<Event> all;
  for (const StoredEvent& stored : to->events) all.push_back(stored.event);
  for (const StoredEvent& stored : from->events) all.push_back(stored.event);
  std::optional<UserProfile> profile;
  std::string oldest;
  if (!all.empty()) {
    profile = Recompute(all, product_of);
    int64_t oldest_ms = INT64_MAX;
    for (const Event& event : all) oldest_ms = std::min(oldest_ms, event.timestamp_ms);
    oldest = std::to_string(oldest_ms);
  }

  std::vector<std::string> keys = {RetentionKey(),        ProfileKey(from_key), EventsKey(from_key),
                                   EventIdsKey(from_key), OptOutKey(from_key),  ProfileKey(to_key),
                                   EventsKey(to_key),     EventIdsKey(to_key),  OptOutKey(to_key)};
  std::vector<std::string> arguments = {from->record.token, to->record.token, from_key.substr(1), to_key.substr(1),
                                        oldest, std::to_string(from->events.size())};
  // Recomputed from the events, so the whole hash is replaced.
  AddProfileArguments(profile ? &*profile : nullptr, ProfileRecord(),
                      options_.profile_layout == ProfileLayout::kString, &arguments);
  for (const StoredEvent& stored : from->events) AddEventArguments(stored.event, to_key.substr(1), &arguments);
  Result<RedisReply> moved = RunScript(*merge_script_, keys, arguments);
  if (!moved.ok()) return moved.status();
  *conflict = moved->integer < 0;
  return static_cast<size_t>(std::max<int64_t>(0, moved->integer));
}

Result<std::vector<Event>> RedisProfileStore::DeleteEventsBefore(int64_t cutoff_ms, const ProductLookup& product_of) {
  // The users whose oldest event is older than the cut-off, a page at a time. Sweeping a user
  // removes it from the set or raises its score, so each page starts from the top again.
  std::vector<Event> expired;
  for (;;) {
    Result<RedisReply> users = client_->Command(
        {"ZRANGE", RetentionKey(), "-inf", "(" + std::to_string(cutoff_ms), "BYSCORE", "LIMIT", "0", "100"});
    if (!users.ok()) return StoreError(users.status());
    if (users->is_error()) return ReplyError(*users, "ZRANGE");
    if (users->elements.empty()) return expired;
    for (const RedisReply& member : users->elements) {
      Result<std::vector<Event>> swept = SweepUser(member.text, cutoff_ms, product_of);
      if (!swept.ok()) return swept.status();
      expired.insert(expired.end(), swept->begin(), swept->end());
    }
  }
}

Result<std::vector<Event>> RedisProfileStore::SweepUser(const std::string& member, int64_t cutoff_ms,
                                                        const ProductLookup& product_of) {
  const std::string user_key = "#" + member;
  for (int attempt = 0; attempt < options_.max_write_attempts; ++attempt) {
    BackOff(attempt);
    Result<UserState> state = ReadUser(user_key, /*with_events=*/true);
    if (!state.ok()) return state.status();
    std::vector<Event> expired, remaining;
    std::vector<std::string> expired_ids;
    nlohmann::json deltas = nlohmann::json::array();
    for (StoredEvent& stored : state->events) {
      if (stored.event.timestamp_ms >= cutoff_ms) {
        remaining.push_back(std::move(stored.event));
        continue;
      }
      expired_ids.push_back(stored.stream_id);
      if (!stored.event.product_id.empty()) {
        deltas.push_back({stored.event.product_id, EventTypeName(stored.event.type), -1});
      }
      expired.push_back(std::move(stored.event));
    }
    std::optional<UserProfile> profile;
    std::string oldest;
    if (!remaining.empty()) {
      profile = Recompute(remaining, product_of);
      oldest = std::to_string(remaining.front().timestamp_ms);  // events are sorted by time
    }
    std::vector<std::string> arguments = {origin_,
                                          std::to_string(options_.shared_stream_max_entries),
                                          member,
                                          state->record.token,
                                          oldest,
                                          std::to_string(cutoff_ms),
                                          deltas.empty() ? std::string() : deltas.dump(),
                                          std::to_string(expired_ids.size())};
    arguments.insert(arguments.end(), expired_ids.begin(), expired_ids.end());
    // Recomputed from the remaining events, so the whole hash is replaced.
    AddProfileArguments(profile ? &*profile : nullptr, ProfileRecord(),
                        options_.profile_layout == ProfileLayout::kString, &arguments);
    Result<RedisReply> swept = RunScript(
        *sweep_script_,
        {SharedEventsKey(), RetentionKey(), ProfileKey(user_key), EventsKey(user_key), EventIdsKey(user_key)}, arguments);
    if (!swept.ok()) return swept.status();
    if (swept->integer == 1) return expired;
  }
  return StoreError(Status::Unavailable("a shopper was changed by other writers during the retention sweep " +
                                        std::to_string(options_.max_write_attempts) + " times in a row"));
}

Status RedisProfileStore::RewriteAppendOnlyFile() {
  // A rewrite already running may have copied the data before the erasure, so a new one starts
  // after it ends. Redis schedules one itself when a snapshot runs instead.
  constexpr int kMaxWaits = 600;  // of 100 ms each
  for (int wait = 0;; ++wait) {
    Result<RedisReply> reply = client_->Command({"BGREWRITEAOF"});
    if (!reply.ok()) return StoreError(reply.status());
    const bool running = reply->is_error() && reply->text.find("already in progress") != std::string::npos;
    if (running && wait < kMaxWaits) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (reply->is_error()) return ReplyError(*reply, "BGREWRITEAOF");
    spdlog::info("profile store {}: append-only file rewrite requested ({}), so erased shoppers leave its files", url_,
                 reply->text);
    return Status::Ok();
  }
}

Result<std::string> RedisProfileStore::ReadSharedEvents(const std::string& after_id, size_t count,
                                                        std::chrono::milliseconds block,
                                                        const std::function<void(const SharedEventDelta&)>& apply) {
  std::vector<std::string> command = {"XREAD", "COUNT", std::to_string(count)};
  if (block.count() > 0) {
    command.push_back("BLOCK");
    command.push_back(std::to_string(block.count()));
  }
  command.insert(command.end(), {"STREAMS", SharedEventsKey(), after_id});
  Result<RedisReply> reply = block.count() > 0 ? client_->BlockingCommand(command, block) : client_->Command(command);
  if (!reply.ok()) return StoreError(reply.status());
  if (reply->is_error()) return ReplyError(*reply, "XREAD");
  // [[stream name, [[id, [field, value, ...]], ...]]], or nil when no entry arrived.
  if (reply->elements.empty() || reply->elements[0].elements.size() != 2) return after_id;
  std::string last = after_id;
  for (const RedisReply& entry : reply->elements[0].elements[1].elements) {
    if (entry.elements.size() != 2) continue;
    last = entry.elements[0].text;
    const std::string* origin = EntryField(entry.elements[1], "origin");
    if (origin == nullptr || *origin == origin_) continue;
    Result<std::vector<SharedEventDelta>> deltas = ParseSharedEventEntry(entry.elements[1]);
    if (!deltas.ok()) {
      spdlog::warn("entry {} of the shared event stream {} skipped: {}", last, SharedEventsKey(), deltas.status().ToString());
      continue;
    }
    for (const SharedEventDelta& delta : *deltas) apply(delta);
  }
  return last;
}

Result<std::vector<SharedEventDelta>> ParseSharedEventEntry(const RedisReply& fields) {
  const std::string* text = EntryField(fields, "deltas");
  if (text == nullptr) return Status::Corruption("the entry has no field 'deltas'");
  const nlohmann::json deltas = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!deltas.is_array()) return Status::Corruption("the field 'deltas' is not a JSON array");
  std::vector<SharedEventDelta> parsed;
  for (const nlohmann::json& delta : deltas) {
    if (!delta.is_array() || delta.size() != 3 || !delta[0].is_string() || !delta[1].is_string() ||
        !delta[2].is_number_integer()) {
      continue;
    }
    const std::optional<EventType> type = EventTypeFromName(delta[1].get<std::string>());
    if (!type) continue;
    parsed.push_back({delta[0].get<std::string>(), *type, delta[2].get<int>()});
  }
  return parsed;
}

}  // namespace tessera
