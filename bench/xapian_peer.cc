#include "xapian_peer.h"

#include <filesystem>

#include <xapian.h>

namespace tessera {

struct XapianPeer::Rep {
  std::string dir;
  std::unique_ptr<Xapian::Database> db;
  std::unique_ptr<Xapian::Enquire> enquire;
  Xapian::QueryParser parser;
  ~Rep() {
    enquire.reset();
    db.reset();
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

XapianPeer::XapianPeer(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
XapianPeer::~XapianPeer() = default;

Result<std::unique_ptr<XapianPeer>> XapianPeer::Build(const std::vector<Product>& products, const std::string& dir) {
  auto rep = std::make_unique<Rep>();
  rep->dir = dir;
  try {
    std::filesystem::remove_all(dir);
    {
      Xapian::WritableDatabase writable(dir, Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS);
      Xapian::TermGenerator generator;
      generator.set_stemmer(Xapian::Stem("english"));
      generator.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
      for (const Product& p : products) {
        Xapian::Document document;
        generator.set_document(document);
        std::string category, attributes;
        for (const std::string& level : p.category_path) category += level + " ";
        for (const char* key : {"colour", "gender", "usage", "season"}) attributes += p.Attribute(key) + " ";
        generator.index_text(p.title, 6);
        generator.increase_termpos();
        generator.index_text(p.brand, 7);
        generator.increase_termpos();
        generator.index_text(category, 15);
        generator.increase_termpos();
        generator.index_text(attributes, 8);
        document.set_data(p.id);
        writable.add_document(document);
      }
      writable.commit();
    }
    rep->db = std::make_unique<Xapian::Database>(dir);
    rep->enquire = std::make_unique<Xapian::Enquire>(*rep->db);
    rep->enquire->set_weighting_scheme(Xapian::BM25Weight());
    rep->parser.set_stemmer(Xapian::Stem("english"));
    rep->parser.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    rep->parser.set_database(*rep->db);
  } catch (const Xapian::Error& e) {
    return Status::Internal("xapian: " + e.get_description());
  }
  return std::unique_ptr<XapianPeer>(new XapianPeer(std::move(rep)));
}

Result<std::vector<std::string>> XapianPeer::Search(const std::string& query, size_t limit, bool match_all) const {
  std::vector<std::string> ids;
  try {
    rep_->parser.set_default_op(match_all ? Xapian::Query::OP_AND : Xapian::Query::OP_OR);
    rep_->enquire->set_query(rep_->parser.parse_query(query));
    Xapian::MSet matches = rep_->enquire->get_mset(0, static_cast<Xapian::doccount>(limit));
    for (auto it = matches.begin(); it != matches.end(); ++it) ids.push_back(it.get_document().get_data());
  } catch (const Xapian::Error& e) {
    return Status::Internal("xapian: " + e.get_description());
  }
  return ids;
}

}  // namespace tessera
