// Structured logs: every line the default spdlog logger writes carries a timestamp, a level, a
// message and optional named fields, as key=value text or as one JSON object per line.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/status.h"

namespace tessera {

enum class LogFormat {
  kText,  // ts=2026-12-05T09:10:00.123Z level=warn msg="slow request" route=search.text took_ms=1204
  kJson,  // {"ts":"2026-12-05T09:10:00.123Z","level":"warn","msg":"slow request","route":"search.text","took_ms":1204}
};

// Parses "text" or "json".
Result<LogFormat> LogFormatFromName(std::string_view name);

// Makes every sink of the default logger write `format`. Lines logged with plain spdlog calls get
// their text as the msg field, so the whole log stays in one format.
void SetLogFormat(LogFormat format);

// One named value of a log line. Numbers and booleans stay unquoted in JSON.
class LogField {
 public:
  LogField(std::string_view key, std::string_view value) : key_(key), value_(value), quoted_(true) {}
  LogField(std::string_view key, const char* value) : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, const std::string& value) : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, bool value) : key_(key), value_(value ? "true" : "false"), quoted_(false) {}
  LogField(std::string_view key, int value) : LogField(key, static_cast<long long>(value)) {}
  LogField(std::string_view key, long value) : LogField(key, static_cast<long long>(value)) {}
  LogField(std::string_view key, long long value) : key_(key), value_(std::to_string(value)), quoted_(false) {}
  LogField(std::string_view key, unsigned value) : LogField(key, static_cast<unsigned long long>(value)) {}
  LogField(std::string_view key, unsigned long value) : key_(key), value_(std::to_string(value)), quoted_(false) {}
  LogField(std::string_view key, unsigned long long value) : key_(key), value_(std::to_string(value)), quoted_(false) {}
  LogField(std::string_view key, double value);

  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  bool quoted() const { return quoted_; }

 private:
  std::string key_;
  std::string value_;
  bool quoted_;
};

// Logs `message` with `fields` at `level` through the default logger. Keys are plain words
// (letters, digits, '_'); values may hold any text, which is quoted and escaped as needed.
void LogEvent(spdlog::level::level_enum level, std::string_view message, std::initializer_list<LogField> fields);
void LogEvent(spdlog::level::level_enum level, std::string_view message, const std::vector<LogField>& fields);

}  // namespace tessera
