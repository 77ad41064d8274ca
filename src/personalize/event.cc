#include "personalize/event.h"

#include <set>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace tessera {
namespace {

// 2000-01-01T00:00:00Z: anything earlier is a unit mistake (seconds sent as milliseconds).
constexpr int64_t kEarliestTimestampMs = 946684800000;

}  // namespace

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kSearch: return "search";
    case EventType::kImpression: return "impression";
    case EventType::kView: return "view";
    case EventType::kClick: return "click";
    case EventType::kAddToCart: return "add_to_cart";
    case EventType::kPurchase: return "purchase";
  }
  return "click";
}

Status ValidateUserId(const std::string& user_id) {
  if (user_id.empty()) return Status::InvalidArgument("field 'user_id' is missing or empty");
  if (user_id.size() > 128) {
    return Status::InvalidArgument("field 'user_id' is longer than 128 bytes: use a shorter pseudonymous id");
  }
  for (char c : user_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-' || c == '@';
    if (!ok) {
      return Status::InvalidArgument("field 'user_id' '" + Excerpt(user_id) +
                                     "' contains a character outside [A-Za-z0-9._:@-]");
    }
  }
  return Status::Ok();
}

Result<Event> EventFromJson(const nlohmann::json& object, int64_t now_ms) {
  if (!object.is_object()) return Status::InvalidArgument("an event must be a JSON object, got " + Excerpt(object.dump()));
  static const std::set<std::string> kKnown = {"user_id",    "type",     "product_id", "timestamp", "session_id",
                                                "query_id",   "query",    "position",   "event_id"};
  for (const auto& [key, value] : object.items()) {
    if (!kKnown.count(key)) {
      return Status::InvalidArgument("unknown field '" + Excerpt(key) +
                                     "': events have user_id, type, product_id, timestamp, session_id, query_id, "
                                     "query, position, event_id");
    }
  }
  auto string_field = [&](const char* name, std::string* out, bool required) -> Status {
    auto it = object.find(name);
    if (it == object.end() || it->is_null()) {
      return required ? Status::InvalidArgument(std::string("field '") + name + "' is missing") : Status::Ok();
    }
    if (!it->is_string()) return Status::InvalidArgument(std::string("field '") + name + "' must be a string");
    *out = it->get<std::string>();
    return Status::Ok();
  };

  Event event;
  TESSERA_RETURN_IF_ERROR(string_field("user_id", &event.user_id, true));
  TESSERA_RETURN_IF_ERROR(ValidateUserId(event.user_id));
  std::string type;
  TESSERA_RETURN_IF_ERROR(string_field("type", &type, true));
  if (type == "search") {
    event.type = EventType::kSearch;
  } else if (type == "impression") {
    event.type = EventType::kImpression;
  } else if (type == "view") {
    event.type = EventType::kView;
  } else if (type == "click") {
    event.type = EventType::kClick;
  } else if (type == "add_to_cart") {
    event.type = EventType::kAddToCart;
  } else if (type == "purchase") {
    event.type = EventType::kPurchase;
  } else {
    return Status::InvalidArgument("field 'type' is '" + Excerpt(type) +
                                   "': use search, impression, view, click, add_to_cart or purchase");
  }
  const bool search = event.type == EventType::kSearch;
  TESSERA_RETURN_IF_ERROR(string_field("product_id", &event.product_id, !search));
  if (!search && event.product_id.empty()) return Status::InvalidArgument("field 'product_id' is empty");
  for (auto [name, field] : {std::pair{"session_id", &event.session_id}, std::pair{"query_id", &event.query_id},
                             std::pair{"event_id", &event.event_id}}) {
    TESSERA_RETURN_IF_ERROR(string_field(name, field, false));
    if (field->size() > kMaxEventIdBytes) {
      return Status::InvalidArgument(std::string("field '") + name + "' is longer than 128 bytes");
    }
  }
  TESSERA_RETURN_IF_ERROR(string_field("query", &event.query, false));
  if (event.query.size() > kMaxEventQueryBytes) {
    return Status::InvalidArgument("field 'query' is longer than 1024 bytes: send the query as the shopper typed it");
  }
  if (auto it = object.find("position"); it != object.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxEventPosition) {
      return Status::InvalidArgument("field 'position' is " + Excerpt(it->dump()) +
                                     ": send the 1-based rank at which the product was shown, at most 10000");
    }
    event.position = static_cast<uint32_t>(it->get<int64_t>());
  }

  event.timestamp_ms = now_ms;
  if (auto it = object.find("timestamp"); it != object.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return Status::InvalidArgument("field 'timestamp' must be an integer of Unix milliseconds, got " +
                                     Excerpt(it->dump()));
    }
    event.timestamp_ms = it->get<int64_t>();
    if (event.timestamp_ms < kEarliestTimestampMs) {
      return Status::InvalidArgument("field 'timestamp' " + std::to_string(event.timestamp_ms) +
                                     " is before 2000-01-01: send Unix milliseconds, not seconds");
    }
    if (event.timestamp_ms > now_ms + kMaxEventClockSkewMs) {
      return Status::InvalidArgument("field 'timestamp' " + std::to_string(event.timestamp_ms) +
                                     " is more than 5 minutes in the future: check the sender's clock");
    }
  }
  return event;
}

Result<EventBatch> EventBatchFromJson(const nlohmann::json& body, int64_t now_ms) {
  const bool is_batch = body.is_object() && body.contains("events");
  if (is_batch && !body["events"].is_array()) return Status::InvalidArgument("field 'events' must be an array").WithField("events");
  if (is_batch && body.size() != 1) return Status::InvalidArgument("a batch has only the field 'events'");

  EventBatch batch;
  const auto parse = [&](const nlohmann::json& item) {
    Result<Event> event = EventFromJson(item, now_ms);
    if (!event.ok()) {
      batch.invalid = Status(event.status().code(),
                             "event " + std::to_string(batch.events.size()) + ": " + event.status().message());
      return false;
    }
    batch.events.push_back(std::move(event).value());
    return true;
  };
  if (!is_batch) {
    parse(body);
    return batch;
  }
  for (const nlohmann::json& item : body["events"]) {
    if (!parse(item)) break;
  }
  return batch;
}

nlohmann::json EventToJson(const Event& event) {
  nlohmann::json out = {{"user_id", event.user_id},
                        {"type", EventTypeName(event.type)},
                        {"product_id", event.product_id},
                        {"timestamp", event.timestamp_ms}};
  if (event.product_id.empty()) out.erase("product_id");
  if (!event.session_id.empty()) out["session_id"] = event.session_id;
  if (!event.query_id.empty()) out["query_id"] = event.query_id;
  if (!event.query.empty()) out["query"] = event.query;
  if (event.position > 0) out["position"] = event.position;
  if (!event.event_id.empty()) out["event_id"] = event.event_id;
  return out;
}

}  // namespace tessera
