#include "store/product_store.h"

#include <cstring>

#include <nlohmann/json.hpp>

namespace tessera {
namespace {

// Ids never contain '/', so "<id>/" is a prefix of exactly that product's vectors.
std::string VectorKey(const std::string& encoder, const std::string& id) { return id + "/" + encoder; }

std::string EncodeDerivedText(const DerivedText& text) {
  std::string record(1, kProductRecordVersion);
  record += nlohmann::json{{"input", text.input_fingerprint}, {"text", text.text}}.dump();
  return record;
}

Result<DerivedText> DecodeDerivedText(std::string_view key, std::string_view record) {
  const auto malformed = [&] { return Status::Corruption("derived text record '" + std::string(key) + "' is malformed"); };
  if (record.empty() || record[0] != kProductRecordVersion) return malformed();
  nlohmann::json object = nlohmann::json::parse(record.substr(1), nullptr, /*allow_exceptions=*/false);
  if (!object.is_object() || !object.contains("input") || !object["input"].is_string() || !object.contains("text") ||
      !object["text"].is_string()) {
    return malformed();
  }
  return DerivedText{object["input"].get<std::string>(), object["text"].get<std::string>()};
}

}  // namespace

std::string EncodeProductRecord(const Product& product) {
  std::string record(1, kProductRecordVersion);
  record += ProductToJson(product).dump();
  return record;
}

Result<Product> DecodeProductRecord(std::string_view record) {
  if (record.empty() || record[0] != kProductRecordVersion) {
    return Status::Corruption("product record has version " +
                              (record.empty() ? std::string("(empty)") : std::to_string(int(record[0]))) +
                              ", expected " + std::to_string(int(kProductRecordVersion)));
  }
  nlohmann::json object = nlohmann::json::parse(record.substr(1), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return Status::Corruption("product record is not valid JSON");
  // Image paths were stored absolute, so no base folder is needed.
  return ProductFromJson(object, "");
}

void ProductStore::AddPut(WriteBatch* batch, const Product& product) {
  batch->Put(Family::kProducts, product.id, EncodeProductRecord(product));
}

void ProductStore::AddVectorPut(WriteBatch* batch, const std::string& encoder, const std::string& id,
                                const std::vector<float>& vector) {
  std::string record(1, kProductRecordVersion);
  record.append(reinterpret_cast<const char*>(vector.data()), vector.size() * sizeof(float));
  batch->Put(Family::kVectors, VectorKey(encoder, id), record);
}

void ProductStore::AddVectorDelete(WriteBatch* batch, const std::string& encoder, const std::string& id) {
  batch->Delete(Family::kVectors, VectorKey(encoder, id));
}

Status ProductStore::Put(const Product& product, bool sync) {
  return kv_->Put(Family::kProducts, product.id, EncodeProductRecord(product), sync);
}

Status ProductStore::PutBatch(const std::vector<Product>& products, bool sync) {
  WriteBatch batch;
  for (const Product& product : products) AddPut(&batch, product);
  return kv_->Write(&batch, sync);
}

Status ProductStore::Delete(const std::string& id, bool sync) {
  WriteBatch batch;
  TESSERA_RETURN_IF_ERROR(AddDelete(&batch, id));
  return kv_->Write(&batch, sync);
}

Status ProductStore::AddDelete(WriteBatch* batch, const std::string& id) const {
  batch->Delete(Family::kProducts, id);
  return kv_->Scan(Family::kVectors, id + "/", [&](std::string_view key, std::string_view) {
    batch->Delete(Family::kVectors, key);
    return true;
  });
}

Result<Product> ProductStore::Get(const std::string& id) const {
  Result<std::optional<std::string>> record = kv_->Get(Family::kProducts, id);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return Status::NotFound("product '" + id + "' not found");
  return DecodeProductRecord(**record);
}

Status ProductStore::ForEach(const std::function<void(Product&&)>& visit) const {
  Status decode_error;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kProducts, "", [&](std::string_view key, std::string_view value) {
    Result<Product> product = DecodeProductRecord(value);
    if (!product.ok()) {
      decode_error = Status::Corruption("product '" + std::string(key) + "': " + product.status().message());
      return false;
    }
    visit(std::move(product).value());
    return true;
  }));
  return decode_error;
}

Status ProductStore::PutVector(const std::string& encoder, const std::string& id, const std::vector<float>& vector) {
  WriteBatch batch;
  AddVectorPut(&batch, encoder, id, vector);
  return kv_->Write(&batch);
}

Status ProductStore::ForEachVector(const std::string& encoder,
                                   const std::function<void(const std::string&, std::vector<float>&&)>& visit) const {
  const std::string suffix = "/" + encoder;
  Status decode_error;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kVectors, "", [&](std::string_view key, std::string_view value) {
    if (!key.ends_with(suffix)) return true;
    if (value.empty() || value[0] != kProductRecordVersion || (value.size() - 1) % sizeof(float) != 0) {
      decode_error = Status::Corruption("vector record '" + std::string(key) + "' is malformed");
      return false;
    }
    std::vector<float> vector((value.size() - 1) / sizeof(float));
    std::memcpy(vector.data(), value.data() + 1, value.size() - 1);
    visit(std::string(key.substr(0, key.size() - suffix.size())), std::move(vector));
    return true;
  }));
  return decode_error;
}

void ProductStore::AddDerivedTextPut(WriteBatch* batch, const std::string& reader, const std::string& id,
                                     const DerivedText& text) {
  batch->Put(Family::kVectors, VectorKey(reader, id), EncodeDerivedText(text));
}

void ProductStore::AddDerivedTextDelete(WriteBatch* batch, const std::string& reader, const std::string& id) {
  batch->Delete(Family::kVectors, VectorKey(reader, id));
}

Result<std::optional<DerivedText>> ProductStore::GetDerivedText(const std::string& reader, const std::string& id) const {
  const std::string key = VectorKey(reader, id);
  Result<std::optional<std::string>> record = kv_->Get(Family::kVectors, key);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return std::optional<DerivedText>();
  Result<DerivedText> text = DecodeDerivedText(key, **record);
  if (!text.ok()) return text.status();
  return std::optional<DerivedText>(std::move(text).value());
}

Status ProductStore::ForEachDerivedText(const std::string& reader,
                                        const std::function<void(const std::string&, DerivedText&&)>& visit) const {
  const std::string suffix = "/" + reader;
  Status decode_error;
  TESSERA_RETURN_IF_ERROR(kv_->Scan(Family::kVectors, "", [&](std::string_view key, std::string_view value) {
    if (!key.ends_with(suffix)) return true;
    Result<DerivedText> text = DecodeDerivedText(key, value);
    if (!text.ok()) {
      decode_error = text.status();
      return false;
    }
    visit(std::string(key.substr(0, key.size() - suffix.size())), std::move(text).value());
    return true;
  }));
  return decode_error;
}

}  // namespace tessera
