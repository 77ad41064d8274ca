// Event: one thing a shopper did with a product, the input to personalization.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace tessera {

enum class EventType { kView, kClick, kAddToCart, kPurchase };

// "view", "click", "add_to_cart", "purchase".
const char* EventTypeName(EventType type);

struct Event {
  std::string user_id;     // pseudonymous shopper id, 1-128 bytes of [A-Za-z0-9._:@-]
  EventType type = EventType::kClick;
  std::string product_id;
  int64_t timestamp_ms = 0;  // Unix milliseconds; the server's clock when the sender omits it
  std::string session_id;    // optional
};

// How far ahead of the server's clock an event timestamp may be (clock skew), in milliseconds.
inline constexpr int64_t kMaxEventClockSkewMs = 5 * 60 * 1000;

Status ValidateUserId(const std::string& user_id);

// Parses {"user_id", "type", "product_id", "timestamp"?, "session_id"?}. Unknown fields, unknown
// types, timestamps more than kMaxEventClockSkewMs after `now_ms` or before 2000-01-01 are
// rejected with a message naming the field. Does not check that the product exists.
Result<Event> EventFromJson(const nlohmann::json& object, int64_t now_ms);
nlohmann::json EventToJson(const Event& event);

}  // namespace tessera
