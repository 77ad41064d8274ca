#include "eval/click_log.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <string_view>
#include <utility>

namespace tessera {
namespace {

constexpr std::string_view kYoochooseHeader = "SessionId\tItemId\tTime";

std::vector<std::string_view> SplitFields(std::string_view line, char separator) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(separator, start);
    fields.push_back(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return fields;
    start = end + 1;
  }
}

Status LineError(const std::string& source_name, size_t line_number, const std::string& problem) {
  return Status::InvalidArgument(source_name + " line " + std::to_string(line_number) + ": " + problem);
}

Status FieldError(const std::string& source_name, size_t line_number, std::string_view field,
                  std::string_view value, const std::string& problem) {
  return LineError(source_name, line_number,
                   "field " + std::string(field) + " '" + std::string(value) + "' " + problem);
}

// Parses Unix seconds with an optional fraction into milliseconds, or returns false.
bool ParseSeconds(std::string_view text, bool allow_fraction, int64_t* time_ms) {
  double seconds = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, seconds, std::chars_format::fixed);
  if (error != std::errc() || stop != end || !std::isfinite(seconds) || seconds < 0) return false;
  if (!allow_fraction && text.find('.') != std::string_view::npos) return false;
  // 1e15 seconds is far beyond any log and keeps the milliseconds inside int64_t.
  if (seconds > 1e15) return false;
  *time_ms = std::llround(seconds * 1000.0);
  return true;
}

// Reads lines and hands each one to `parse_line`, after removing a trailing '\r'. Empty lines
// and a first line equal to `header` (when not empty) are skipped.
template <typename ParseLine>
Result<std::vector<Click>> ReadLines(std::istream& input, std::string_view header, ParseLine parse_line) {
  std::vector<Click> clicks;
  std::string line;
  size_t line_number = 0;
  while (std::getline(input, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_number == 1 && !header.empty() && line == header)) continue;
    Click click;
    TESSERA_RETURN_IF_ERROR(parse_line(line, line_number, &click));
    clicks.push_back(std::move(click));
  }
  if (input.bad()) return Status::IoError("reading the click log failed after line " + std::to_string(line_number));
  return clicks;
}

template <typename Reader>
Result<std::vector<Click>> ReadFile(const std::string& path, Reader reader) {
  std::ifstream input(path);
  if (!input) return Status::IoError("cannot open click log " + path + ": check the path and its permissions");
  return reader(input, path);
}

}  // namespace

Result<std::vector<Click>> ReadYoochooseClicks(std::istream& input, const std::string& source_name) {
  return ReadLines(input, kYoochooseHeader, [&](const std::string& line, size_t line_number, Click* click) {
    const std::vector<std::string_view> fields = SplitFields(line, '\t');
    if (fields.size() != 3) {
      return LineError(source_name, line_number,
                       "expected 3 tab-separated fields (SessionId, ItemId, Time), found " +
                           std::to_string(fields.size()));
    }
    if (fields[0].empty()) return FieldError(source_name, line_number, "SessionId", fields[0], "is empty");
    if (fields[1].empty()) return FieldError(source_name, line_number, "ItemId", fields[1], "is empty");
    if (!ParseSeconds(fields[2], /*allow_fraction=*/true, &click->time_ms)) {
      return FieldError(source_name, line_number, "Time", fields[2], "is not a Unix time in seconds >= 0");
    }
    click->session_id = fields[0];
    click->item_id = fields[1];
    return Status::Ok();
  });
}

Result<std::vector<Click>> ReadTaobaoBehaviour(std::istream& input, const std::string& source_name) {
  return ReadLines(input, "", [&](const std::string& line, size_t line_number, Click* click) {
    const std::vector<std::string_view> fields = SplitFields(line, ',');
    if (fields.size() != 5) {
      return LineError(source_name, line_number,
                       "expected 5 comma-separated fields (user_id, item_id, category_id, behaviour, "
                       "timestamp), found " + std::to_string(fields.size()));
    }
    if (fields[0].empty()) return FieldError(source_name, line_number, "user_id", fields[0], "is empty");
    if (fields[1].empty()) return FieldError(source_name, line_number, "item_id", fields[1], "is empty");
    if (fields[2].empty()) return FieldError(source_name, line_number, "category_id", fields[2], "is empty");
    const std::string_view behaviour = fields[3];
    if (behaviour != "pv" && behaviour != "cart" && behaviour != "fav" && behaviour != "buy") {
      return FieldError(source_name, line_number, "behaviour", behaviour, "is not one of pv, cart, fav, buy");
    }
    if (!ParseSeconds(fields[4], /*allow_fraction=*/false, &click->time_ms)) {
      return FieldError(source_name, line_number, "timestamp", fields[4], "is not a whole Unix time in seconds >= 0");
    }
    click->session_id = fields[0];
    click->item_id = fields[1];
    return Status::Ok();
  });
}

Result<std::vector<Click>> ReadYoochooseClickFile(const std::string& path) {
  return ReadFile(path, ReadYoochooseClicks);
}

Result<std::vector<Click>> ReadTaobaoBehaviourFile(const std::string& path) {
  return ReadFile(path, ReadTaobaoBehaviour);
}

std::vector<ClickSession> GroupIntoSessions(const std::vector<Click>& clicks) {
  std::map<std::string, std::vector<const Click*>> by_session;
  for (const Click& click : clicks) by_session[click.session_id].push_back(&click);

  std::vector<ClickSession> sessions;
  sessions.reserve(by_session.size());
  for (auto& [id, session_clicks] : by_session) {
    std::stable_sort(session_clicks.begin(), session_clicks.end(),
                     [](const Click* a, const Click* b) { return a->time_ms < b->time_ms; });
    ClickSession session;
    session.id = id;
    for (const Click* click : session_clicks) {
      session.item_ids.push_back(click->item_id);
      session.times_ms.push_back(click->time_ms);
    }
    sessions.push_back(std::move(session));
  }
  return sessions;
}

SessionSplit SplitSessionsByEndTime(std::vector<ClickSession> sessions, double later_share) {
  SessionSplit split;
  if (sessions.empty()) return split;
  later_share = std::clamp(later_share, 0.0, 1.0);
  const size_t later_count = static_cast<size_t>(std::llround(later_share * static_cast<double>(sessions.size())));
  if (later_count == 0) {
    split.earlier = std::move(sessions);
    split.cutoff_ms = INT64_MAX;
    return split;
  }

  std::vector<int64_t> ends;
  ends.reserve(sessions.size());
  for (const ClickSession& session : sessions) ends.push_back(session.end_ms());
  std::sort(ends.begin(), ends.end());
  split.cutoff_ms = ends[ends.size() - later_count];

  for (ClickSession& session : sessions) {
    (session.end_ms() < split.cutoff_ms ? split.earlier : split.later).push_back(std::move(session));
  }
  return split;
}

}  // namespace tessera
