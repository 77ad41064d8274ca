// What the catalogue readers produce: one upsert or delete per accepted record, and a report of
// every rejected one.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ingest/product.h"

namespace tessera {

struct CatalogRecord {
  enum class Op { kUpsert, kDelete };
  Op op = Op::kUpsert;
  Product product;  // for kDelete only `id` is set
  size_t line = 0;  // 1-based line in the source file
};

struct RejectedRecord {
  size_t line = 0;
  std::string field;   // the offending field or column, or "record" when the whole line is bad
  std::string reason;  // what is wrong and how to fix it
};

struct IngestReport {
  size_t accepted = 0;
  size_t rejected = 0;
  size_t deleted = 0;
  // The first kMaxKeptRejections rejections in full; `rejected` counts all of them.
  std::vector<RejectedRecord> rejections;
  static constexpr size_t kMaxKeptRejections = 1000;
  // Problems that did not reject a record, e.g. a broken optional side file.
  std::vector<std::string> warnings;

  void Reject(size_t line, std::string field, std::string reason);
};

// Receives each accepted record in file order. A non-OK status (e.g. the store failed) stops
// the reader, which returns that status.
using RecordSink = std::function<Status(CatalogRecord&&)>;

// Returns the field named in a validation message ("field 'price' must ..." -> "price"), or
// "record" when the message names none.
std::string FieldNamedIn(const std::string& message);

}  // namespace tessera
