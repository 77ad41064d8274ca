// Product: one catalogue record, as every stage after ingest sees it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace tessera {

enum class Availability { kInStock, kOutOfStock, kPreorder };

// Returns "in_stock", "out_of_stock" or "preorder".
const char* AvailabilityName(Availability availability);

struct Product {
  std::string id;                          // unique, 1-128 bytes of [A-Za-z0-9._:-]
  std::string title;                       // required, UTF-8
  std::string description;                 // plain text; may be empty
  std::string brand;                       // may be empty
  std::vector<std::string> category_path;  // broadest first, e.g. {"Apparel", "Topwear", "Shirts"}
  std::optional<double> price;             // in `currency` units; absent when unknown
  std::string currency;                    // ISO 4217 code; required when price is set
  // Free-form attributes. The fashion catalogue fills gender, colour, article_type, season, year
  // and usage; filters and personalization read gender, colour and article_type.
  std::map<std::string, std::string> attributes;
  std::vector<std::string> image_paths;    // absolute paths to photos on the server's disk
  Availability availability = Availability::kInStock;

  // Returns attributes[key] or "" when absent.
  const std::string& Attribute(const std::string& key) const;
};

// Limits applied by ValidateProduct. Documented in docs/catalogue-formats.md.
inline constexpr size_t kMaxProductIdBytes = 128;
inline constexpr size_t kMaxTitleBytes = 1024;
inline constexpr size_t kMaxDescriptionBytes = 64 * 1024;
inline constexpr size_t kMaxAttributes = 64;
inline constexpr size_t kMaxImages = 32;

// Checks a product against the rules above. The message names the field and the bad value.
Status ValidateProduct(const Product& product);

// Serialization to the documented JSON product format (see docs/catalogue-formats.md).
nlohmann::json ProductToJson(const Product& product);

// Parses one JSON product object. Unknown fields, wrong types and invalid values are rejected
// with a message naming the field. Relative image paths are resolved against `base_dir`.
// On success the product has also passed ValidateProduct.
Result<Product> ProductFromJson(const nlohmann::json& object, const std::string& base_dir);

}  // namespace tessera
