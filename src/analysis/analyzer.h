// Analyzer: turns product text and queries into index terms, the same way for both.
//
// Steps, each the same for documents and queries:
//  1. NFKC normalization with Unicode case folding (ICU NFKC_Casefold), so full-width letters and
//     ligatures fold. Curly quotes, primes, Unicode dashes and the minus sign then become ASCII.
//  2. Word breaking with ICU's word BreakIterator (dictionary segmentation for Chinese and
//     Japanese).
//  3. Joining what shop text keeps whole: words joined by '-' or '/' become one term without
//     separators ("XYZ-123" -> "xyz123", its parts kept too). A number followed by a unit
//     becomes one term ("25.4 mm" -> "25.4mm", `65"` and "65 inches" -> "65inch").
//  4. Snowball English stemming of words made only of Latin letters ("shirts" -> "shirt").
//
// Chinese, Japanese and Korean words are tokens of kind kCjk; adjacent single characters (how the
// dictionary splits words it lacks, such as brands) are joined into one token. For the index,
// IndexTerms adds the character bigrams and single characters of every run of such text, so a
// query word is found inside a longer segmented word, and a two-character brand matches only
// text holding both characters together (see CjkQueryTerms).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera {

enum class TokenKind {
  kWord,    // letters; stemmed when made only of Latin letters
  kNumber,  // digits, with an optional decimal part
  kCode,    // model numbers, SKUs and sizes: letters and digits together, or a number and a unit
  kCjk,     // a Chinese, Japanese or Korean word from dictionary segmentation
};

struct Token {
  std::string term;       // the index term: normalized, folded, stemmed where it applies; UTF-8
  std::string surface;    // the folded text before stemming and joining, for synonyms and typos
  uint32_t position = 0;  // 0-based token position in the analyzed text
  TokenKind kind = TokenKind::kWord;
  // For a kCode joined from parts ("xyz-123"): the parts' terms ("xyz", "123"), in order.
  std::vector<std::string> parts;
  // True when this token directly follows the previous CJK token with nothing between.
  bool joins_previous_cjk = false;
};

struct AnalyzerOptions {
  bool stem_english = true;
  // Segment text made only of ASCII letters, digits, spaces, '-' and '/' without ICU (see
  // analyzer.cc). The segments are the same either way; tests turn it off to compare.
  bool ascii_fast_path = true;
};

// Thread safety: every method may be called concurrently, because each thread uses its own
// clone of the ICU break iterator and its own Snowball stemmer.
class Analyzer {
 public:
  // Fails with kInternal when ICU's normalization or break data cannot be loaded.
  static Result<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options = {});
  ~Analyzer();

  // Returns the tokens of `text`. Invalid UTF-8 sequences become U+FFFD and are dropped with the
  // rest of the punctuation.
  std::vector<Token> Analyze(std::string_view text) const;

  // The terms of Analyze, one per token.
  std::vector<std::string> Terms(std::string_view text) const;

  // Returns the terms to index for `text`: every token's term, the parts of joined words, and the
  // bigrams and single characters of each run of CJK text. A compound with a single-letter part
  // keeps no parts, so "t-shirt" is not found by "shirt".
  std::vector<std::string> IndexTerms(std::string_view text) const;

  // Stems one lower-case word as Analyze does; returns it unchanged when it is not made only of
  // Latin letters or stemming is off.
  std::string Stem(std::string_view word) const;

 private:
  struct Rep;
  explicit Analyzer(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// The index terms a CJK query word must all match: its character bigrams, or the character
// itself when it has one character.
std::vector<std::string> CjkQueryTerms(const std::string& word);

// Returns `text` with Unicode full case folding (ICU), so "CRÈME" and "crème" compare equal.
std::string FoldCase(std::string_view text);

// Splits well-formed UTF-8 into its code points, each as a string.
std::vector<std::string> Utf8CodePoints(const std::string& text);

// True when the code point is a Han, Hiragana, Katakana or Hangul character.
bool IsCjkCodePoint(uint32_t code_point);

}  // namespace tessera
