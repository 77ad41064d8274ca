#include "personalize/user_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/files.h"

namespace tessera {

namespace {

constexpr size_t kSecretBytes = 32;

}  // namespace

Result<UserKeyer> UserKeyer::LoadOrCreate(const std::string& path) {
  if (std::optional<std::string> secret = ReadFileBytes(path)) {
    if (secret->size() != kSecretBytes) {
      return Status::Corruption("user key file " + path + " holds " + std::to_string(secret->size()) +
                                " bytes instead of 32: restore it from a backup, or delete it together with the "
                                "store's events and profiles, which it alone can match to user ids");
    }
    return UserKeyer(std::move(*secret));
  }
  std::string secret(kSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
    return Status::Internal("OpenSSL could not draw random bytes for the user key");
  }
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  // O_EXCL: a key that another process created meanwhile is never overwritten.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, S_IRUSR | S_IWUSR);
  if (fd < 0) return Status::IoError("cannot create user key file " + path + ": " + std::strerror(errno));
  const bool written = write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) && fsync(fd) == 0;
  close(fd);
  if (!written) return Status::IoError("cannot write user key file " + path + ": " + std::strerror(errno));
  return UserKeyer(std::move(secret));
}

std::string UserKeyer::Key(const std::string& user_id) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(user_id.data()), user_id.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = "#";
  for (unsigned int i = 0; i < length; ++i) {
    key.push_back(kHex[digest[i] >> 4]);
    key.push_back(kHex[digest[i] & 0x0F]);
  }
  return key;
}

}  // namespace tessera
