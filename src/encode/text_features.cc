#include "encode/text_features.h"

namespace tessera {
namespace {

// Returns `text` cut to at most `max_bytes`, ending on a UTF-8 character boundary.
std::string_view CutUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Continuation bytes are 10xxxxxx; back up to the lead byte of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

void AddCharTrigrams(const std::string& term, std::vector<std::string>* out) {
  std::vector<std::string> chars = Utf8CodePoints(term);
  chars.insert(chars.begin(), "<");
  chars.push_back(">");
  for (size_t i = 0; i + 3 <= chars.size(); ++i) out->push_back("c:" + chars[i] + chars[i + 1] + chars[i + 2]);
}

void AddCjkRun(const std::string& run, std::vector<std::string>* out) {
  const std::vector<std::string> chars = Utf8CodePoints(run);
  for (size_t i = 0; i < chars.size(); ++i) {
    out->push_back("h:" + chars[i]);
    if (i + 1 < chars.size()) out->push_back("hb:" + chars[i] + chars[i + 1]);
  }
}

}  // namespace

std::vector<std::string> TextFeaturizer::FeatureStrings(std::string_view text) const {
  const std::vector<Token> tokens = analyzer_->Analyze(CutUtf8(text, kMaxFeaturizedTextBytes));
  std::vector<std::string> features;
  std::string cjk_run;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    features.push_back("w:" + token.term);
    if (hashing_.word_bigrams && i > 0) features.push_back("b:" + tokens[i - 1].term + " " + token.term);

    // A CJK run is a sequence of CJK tokens with nothing between them; its character n-grams
    // cross the segmenter's word boundaries.
    if (token.kind == TokenKind::kCjk) {
      if (!token.joins_previous_cjk && !cjk_run.empty()) {
        if (hashing_.cjk_char_ngrams) AddCjkRun(cjk_run, &features);
        cjk_run.clear();
      }
      cjk_run += token.term;
      continue;
    }
    if (hashing_.char_trigrams) AddCharTrigrams(token.term, &features);
  }
  if (hashing_.cjk_char_ngrams && !cjk_run.empty()) AddCjkRun(cjk_run, &features);
  return features;
}

std::vector<int64_t> TextFeaturizer::Features(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const std::string& feature : FeatureStrings(text)) {
    ids.push_back(static_cast<int64_t>(Fnv1a64(feature) % hashing_.buckets));
  }
  return ids;
}

}  // namespace tessera
