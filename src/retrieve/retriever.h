// Retriever: turns a SearchRequest into scored candidates from the text and vector indexes,
// restricted by the request's filters.
#pragma once

#include <optional>
#include <vector>

#include <roaring/roaring.hh>

#include "analysis/analyzer.h"
#include "index/filter_index.h"
#include "index/inverted_index.h"
#include "index/vector_index.h"
#include "retrieve/query_parser.h"
#include "retrieve/search_request.h"

namespace tessera {

struct Candidate {
  DocId doc = 0;
  float text_score = 0;        // BM25 sum; 0 when the query has no text
  float image_similarity = 0;  // cosine; 0 when the query has no photo
  uint32_t matched_terms = 0;
  uint32_t level = 0;          // query words dropped to reach this product (0 = all matched)
  uint32_t typos = 0;
  float retrieval_score = 0;   // what candidates are ordered by, in [0, 1] (see Retrieve)
};

struct CandidateSet {
  std::vector<Candidate> candidates;  // best first, at most `depth`
  uint64_t total = 0;                 // all matching documents, for paging
  Roaring matched;                    // all matching documents, for facet counts
  bool partial = false;               // the time budget ran out; the candidates are what was found
};

// Thread safety: const methods may run concurrently while no index is being modified. Holds
// references only; every index must outlive it.
class Retriever {
 public:
  Retriever(const QueryParser& parser, const InvertedIndex& text_index, const FilterIndex& filters,
            const VectorIndex& image_index, const Roaring& live_docs)
      : parser_(parser), text_index_(text_index), filters_(filters), image_index_(image_index),
        live_docs_(live_docs) {}

  // The live documents passing `filters`, or std::nullopt when there are no filters.
  std::optional<Roaring> Allowed(const SearchFilters& filters) const;

  // Retrieves up to `depth` candidates. A text match's retrieval score keeps the index's order:
  // matches of band b = 16 * level + 4 * min(typos, 3) + min(synonyms, 3) score in
  // (2^-(b+1), 2^-b], placed within the band by BM25F relative to the band's best. With text and
  // a photo the retrieval score is the mean of that and the photo similarity. A request with
  // neither text nor photo lists the allowed documents in DocId order with score 0. Fails when
  // the query cannot be parsed. Query words are dropped only while fewer than `relax_until`
  // products match (0: depth). A caller paging through one query keeps it fixed, so that the
  // matches and their order do not change from page to page.
  Result<CandidateSet> Retrieve(const SearchRequest& request, size_t depth, size_t relax_until = 0) const;

 private:
  const QueryParser& parser_;
  const InvertedIndex& text_index_;
  const FilterIndex& filters_;
  const VectorIndex& image_index_;
  const Roaring& live_docs_;
};

}  // namespace tessera
