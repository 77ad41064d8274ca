// Language model formulas. For an n-gram (h, w) with count c(h, w) > 0, where history h has
// total count c(h) and N(h) distinct continuations:
//
//   P(w | h) = (c(h, w) - D) / c(h) + gamma(h) * P(w | h'),   gamma(h) = D * N(h) / c(h)
//
// h' is h without its first word, and the unigram level is the maximum-likelihood estimate (every
// word in the model occurs in the sentences, so no unigram needs smoothing). For an unseen w the
// model backs off: P(w | h) = gamma(h) * P(w | h'). Because the seen n-grams of h carry
// gamma(h) * P(w | h') each, the ARPA backoff weight of h is exactly gamma(h) and every history
// sums to one. D is estimated per order from the count-of-counts n1 and n2 (n-grams seen once
// and twice) as D = n1 / (n1 + 2 * n2), the estimate Kneser-Ney smoothing also uses.

#include "encode/speech_model_builder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "common/text.h"

namespace tessera {
namespace {

constexpr char kDictionaryFileName[] = "catalog.dic";
constexpr char kLanguageModelFileName[] = "catalog.lm";

// Word ids: <s> and </s> first, then the pronounceable words in byte order, so sorting n-grams
// by id sorts them by text and the output is deterministic.
using WordId = uint32_t;
constexpr WordId kSentenceStart = 0;
constexpr WordId kSentenceEnd = 1;
constexpr WordId kNoPronunciation = UINT32_MAX;

// An n-gram packs its ids into one 64-bit key, 21 bits per word, first word highest. Comparing
// keys of one order compares the id tuples lexicographically.
using NgramKey = uint64_t;
constexpr int kBitsPerWord = 21;
constexpr WordId kMaxWordId = (WordId{1} << kBitsPerWord) - 1;
constexpr int kMaxOrder = 3;  // 3 * 21 bits fit in 64

// Discount used when an order has no n-grams seen once or none seen twice, where the
// count-of-counts estimate is undefined or 1.
constexpr double kFallbackDiscount = 0.5;

NgramKey PackNgram(const WordId* ids, int n) {
  NgramKey key = 0;
  for (int i = 0; i < n; ++i) key = (key << kBitsPerWord) | ids[i];
  return key;
}

WordId WordAt(NgramKey key, int n, int i) {
  return static_cast<WordId>((key >> (kBitsPerWord * (n - 1 - i))) & kMaxWordId);
}

NgramKey HistoryOf(NgramKey key) { return key >> kBitsPerWord; }

// Drops the first word of an n-gram of order `n`.
NgramKey SuffixOf(NgramKey key, int n) {
  return key & ((NgramKey{1} << (kBitsPerWord * (n - 1))) - 1);
}

// Decodes the UTF-8 sequence at text[i]. Returns its length, or 1 with U+FFFD for an invalid byte.
size_t DecodeUtf8(std::string_view text, size_t i, char32_t* code_point) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  char32_t value = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
  }
  if (length == 0 || i + length > text.size()) {
    *code_point = 0xFFFD;
    return 1;
  }
  for (size_t k = 1; k < length; ++k) {
    const auto byte = static_cast<unsigned char>(text[i + k]);
    if ((byte & 0xC0) != 0x80) {
      *code_point = 0xFFFD;
      return 1;
    }
    value = (value << 6) | (byte & 0x3F);
  }
  *code_point = value;
  return length;
}

bool IsLatinLetter(char32_t c) { return c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7; }

// Pronunciations for the words of `vocabulary`: word -> dictionary lines ("shirt SH ER T"), the
// first pronunciation first, as the CMU dictionary lists them.
using Pronunciations = std::map<std::string, std::vector<std::string>>;

