#include "ingest/catalog_record.h"

namespace tessera {

void IngestReport::Reject(size_t line, std::string field, std::string reason) {
  ++rejected;
  if (rejections.size() < kMaxKeptRejections) {
    rejections.push_back({line, std::move(field), std::move(reason)});
  }
}

std::string FieldNamedIn(const std::string& message) {
  for (const char* marker : {"field '", "attribute '", "unknown field '"}) {
    const std::string m(marker);
    size_t start = message.find(m);
    if (start == std::string::npos) continue;
    start += m.size();
    size_t end = message.find('\'', start);
    if (end != std::string::npos) return message.substr(start, end - start);
  }
  for (const char* field : {"price", "currency", "title", "id", "availability"}) {
    if (message.rfind(field, 0) == 0) return field;
  }
  return "record";
}

}  // namespace tessera
