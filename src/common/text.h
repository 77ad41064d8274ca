// Small string helpers shared by every stage. Unicode-aware text analysis lives in analysis/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tessera {

// Returns `s` without leading and trailing ASCII whitespace.
std::string_view TrimAscii(std::string_view s);

// Returns `s` with ASCII letters lower-cased; other bytes are kept as they are.
std::string LowerAscii(std::string_view s);

// Splits `s` at every `separator`; empty pieces are kept.
std::vector<std::string> Split(std::string_view s, char separator);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates).
bool IsValidUtf8(std::string_view s);

// Returns at most `max_bytes` of `s` for use in an error message, with "..." when cut. The
// excerpt is valid UTF-8 whatever `s` holds: it is cut between characters, and each byte of a
// malformed sequence becomes U+FFFD (3 bytes, so the excerpt may be longer than `max_bytes`).
std::string Excerpt(std::string_view s, size_t max_bytes = 60);

}  // namespace tessera
