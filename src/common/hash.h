// Stable hashes: the same on every platform and standard library, unlike std::hash, so values
// derived from them (feature ids, data splits, checksums) are stable across builds.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace tessera {

// Returns the 64-bit FNV-1a hash of `bytes`, continuing from `hash`.
inline uint64_t Fnv1a64(std::string_view bytes, uint64_t hash = 14695981039346656037ull) {
  constexpr uint64_t kFnvPrime = 1099511628211ull;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

// Returns `value` as 16 lower-case hex digits.
inline std::string HexDigits(uint64_t value) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(value));
  return hex;
}

}  // namespace tessera
