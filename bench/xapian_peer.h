// XapianPeer: the same catalogue in Xapian 1.4 (glass backend in a temporary folder), ranked
// with BM25Weight and the English Snowball stemmer: the second lexical peer of the benchmarks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "ingest/product.h"

namespace tessera {

// Not thread-safe: one Enquire object is reused for every search.
class XapianPeer {
 public:
  // Indexes title, brand, category and attributes into `dir` (created; removed by the
  // destructor). Field weights become within-document frequency increments (title 6, brand 7,
  // category 15, attributes 8), Xapian's usual way to weight fields, in Tessera's proportions.
  static Result<std::unique_ptr<XapianPeer>> Build(const std::vector<Product>& products, const std::string& dir);
  ~XapianPeer();

  // Parses `query` with QueryParser (English stemmer, STEM_SOME) and returns the best `limit`
  // ids; `match_all` = true uses OP_AND as the default operator, false OP_OR (Xapian's default).
  Result<std::vector<std::string>> Search(const std::string& query, size_t limit, bool match_all) const;

 private:
  struct Rep;
  explicit XapianPeer(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
