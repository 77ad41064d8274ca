#include "analysis/analyzer.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include <libstemmer.h>
#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/unistr.h>

namespace tessera {
namespace {

bool IsAsciiLetters(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return !s.empty();
}

bool HasDigit(std::string_view s) {
  for (char c : s) {
    if (c >= '0' && c <= '9') return true;
  }
  return false;
}

bool HasLetter(std::string_view s) {
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// Digits with at most one '.' or ',' between digits: "11", "9.5", "1,299".
bool IsNumber(std::string_view s) {
  if (s.empty() || !(s.front() >= '0' && s.front() <= '9') || !(s.back() >= '0' && s.back() <= '9')) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == ',')) return false;
  }
  return true;
}

// Unit words shop text writes after a number, mapped to one spelling.
const std::unordered_map<std::string_view, std::string_view>& Units() {
  static const std::unordered_map<std::string_view, std::string_view> kUnits = {
      {"mm", "mm"},   {"cm", "cm"},     {"m", "m"},      {"km", "km"},       {"inch", "inch"}, {"inches", "inch"},
      {"ft", "ft"},   {"feet", "ft"},   {"kg", "kg"},    {"g", "g"},         {"gram", "g"},    {"grams", "g"},
      {"mg", "mg"},   {"ml", "ml"},     {"l", "l"},      {"litre", "l"},     {"liter", "l"},   {"gb", "gb"},
      {"tb", "tb"},   {"mb", "mb"},     {"mah", "mah"},  {"w", "w"},         {"watt", "w"},    {"watts", "w"},
      {"kw", "kw"},   {"v", "v"},       {"volt", "v"},   {"hz", "hz"},       {"mp", "mp"},     {"oz", "oz"},
      {"ltr", "l"},   {"cms", "cm"}};
  return kUnits;
}

// "25.4mm" -> "25.4mm", "65inches" -> "65inch"; "" when `text` is not a number and a unit.
std::string NumberWithUnit(std::string_view text) {
  size_t split = 0;
  while (split < text.size() && ((text[split] >= '0' && text[split] <= '9') || text[split] == '.' || text[split] == ',')) {
    ++split;
  }
  if (split == 0 || split == text.size() || !IsNumber(text.substr(0, split))) return "";
  // "65in" is inches when written without a space; "65 in" is left alone ("2 in 1").
  const std::string_view unit = text.substr(split);
  if (unit == "in") return std::string(text.substr(0, split)) + "inch";
  auto it = Units().find(unit);
  return it == Units().end() ? "" : std::string(text.substr(0, split)) + std::string(it->second);
}

// Snowball stemmers keep state between calls, so each thread gets its own.
std::string StemEnglish(std::string_view word) {
  struct StemmerDeleter {
    void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
  };
  thread_local std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer(sb_stemmer_new("english", "UTF_8"));
  const sb_symbol* stem =
      sb_stemmer_stem(stemmer.get(), reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
  return std::string(reinterpret_cast<const char*>(stem), static_cast<size_t>(sb_stemmer_length(stemmer.get())));
}

// Maps typographic quotes, primes and dashes (left by NFKC) to their ASCII forms.
void FoldPunctuation(icu::UnicodeString* text) {
  for (int32_t i = 0; i < text->length(); ++i) {
    switch (text->charAt(i)) {
      case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032:
        text->setCharAt(i, u'\'');
        break;
      case 0x201C: case 0x201D: case 0x201E: case 0x2033:
        text->setCharAt(i, u'"');
        break;
      case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212: case 0xFE63:
        text->setCharAt(i, u'-');
        break;
      default:
        break;
    }
  }
}

// One piece between two word boundaries.
struct Segment {
  std::string text;
  bool is_word = false;  // false for spaces and punctuation
  bool is_cjk = false;
};

}  // namespace

std::string FoldCase(std::string_view text) {
  icu::UnicodeString folded =
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  folded.foldCase();
  std::string out;
  folded.toUTF8String(out);
  return out;
}

std::vector<std::string> Utf8CodePoints(const std::string& text) {
  std::vector<std::string> points;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
    points.push_back(text.substr(i, length));
    i += length;
  }
  return points;
}

bool IsCjkCodePoint(uint32_t code_point) {
  UErrorCode error = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(static_cast<UChar32>(code_point), &error);
  return U_SUCCESS(error) && (script == USCRIPT_HAN || script == USCRIPT_HIRAGANA || script == USCRIPT_KATAKANA ||
                              script == USCRIPT_HANGUL);
}

std::vector<std::string> CjkQueryTerms(const std::string& word) {
  const std::vector<std::string> points = Utf8CodePoints(word);
  if (points.size() <= 1) return points;
  std::vector<std::string> bigrams;
  for (size_t i = 0; i + 1 < points.size(); ++i) bigrams.push_back(points[i] + points[i + 1]);
  return bigrams;
}

