// InvertedIndex: per-term postings with BM25F scoring over weighted fields, evaluated
// conjunctively first and relaxed word by word when too few documents match every word.
//
// Scoring is BM25F (Robertson, Zaragoza and Taylor, "Simple BM25 extension to multiple weighted
// fields", CIKM 2004): a term's field frequencies are length-normalized per field, weighted and
// summed into one pseudo frequency, which is saturated once:
//   ptf = sum_f w_f * tf_f / (1 - b_f + b_f * len_f / avglen_f)
//   score(t) = idf(t) * ptf * (k1 + 1) / (ptf + k1)
// with idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)) over documents holding t in any field, which
// stays positive for terms in most documents.
//
// Evaluation (see Search): documents holding every required group come first (level 0). While
// fewer than top_k were found, the group held by the most documents is dropped and the
// documents holding all the others follow (level 1), and so on, but the group held by the fewest
// documents is always required. Within a level, fewer typos rank first, then fewer words matched only through a synonym
// (so "formal shoes" ranks Formal Shoes above their synonym "derby"), then the BM25F score.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <roaring/roaring.hh>

#include "common/status.h"
#include "index/lexical_query.h"
#include "index/term_dictionary.h"

namespace tessera {

using DocId = uint32_t;

struct FieldSpec {
  std::string name;
  float weight = 1.0f;
  float b = 0.75f;
};

struct ScoredDoc {
  DocId doc = 0;
  float score = 0;             // BM25F sum over matched groups, each times its alternative's weight
  uint32_t matched_terms = 0;  // required groups matched
  uint32_t level = 0;          // required groups dropped to reach this document (0 = all matched)
  uint32_t typos = 0;          // edits summed over the matched groups
  uint32_t synonyms = 0;       // groups matched only through a synonym
};

struct TextSearchOptions {
  const Roaring* allowed = nullptr;  // when set, only these documents can match
  size_t top_k = 10;                 // documents returned, best first
  // Words are dropped only while fewer than this many documents match (0: top_k). Keep it
  // fixed across the pages of one query, so that paging deeper neither changes the matches nor
  // their order.
  size_t relax_until = 0;
  // Among documents equal in every other respect, these come first (e.g. products with a photo).
  const Roaring* preferred = nullptr;
};

struct TermQueryResult {
  std::vector<ScoredDoc> top;  // best first: level, typos, synonyms, score, then lower DocId
  Roaring matched;             // every document of the levels evaluated
  bool partial = false;        // the deadline passed before evaluation finished
};

// Thread safety: none; the engine guards it with a reader-writer lock. Not copyable.
class InvertedIndex {
 public:
  // Precondition: at most kMaxFields fields.
  explicit InvertedIndex(std::vector<FieldSpec> fields, float k1 = 1.2f);
  InvertedIndex(const InvertedIndex&) = delete;
  InvertedIndex& operator=(const InvertedIndex&) = delete;

  // Adds a document; `field_terms[f]` are the terms of field f in the order of the FieldSpecs.
  // Precondition: `doc` is not in the index. The engine gives each version of a product a new,
  // larger DocId (replacing a product is Remove + Add), which appends to every posting list.
  void Add(DocId doc, const std::vector<std::vector<std::string>>& field_terms);

  // Removes a document from every posting list and statistic. No-op when absent.
  void Remove(DocId doc);

  // Evaluates the query over the live documents and returns the best `options.top_k` in the
  // order described at the top of this file.
  TermQueryResult Search(const LexicalQuery& query, const TextSearchOptions& options) const;

  // Convenience: no preferred documents, relaxation until top_k documents match.
  TermQueryResult Search(const LexicalQuery& query, const Roaring* allowed, size_t top_k) const;

  // Convenience: each distinct term is one required group with one alternative.
  TermQueryResult Search(const std::vector<std::string>& terms, const Roaring* allowed, size_t top_k) const;

  // BM25 of the query in each field alone, for ranking features: per group the alternative
  // Search would pick for `doc` (fewer typos, then the word over a synonym, then the higher
  // BM25F), each of its terms scored as idf * tf' * (k1 + 1) / (tf' + k1) with tf' the term's
  // frequency in that field divided by the field's length norm, times the alternative's weight.
  // Optional groups count only when every group is optional, as in Search. One value per field,
  // in the order of fields(); all zero when `doc` matches no group.
  std::vector<float> FieldScores(const LexicalQuery& query, DocId doc) const;

  // Sets the BM25F weight of the named field; weights apply from the next Search. Fails with
  // kInvalidArgument naming the field when it is unknown or the weight is negative or not finite.
  Status SetFieldWeight(const std::string& field, float weight);
  const std::vector<FieldSpec>& fields() const { return fields_; }

  // Documents holding `term` in any field; empty when none.
  const Roaring& DocumentsWith(std::string_view term) const;

  // Every term ever added, for typo and prefix expansion. A term whose documents were all removed
  // stays listed and matches nothing.
  const TermDictionary& dictionary() const { return dictionary_; }

