// ProductStore: the catalogue of record, products and their vectors, kept in a KvStore.
//
// Keys: products family "<id>" -> record; vectors family "<id>/<encoder>" -> record. Each record
// starts with a one-byte record version (kProductRecordVersion) so the value layout can change
// without a new store format.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ingest/product.h"
#include "store/kv_store.h"

namespace tessera {

inline constexpr char kProductRecordVersion = 1;

struct DerivedText {
  std::string input_fingerprint;  // e.g. CRC-32 and size of the photo it was read from
  std::string text;
};

// Thread safety: as KvStore. Does not own the KvStore, which must outlive it.
class ProductStore {
 public:
  explicit ProductStore(KvStore* kv) : kv_(kv) {}

  Status Put(const Product& product, bool sync = false);
  // Writes many products and their vectors in one atomic batch.
  Status PutBatch(const std::vector<Product>& products, bool sync = false);
  // Deletes the product and every vector stored for it. Deleting an absent id is not an error.
  Status Delete(const std::string& id, bool sync = false);
  // Adds the deletes of Delete to `batch`: the product and every vector stored for it.
  Status AddDelete(WriteBatch* batch, const std::string& id) const;
  // Returns kNotFound when no product has `id`.
  Result<Product> Get(const std::string& id) const;
  // Calls `visit` for every product in id order. Stops at the first decoding error.
  Status ForEach(const std::function<void(Product&&)>& visit) const;

  // Vectors computed by the encoder named `encoder` (e.g. "image-colour-shape-v1").
  Status PutVector(const std::string& encoder, const std::string& id, const std::vector<float>& vector);

  // Add the same writes to `batch`, for callers that commit products, vectors and other data
  // in one atomic write.
  static void AddPut(WriteBatch* batch, const Product& product);
  static void AddVectorPut(WriteBatch* batch, const std::string& encoder, const std::string& id,
                           const std::vector<float>& vector);
  static void AddVectorDelete(WriteBatch* batch, const std::string& encoder, const std::string& id);
  Status ForEachVector(const std::string& encoder,
                       const std::function<void(const std::string& id, std::vector<float>&&)>& visit) const;

  // Text derived from a product by the reader named `reader` (e.g. the words read from its
  // photo), with the fingerprint of the input it was derived from, so unchanged input is not
  // read again. Stored in the vectors family under "<id>/<reader>".
  static void AddDerivedTextPut(WriteBatch* batch, const std::string& reader, const std::string& id,
                                const DerivedText& text);
  static void AddDerivedTextDelete(WriteBatch* batch, const std::string& reader, const std::string& id);
  // std::nullopt when the product has no text from `reader`.
  Result<std::optional<DerivedText>> GetDerivedText(const std::string& reader, const std::string& id) const;
  Status ForEachDerivedText(const std::string& reader,
                            const std::function<void(const std::string& id, DerivedText&&)>& visit) const;

 private:
  KvStore* kv_;
};

// Encodes a product as a store record: the record version byte, then its JSON.
std::string EncodeProductRecord(const Product& product);
Result<Product> DecodeProductRecord(std::string_view record);

}  // namespace tessera
