// Fuzzes the parser of POST /api/events bodies: one event object or {"events": [...]}. Beyond
// crashes and sanitizer reports, it checks that every accepted event is within the documented
// limits and survives EventToJson, dump and parse unchanged, and that every rejection message can
// be sent as JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "personalize/event.h"

namespace tessera::fuzz {
namespace {

using nlohmann::json;

// A fixed clock keeps every run of an input the same: 2026-01-01T00:00:00Z.
constexpr int64_t kNowMs = 1767225600000;

void CheckAcceptedEvent(const Event& event) {
  const Status user = ValidateUserId(event.user_id);
  TESSERA_FUZZ_CHECK(user.ok(), user.ToString());
  TESSERA_FUZZ_CHECK(event.type == EventType::kSearch || !event.product_id.empty(), "a product event has no product");
  TESSERA_FUZZ_CHECK(event.timestamp_ms <= kNowMs + kMaxEventClockSkewMs, std::to_string(event.timestamp_ms));
  TESSERA_FUZZ_CHECK(event.position <= kMaxEventPosition, std::to_string(event.position));
  TESSERA_FUZZ_CHECK(event.query.size() <= kMaxEventQueryBytes, "the query is too long");
  TESSERA_FUZZ_CHECK(event.event_id.size() <= kMaxEventIdBytes, "the event id is too long");

  const json written = EventToJson(event);
  const Result<Event> reparsed = EventFromJson(json::parse(written.dump()), kNowMs);
  TESSERA_FUZZ_CHECK(reparsed.ok(), reparsed.status().ToString() + " for " + written.dump());
  TESSERA_FUZZ_CHECK(EventToJson(*reparsed) == written,
                     written.dump() + " came back as " + EventToJson(*reparsed).dump());
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const nlohmann::json body = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;

  const Result<EventBatch> batch = EventBatchFromJson(body, fuzz::kNowMs);
  if (!batch.ok()) {
    fuzz::CheckErrorMessage(batch.status());
    return 0;
  }
  for (const Event& event : batch->events) fuzz::CheckAcceptedEvent(event);
  if (!batch->invalid.ok()) fuzz::CheckErrorMessage(batch->invalid);
  return 0;
}