  // Bytes of group unions kept between queries (0 keeps none). A group with several
  // alternatives, such as a word and its synonyms, needs the union of their documents. The
  // same groups recur from query to query (a shop's colours, genders and article types), so
  // the unions are kept, and Add and Remove drop them all. The default is 64 MiB.
  void SetGroupUnionCacheBytes(size_t bytes);
  // Group unions found kept, and computed, since the index was made.
  uint64_t group_union_hits() const { return group_union_hits_.load(); }
  uint64_t group_union_misses() const { return group_union_misses_.load(); }

  size_t live_documents() const { return live_docs_.cardinality(); }
  size_t term_count() const { return postings_.size(); }
  // Bytes held by postings, bitmaps and per-document data (an estimate from container sizes).
  size_t MemoryBytes() const;

 private:
  // A posting stores what BM25F needs beside its DocId, field lengths included, so scoring
  // reads the term's own arrays front to back. Reading the lengths from the per-document table
  // cost one cache miss per candidate.
  struct Postings {
    Roaring docs;
    std::vector<DocId> doc_ids;  // ascending, parallel to field_stats
    // Bit f is set when the term occurred in field f of any document added so far. Postings
    // store nothing for the other fields, because most terms occur in one or two of them.
    uint64_t field_mask = 0;
    // 2 * popcount(field_mask) bytes per posting: the term's frequency in each field of
    // field_mask in ascending order (saturated at 255, 0 when absent from the document), then
    // those fields' lengths in the document. A length of kLengthInTable or more is stored as
    // kLengthInTable and read from lengths_.
    std::vector<uint8_t> field_stats;
  };
  static constexpr uint8_t kLengthInTable = 255;
  // Field masks are 64 bits wide.
  static constexpr size_t kMaxFields = 64;
  // Per-query BM25F constants of one field.
  struct FieldNorm {
    float weight;
    float b;
    float one_minus_b;
    float inverse_average;  // 1 / avglen over the live documents
  };
  // Per-thread buffers of Search, defined in inverted_index.cc.
  struct ScoringScratch;

  std::vector<FieldNorm> FieldNorms() const;
  // Returns the BM25F pseudo term frequency of `doc` from its posting's `field_stats`. The stats
  // are laid out for the term's `field_mask`, which has `slots` bits set. `norms` has one entry
  // per field.
  float PseudoFrequency(const uint8_t* field_stats, uint64_t field_mask, size_t slots, DocId doc,
                        const FieldNorm* norms) const;
  // Widens every posting of `postings` to the fields of `field_mask`, a superset of its own,
  // with frequency and length 0 for the fields added.
  static void WidenFieldStats(uint64_t field_mask, Postings* postings);
  // Fills the term cursors and alternatives of `scratch` for the required groups of `query`.
  // Every level scores the same groups, so a query plans once.
  void PlanQuery(const LexicalQuery& query, const std::vector<char>& is_required, ScoringScratch* scratch) const;
  // Scores every candidate of `scratch->candidates` into `scratch->ranked`, with the cursors of
  // PlanQuery moved back to the start of their postings. Query group `absent_group`, which no
  // candidate contains, is not searched.
  void ScoreLevel(const FieldNorm* norms, size_t absent_group, ScoringScratch* scratch) const;
  // Appends the best `keep` scored candidates of `level` to `top`, best first.
  static void AppendBest(uint32_t level, size_t keep, const Roaring* preferred,
                         ScoringScratch* scratch, std::vector<ScoredDoc>* top);
  float Idf(const Postings& postings) const;
  const Postings* Find(std::string_view term) const;
  Roaring AlternativeDocs(const QueryAlternative& alternative) const;
  // Returns the documents that contain any alternative of `group` and are in `allowed` when it
  // is set. The result is a posting bitmap, a bitmap appended to `storage`, or a kept union
  // appended to `held`, which keeps it alive while the query runs.
  const Roaring* GroupDocs(const QueryGroup& group, const Roaring* allowed, std::vector<Roaring>* storage,
                           std::vector<std::shared_ptr<const Roaring>>* held) const;
  // The union of the documents of every alternative of `group`.
  Roaring GroupUnion(const QueryGroup& group) const;
  void DropGroupUnions();

  std::vector<FieldSpec> fields_;
  float k1_;
  std::unordered_map<std::string, uint32_t> term_ids_;
  std::vector<Postings> postings_;
  TermDictionary dictionary_;
  // Per DocId (dense, since DocIds are handed out in order): distinct term ids for Remove, and
  // field lengths (fields_.size() per document, saturated at 65535). Scoring reads lengths_ only
  // for a field of kLengthInTable terms or more; the postings hold the shorter lengths.
  std::vector<std::vector<uint32_t>> terms_by_doc_;
  std::vector<uint16_t> lengths_;
  std::vector<uint64_t> total_length_;  // per field, over live documents
  Roaring live_docs_;

  // Kept group unions by their alternatives' terms. Concurrent searches share them, so a
  // search keeps a shared_ptr to each union it uses, and a full cache can be emptied at once.
  size_t group_union_limit_bytes_ = size_t{64} << 20;
  mutable std::mutex group_unions_mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Roaring>> group_unions_;
  mutable size_t group_union_bytes_ = 0;
  mutable std::atomic<uint64_t> group_union_hits_{0};
  mutable std::atomic<uint64_t> group_union_misses_{0};
};

}  // namespace tessera
