// Analyzer: turns product text and queries into index terms, the same way for both.
//
// Steps: NFKC normalization with Unicode case folding (so full-width letters and ligatures fold),
// word breaking with ICU's word BreakIterator (dictionary segmentation for Chinese, Japanese and
// Thai), and Snowball English stemming of Latin-letter words ("shirts" -> "shirt").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera {

struct Token {
  std::string term;       // normalized, folded and stemmed; UTF-8
  uint32_t position = 0;  // 0-based word position in the analyzed text
};

struct AnalyzerOptions {
  bool stem_english = true;
};

// Thread safety: Analyze may be called concurrently; each call clones the ICU break iterator and
// uses a per-thread Snowball stemmer.
class Analyzer {
 public:
  // Fails with kInternal when ICU's normalization or break data cannot be loaded.
  static Result<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options = {});
  ~Analyzer();

  // Returns the terms of `text`. Invalid UTF-8 sequences become U+FFFD and are dropped with the
  // rest of the punctuation.
  std::vector<Token> Analyze(std::string_view text) const;

  // Convenience: the terms only.
  std::vector<std::string> Terms(std::string_view text) const;

 private:
  struct Rep;
  explicit Analyzer(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