Result<Pronunciations> LoadPronunciations(const std::string& cmudict_path,
                                          const std::set<std::string>& vocabulary) {
  std::ifstream in(cmudict_path);
  if (!in) {
    return Status::NotFound(fmt::format(
        "CMU pronunciation dictionary {} not found or unreadable: install Debian's "
        "pocketsphinx-en-us package or pass the path of cmudict-en-us.dict",
        cmudict_path));
  }

  Pronunciations pronunciations;
  std::string line;
  while (std::getline(in, line)) {
    const std::string_view trimmed = TrimAscii(line);
    if (trimmed.empty() || trimmed.starts_with(";;;") || trimmed.starts_with('#')) continue;

    // A line is "word PH PH ..." or, for a further pronunciation, "word(2) PH PH ...".
    const size_t head_end = trimmed.find_first_of(" \t");
    if (head_end == std::string_view::npos) continue;
    const std::string head = LowerAscii(trimmed.substr(0, head_end));
    const std::string_view phones = TrimAscii(trimmed.substr(head_end));
    const bool is_variant = head.ends_with(')') && head.find('(') != std::string::npos;
    const std::string base = is_variant ? head.substr(0, head.find('(')) : head;
    if (!vocabulary.contains(base)) continue;

    // PocketSphinx rejects a variant listed before its first pronunciation.
    std::vector<std::string>& lines = pronunciations[base];
    if (is_variant && lines.empty()) continue;
    lines.push_back(head + " " + std::string(phones));
  }
  if (in.bad()) {
    return Status::IoError(fmt::format("reading the CMU dictionary {} failed", cmudict_path));
  }
  // Drop words whose only lines were orphaned variants.
  std::erase_if(pronunciations, [](const auto& entry) { return entry.second.empty(); });
  return pronunciations;
}

// N-gram counts of every order, from the sentences with pronounceable words.
struct NgramCounts {
  std::vector<std::unordered_map<NgramKey, uint32_t>> by_order;  // by_order[k - 1]: k-grams
};

void CountSentence(const std::vector<WordId>& ids, int order, NgramCounts* counts) {
  // ids[0] is <s>, which is only ever a history. An n-gram ending at position i is counted for
  // each order k whose window ids[i - k + 1 .. i] has no unpronounceable word, and the first such
  // word found stops the longer windows too, because they contain it.
  for (size_t i = 1; i < ids.size(); ++i) {
    for (int k = 1; k <= order && static_cast<size_t>(k) <= i + 1; ++k) {
      const size_t first = i + 1 - static_cast<size_t>(k);
      if (ids[first] == kNoPronunciation) break;
      ++counts->by_order[k - 1][PackNgram(&ids[first], k)];
    }
  }
}

// Total count c(h) and number of distinct continuations N(h) of one history.
struct HistoryStats {
  uint64_t total = 0;
  uint64_t distinct = 0;
};

double EstimateDiscount(const std::unordered_map<NgramKey, uint32_t>& counts) {
  uint64_t seen_once = 0;
  uint64_t seen_twice = 0;
  for (const auto& [key, count] : counts) {
    if (count == 1) ++seen_once;
    if (count == 2) ++seen_twice;
  }
  if (seen_once == 0 || seen_twice == 0) return kFallbackDiscount;
  return static_cast<double>(seen_once) / static_cast<double>(seen_once + 2 * seen_twice);
}

// One order of the finished model: probability of every n-gram, and the backoff weight of
// those that are histories of the next order.
struct ModelOrder {
  std::vector<NgramKey> keys;  // sorted
  std::unordered_map<NgramKey, double> probability;
  std::unordered_map<NgramKey, double> backoff;  // absent means 1
};

