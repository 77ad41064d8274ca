// KvStore: Tessera's embedded store, a RocksDB database with one column family per kind of data.
//
// On-disk format (see docs/storage-format.md): the "meta" family contains "magic" =
// "tessera-store" and "format_version" = kStoreFormatVersion. A store with another version is
// rejected at open.
// RocksDB checksums every block and recovers from its write-ahead log after a crash.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tessera {

inline constexpr int kStoreFormatVersion = 1;

enum class Family { kMeta = 0, kProducts, kVectors, kEvents, kProfiles };

// A group of writes applied atomically by KvStore::Write.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(Family family, std::string_view key, std::string_view value);
  void Delete(Family family, std::string_view key);
  size_t Count() const;

 private:
  friend class KvStore;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Thread safety: all methods may be called concurrently (RocksDB serializes writers and groups
// concurrent synced writes into one WAL sync).
class KvStore {
 public:
  // Opens or creates the store in `dir`. Fails with kCorruption when the folder contains a store of
  // another format version, and kIoError when RocksDB cannot open it (e.g. another process has
  // its lock).
  static Result<std::unique_ptr<KvStore>> Open(const std::string& dir);
  ~KvStore();

  // `sync` = true returns only after the write-ahead log is on disk: use it for acknowledged
  // writes that must survive a machine crash.
  Status Put(Family family, std::string_view key, std::string_view value, bool sync = false);
  Status Delete(Family family, std::string_view key, bool sync = false);
  Status Write(WriteBatch* batch, bool sync = false);

  // Returns the value, std::nullopt when the key is absent, or an error from RocksDB.
  Result<std::optional<std::string>> Get(Family family, std::string_view key) const;

  // Calls `visit` for every key starting with `prefix`, in key order, until it returns false.
  Status Scan(Family family, std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

  // Deletes every key starting with `prefix`; returns the number deleted.
  Result<size_t> DeletePrefix(Family family, std::string_view prefix, bool sync = false);

  // Flushes memtables and compacts every family, so deleted data leaves the files on disk.
  Status CompactAll();

  // Flushes every family's memtable, so no write-ahead log file keeps deleted data, and compacts
  // `families` only.
  Status Compact(std::initializer_list<Family> families);

  const std::string& dir() const { return dir_; }

 private:
  struct Rep;
  KvStore(std::string dir, std::unique_ptr<Rep> rep);
  std::string dir_;
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
