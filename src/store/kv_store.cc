#include "store/kv_store.h"

#include <array>
#include <filesystem>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace tessera {
namespace {

// Indexed by Family; RocksDB requires the first to be its "default" family.
constexpr std::array<const char*, 5> kFamilyNames = {"default", "products", "vectors", "events", "profiles"};
constexpr const char* kMagic = "tessera-store";

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

}  // namespace

// Operations are kept by Family and resolved to column family handles in KvStore::Write, so a
// batch can be filled before any store is open.
struct WriteBatch::Rep {
  std::vector<std::tuple<bool, Family, std::string, std::string>> ops;  // (is_put, family, key, value)
};

WriteBatch::WriteBatch() : rep_(std::make_unique<Rep>()) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

void WriteBatch::Put(Family family, std::string_view key, std::string_view value) {
  rep_->ops.emplace_back(true, family, std::string(key), std::string(value));
}
void WriteBatch::Delete(Family family, std::string_view key) {
  rep_->ops.emplace_back(false, family, std::string(key), std::string());
}
size_t WriteBatch::Count() const { return rep_->ops.size(); }

struct KvStore::Rep {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

  rocksdb::ColumnFamilyHandle* handle(Family family) const { return handles[static_cast<size_t>(family)]; }

  ~Rep() {
    for (auto* handle : handles) {
      if (db) db->DestroyColumnFamilyHandle(handle);
    }
    if (db) db->Close();
  }
};

KvStore::KvStore(std::string dir, std::unique_ptr<Rep> rep) : dir_(std::move(dir)), rep_(std::move(rep)) {}
KvStore::~KvStore() = default;

Result<std::unique_ptr<KvStore>> KvStore::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create store folder " + dir + ": " + ec.message());

  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  // The MANIFEST logs every file's smallest and largest key. A small limit makes RocksDB start a
  // new MANIFEST (a snapshot of the live files only) at the next change, so keys of erased data
  // do not linger there after compaction. The snapshot is a few kilobytes for this store.
  options.max_manifest_file_size = 1;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kFamilyNames) families.emplace_back(name, rocksdb::ColumnFamilyOptions());

  auto rep = std::make_unique<Rep>();
  rocksdb::DB* db = nullptr;
  TESSERA_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir, families, &rep->handles, &db),
                                    "cannot open store " + dir));
  rep->db.reset(db);
  std::unique_ptr<KvStore> store(new KvStore(dir, std::move(rep)));

  // Stamp a new store with the format; reject one written by another format version.
  Result<std::optional<std::string>> version = store->Get(Family::kMeta, "format_version");
  if (!version.ok()) return version.status();
  if (!version->has_value()) {
    WriteBatch stamp;
    stamp.Put(Family::kMeta, "magic", kMagic);
    stamp.Put(Family::kMeta, "format_version", std::to_string(kStoreFormatVersion));
    TESSERA_RETURN_IF_ERROR(store->Write(&stamp, /*sync=*/true));
  } else if (**version != std::to_string(kStoreFormatVersion)) {
    return Status::Corruption("store " + dir + " has format version " + **version + ", this build reads " +
                              std::to_string(kStoreFormatVersion) + ": re-ingest into a new --data-dir");
  }
  return store;
}

Status KvStore::Put(Family family, std::string_view key, std::string_view value, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  return FromRocks(rep_->db->Put(options, rep_->handle(family), key, value), "store put failed");
}

Status KvStore::Delete(Family family, std::string_view key, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  return FromRocks(rep_->db->Delete(options, rep_->handle(family), key), "store delete failed");
}

Status KvStore::Write(WriteBatch* batch, bool sync) {
  rocksdb::WriteBatch rocks_batch;
  for (const auto& [is_put, family, key, value] : batch->rep_->ops) {
    rocksdb::Status s = is_put ? rocks_batch.Put(rep_->handle(family), key, value)
                               : rocks_batch.Delete(rep_->handle(family), key);
    TESSERA_RETURN_IF_ERROR(FromRocks(s, "store batch failed"));
  }
  rocksdb::WriteOptions options;
  options.sync = sync;
  return FromRocks(rep_->db->Write(options, &rocks_batch), "store write failed");
}

Result<std::optional<std::string>> KvStore::Get(Family family, std::string_view key) const {
  std::string value;
  rocksdb::Status s = rep_->db->Get(rocksdb::ReadOptions(), rep_->handle(family), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "store get failed");
  return std::optional<std::string>(std::move(value));
}

Status KvStore::Scan(Family family, std::string_view prefix,
                     const std::function<bool(std::string_view, std::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(rocksdb::ReadOptions(), rep_->handle(family)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
  }
  return FromRocks(it->status(), "store scan failed");
}

Result<size_t> KvStore::DeletePrefix(Family family, std::string_view prefix, bool sync) {
  WriteBatch batch;
  TESSERA_RETURN_IF_ERROR(Scan(family, prefix, [&](std::string_view key, std::string_view) {
    batch.Delete(family, key);
    return true;
  }));
  const size_t count = batch.Count();
  TESSERA_RETURN_IF_ERROR(Write(&batch, sync));
  return count;
}

Status KvStore::CompactAll() {
  return Compact({Family::kMeta, Family::kProducts, Family::kVectors, Family::kEvents, Family::kProfiles});
}

Status KvStore::Compact(std::initializer_list<Family> families) {
  // A write-ahead log file is deleted only once every family with data in it is flushed.
  for (auto* handle : rep_->handles) {
    TESSERA_RETURN_IF_ERROR(FromRocks(rep_->db->Flush(rocksdb::FlushOptions(), handle), "store flush failed"));
  }
  for (Family family : families) {
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    TESSERA_RETURN_IF_ERROR(FromRocks(rep_->db->CompactRange(options, rep_->handle(family), nullptr, nullptr),
                                      "store compaction failed"));
  }
  return Status::Ok();
}

}  // namespace tessera
