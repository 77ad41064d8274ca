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
#include "retrieve/search_request.h"

namespace tessera {

struct Candidate {
  DocId doc = 0;
  float text_score = 0;        // BM25 sum; 0 when the query has no text
  float image_similarity = 0;  // cosine; 0 when the query has no photo
  uint32_t matched_terms = 0;
  float retrieval_score = 0;   // what candidates are ordered by, in [0, 1] (see Retrieve)
};

struct CandidateSet {
  std::vector<Candidate> candidates;  // best first, at most `depth`
  uint64_t total = 0;                 // all matching documents, for paging
  Roaring matched;                    // all matching documents, for facet counts
  std::vector<std::string> query_terms;
};

// Thread safety: const methods may run concurrently while no index is being modified. Holds
// references only; every index must outlive it.
class Retriever {
 public:
  Retriever(const Analyzer& analyzer, const InvertedIndex& text_index, const FilterIndex& filters,
            const VectorIndex& image_index, const Roaring& live_docs)
      : analyzer_(analyzer), text_index_(text_index), filters_(filters), image_index_(image_index),
        live_docs_(live_docs) {}

  // The live documents passing `filters`, or std::nullopt when there are no filters.
  std::optional<Roaring> Allowed(const SearchFilters& filters) const;

  // Retrieves up to `depth` candidates. Text scores are divided by the best text score, so the
  // top text match scores 1; with text and a photo the retrieval score is the mean of the
  // normalized text score and the photo similarity. A request with neither text nor photo
  // lists the allowed documents in DocId order with score 0.
  CandidateSet Retrieve(const SearchRequest& request, size_t depth) const;

 private:
  const Analyzer& analyzer_;
  const InvertedIndex& text_index_;
  const FilterIndex& filters_;
  const VectorIndex& image_index_;
  const Roaring& live_docs_;
};

}  // namespace tessera
