#include "analysis/analyzer.h"

#include <libstemmer.h>
#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace tessera {
namespace {

bool IsAsciiLetters(const std::string& s) {
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return !s.empty();
}

// Snowball stemmers keep state between calls, so each thread gets its own.
const char* StemEnglish(const std::string& word, int* stem_length) {
  struct StemmerDeleter {
    void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
  };
  thread_local std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer(sb_stemmer_new("english", "UTF_8"));
  const sb_symbol* stem =
      sb_stemmer_stem(stemmer.get(), reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
  *stem_length = sb_stemmer_length(stemmer.get());
  return reinterpret_cast<const char*>(stem);
}

}  // namespace

struct Analyzer::Rep {
  AnalyzerOptions options;
  const icu::Normalizer2* nfkc_casefold = nullptr;  // owned by ICU, lives for the process
  std::unique_ptr<icu::BreakIterator> word_breaker;  // prototype; cloned per call
};

Analyzer::Analyzer(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Analyzer::~Analyzer() = default;

Result<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions& options) {
  auto rep = std::make_unique<Rep>();
  rep->options = options;
  UErrorCode error = U_ZERO_ERROR;
  rep->nfkc_casefold = icu::Normalizer2::getNFKCCasefoldInstance(error);
  if (U_FAILURE(error)) {
    return Status::Internal(std::string("ICU NFKC_Casefold data failed to load: ") + u_errorName(error));
  }
  // The root locale's word rules cover every script; Chinese and Japanese use ICU's dictionary.
  rep->word_breaker.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), error));
  if (U_FAILURE(error)) {
    return Status::Internal(std::string("ICU word break data failed to load: ") + u_errorName(error));
  }
  if (options.stem_english) {
    sb_stemmer* probe = sb_stemmer_new("english", "UTF_8");
    if (probe == nullptr) return Status::Internal("Snowball English stemmer is unavailable in libstemmer");
    sb_stemmer_delete(probe);
  }
  return std::unique_ptr<Analyzer>(new Analyzer(std::move(rep)));
}

std::vector<Token> Analyzer::Analyze(std::string_view text) const {
  std::vector<Token> tokens;
  UErrorCode error = U_ZERO_ERROR;
  const icu::UnicodeString raw = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  const icu::UnicodeString folded = rep_->nfkc_casefold->normalize(raw, error);
  if (U_FAILURE(error)) return tokens;

  std::unique_ptr<icu::BreakIterator> breaker(rep_->word_breaker->clone());
  breaker->setText(folded);
  uint32_t position = 0;
  int32_t start = breaker->first();
  for (int32_t end = breaker->next(); end != icu::BreakIterator::DONE; start = end, end = breaker->next()) {
    // Rule status UBRK_WORD_NONE marks spaces and punctuation; everything else is a word.
    if (breaker->getRuleStatus() == UBRK_WORD_NONE) continue;
    std::string term;
    folded.tempSubStringBetween(start, end).toUTF8String(term);
    if (rep_->options.stem_english && IsAsciiLetters(term)) {
      int length = 0;
      const char* stem = StemEnglish(term, &length);
      term.assign(stem, static_cast<size_t>(length));
    }
    tokens.push_back({std::move(term), position++});
  }
  return tokens;
}

std::vector<std::string> Analyzer::Terms(std::string_view text) const {
  std::vector<std::string> terms;
  for (Token& token : Analyze(text)) terms.push_back(std::move(token.term));
  return terms;
}

}  // namespace tessera
