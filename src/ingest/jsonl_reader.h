// Reads the JSONL product format: one JSON product object per line (docs/catalogue-formats.md).
#pragma once

#include <istream>
#include <string>

#include "ingest/catalog_record.h"

namespace tessera {

// Maximum bytes of one JSONL line; longer lines are rejected, not parsed.
inline constexpr size_t kMaxJsonlLineBytes = 1 << 20;

// Reads records from `in`; relative image paths resolve against `base_dir`. A line
// {"op": "delete", "id": "..."} deletes; any other line upserts. Invalid lines are rejected with
// their line number and field; blank lines are skipped.
Result<IngestReport> ReadJsonlCatalog(std::istream& in, const std::string& base_dir, const RecordSink& sink);

// Opens `path` and reads it as above, resolving image paths against the file's folder.
Result<IngestReport> ReadJsonlCatalogFile(const std::string& path, const RecordSink& sink);

// Parses one JSONL line into a record; used by the file reader and the HTTP bulk import.
Result<CatalogRecord> ParseCatalogLine(std::string_view line, const std::string& base_dir);

}  // namespace tessera
