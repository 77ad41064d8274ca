// SqliteFtsPeer: the same catalogue in SQLite FTS5 with its built-in BM25, the lexical peer
// Tessera's relevance and latency are measured against in the same run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "ingest/product.h"

namespace tessera {

// Not thread-safe: one prepared statement is reused for every search.
class SqliteFtsPeer {
 public:
  // Builds an in-memory FTS5 table with the columns title, brand, category, attributes, using
  // the porter stemmer over the unicode61 tokenizer (the closest FTS5 analysis to Tessera's).
  static Result<std::unique_ptr<SqliteFtsPeer>> Build(const std::vector<Product>& products);
  ~SqliteFtsPeer();

  // Ranks by FTS5 bm25() with the same column weights as Tessera. `match_all` = true requires
  // every query word (FTS5's default); false joins the words with OR.
  Result<std::vector<std::string>> Search(const std::string& query, size_t limit, bool match_all) const;

 private:
  struct Rep;
  explicit SqliteFtsPeer(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
