// Reads the Kaggle "Fashion Product Images" layout: styles.csv, images/<id>.jpg and, where
// present, hires/<id>.json (the full Myntra record with price, brand and description) and
// hires/<id>.jpg.
#pragma once

#include <string>

#include "ingest/catalog_record.h"

namespace tessera {

// Reads `dir`/styles.csv, calls `sink` for every valid row in file order, and reports rejected
// rows with their line number. Products without a photo are accepted (text-only products).
// Returns an error only when the folder or the header is unusable or the sink fails.
Result<IngestReport> ReadFashionCatalog(const std::string& dir, const RecordSink& sink);

// The brand as the words of a display name before its first audience word
// ("Peter England Men Party Blue Jeans" -> "Peter England"); "" when no such word follows a brand.
std::string BrandFromDisplayName(const std::string& display_name);

// Converts the HTML of a product description to plain text: tags dropped, common entities decoded,
// whitespace collapsed.
std::string HtmlToText(const std::string& html);

}  // namespace tessera
