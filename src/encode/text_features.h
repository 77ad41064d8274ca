// TextFeaturizer: a text -> the hashed bag of features the joint-space text encoder reads.
//
// The features follow fastText (Joulin et al. 2016, "Bag of Tricks for Efficient Text
// Classification"; Bojanowski et al. 2017, "Enriching Word Vectors with Subword Information"):
//  - every Analyzer term (NFKC, case folding, ICU word breaks, Snowball stemming);
//  - word bigrams: each pair of adjacent terms;
//  - character trigrams of each non-CJK term wrapped in '<' and '>', so an unseen word or a typo
//    still shares most of its features with the word it resembles;
//  - for Chinese, Japanese and Korean text: every character and every pair of adjacent characters
//    of a run, because dictionary segmentation splits brands and rare words unpredictably.
// Each feature is hashed with 64-bit FNV-1a, prefixed by its kind, into one of `buckets` rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/analyzer.h"
#include "common/hash.h"

namespace tessera {

// Texts longer than this are cut at a UTF-8 character boundary before analysis. Product
// descriptions are limited to 64 KiB, so the cut only applies to text no catalogue field holds.
inline constexpr size_t kMaxFeaturizedTextBytes = 64 * 1024;

// Feature hashing settings, stored in the model file, because a model only works with the hashing
// it was trained with.
struct TextHashing {
  uint32_t buckets = 1u << 17;  // rows of the embedding table
  bool word_bigrams = true;
  bool char_trigrams = true;
  bool cjk_char_ngrams = true;

  bool operator==(const TextHashing&) const = default;
};

// Thread safety: Features may be called concurrently (Analyzer is thread-safe). Does not own the
// analyzer, which must outlive it.
class TextFeaturizer {
 public:
  TextFeaturizer(const Analyzer* analyzer, TextHashing hashing) : analyzer_(analyzer), hashing_(hashing) {}

  // Returns the feature ids of `text`, each in [0, buckets), in a deterministic order. A feature
  // that occurs twice is listed twice, so the mean of the embeddings weighs features by count.
  // Returns no ids for text without letters, digits or CJK characters.
  std::vector<int64_t> Features(std::string_view text) const;

  // Returns the features before hashing ("w:shirt", "b:blue shirt", "c:<sh", "h:衬", "hb:衬衫"),
  // for tests and debugging.
  std::vector<std::string> FeatureStrings(std::string_view text) const;

  const TextHashing& hashing() const { return hashing_; }

 private:
  const Analyzer* analyzer_;
  TextHashing hashing_;
};

}  // namespace tessera
