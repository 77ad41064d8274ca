// SynonymSet: query-time synonyms in the Solr synonym format, matched on analyzed terms.
//
// Format, one rule a line (UTF-8; '#' starts a comment; blank lines are skipped):
//   a, b, c        equivalent: each of a, b and c expands to the others
//   a, b => c, d   one-way: a or b expands to c and d (the query keeps a or b as well)
// Each side is a comma-separated list of phrases. Phrases are analyzed like any text, so
// "T-Shirts" and "tshirt" name the same key, and Chinese phrases match Chinese query words.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "analysis/analyzer.h"
#include "common/status.h"

namespace tessera {

// A phrase as analyzed tokens; CJK words keep their kind so callers can turn them into bigrams.
using SynonymPhrase = std::vector<Token>;

// Thread safety: immutable after Parse; may be shared by concurrent queries.
class SynonymSet {
 public:
  // Parses rules; a malformed line is an error naming the line and what is wrong. `source`
  // names the text in messages (e.g. the file path).
  static Result<SynonymSet> Parse(std::string_view text, const Analyzer& analyzer, const std::string& source);
  static Result<SynonymSet> LoadFile(const std::string& path, const Analyzer& analyzer);

  // The longest key that the terms starting at `start` spell, as a count of terms (0 when
  // none), and its expansions.
  size_t MatchAt(const std::vector<std::string>& terms, size_t start,
                 const std::vector<SynonymPhrase>** expansions) const;

  // The expansions of the key whose Chinese, Japanese or Korean words, written together, are
  // `text` ("橄榄绿" for a key the dictionary splits into 橄榄 / 绿), or nullptr.
  const std::vector<SynonymPhrase>* FindCjk(const std::string& text) const {
    auto it = cjk_keys_.find(text);
    return it == cjk_keys_.end() ? nullptr : &expansions_.at(it->second);
  }
  // The maximum length, in code points, of the keys FindCjk looks up.
  size_t max_cjk_key_length() const { return max_cjk_key_length_; }

  size_t rule_count() const { return rule_count_; }
  size_t key_count() const { return expansions_.size(); }

 private:
  static std::string KeyOf(const std::vector<std::string>& terms, size_t start, size_t count);

  std::unordered_map<std::string, std::vector<SynonymPhrase>> expansions_;
  std::unordered_map<std::string, std::string> cjk_keys_;  // written-together text -> key
  // The maximum term count of the keys starting with each term, so MatchAt builds no key that
  // cannot exist.
  std::unordered_map<std::string, size_t> max_terms_by_first_;
  size_t max_cjk_key_length_ = 0;
  size_t rule_count_ = 0;
};

}  // namespace tessera