std::vector<ModelOrder> EstimateModel(const NgramCounts& counts, int order) {
  std::vector<ModelOrder> model(static_cast<size_t>(order));

  // Unigrams: maximum likelihood over every token except <s>.
  const auto& unigrams = counts.by_order[0];
  uint64_t tokens = 0;
  for (const auto& [key, count] : unigrams) tokens += count;
  for (const auto& [key, count] : unigrams) {
    model[0].keys.push_back(key);
    model[0].probability[key] = static_cast<double>(count) / static_cast<double>(tokens);
  }
  std::sort(model[0].keys.begin(), model[0].keys.end());

  // Each higher order interpolates with the one below, by the formulas at the top of the file.
  for (int n = 2; n <= order; ++n) {
    const auto& ngrams = counts.by_order[n - 1];
    std::unordered_map<NgramKey, HistoryStats> histories;
    for (const auto& [key, count] : ngrams) {
      HistoryStats& stats = histories[HistoryOf(key)];
      stats.total += count;
      ++stats.distinct;
    }
    const double discount = EstimateDiscount(ngrams);

    ModelOrder& lower = model[n - 2];
    for (const auto& [history, stats] : histories) {
      lower.backoff[history] =
          discount * static_cast<double>(stats.distinct) / static_cast<double>(stats.total);
    }

    ModelOrder& current = model[n - 1];
    for (const auto& [key, count] : ngrams) {
      const NgramKey history = HistoryOf(key);
      // Counting every window of a sentence makes the suffix of a seen n-gram a seen n-gram of
      // the order below, so its probability is stored.
      const double lower_probability = lower.probability.at(SuffixOf(key, n));
      current.keys.push_back(key);
      current.probability[key] =
          (count - discount) / static_cast<double>(histories.at(history).total) +
          lower.backoff.at(history) * lower_probability;
    }
    std::sort(current.keys.begin(), current.keys.end());
  }
  return model;
}

std::string FormatArpa(const std::vector<ModelOrder>& model,
                       const std::vector<std::string>& words) {
  const int order = static_cast<int>(model.size());
  std::string out = "\\data\\\n";
  // <s> is listed as a unigram although it is never predicted.
  out += fmt::format("ngram 1={}\n", model[0].keys.size() + 1);
  for (int n = 2; n <= order; ++n) out += fmt::format("ngram {}={}\n", n, model[n - 1].keys.size());

  for (int n = 1; n <= order; ++n) {
    const ModelOrder& level = model[n - 1];
    out += fmt::format("\n\\{}-grams:\n", n);
    if (n == 1) {
      // -99 is the ARPA convention for log10(0).
      const auto start = level.backoff.find(PackNgram(&kSentenceStart, 1));
      const double start_backoff = start == level.backoff.end() ? 1.0 : start->second;
      out += fmt::format("-99.000000\t<s>\t{:.6f}\n", std::log10(start_backoff));
    }
    for (const NgramKey key : level.keys) {
      out += fmt::format("{:.6f}\t", std::log10(level.probability.at(key)));
      for (int i = 0; i < n; ++i) {
        if (i > 0) out += ' ';
        out += words[WordAt(key, n, i)];
      }
      if (const auto it = level.backoff.find(key); it != level.backoff.end()) {
        out += fmt::format("\t{:.6f}", std::log10(it->second));
      }
      out += '\n';
    }
  }
  out += "\n\\end\\\n";
  return out;
}

// Writes `content` to `path` through a temporary file in the same folder, so a reader opening
// `path` finds the old file or the new one, never a partial one.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
      return Status::IoError(fmt::format("writing {} failed: check free space and permissions",
                                         temporary.string()));
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return Status::IoError(fmt::format("renaming {} to {} failed: {}", temporary.string(),
                                       path.string(), error.message()));
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> SplitSpeechWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto finish_word = [&] {
    const size_t first = word.find_first_not_of('\'');
    const size_t last = word.find_last_not_of('\'');
    if (first != std::string::npos) words.push_back(word.substr(first, last - first + 1));
    word.clear();
  };

  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      if (byte >= 'A' && byte <= 'Z') {
        word += static_cast<char>(byte - 'A' + 'a');
      } else if ((byte >= 'a' && byte <= 'z') || byte == '\'') {
        word += static_cast<char>(byte);
      } else {
        finish_word();
      }
      ++i;
      continue;
    }
    char32_t code_point = 0;
    const size_t length = DecodeUtf8(text, i, &code_point);
    if (code_point == U'\u2019') {
      word += '\'';
    } else if (IsLatinLetter(code_point)) {
      word.append(text.substr(i, length));
    } else {
      finish_word();
    }
    i += length;
  }
  finish_word();
  return words;
}