namespace {

// True when every byte of `text` is an ASCII letter, digit, space, '-' or '/'.
bool IsPlainAscii(std::string_view text) {
  for (char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
                       c == '-' || c == '/';
    if (!plain) return false;
  }
  return true;
}

// Returns the segments ICU's normalization and root word break iterator produce for text that
// IsPlainAscii accepts. The Unicode word break rules (UAX #29) fix how such text splits:
// letters and digits in any mix stay together (WB5, WB8-WB10), and a run of spaces is one
// segment (WB3d). '-' and '/' break on both sides (WB999), and NFKC_Casefold only lower-cases.
// A query such as "navy blue men shirts" thus runs none of ICU's normalizer and break iterator
// code, which was about a fifth of a query's last-level cache misses with cold caches
// (callgrind). Analyzer tests compare the two paths on random text of these characters.
std::vector<Segment> PlainAsciiSegments(std::string_view text) {
  auto is_alphanumeric = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  std::vector<Segment> segments;
  segments.reserve(text.size() / 2 + 1);  // enough when words alternate with single spaces
  for (size_t start = 0; start < text.size();) {
    const char first = text[start];
    size_t end = start + 1;
    if (is_alphanumeric(first)) {
      while (end < text.size() && is_alphanumeric(text[end])) ++end;
    } else if (first == ' ') {
      while (end < text.size() && text[end] == ' ') ++end;
    }
    Segment segment;
    segment.text.assign(text.substr(start, end - start));
    for (char& c : segment.text) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    segment.is_word = is_alphanumeric(first);
    segments.push_back(std::move(segment));
    start = end;
  }
  return segments;
}

}  // namespace

struct Analyzer::Rep {
  AnalyzerOptions options;
  const icu::Normalizer2* nfkc_casefold = nullptr;  // owned by ICU, lives for the process
  std::unique_ptr<icu::BreakIterator> word_breaker;  // prototype; cloned once per thread

  // Returns this thread's clone of `word_breaker`. A clone costs dozens of allocations and
  // about 120 last-level cache misses with cold caches (callgrind), so each thread makes one
  // and keeps it. Every Analyzer's prototype is the root locale's word iterator, so the clone
  // of the first Analyzer a thread uses serves the others as well.
  icu::BreakIterator& ThreadWordBreaker() const {
    thread_local std::unique_ptr<icu::BreakIterator> breaker(word_breaker->clone());
    return *breaker;
  }

  std::vector<Segment> Segments(std::string_view text) const;
  std::string WordTerm(const std::string& surface) const {
    return options.stem_english && IsAsciiLetters(surface) ? StemEnglish(surface) : surface;
  }
  Token MakeToken(const std::string& surface) const;
};

std::vector<Segment> Analyzer::Rep::Segments(std::string_view text) const {
  if (options.ascii_fast_path && IsPlainAscii(text)) return PlainAsciiSegments(text);
  std::vector<Segment> segments;
  UErrorCode error = U_ZERO_ERROR;
  const icu::UnicodeString raw =
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  icu::UnicodeString folded = nfkc_casefold->normalize(raw, error);
  if (U_FAILURE(error)) return segments;
  FoldPunctuation(&folded);

  // The iterator keeps a pointer to `folded`, which Segments never reads after this function
  // returns: the next call sets its own text first.
  icu::BreakIterator& breaker = ThreadWordBreaker();
  breaker.setText(folded);
  int32_t start = breaker.first();
  for (int32_t end = breaker.next(); end != icu::BreakIterator::DONE; start = end, end = breaker.next()) {
    Segment segment;
    folded.tempSubStringBetween(start, end).toUTF8String(segment.text);
    // Rule status UBRK_WORD_NONE marks spaces and punctuation; U+FFFD (from invalid UTF-8) is
    // treated as punctuation too.
    segment.is_word = breaker.getRuleStatus() != UBRK_WORD_NONE && folded.char32At(start) != 0xFFFD;
    segment.is_cjk = segment.is_word && IsCjkCodePoint(static_cast<uint32_t>(folded.char32At(start)));
    segments.push_back(std::move(segment));
  }
  return segments;
}

Token Analyzer::Rep::MakeToken(const std::string& surface) const {
  Token token;
  token.surface = surface;
  if (IsNumber(surface)) {
    token.kind = TokenKind::kNumber;
    token.term = surface;
  } else if (std::string unit = NumberWithUnit(surface); !unit.empty()) {
    token.kind = TokenKind::kCode;
    token.term = std::move(unit);
  } else if (HasDigit(surface) && HasLetter(surface)) {
    token.kind = TokenKind::kCode;
    token.term = surface;
  } else {
    token.kind = TokenKind::kWord;
    token.term = WordTerm(surface);
  }
  return token;
}

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

std::string Analyzer::Stem(std::string_view word) const { return rep_->WordTerm(std::string(word)); }

