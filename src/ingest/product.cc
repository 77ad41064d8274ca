#include "ingest/product.h"

#include <cmath>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace tessera {
namespace {

using nlohmann::json;

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool IsCurrencyCode(const std::string& s) {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

Status CheckText(const char* field, const std::string& value, size_t max_bytes) {
  if (value.size() > max_bytes) {
    return Status::InvalidArgument(std::string("field '") + field + "' is " + std::to_string(value.size()) +
                                   " bytes: shorten it to at most " + std::to_string(max_bytes));
  }
  if (!IsValidUtf8(value)) {
    return Status::InvalidArgument(std::string("field '") + field +
                                   "' is not valid UTF-8: re-encode the text as UTF-8");
  }
  return Status::Ok();
}

// Reads a string field; a present field of another type is an error naming the field.
Status ReadString(const json& object, const char* field, std::string* out) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return Status::InvalidArgument(std::string("field '") + field + "' must be a string, got " +
                                   Excerpt(it->dump()));
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadStringArray(const json& object, const char* field, std::vector<std::string>* out) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) {
    return Status::InvalidArgument(std::string("field '") + field + "' must be an array of strings, got " +
                                   Excerpt(it->dump()));
  }
  for (const json& element : *it) {
    if (!element.is_string()) {
      return Status::InvalidArgument(std::string("field '") + field + "' must contain only strings, got " +
                                     Excerpt(element.dump()));
    }
    out->push_back(element.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

const char* AvailabilityName(Availability availability) {
  switch (availability) {
    case Availability::kInStock: return "in_stock";
    case Availability::kOutOfStock: return "out_of_stock";
    case Availability::kPreorder: return "preorder";
  }
  return "in_stock";
}

const std::string& Product::Attribute(const std::string& key) const {
  static const std::string kEmpty;
  auto it = attributes.find(key);
  return it == attributes.end() ? kEmpty : it->second;
}

Status ValidateProduct(const Product& p) {
  if (p.id.empty()) return Status::InvalidArgument("field 'id' is missing or empty: every product needs an id");
  if (p.id.size() > kMaxProductIdBytes) {
    return Status::InvalidArgument("id '" + Excerpt(p.id) + "' is longer than " +
                                   std::to_string(kMaxProductIdBytes) + " bytes");
  }
  for (char c : p.id) {
    if (!IsIdChar(c)) {
      return Status::InvalidArgument("id '" + Excerpt(p.id) +
                                     "' contains a character outside [A-Za-z0-9._:-]: use only those");
    }
  }
  if (TrimAscii(p.title).empty()) {
    return Status::InvalidArgument("field 'title' is missing or empty for product '" + p.id + "'");
  }
  TESSERA_RETURN_IF_ERROR(CheckText("title", p.title, kMaxTitleBytes));
  TESSERA_RETURN_IF_ERROR(CheckText("description", p.description, kMaxDescriptionBytes));
  TESSERA_RETURN_IF_ERROR(CheckText("brand", p.brand, kMaxTitleBytes));
  for (const std::string& level : p.category_path) {
    TESSERA_RETURN_IF_ERROR(CheckText("category_path", level, kMaxTitleBytes));
    if (TrimAscii(level).empty()) {
      return Status::InvalidArgument("field 'category_path' has an empty level: remove it or name it");
    }
  }
  if (p.price) {
    if (!std::isfinite(*p.price) || *p.price < 0) {
      return Status::InvalidArgument("field 'price' is " + std::to_string(*p.price) +
                                     ": send a finite number >= 0, or leave the field out");
    }
    if (!IsCurrencyCode(p.currency)) {
      return Status::InvalidArgument("field 'currency' is '" + Excerpt(p.currency) +
                                     "': a priced product needs a three-letter ISO 4217 code such as USD");
    }
  }
  if (p.attributes.size() > kMaxAttributes) {
    return Status::InvalidArgument("field 'attributes' of product '" + p.id + "' has " +
                                   std::to_string(p.attributes.size()) + " entries: at most " +
                                   std::to_string(kMaxAttributes) + " are allowed");
  }
  for (const auto& [key, value] : p.attributes) {
    if (key.empty()) return Status::InvalidArgument("field 'attributes' has an empty key");
    TESSERA_RETURN_IF_ERROR(CheckText("attributes", key, kMaxTitleBytes));
    TESSERA_RETURN_IF_ERROR(CheckText("attributes", value, kMaxTitleBytes));
  }
  if (p.image_paths.size() > kMaxImages) {
    return Status::InvalidArgument("field 'images' of product '" + p.id + "' has " +
                                   std::to_string(p.image_paths.size()) + " paths: at most " +
                                   std::to_string(kMaxImages) + " are allowed");
  }
  return Status::Ok();
}

json ProductToJson(const Product& p) {
  json out = {
      {"id", p.id},
      {"title", p.title},
      {"description", p.description},
      {"brand", p.brand},
      {"category_path", p.category_path},
      {"attributes", p.attributes},
      {"images", p.image_paths},
      {"availability", AvailabilityName(p.availability)},
  };
  if (p.price) {
    out["price"] = *p.price;
    out["currency"] = p.currency;
  }
  return out;
}

Result<Product> ProductFromJson(const json& object, const std::string& base_dir) {
  if (!object.is_object()) {
    return Status::InvalidArgument("a product must be a JSON object, got " + Excerpt(object.dump()));
  }
  static const std::set<std::string> kKnownFields = {
      "op", "id", "title", "description", "brand", "category_path", "price", "currency",
      "attributes", "images", "availability"};
  for (const auto& [key, value] : object.items()) {
    if (!kKnownFields.count(key)) {
      return Status::InvalidArgument("unknown field '" + Excerpt(key) +
                                     "': known fields are id, title, description, brand, category_path, "
                                     "price, currency, attributes, images, availability, op");
    }
  }

  Product p;
  // An id sent as a number (as CSV-born catalogues often do) is accepted and kept as text.
  if (auto it = object.find("id"); it != object.end() && it->is_number_integer()) {
    p.id = std::to_string(it->get<int64_t>());
  } else {
    TESSERA_RETURN_IF_ERROR(ReadString(object, "id", &p.id));
  }
  TESSERA_RETURN_IF_ERROR(ReadString(object, "title", &p.title));
  TESSERA_RETURN_IF_ERROR(ReadString(object, "description", &p.description));
  TESSERA_RETURN_IF_ERROR(ReadString(object, "brand", &p.brand));
  TESSERA_RETURN_IF_ERROR(ReadString(object, "currency", &p.currency));
  TESSERA_RETURN_IF_ERROR(ReadStringArray(object, "category_path", &p.category_path));

  std::vector<std::string> images;
  TESSERA_RETURN_IF_ERROR(ReadStringArray(object, "images", &images));
  for (const std::string& image : images) {
    std::filesystem::path path(image);
    if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
    p.image_paths.push_back(path.lexically_normal().string());
  }

  if (auto it = object.find("price"); it != object.end() && !it->is_null()) {
    if (!it->is_number()) {
      return Status::InvalidArgument("field 'price' must be a number, got " + Excerpt(it->dump()) +
                                     ": send e.g. 649.0 and the currency in 'currency'");
    }
    p.price = it->get<double>();
  }

  if (auto it = object.find("attributes"); it != object.end() && !it->is_null()) {
    if (!it->is_object()) {
      return Status::InvalidArgument("field 'attributes' must be an object of strings, got " +
                                     Excerpt(it->dump()));
    }
    for (const auto& [key, value] : it->items()) {
      if (value.is_string()) {
        p.attributes[key] = value.get<std::string>();
      } else if (value.is_number()) {
        p.attributes[key] = value.dump();
      } else {
        return Status::InvalidArgument("attribute '" + Excerpt(key) + "' must be a string or number, got " +
                                       Excerpt(value.dump()));
      }
    }
  }

  std::string availability = "in_stock";
  TESSERA_RETURN_IF_ERROR(ReadString(object, "availability", &availability));
  if (availability == "in_stock") {
    p.availability = Availability::kInStock;
  } else if (availability == "out_of_stock") {
    p.availability = Availability::kOutOfStock;
  } else if (availability == "preorder") {
    p.availability = Availability::kPreorder;
  } else {
    return Status::InvalidArgument("field 'availability' is '" + Excerpt(availability) +
                                   "': use in_stock, out_of_stock or preorder");
  }

  TESSERA_RETURN_IF_ERROR(ValidateProduct(p));
  return p;
}

}  // namespace tessera