Result<SpeechModelFiles> BuildSpeechModel(const std::vector<std::string>& sentences,
                                          const std::string& cmudict_path,
                                          const std::string& out_dir,
                                          const SpeechModelOptions& options) {
  if (options.order < 2 || options.order > kMaxOrder) {
    return Status::InvalidArgument(fmt::format(
        "language model order {} is not supported: use 2 (bigram) or 3 (trigram)", options.order));
  }

  // Split every sentence and look up the pronunciations of its words.
  std::vector<std::vector<std::string>> tokenized;
  tokenized.reserve(sentences.size());
  std::set<std::string> vocabulary;
  for (const std::string& sentence : sentences) {
    tokenized.push_back(SplitSpeechWords(sentence));
    vocabulary.insert(tokenized.back().begin(), tokenized.back().end());
  }
  Result<Pronunciations> pronunciations = LoadPronunciations(cmudict_path, vocabulary);
  if (!pronunciations.ok()) return pronunciations.status();
  if (pronunciations->empty()) {
    return Status::InvalidArgument(fmt::format(
        "none of the {} distinct words in {} sentences has a pronunciation in {}: pass sentences "
        "of English words",
        vocabulary.size(), sentences.size(), cmudict_path));
  }
  if (pronunciations->size() + 2 > kMaxWordId) {
    return Status::TooLarge(fmt::format(
        "{} distinct words exceed the language model limit of {}: build from fewer sentences",
        pronunciations->size(), kMaxWordId - 2));
  }

  // Assign ids: <s>, </s>, then the pronounceable words in byte order.
  SpeechModelFiles files;
  std::vector<std::string> words = {"<s>", "</s>"};
  std::unordered_map<std::string, WordId> word_ids;
  for (const auto& [word, lines] : *pronunciations) {
    word_ids.emplace(word, static_cast<WordId>(words.size()));
    words.push_back(word);
  }
  for (const std::string& word : vocabulary) {
    if (!word_ids.contains(word)) files.words_without_pronunciation.push_back(word);
  }

  // Count n-grams. A sentence without a pronounceable word adds nothing, not even "<s> </s>".
  NgramCounts counts;
  counts.by_order.resize(static_cast<size_t>(options.order));
  std::vector<WordId> ids;
  for (const std::vector<std::string>& sentence : tokenized) {
    ids.assign(1, kSentenceStart);
    bool any_pronounceable = false;
    for (const std::string& word : sentence) {
      const auto it = word_ids.find(word);
      ids.push_back(it == word_ids.end() ? kNoPronunciation : it->second);
      any_pronounceable |= it != word_ids.end();
    }
    if (!any_pronounceable) continue;
    ids.push_back(kSentenceEnd);
    CountSentence(ids, options.order, &counts);
  }
  const std::vector<ModelOrder> model = EstimateModel(counts, options.order);

  // Format both files.
  std::string dictionary;
  for (const auto& [word, lines] : *pronunciations) {
    for (const std::string& line : lines) {
      dictionary += line;
      dictionary += '\n';
    }
  }
  const std::string arpa = FormatArpa(model, words);

  // Write them.
  const std::filesystem::path folder(out_dir);
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) {
    return Status::IoError(fmt::format("creating the speech model folder {} failed: {}: pass a "
                                       "writable folder",
                                       out_dir, error.message()));
  }
  files.dictionary_path = (folder / kDictionaryFileName).string();
  files.language_model_path = (folder / kLanguageModelFileName).string();
  TESSERA_RETURN_IF_ERROR(WriteFileAtomically(files.dictionary_path, dictionary));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomically(files.language_model_path, arpa));

  files.dictionary_words = pronunciations->size();
  files.ngram_counts.push_back(model[0].keys.size() + 1);  // with <s>, as the ARPA header counts
  for (size_t n = 1; n < model.size(); ++n) files.ngram_counts.push_back(model[n].keys.size());
  return files;
}

}  // namespace tessera
