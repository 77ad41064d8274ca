// QueryParser: turns a shopper's text into the LexicalQuery the inverted index evaluates.
//
// Each query word becomes one group whose alternatives are: the word itself; its synonyms
// (multi-word keys such as "casual shoes" are matched first, longest first); for a word absent
// from the index vocabulary, the vocabulary words within its typo tolerance; for the last word
// of a search-as-you-type query, the vocabulary words it begins; for a code such as "xyz-123",
// its parts; for a Chinese word, its character bigrams. Stop words ("for", "with", "the") are
// optional groups: they neither score nor exclude a product.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "analysis/analyzer.h"
#include "analysis/synonyms.h"
#include "common/status.h"
#include "index/inverted_index.h"
#include "index/lexical_query.h"

namespace tessera {

struct QueryParserOptions {
  bool typo_tolerance = true;
  size_t max_words = 32;                    // distinct query words accepted
  size_t max_prefix_expansions = 30;        // most frequent completions kept
  size_t max_typo_expansions = 10;          // nearest corrections kept
  float synonym_weight = 0.8f;              // score factor of a synonym match
  float prefix_weight = 0.9f;               // score factor of a completion
  float code_parts_weight = 0.9f;           // score factor of a code matched by its parts
  std::chrono::milliseconds time_budget{200};  // per query; 0 means none
};

// Thread safety: Parse may run concurrently while the index is not modified.
class QueryParser {
 public:
  // Holds references; `synonyms` may be null. All must outlive the parser.
  QueryParser(const Analyzer& analyzer, const SynonymSet* synonyms, const InvertedIndex& index,
              QueryParserOptions options)
      : analyzer_(analyzer), synonyms_(synonyms), index_(index), options_(options) {}

  // Fails with kInvalidArgument when the query has more than max_words distinct words.
  // `prefix_last_word` = true (search-as-you-type) also expands the last word as a prefix.
  Result<LexicalQuery> Parse(std::string_view text, bool prefix_last_word = false) const;

  // True for the English words that carry no product meaning in a query.
  static bool IsStopWord(std::string_view surface);

 private:
  QueryGroup WordGroup(const Token& token, bool expand_prefix) const;
  // Emits the groups of the run of CJK tokens starting at `first`; returns the index after it.
  size_t ParseCjkRun(const std::vector<Token>& tokens, size_t first,
                     const std::function<void(QueryGroup, const std::string&)>& emit) const;
  void AddCorrections(const std::string& term, QueryGroup* group) const;
  void AddSynonyms(const std::vector<SynonymPhrase>& expansions, QueryGroup* group) const;
  QueryAlternative AlternativeOf(const SynonymPhrase& phrase, float weight) const;

  const Analyzer& analyzer_;
  const SynonymSet* synonyms_;
  const InvertedIndex& index_;
  QueryParserOptions options_;
};

}  // namespace tessera
