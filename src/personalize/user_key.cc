#include "personalize/user_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/files.h"

namespace tessera {

namespace {

constexpr size_t kSecretBytes = 32;

}  // namespace

Result<UserKeyer> UserKeyer::LoadOrCreate(const std::string& path) {
  std::optional<std::string> secret = ReadFileBytes(path);
  // Earlier builds created the file, then wrote the secret, so a crash between the two left an
  // empty file. No key was made from an empty file, so a new secret replaces it.
  if (secret && !secret->empty()) {
    if (secret->size() != kSecretBytes) {
      return Status::Corruption("user key file " + path + " holds " + std::to_string(secret->size()) +
                                " bytes instead of 32: restore it from a backup, or delete it together with the "
                                "store's events and profiles, which it alone can match to user ids");
    }
    return UserKeyer(std::move(*secret));
  }
  std::error_code ignored;
  if (secret) std::filesystem::remove(path, ignored);  // a failure shows at link() below

  std::string created(kSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(created.data()), static_cast<int>(created.size())) != 1) {
    return Status::Internal("OpenSSL could not draw random bytes for the user key");
  }
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(folder, ignored);

  // The secret is written and synced under a temporary name, then linked to `path`, so a crash
  // leaves either no key file or a whole one. link() fails on an existing file, so a key that
  // another process created meanwhile is never overwritten.
  const std::string temp = path + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, S_IRUSR | S_IWUSR);
  if (fd < 0) return Status::IoError("cannot create user key file " + temp + ": " + std::strerror(errno));
  const bool written = write(fd, created.data(), created.size()) == static_cast<ssize_t>(created.size()) && fsync(fd) == 0;
  const int write_error = errno;
  close(fd);
  if (!written) return Status::IoError("cannot write user key file " + temp + ": " + std::strerror(write_error));
  const bool linked = link(temp.c_str(), path.c_str()) == 0;
  const int link_error = errno;
  unlink(temp.c_str());
  if (!linked) return Status::IoError("cannot create user key file " + path + ": " + std::strerror(link_error));

  // The new directory entry is durable only once the folder is synced.
  const int folder_fd = open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (folder_fd < 0 || fsync(folder_fd) != 0) {
    const int sync_error = errno;
    if (folder_fd >= 0) close(folder_fd);
    return Status::IoError("cannot sync folder " + folder.string() + " of the user key file: " + std::strerror(sync_error));
  }
  close(folder_fd);
  return UserKeyer(std::move(created));
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
