#include "ingest/fashion_catalog_reader.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "ingest/csv_reader.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

constexpr std::array<const char*, 10> kColumns = {
    "id", "gender", "masterCategory", "subCategory", "articleType",
    "baseColour", "season", "year", "usage", "productDisplayName"};
enum Column { kId, kGender, kMaster, kSub, kArticleType, kColour, kSeason, kYear, kUsage, kName };

// The Myntra records quote prices in Indian rupees.
constexpr const char* kFashionCurrency = "INR";

Status CheckHeader(const std::vector<std::string>& header, const std::string& path) {
  if (header.size() != kColumns.size()) {
    return Status::InvalidArgument(path + ": header has " + std::to_string(header.size()) +
                                   " columns, expected " + std::to_string(kColumns.size()) +
                                   " (id,gender,masterCategory,subCategory,articleType,baseColour,season,"
                                   "year,usage,productDisplayName)");
  }
  for (size_t i = 0; i < kColumns.size(); ++i) {
    if (TrimAscii(header[i]) != kColumns[i]) {
      return Status::InvalidArgument(path + ": header column " + std::to_string(i + 1) + " is '" +
                                     Excerpt(header[i]) + "', expected '" + kColumns[i] + "'");
    }
  }
  return Status::Ok();
}

// Fills price, brand and description from hires/<id>.json when that file exists. A broken file
// is reported but does not reject the product, whose styles.csv row is valid on its own.
void MergeFullRecord(const fs::path& json_path, Product* p, std::vector<std::string>* warnings) {
  std::ifstream in(json_path);
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("data") || !doc["data"].is_object()) {
    warnings->push_back(json_path.string() + " is not a valid product record; using styles.csv only");
    return;
  }
  const nlohmann::json& data = doc["data"];
  if (auto it = data.find("price"); it != data.end() && it->is_number() && it->get<double>() >= 0) {
    p->price = it->get<double>();
    p->currency = kFashionCurrency;
  }
  if (auto it = data.find("discountedPrice"); it != data.end() && it->is_number()) {
    p->attributes["discounted_price"] = it->dump();
  }
  if (auto it = data.find("brandName"); it != data.end() && it->is_string() && !it->get<std::string>().empty()) {
    p->brand = it->get<std::string>();
  }
  auto descriptors = data.find("productDescriptors");
  if (descriptors != data.end() && descriptors->is_object()) {
    auto description = descriptors->find("description");
    if (description != descriptors->end() && description->is_object() && description->contains("value") &&
        (*description)["value"].is_string()) {
      p->description = HtmlToText((*description)["value"].get<std::string>());
      if (p->description.size() > kMaxDescriptionBytes) p->description.resize(0);
    }
  }
}

Product ProductFromRow(const std::vector<std::string>& row, const fs::path& dir) {
  Product p;
  p.id = std::string(TrimAscii(row[kId]));
  p.title = std::string(TrimAscii(row[kName]));
  p.brand = BrandFromDisplayName(p.title);
  for (int column : {kMaster, kSub, kArticleType}) {
    std::string level(TrimAscii(row[column]));
    if (!level.empty()) p.category_path.push_back(level);
  }
  auto set_attribute = [&](const char* key, int column) {
    std::string value(TrimAscii(row[column]));
    if (!value.empty() && value != "NA") p.attributes[key] = value;
  };
  set_attribute("gender", kGender);
  set_attribute("article_type", kArticleType);
  set_attribute("colour", kColour);
  set_attribute("season", kSeason);
  set_attribute("year", kYear);
  set_attribute("usage", kUsage);

  const fs::path thumbnail = dir / "images" / (p.id + ".jpg");
  if (fs::exists(thumbnail)) p.image_paths.push_back(thumbnail.string());
  const fs::path full_photo = dir / "hires" / (p.id + ".jpg");
  if (fs::exists(full_photo)) p.image_paths.push_back(full_photo.string());
  return p;
}

}  // namespace

std::string BrandFromDisplayName(const std::string& display_name) {
  static const std::array<std::string_view, 10> kAudienceWords = {
      "Men", "Women", "Woman", "Boys", "Girls", "Unisex", "Kids", "Mens", "Womens", "Infant"};
  std::istringstream words(display_name);
  std::string word;
  std::string brand;
  while (words >> word) {
    for (std::string_view audience : kAudienceWords) {
      if (word == audience || word == std::string(audience) + "'s") return brand;
    }
    if (!brand.empty()) brand += ' ';
    brand += word;
  }
  return "";  // no audience word, so the brand cannot be separated from the rest of the name
}

std::string HtmlToText(const std::string& html) {
  std::string text;
  bool in_tag = false;
  for (size_t i = 0; i < html.size(); ++i) {
    const char c = html[i];
    if (c == '<') {
      in_tag = true;
      text += ' ';
    } else if (c == '>') {
      in_tag = false;
    } else if (!in_tag) {
      text += c;
    }
  }
  // "&amp;" is decoded last, so the "&" it produces cannot start another entity. "&amp;lt;"
  // becomes the text "&lt;".
  static const std::array<std::pair<std::string_view, std::string_view>, 6> kEntities = {{
      {"&nbsp;", " "}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}};
  for (const auto& [entity, replacement] : kEntities) {
    for (size_t at = text.find(entity); at != std::string::npos; at = text.find(entity, at)) {
      text.replace(at, entity.size(), replacement);
      at += replacement.size();
    }
  }
  std::string collapsed;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (space) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed += ' ';
    } else {
      collapsed += c;
    }
  }
  return std::string(TrimAscii(collapsed));
}

Result<IngestReport> ReadFashionCatalog(const std::string& dir_name, const RecordSink& sink) {
  const fs::path dir(dir_name);
  const fs::path csv_path = dir / "styles.csv";
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) {
    return Status::NotFound(csv_path.string() +
                            " not found: pass the folder that holds styles.csv and images/");
  }
  CsvReader reader(in);
  std::vector<std::string> row;
  Status row_error;
  if (!reader.Next(&row, &row_error) || !row_error.ok()) {
    return Status::InvalidArgument(csv_path.string() + " has no header line");
  }
  if (!row.empty() && row[0].rfind("\xEF\xBB\xBF", 0) == 0) row[0].erase(0, 3);  // UTF-8 BOM
  TESSERA_RETURN_IF_ERROR(CheckHeader(row, csv_path.string()));

  IngestReport report;
  while (reader.Next(&row, &row_error)) {
    const size_t line = reader.record_line();
    if (!row_error.ok()) {
      report.Reject(line, "record", row_error.message());
      continue;
    }
    if (row.size() == 1 && TrimAscii(row[0]).empty()) continue;  // blank line
    if (row.size() != kColumns.size()) {
      report.Reject(line, "record",
                    "has " + std::to_string(row.size()) + " columns, expected " +
                        std::to_string(kColumns.size()) + ": quote a display name that contains a comma");
      continue;
    }

    Product product = ProductFromRow(row, dir);
    const fs::path full_record = dir / "hires" / (product.id + ".json");
    if (fs::exists(full_record)) MergeFullRecord(full_record, &product, &report.warnings);
    if (Status valid = ValidateProduct(product); !valid.ok()) {
      report.Reject(line, FieldNamedIn(valid.message()), valid.message());
      continue;
    }
    TESSERA_RETURN_IF_ERROR(sink(CatalogRecord{CatalogRecord::Op::kUpsert, std::move(product), line}));
    ++report.accepted;
  }
  return report;
}

}  // namespace tessera
