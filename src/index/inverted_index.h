// InvertedIndex: per-field postings with BM25 scoring, summed over weighted fields.
//
// Each field is scored with its own BM25 (Robertson and Zaragoza, "The Probabilistic Relevance
// Framework: BM25 and Beyond", 2009): idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen)),
// with idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)), which stays positive for terms in most
// documents. A document's score is the weight-weighted sum of its field scores.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <roaring/roaring.hh>

namespace tessera {

using DocId = uint32_t;

struct FieldSpec {
  std::string name;
  float weight = 1.0f;
  float k1 = 1.2f;
  float b = 0.75f;
};

struct ScoredDoc {
  DocId doc = 0;
  float score = 0;
  uint32_t matched_terms = 0;  // distinct query terms found in any field
};

struct TermQueryResult {
  std::vector<ScoredDoc> top;  // best first; ties broken by more matched terms, then lower DocId
  Roaring matched;             // every live, allowed document matching at least one term
};

// Thread safety: none; the engine guards it with a reader-writer lock. Not copyable.
class InvertedIndex {
 public:
  explicit InvertedIndex(std::vector<FieldSpec> fields);
  InvertedIndex(const InvertedIndex&) = delete;
  InvertedIndex& operator=(const InvertedIndex&) = delete;

  // Adds a document; `field_terms[f]` are the terms of field f in the order of the FieldSpecs.
  // Precondition: `doc` was never added before (the engine gives each version of a product a new
  // DocId, so replacing a product is Remove + Add).
  void Add(DocId doc, const std::vector<std::vector<std::string>>& field_terms);

  // Removes a document from every statistic and from all future results. No-op when absent.
  void Remove(DocId doc);

  // Scores the live documents matching any of `terms` (duplicates count once), restricted to
  // `allowed` when it is not null. Returns the best `top_k` and the set of all matches.
  TermQueryResult Search(const std::vector<std::string>& terms, const Roaring* allowed, size_t top_k) const;

  size_t live_documents() const { return live_docs_; }
  size_t term_count() const;

 private:
  struct Posting {
    DocId doc;
    uint32_t term_frequency;
  };
  struct Field {
    FieldSpec spec;
    std::unordered_map<std::string, std::vector<Posting>> postings;
    std::unordered_map<std::string, uint32_t> document_frequency;  // live documents only
    uint64_t total_length = 0;                                     // live documents only
  };
  struct DocTerms {
    std::vector<std::vector<std::string>> distinct_terms;  // per field, for Remove
    std::vector<uint32_t> lengths;                         // per field
  };

  std::vector<Field> fields_;
  std::unordered_map<DocId, DocTerms> docs_;
  std::vector<uint32_t> length_by_doc_field_;  // doc * fields + field -> length; 0 when absent
  Roaring removed_;
  size_t live_docs_ = 0;
};

}  // namespace tessera
