// Event: one thing a shopper did with a product, the input to personalization.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace tessera {

// kSearch: the shopper ran a query (no product). kImpression: a product was shown in a result
// list, at `position`. The others are things done with a product.
enum class EventType { kSearch, kImpression, kView, kClick, kAddToCart, kPurchase };

// "search", "impression", "view", "click", "add_to_cart", "purchase".
const char* EventTypeName(EventType type);

struct Event {
  std::string user_id;     // pseudonymous shopper id, 1-128 bytes of [A-Za-z0-9._:@-]
  EventType type = EventType::kClick;
  std::string product_id;
  int64_t timestamp_ms = 0;  // Unix milliseconds; the server's clock when the sender omits it
  std::string session_id;    // optional
  std::string query_id;      // optional: the search the event came from
  std::string query;         // search events: the query text; optional
  uint32_t position = 0;     // optional: 1-based rank at which the product was shown; 0 when unknown
  // Optional id chosen by the sender; an event repeating a stored (user, event id) is accepted
  // once, so a sender may retry after a lost acknowledgement.
  std::string event_id;
};

// Limits of the optional fields.
inline constexpr size_t kMaxEventIdBytes = 128;
inline constexpr size_t kMaxEventQueryBytes = 1024;
inline constexpr uint32_t kMaxEventPosition = 10000;

// How far ahead of the server's clock an event timestamp may be (clock skew), in milliseconds.
inline constexpr int64_t kMaxEventClockSkewMs = 5 * 60 * 1000;

Status ValidateUserId(const std::string& user_id);

// Parses {"user_id", "type", "product_id", "timestamp"?, "session_id"?, "query_id"?, "query"?,
// "position"?, "event_id"?}. product_id is required except for search events. Unknown fields,
// unknown types, timestamps more than kMaxEventClockSkewMs after `now_ms` or before 2000-01-01,
// and values beyond the limits above are rejected with a message naming the field. Does not
// check that the product exists.
Result<Event> EventFromJson(const nlohmann::json& object, int64_t now_ms);
nlohmann::json EventToJson(const Event& event);

// The events of one request body, parsed up to the first invalid event.
struct EventBatch {
  std::vector<Event> events;  // the valid events before the first invalid one, in body order
  Status invalid;             // OK, or why the event at index events.size() was rejected
};

// Parses a request body that is one event object or {"events": [...]} with no other field, each
// event as EventFromJson does. Parsing stops at the first invalid event, and `invalid` names its
// 0-based index ("event 2: field 'type' ..."). Does not limit the batch size: the engine does.
// Errors: 'events' is not an array, or the batch object has other fields -> kInvalidArgument.
Result<EventBatch> EventBatchFromJson(const nlohmann::json& body, int64_t now_ms);

}  // namespace tessera
