// SpeechModelBuilder: writes the catalogue-specific pronunciation dictionary and n-gram language
// model that the speech recognizer decodes voice queries against.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tessera {

struct SpeechModelOptions {
  int order = 3;  // n-gram order of the language model: 2 (bigram) or 3 (trigram)
};

// Files BuildSpeechModel wrote, with counts that describe them.
struct SpeechModelFiles {
  std::string dictionary_path;      // <out_dir>/catalog.dic
  std::string language_model_path;  // <out_dir>/catalog.lm, ARPA text format
  size_t dictionary_words = 0;      // distinct words in the dictionary, not counting variants
  // Words of the sentences that the CMU dictionary has no pronunciation for, sorted. Both files
  // leave them out.
  std::vector<std::string> words_without_pronunciation;
  std::vector<size_t> ngram_counts;  // ngram_counts[k - 1] = number of k-grams in the model
};

// Splits `text` into the words the speech model is built from: ASCII letters are lower-cased, and
// text is split at every character that is not a letter or an apostrophe, so "T-Shirt" gives "t"
// and "shirt" and digits are dropped. U+2019 counts as an apostrophe, and Latin-1 and Latin
// Extended letters (U+00C0-U+024F) count as letters. Apostrophes at the ends of a word are removed.
std::vector<std::string> SplitSpeechWords(std::string_view text);

// Builds a PocketSphinx pronunciation dictionary and an ARPA language model from `sentences`,
// writing catalog.dic and catalog.lm into `out_dir`, which is created when missing.
//
// The dictionary contains every word of `sentences` found in the CMU dictionary at `cmudict_path`,
// with all its variants ("word", "word(2)", ...) in the order that file lists them. The language
// model interpolates absolute-discounted n-gram estimates with the next lower order and is written
// in ARPA backoff form, with <s> and </s> around each sentence. The formulas are at the top of the
// .cc file. A word without a pronunciation is left out of both files, and no n-gram spans it.
// NOTE: words without a pronunciation (brand names such as "fastrack", and "tshirt") cannot be
// recognized until a grapheme-to-phoneme step, planned for later, gives them one.
//
// The output is byte-identical for the same input. Each file is written under a temporary name
// and renamed into place, so a reader never sees a partial file, but two concurrent calls must not
// share `out_dir`. Errors: missing cmudict ->
// NotFound; no sentence with a pronounceable word or an invalid order -> InvalidArgument; more
// than 2^21 - 3 distinct pronounceable words -> TooLarge; an unwritable `out_dir` -> IoError.
Result<SpeechModelFiles> BuildSpeechModel(const std::vector<std::string>& sentences,
                                          const std::string& cmudict_path,
                                          const std::string& out_dir,
                                          const SpeechModelOptions& options = {});

}  // namespace tessera
