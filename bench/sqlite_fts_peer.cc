#include "sqlite_fts_peer.h"

#include <sqlite3.h>

#include <sstream>

namespace tessera {

struct SqliteFtsPeer::Rep {
  sqlite3* db = nullptr;
  sqlite3_stmt* search = nullptr;
  ~Rep() {
    sqlite3_finalize(search);
    sqlite3_close(db);
  }
};

SqliteFtsPeer::SqliteFtsPeer(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
SqliteFtsPeer::~SqliteFtsPeer() = default;

Result<std::unique_ptr<SqliteFtsPeer>> SqliteFtsPeer::Build(const std::vector<Product>& products) {
  auto rep = std::make_unique<Rep>();
  if (sqlite3_open(":memory:", &rep->db) != SQLITE_OK) return Status::Internal("sqlite3_open failed");
  auto exec = [&](const char* sql) -> Status {
    char* error = nullptr;
    if (sqlite3_exec(rep->db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      Status status = Status::Internal(std::string("sqlite: ") + (error ? error : "unknown error") + " in " + sql);
      sqlite3_free(error);
      return status;
    }
    return Status::Ok();
  };
  TESSERA_RETURN_IF_ERROR(exec(
      "CREATE VIRTUAL TABLE products USING fts5(id UNINDEXED, title, brand, category, attributes, "
      "tokenize = 'porter unicode61')"));
  TESSERA_RETURN_IF_ERROR(exec("BEGIN"));
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(rep->db, "INSERT INTO products VALUES (?, ?, ?, ?, ?)", -1, &insert, nullptr);
  for (const Product& p : products) {
    std::string category, attributes;
    for (const std::string& level : p.category_path) category += level + " ";
    for (const char* key : {"colour", "gender", "usage", "season"}) attributes += p.Attribute(key) + " ";
    const std::string* values[] = {&p.id, &p.title, &p.brand, &category, &attributes};
    for (int i = 0; i < 5; ++i) sqlite3_bind_text(insert, i + 1, values[i]->c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(insert) != SQLITE_DONE) {
      sqlite3_finalize(insert);
      return Status::Internal(std::string("sqlite insert failed: ") + sqlite3_errmsg(rep->db));
    }
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  TESSERA_RETURN_IF_ERROR(exec("COMMIT"));
  // Column weights as Tessera's title, brand, category, attributes fields (id is unindexed).
  if (sqlite3_prepare_v2(rep->db,
                         "SELECT id FROM products WHERE products MATCH ? "
                         "ORDER BY bm25(products, 0.0, 0.6, 0.7, 1.5, 0.8) LIMIT ?",
                         -1, &rep->search, nullptr) != SQLITE_OK) {
    return Status::Internal(std::string("sqlite prepare failed: ") + sqlite3_errmsg(rep->db));
  }
  return std::unique_ptr<SqliteFtsPeer>(new SqliteFtsPeer(std::move(rep)));
}

Result<std::vector<std::string>> SqliteFtsPeer::Search(const std::string& query, size_t limit, bool match_all) const {
  // Quote every word so FTS5 reads none of them as syntax.
  std::istringstream words(query);
  std::string word, expression;
  while (words >> word) {
    if (!expression.empty()) expression += match_all ? " " : " OR ";
    expression += "\"" + word + "\"";
  }
  std::vector<std::string> ids;
  if (expression.empty()) return ids;
  sqlite3_reset(rep_->search);
  sqlite3_bind_text(rep_->search, 1, expression.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(rep_->search, 2, static_cast<sqlite3_int64>(limit));
  int step;
  while ((step = sqlite3_step(rep_->search)) == SQLITE_ROW) {
    ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(rep_->search, 0)));
  }
  if (step != SQLITE_DONE) return Status::Internal(std::string("sqlite search failed: ") + sqlite3_errmsg(rep_->db));
  return ids;
}

}  // namespace tessera
