#include "common/structured_log.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <iterator>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <spdlog/formatter.h>

namespace tessera {
namespace {

// A structured message reaches the formatter as kRecordStart, then per field the key, kUnitSeparator,
// 'q' (quoted) or 'r' (raw), kUnitSeparator, the value and kRecordStart. Plain messages never
// start with kRecordStart, and LogEvent strips both separators from values.
constexpr char kRecordStart = '\x1e';
constexpr char kUnitSeparator = '\x1f';

struct ParsedField {
  std::string_view key;
  std::string_view value;
  bool quoted = true;
};

// Splits a structured payload into its fields; a plain message becomes one msg field.
std::vector<ParsedField> ParseFields(std::string_view payload) {
  if (payload.empty() || payload[0] != kRecordStart) return {{"msg", payload, true}};
  std::vector<ParsedField> fields;
  size_t pos = 1;
  while (pos < payload.size()) {
    const size_t key_end = payload.find(kUnitSeparator, pos);
    const size_t value_end = payload.find(kRecordStart, pos);
    if (key_end == std::string_view::npos || value_end == std::string_view::npos || key_end + 3 > value_end) break;
    ParsedField field;
    field.key = payload.substr(pos, key_end - pos);
    field.quoted = payload[key_end + 1] == 'q';
    field.value = payload.substr(key_end + 3, value_end - key_end - 3);
    fields.push_back(field);
    pos = value_end + 1;
  }
  return fields;
}

// Appends `text` in double quotes with quotes, backslashes and newlines escaped. Other control
// characters become \u escapes in JSON and spaces in text lines, which keep one line per entry.
void AppendQuoted(std::string_view text, bool json, spdlog::memory_buf_t& dest) {
  dest.push_back('"');
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (c == '\n') {
      fmt::format_to(std::back_inserter(dest), "\\n");
    } else if (static_cast<unsigned char>(c) < 0x20 && json) {
      fmt::format_to(std::back_inserter(dest), "\\u{:04x}", static_cast<unsigned>(c));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      dest.push_back(' ');
    } else {
      dest.push_back(c);
    }
  }
  dest.push_back('"');
}

void AppendJsonString(std::string_view text, spdlog::memory_buf_t& dest) { AppendQuoted(text, /*json=*/true, dest); }

// A text value needs quotes when it is empty or contains a space, quote, '=' or control character.
void AppendTextValue(std::string_view text, bool quoted, spdlog::memory_buf_t& dest) {
  bool needs_quotes = quoted && text.empty();
  for (const char c : text) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) needs_quotes = true;
  }
  if (!needs_quotes) {
    dest.append(text.data(), text.data() + text.size());
    return;
  }
  AppendQuoted(text, /*json=*/false, dest);
}

class FieldFormatter final : public spdlog::formatter {
 public:
  explicit FieldFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    const std::string ts = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                                       utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis % 1000);
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    const std::string_view payload(msg.payload.data(), msg.payload.size());

    if (format_ == LogFormat::kJson) {
      fmt::format_to(std::back_inserter(dest), "{{\"ts\":\"{}\",\"level\":\"{}\"", ts, std::string_view(level.data(), level.size()));
      for (const ParsedField& field : ParseFields(payload)) {
        fmt::format_to(std::back_inserter(dest), ",\"{}\":", field.key);
        if (field.quoted) AppendJsonString(field.value, dest);
        else dest.append(field.value.data(), field.value.data() + field.value.size());
      }
      dest.push_back('}');
    } else {
      fmt::format_to(std::back_inserter(dest), "ts={} level={}", ts, std::string_view(level.data(), level.size()));
      for (const ParsedField& field : ParseFields(payload)) {
        fmt::format_to(std::back_inserter(dest), " {}=", field.key);
        AppendTextValue(field.value, field.quoted, dest);
      }
    }
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<FieldFormatter>(format_); }

 private:
  LogFormat format_;
};

void AppendField(std::string& payload, std::string_view key, std::string_view value, bool quoted) {
  payload.append(key);
  payload += kUnitSeparator;
  payload += quoted ? 'q' : 'r';
  payload += kUnitSeparator;
  for (const char c : value) payload += (c == kRecordStart || c == kUnitSeparator) ? ' ' : c;
  payload += kRecordStart;
}

}  // namespace

Result<LogFormat> LogFormatFromName(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return Status::InvalidArgument("log format '" + std::string(name) + "' is unknown: use text or json");
}

void SetLogFormat(LogFormat format) { spdlog::set_formatter(std::make_unique<FieldFormatter>(format)); }

// NaN and infinities have no JSON number form, so they are written as strings.
LogField::LogField(std::string_view key, double value)
    : key_(key), value_(fmt::format("{}", value)), quoted_(!std::isfinite(value)) {}

void LogEvent(spdlog::level::level_enum level, std::string_view message, std::initializer_list<LogField> fields) {
  LogEvent(level, message, std::vector<LogField>(fields));
}

void LogEvent(spdlog::level::level_enum level, std::string_view message, const std::vector<LogField>& fields) {
  std::string payload(1, kRecordStart);
  AppendField(payload, "msg", message, /*quoted=*/true);
  for (const LogField& field : fields) AppendField(payload, field.key(), field.value(), field.quoted());
  spdlog::log(level, "{}", payload);
}

}  // namespace tessera
