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
  float joint_similarity = 0;  // cosine in the joint text-photo space; 0 without a joint vector
  uint32_t matched_terms = 0;
  uint32_t level = 0;          // query words dropped to reach this product (0 = all matched)
  uint32_t typos = 0;
  uint32_t synonyms = 0;       // query words matched only through a synonym
  float retrieval_score = 0;   // what candidates are ordered by, in [0, 1] (see Retrieve)
};

struct CandidateSet {
  std::vector<Candidate> candidates;  // best first, at most `depth`
  uint64_t total = 0;                 // all matching documents, for paging
  Roaring matched;                    // all matching documents, for facet counts
  bool partial = false;               // the time budget ran out; the candidates are what was found
  LexicalQuery query;                 // the parsed words, for the ranking features
};

// How much the joint text-photo space counts in retrieval.
struct HybridOptions {
  // Share of the joint similarity in a text match's place within its band; the rest is BM25F
  // relative to the band's best. The joint space thus reorders matches of equal standing, but
  // it never lifts a typo match above an exact one.
  float text_joint_weight = 0.3f;
  // Share of the joint similarity in a photo query's score (the rest is photo-to-photo
  // similarity). Products without a photo are found only through the joint space.
  float photo_joint_weight = 0.5f;
  // A text query matching fewer products than this is filled up to it with joint-space
  // neighbours, below the word matches. The neighbour search costs about as much as the rest of
  // the query, so it runs only where a shopper would otherwise see a short list.
  size_t max_fill = 48;
  // How a text query's word matches and the joint space's nearest products become one list:
  // "bands" (the words decide, the joint similarity orders matches of equal standing), "rrf"
  // (reciprocal rank fusion) or "normalized" (weighted sum of normalized scores, with
  // normalized_vector_weight); see retrieve/candidate_fusion.h. Without a joint vector, the
  // words alone decide.
  std::string fusion = "bands";
  float normalized_vector_weight = 0.3f;
};

// Thread safety: const methods may run concurrently while no index is being modified. Holds
// references only; every index must outlive it.
class Retriever {
 public:
  // `joint_index` may be null: then the joint space takes no part.
  Retriever(const QueryParser& parser, const InvertedIndex& text_index, const FilterIndex& filters,
            const VectorIndex& image_index, const VectorIndex* joint_index, const Roaring& live_docs,
            const HybridOptions& hybrid = {})
      : parser_(parser), text_index_(text_index), filters_(filters), image_index_(image_index),
        joint_index_(joint_index), live_docs_(live_docs), hybrid_(hybrid) {}

  // The live documents passing `filters`, or std::nullopt when there are no filters.
  std::optional<Roaring> Allowed(const SearchFilters& filters) const;

  // Retrieves up to `depth` candidates. A text match's retrieval score keeps the index's order:
  // matches of band b = 16 * level + 4 * min(typos, 3) + min(synonyms, 3) score in
  // (2^-(b+1), 2^-b], placed within the band by BM25F relative to the band's best, blended with
  // the joint similarity when the request has a joint vector. When fewer than `depth` products
  // match the words, the joint space's nearest products fill the rest, below every match. A
  // photo query scores photo and joint similarity (HybridOptions). With text and a photo, the
  // words are matched among the photo's candidates only. The matches keep their bands, and the
  // photo score orders each band. A request with neither text nor
  // photo lists the allowed documents in DocId order with score 0. Fails when the query cannot
  // be parsed. Query words are dropped only while fewer than `relax_until` products match
  // (0: depth). A caller paging through one query keeps it fixed, so that the matches and their
  // order do not change from page to page. A depth below `relax_until` gives the first `depth`
  // candidates of the list at `relax_until`.
  Result<CandidateSet> Retrieve(const SearchRequest& request, size_t depth, size_t relax_until = 0) const;

 private:
  const QueryParser& parser_;
  const InvertedIndex& text_index_;
  const FilterIndex& filters_;
  // The joint similarity of `doc` to `joint_vector`; 0 when either has no joint vector.
  float JointSimilarity(const std::vector<float>& joint_vector, DocId doc) const;
  // A text query's candidates by reciprocal rank or normalized-score fusion of `text` with the
  // joint space's neighbours.
  std::vector<Candidate> FusedTextCandidates(const SearchRequest& request, const TermQueryResult& text,
                                             size_t depth, const Roaring* allowed, Roaring* matched) const;
  // Photo query candidates: photo-index and joint-index neighbours, scored by HybridOptions.
  std::vector<Candidate> PhotoCandidates(const SearchRequest& request, size_t depth, const Roaring* allowed) const;

  const VectorIndex& image_index_;
  const VectorIndex* joint_index_;
  const Roaring& live_docs_;
  HybridOptions hybrid_;
};

}  // namespace tessera
