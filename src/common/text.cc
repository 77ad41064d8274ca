#include "common/text.h"

#include <algorithm>
#include <cstdint>

namespace tessera {

std::string_view TrimAscii(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> Split(std::string_view s, char separator) {
  std::vector<std::string> pieces;
  size_t start = 0;
  while (true) {
    size_t end = s.find(separator, start);
    if (end == std::string_view::npos) {
      pieces.emplace_back(s.substr(start));
      return pieces;
    }
    pieces.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
}

namespace {

// Returns the length of the well-formed UTF-8 sequence starting at s[i], or 0 when it is malformed:
// a stray continuation byte, a truncated sequence, an overlong encoding, a UTF-16 surrogate or a
// code point past U+10FFFF.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<uint8_t>(s[i]);
  size_t extra = 0;
  uint32_t code_point = 0;
  if (c < 0x80) {
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    extra = 1;
    code_point = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    extra = 2;
    code_point = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    extra = 3;
    code_point = c & 0x07;
  } else {
    return 0;
  }
  if (i + extra >= s.size()) return 0;
  for (size_t k = 1; k <= extra; ++k) {
    const auto next = static_cast<uint8_t>(s[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
  if (code_point < kMinForLength[extra]) return 0;
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  if (code_point > 0x10FFFF) return 0;
  return extra + 1;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t length = Utf8SequenceLength(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string Excerpt(std::string_view s, size_t max_bytes) {
  // Error messages travel in JSON bodies, which must be valid UTF-8, so each byte of a malformed
  // sequence becomes U+FFFD and the cut falls between characters.
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string excerpt;
  size_t i = 0;
  while (i < s.size()) {
    const size_t length = Utf8SequenceLength(s, i);
    if (i + std::max<size_t>(length, 1) > max_bytes) break;
    if (length == 0) {
      excerpt += kReplacement;
      ++i;
    } else {
      excerpt += s.substr(i, length);
      i += length;
    }
  }
  if (i < s.size()) excerpt += "...";
  return excerpt;
}

}  // namespace tessera
