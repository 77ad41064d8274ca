// Products and events shared by the profile store tests (embedded and Redis).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ingest/product.h"
#include "personalize/event.h"

namespace tessera::testing_support {

constexpr int64_t kHourMs = 3600 * 1000;
constexpr int64_t kDayMs = 24 * kHourMs;
// 2024-06-01T00:00:00Z in Unix milliseconds.
constexpr int64_t kNowMs = 1717200000000;

// A men's shirt of `colour` by the brand Acme.
inline std::shared_ptr<const Product> MakeProduct(const std::string& id, const std::string& colour) {
  auto product = std::make_shared<Product>();
  product->id = id;
  product->title = "Acme Men " + colour + " Shirts";
  product->brand = "Acme";
  product->attributes = {{"article_type", "Shirts"}, {"colour", colour}, {"gender", "Men"}};
  return product;
}

// A click of `user` on `product_id` at `timestamp_ms`.
inline Event MakeEvent(const std::string& user, const std::string& product_id, int64_t timestamp_ms,
                       const std::string& event_id = "") {
  Event event;
  event.user_id = user;
  event.type = EventType::kClick;
  event.product_id = product_id;
  event.timestamp_ms = timestamp_ms;
  event.event_id = event_id;
  return event;
}

}  // namespace tessera::testing_support
