// API keys: the keys file, key creation and the lookup of a presented key.
//
// The keys file stores one key per line as its role and the SHA-256 of the key, never the key:
//
//   # ROLE    SHA-256 OF THE KEY (64 hex digits)                                LABEL (optional)
//   search    5f0c3b7a...                                                       storefront
//
// `tessera keys create` writes these lines. A presented key is hashed and compared against every
// stored hash with CRYPTO_memcmp. Logs and error messages name a key by its id, the first 8 hex
// digits of its hash, which cannot be turned back into the key.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera {

// The permission level of a key. kSearch is the storefront's role (search, product pages, events, the shopper's
// own data); kAnalytics reads the engine's state; kAdmin may call every route.
enum class Role { kSearch, kAnalytics, kAdmin };

// "search", "analytics" or "admin".
const char* RoleName(Role role);
Result<Role> RoleFromName(std::string_view name);

// Returns the SHA-256 digest of `bytes` as 64 lower-case hex digits (OpenSSL EVP).
std::string Sha256Hex(std::string_view bytes);

// One stored key.
struct ApiKeyEntry {
  Role role;
  std::string hash_hex;  // SHA-256 of the key, 64 lower-case hex digits
  std::string key_id;    // the first 8 hex digits of hash_hex, for logs
  std::string label;     // free text from the file, e.g. "storefront"; may be empty
};

// The keys of one keys file. Immutable after Load, so Find is safe from any number of threads.
class ApiKeys {
 public:
  // Reads the keys file at `path`. Returns kNotFound when it cannot be read, and kInvalidArgument
  // naming the line for an unknown role, a value that is not a SHA-256 hex digest, or a repeated
  // key.
  static Result<ApiKeys> Load(const std::string& path);
  // Parses the text of a keys file; `source` names it in error messages.
  static Result<ApiKeys> Parse(std::string_view text, const std::string& source);

  // Returns the entry whose hash is SHA-256(`key`), or nothing. The time it takes does not depend
  // on which entry matches or how many leading bytes of a hash match.
  std::optional<ApiKeyEntry> Find(std::string_view key) const;

  const std::vector<ApiKeyEntry>& entries() const { return entries_; }

 private:
  std::vector<ApiKeyEntry> entries_;
};

// Returns a new key: "tsk_" and 64 hex digits of 32 bytes from OpenSSL's RAND_bytes.
Result<std::string> GenerateApiKey();

// Appends the line for `key` (its role, SHA-256 and `label`) to the keys file at `path`, creating the
// file with mode 0600 when it is missing. Returns the appended entry. The key itself is not written.
Result<ApiKeyEntry> AppendApiKey(const std::string& path, std::string_view key, Role role, const std::string& label);

}  // namespace tessera
