#include "serve/api_keys.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/text.h"

namespace tessera {
namespace {

constexpr size_t kDigestBytes = 32;  // SHA-256
constexpr size_t kKeyIdHexDigits = 8;
constexpr size_t kKeyRandomBytes = 32;
constexpr std::string_view kKeyPrefix = "tsk_";

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

bool IsLowerHexDigest(std::string_view text) {
  if (text.size() != 2 * kDigestBytes) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Splits a line at runs of spaces and tabs.
std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kSearch: return "search";
    case Role::kAnalytics: return "analytics";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

Result<Role> RoleFromName(std::string_view name) {
  for (Role role : {Role::kSearch, Role::kAnalytics, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return Status::InvalidArgument("role '" + Excerpt(name) + "' is unknown: use search, analytics or admin");
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // SHA-256 through EVP fails only on an OpenSSL error such as a failed allocation. No key can be
  // checked without it, so the process stops rather than let a request through unchecked.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1 || size != kDigestBytes) {
    spdlog::critical("OpenSSL's SHA-256 failed (digest size {})", size);
    std::abort();
  }
  return Hex(digest, size);
}

Result<ApiKeys> ApiKeys::Load(const std::string& path) {
  std::optional<std::string> text = ReadFileBytes(path);
  if (!text) return Status::NotFound("keys file " + path + " not found or unreadable: create it with `tessera keys create`");
  return Parse(*text, path);
}

Result<ApiKeys> ApiKeys::Parse(std::string_view text, const std::string& source) {
  ApiKeys keys;
  std::set<std::string> seen;
  size_t line_number = 0;
  for (const std::string& raw : Split(text, '\n')) {
    ++line_number;
    const std::string_view line = TrimAscii(raw);
    if (line.empty() || line.front() == '#') continue;

    const std::vector<std::string> words = Words(line);
    const std::string where = source + " line " + std::to_string(line_number);
    if (words.size() < 2) {
      return Status::InvalidArgument(where + " has no key hash: write ROLE SHA256 [LABEL], as `tessera keys create` does");
    }
    Result<Role> role = RoleFromName(words[0]);
    if (!role.ok()) return Status::InvalidArgument(where + ": " + role.status().message());
    if (!IsLowerHexDigest(words[1])) {
      // The value is not echoed: a key pasted here by mistake must not reach the log.
      return Status::InvalidArgument(where + ": the second column is not a SHA-256 digest (64 lower-case hex digits). "
                                     "The file stores hashes, never keys: add keys with `tessera keys create`");
    }
    if (!seen.insert(words[1]).second) {
      return Status::InvalidArgument(where + " repeats the key " + words[1].substr(0, kKeyIdHexDigits) + ": remove one line");
    }

    std::string label;
    for (size_t i = 2; i < words.size(); ++i) label += (i > 2 ? " " : "") + words[i];
    keys.entries_.push_back({*role, words[1], words[1].substr(0, kKeyIdHexDigits), label});
  }
  return keys;
}

std::optional<ApiKeyEntry> ApiKeys::Find(std::string_view key) const {
  const std::string hash = Sha256Hex(key);
  // Every entry is compared, in constant time each, so the time depends only on the number of keys.
  std::optional<ApiKeyEntry> found;
  for (const ApiKeyEntry& entry : entries_) {
    if (CRYPTO_memcmp(entry.hash_hex.data(), hash.data(), hash.size()) == 0) found = entry;
  }
  return found;
}

Result<std::string> GenerateApiKey() {
  unsigned char bytes[kKeyRandomBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return Status::Internal("OpenSSL's RAND_bytes failed to produce random bytes for a key");
  }
  return std::string(kKeyPrefix) + Hex(bytes, sizeof(bytes));
}

Result<ApiKeyEntry> AppendApiKey(const std::string& path, std::string_view key, Role role, const std::string& label) {
  if (label.find('\n') != std::string::npos) return Status::InvalidArgument("the key label must be one line");
  const std::string hash = Sha256Hex(key);
  const ApiKeyEntry entry{role, hash, hash.substr(0, kKeyIdHexDigits), label};

  // Read the file first, so that a damaged file is reported and not appended to.
  std::string line;
  if (std::optional<std::string> existing = ReadFileBytes(path)) {
    Result<ApiKeys> keys = ApiKeys::Parse(*existing, path);
    if (!keys.ok()) return keys.status();
    if (!existing->empty() && existing->back() != '\n') line = "\n";
  }
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("failed to open keys file " + path + ": " + std::strerror(errno));
  line += std::string(RoleName(role)) + " " + hash;
  if (!label.empty()) line += " " + label;
  line += "\n";
  const ssize_t written = write(fd, line.data(), line.size());
  const bool synced = fsync(fd) == 0;
  close(fd);
  if (written != static_cast<ssize_t>(line.size()) || !synced) {
    return Status::IoError("failed to write keys file " + path + ": " + std::strerror(errno));
  }
  return entry;
}

}  // namespace tessera
