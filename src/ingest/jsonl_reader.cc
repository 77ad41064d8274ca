#include "ingest/jsonl_reader.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace tessera {

Result<CatalogRecord> ParseCatalogLine(std::string_view line, const std::string& base_dir) {
  if (line.size() > kMaxJsonlLineBytes) {
    return Status::TooLarge("line is " + std::to_string(line.size()) + " bytes, above the limit of " +
                            std::to_string(kMaxJsonlLineBytes) + ": shorten the description");
  }
  nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return Status::InvalidArgument("malformed JSON '" + Excerpt(line) + "': each line must be one JSON object");
  }
  if (!object.is_object()) {
    return Status::InvalidArgument("a line must hold a JSON object, got " + Excerpt(line));
  }

  std::string op = "upsert";
  if (auto it = object.find("op"); it != object.end()) {
    if (!it->is_string() || (*it != "upsert" && *it != "delete")) {
      return Status::InvalidArgument("field 'op' is " + Excerpt(it->dump()) + ": use \"upsert\" or \"delete\"");
    }
    op = it->get<std::string>();
  }

  CatalogRecord record;
  if (op == "delete") {
    record.op = CatalogRecord::Op::kDelete;
    auto id = object.find("id");
    if (id == object.end() || !id->is_string() || id->get<std::string>().empty()) {
      return Status::InvalidArgument("field 'id' must be a non-empty string in a delete");
    }
    record.product.id = id->get<std::string>();
    return record;
  }
  Result<Product> product = ProductFromJson(object, base_dir);
  if (!product.ok()) return product.status();
  record.product = std::move(product).value();
  return record;
}

Result<IngestReport> ReadJsonlCatalog(std::istream& in, const std::string& base_dir, const RecordSink& sink) {
  IngestReport report;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (TrimAscii(line).empty()) continue;

    Result<CatalogRecord> record = ParseCatalogLine(line, base_dir);
    if (!record.ok()) {
      report.Reject(line_number, FieldNamedIn(record.status().message()), record.status().message());
      continue;
    }
    record->line = line_number;
    const bool is_delete = record->op == CatalogRecord::Op::kDelete;
    TESSERA_RETURN_IF_ERROR(sink(std::move(record).value()));
    if (is_delete) {
      ++report.deleted;
    } else {
      ++report.accepted;
    }
  }
  return report;
}

Result<IngestReport> ReadJsonlCatalogFile(const std::string& path, const RecordSink& sink) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("catalogue file " + path + " not found or unreadable");
  const std::string base_dir = std::filesystem::absolute(path).parent_path().string();
  return ReadJsonlCatalog(in, base_dir, sink);
}

}  // namespace tessera
