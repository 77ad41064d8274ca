// TermDictionary: the vocabulary of an index, with the look-ups query expansion needs: terms
// within a few edits of a word (typo tolerance), and terms starting with a prefix
// (search-as-you-type).
//
// Typo look-up uses the symmetric delete method (Wolf Garbe, SymSpell, 2012): every term is
// stored under each string obtained by deleting up to max_edits characters, and a query word is
// looked up under its own deletions; candidates are then checked with the optimal string
// alignment (Damerau-Levenshtein) distance.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tessera {

struct TermMatch {
  uint32_t term_id = 0;
  uint8_t edits = 0;
};

// Thread safety: none; guarded with the index it belongs to.
class TermDictionary {
 public:
  // Terms of Latin letters at least this long get 1 and 2 edits of tolerance.
  static constexpr size_t kMinLengthOneEdit = 4;
  static constexpr size_t kMinLengthTwoEdits = 8;
  // Longer words get none: no shop word is this long, and the deletions of a long word are many
  // (a 1,024-letter word has about 520,000 within two edits).
  static constexpr size_t kMaxLengthWithEdits = 32;

  // Registers a new term with its id. Terms with digits or non-ASCII letters are listed for
  // prefix look-up but get no typo tolerance, so "iphone 11" never matches "iphone 12".
  void Add(const std::string& term, uint32_t term_id);

  // The edits a word of this length tolerates: 0, 1 or 2.
  static uint8_t MaxEdits(std::string_view word);

  // Terms within MaxEdits(word) edits of `word`, excluding `word` itself, nearest first.
  std::vector<TermMatch> WithinEdits(std::string_view word) const;

  // Up to `limit` terms starting with `prefix` (excluding `prefix` itself), in term order.
  std::vector<uint32_t> WithPrefix(std::string_view prefix, size_t limit) const;

  const std::string& term(uint32_t term_id) const { return terms_[term_id]; }

  // Optimal string alignment distance between `a` and `b`, or max_distance + 1 when larger.
  static uint32_t EditDistance(std::string_view a, std::string_view b, uint32_t max_distance);

 private:
  std::vector<std::string> terms_;                  // by term id
  std::vector<uint32_t> sorted_;                    // term ids in term order, for prefixes
  std::unordered_map<std::string, std::vector<uint32_t>> deletions_;
};

}  // namespace tessera
