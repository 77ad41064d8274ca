// UserKeyer: the pseudonym under which a shopper's events and profile are stored, so that no raw
// user id is ever written to the store.
//
// The stored key is "#" followed by the hex HMAC-SHA-256 (RFC 2104) of the user id under a
// secret of 32 random bytes kept in a file beside the store. '#' cannot occur in a user id
// (ValidateUserId), so a stored key is never mistaken for a raw id. Without the secret, the
// stored keys cannot be linked to user ids by hashing guessed ids.
#pragma once

#include <string>

#include "common/status.h"

namespace tessera {

class UserKeyer {
 public:
  // Reads the secret from `path`, or creates it there (mode 0600, parent folders created) when
  // the file does not exist or is empty. A crash while creating it leaves no file or a whole
  // one. Fails when the file contains other than 0 or 32 bytes, or cannot be read or written.
  static Result<UserKeyer> LoadOrCreate(const std::string& path);
  // A keyer with a given secret, for tests.
  explicit UserKeyer(std::string secret) : secret_(std::move(secret)) {}

  // The stored key of `user_id`.
  std::string Key(const std::string& user_id) const;
  // True for a stored key made by Key (rather than a raw user id).
  static bool IsKey(std::string_view text) { return !text.empty() && text[0] == '#'; }

 private:
  std::string secret_;
};

}  // namespace tessera