std::vector<Token> Analyzer::Analyze(std::string_view text) const {
  const std::vector<Segment> segments = rep_->Segments(text);
  std::vector<Token> tokens;
  tokens.reserve(segments.size() / 2 + 1);  // words alternate with spaces
  bool previous_was_cjk = false;
  bool previous_was_single_cjk = false;  // tokens.back() was joined from single characters only
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& segment = segments[i];
    if (!segment.is_word) {
      // A number directly followed by " or '' is in inches: `65"`.
      const bool inch_mark = segment.text == "\"" || (segment.text == "'" && i + 1 < segments.size() &&
                                                      segments[i + 1].text == "'");
      if (inch_mark && !tokens.empty() && tokens.back().kind == TokenKind::kNumber && i > 0 && segments[i - 1].is_word) {
        tokens.back().kind = TokenKind::kCode;
        tokens.back().term += "inch";
        if (segment.text == "'") ++i;
      }
      previous_was_cjk = false;
      continue;
    }

    if (segment.is_cjk) {
      // The dictionary splits a word it does not know, such as the brand 耐克 or 卫衣, into
      // single characters. Adjacent single characters are joined back into one word, so a query
      // needs their bigrams together rather than each character anywhere.
      const bool single = Utf8CodePoints(segment.text).size() == 1;
      if (single && previous_was_cjk && previous_was_single_cjk) {
        tokens.back().term += segment.text;
        tokens.back().surface += segment.text;
        continue;
      }
      previous_was_single_cjk = single;
      Token token;
      token.kind = TokenKind::kCjk;
      token.term = token.surface = segment.text;
      token.joins_previous_cjk = previous_was_cjk;
      token.position = static_cast<uint32_t>(tokens.size());
      tokens.push_back(std::move(token));
      previous_was_cjk = true;
      continue;
    }
    previous_was_cjk = false;

    // A chain of words joined by single '-' or '/' with no spaces: "xyz-123", "t-shirt".
    std::vector<std::string> chain = {segment.text};
    size_t next = i;
    while (next + 2 < segments.size() && !segments[next + 1].is_word &&
           (segments[next + 1].text == "-" || segments[next + 1].text == "/") && segments[next + 2].is_word &&
           !segments[next + 2].is_cjk) {
      chain.push_back(segments[next + 2].text);
      next += 2;
    }
    if (chain.size() > 1) {
      std::string joined;
      for (const std::string& part : chain) joined += part;
      Token token = rep_->MakeToken(joined);
      for (const std::string& part : chain) token.parts.push_back(rep_->MakeToken(part).term);
      token.position = static_cast<uint32_t>(tokens.size());
      tokens.push_back(std::move(token));
      i = next;
      continue;
    }

    // A number followed by a space and a unit word: "25.4 mm", "65 inches".
    if (IsNumber(segment.text) && i + 2 < segments.size() && segments[i + 1].text == " " && segments[i + 2].is_word) {
      auto unit = Units().find(segments[i + 2].text);
      if (unit != Units().end()) {
        Token token;
        token.kind = TokenKind::kCode;
        token.surface = segment.text + segments[i + 2].text;
        token.term = segment.text + std::string(unit->second);
        token.position = static_cast<uint32_t>(tokens.size());
        tokens.push_back(std::move(token));
        i += 2;
        continue;
      }
    }

    Token token = rep_->MakeToken(segment.text);
    token.position = static_cast<uint32_t>(tokens.size());
    tokens.push_back(std::move(token));
  }
  return tokens;
}

std::vector<std::string> Analyzer::Terms(std::string_view text) const {
  std::vector<std::string> terms;
  for (Token& token : Analyze(text)) terms.push_back(std::move(token.term));
  return terms;
}

std::vector<std::string> Analyzer::IndexTerms(std::string_view text) const {
  std::vector<std::string> terms;
  std::string cjk_run;
  auto flush_cjk = [&] {
    const std::vector<std::string> points = Utf8CodePoints(cjk_run);
    for (size_t i = 0; i < points.size(); ++i) {
      terms.push_back(points[i]);
      if (i + 1 < points.size()) terms.push_back(points[i] + points[i + 1]);
    }
    cjk_run.clear();
  };
  for (Token& token : Analyze(text)) {
    if (token.kind == TokenKind::kCjk) {
      if (!token.joins_previous_cjk) flush_cjk();
      cjk_run += token.term;
      continue;
    }
    flush_cjk();
    // A compound with a single-letter part ("t-shirt", "x-ray") is one word: indexing its
    // parts would make every T-shirt match "shirt". Codes and other compounds ("xyz-123",
    // "navy-blue") keep their parts, so "xyz" or "navy" alone still find them.
    const bool single_letter_part = std::any_of(token.parts.begin(), token.parts.end(), [](const std::string& part) {
      return Utf8CodePoints(part).size() == 1 && !(part[0] >= '0' && part[0] <= '9');
    });
    if (!single_letter_part) {
      for (const std::string& part : token.parts) {
        if (part != token.term) terms.push_back(part);
      }
    }
    terms.push_back(std::move(token.term));
  }
  flush_cjk();
  return terms;
}

}  // namespace tessera
