#include "encode/speech_model_builder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::ReadFile;
using testing_support::TempDir;
using Words = std::vector<std::string>;

// A small pronunciation dictionary in the CMU format, with one word that has two variants.
constexpr char kTinyCmudict[] =
    "black B L AE K\n"
    "blue B L UW\n"
    "men M EH N\n"
    "men's M EH N Z\n"
    "red R EH D\n"
    "shirt SH ER T\n"
    "shirts SH ER T S\n"
    "t T IY\n"
    "watch W AA CH\n"
    "watch(2) W AO CH\n"
    "women W IH M AH N\n";

// An ARPA file read back: log10 probabilities and backoff weights keyed by the n-gram text.
struct Arpa {
  std::map<int, size_t> header_counts;  // order -> "ngram N=" value
  std::map<int, size_t> entry_counts;   // order -> entries listed
  std::map<std::string, double> log_probability;
  std::map<std::string, double> log_backoff;
  std::vector<std::string> vocabulary;  // unigrams other than <s>
};

Arpa ParseArpa(const std::string& text) {
  Arpa arpa;
  std::istringstream in(text);
  std::string line;
  int order = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line == "\\data\\" || line == "\\end\\") continue;
    if (line.starts_with("ngram ")) {
      const size_t equals = line.find('=');
      const int ngram_order = std::stoi(line.substr(6, equals - 6));
      arpa.header_counts[ngram_order] = std::stoul(line.substr(equals + 1));
      continue;
    }
    if (line.starts_with("\\")) {
      order = std::stoi(line.substr(1));
      continue;
    }
    // "logprob <TAB> w1 w2 ... [<TAB> backoff]"
    std::vector<std::string> fields;
    std::istringstream parts(line);
    std::string field;
    while (std::getline(parts, field, '\t')) fields.push_back(field);
    const std::string& ngram = fields.at(1);
    ++arpa.entry_counts[order];
    arpa.log_probability[ngram] = std::stod(fields.at(0));
    if (fields.size() > 2) arpa.log_backoff[ngram] = std::stod(fields.at(2));
    if (order == 1 && ngram != "<s>") arpa.vocabulary.push_back(ngram);
  }
  return arpa;
}

// P(word | history) by the ARPA backoff rule; `history` is space-separated, possibly empty.
double Probability(const Arpa& arpa, const std::string& history, const std::string& word) {
  const std::string ngram = history.empty() ? word : history + " " + word;
  if (const auto it = arpa.log_probability.find(ngram); it != arpa.log_probability.end()) {
    return std::pow(10.0, it->second);
  }
  if (history.empty()) return 0;
  const auto backoff = arpa.log_backoff.find(history);
  const double weight = backoff == arpa.log_backoff.end() ? 1.0 : std::pow(10.0, backoff->second);
  const size_t space = history.find(' ');
  const std::string shorter = space == std::string::npos ? "" : history.substr(space + 1);
  return weight * Probability(arpa, shorter, word);
}

class SpeechModelBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    dir_ = temp_dir_.path();
    cmudict_ = (dir_ / "cmudict.dict").string();
    std::ofstream(cmudict_) << kTinyCmudict;
  }

  SpeechModelFiles Build(const Words& sentences, const std::string& out = "model",
                         SpeechModelOptions options = {}) {
    Result<SpeechModelFiles> files =
        BuildSpeechModel(sentences, cmudict_, (dir_ / out).string(), options);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    return files.ok() ? std::move(files).value() : SpeechModelFiles{};
  }

  TempDir temp_dir_{"tessera-speech-model-"};
  fs::path dir_;
  std::string cmudict_;
};

// Sentences over the tiny dictionary, with unpronounceable words ("fastrack", "tshirt", "zzz")
// in first, middle and last position.
const Words kSentences = {
    "Black Watch",         "Fastrack Men Black Watch", "Men Blue Shirt",
    "Women Red T-Shirt",   "Men's Red Shirts",         "blue shirt",
    "black shirt",         "Women Black Watch zzz",    "Red Tshirt",
    "Men Blue Shirts",     "Women Blue Watch",         "women red shirt",
};

TEST(SplitSpeechWords, LowerCasesAndSplitsOnNonLetters) {
  EXPECT_EQ(SplitSpeechWords("Men's Navy-Blue T-Shirt (2 pack)"),
            (Words{"men's", "navy", "blue", "t", "shirt", "pack"}));
  EXPECT_EQ(SplitSpeechWords("  'quoted'   words''  "), (Words{"quoted", "words"}));
  EXPECT_EQ(SplitSpeechWords("3/4th 100ml"), (Words{"th", "ml"}));
  EXPECT_TRUE(SplitSpeechWords("123 - 456").empty());
}

TEST(SplitSpeechWords, HandlesUtf8) {
  EXPECT_EQ(SplitSpeechWords("Caf\u00e9 Women\u2019s"), (Words{"caf\u00e9", "women's"}));
  EXPECT_EQ(SplitSpeechWords("red\u2013blue"), (Words{"red", "blue"}));  // en dash
  EXPECT_EQ(SplitSpeechWords("red\xff" "blue"), (Words{"red", "blue"}));  // invalid byte
}

TEST_F(SpeechModelBuilderTest, DictionaryHasWordsWithAllVariants) {
  const SpeechModelFiles files = Build({"Black Watch", "blue shirt", "Fastrack Black Watch"});

  EXPECT_EQ(ReadFile(files.dictionary_path),
            "black B L AE K\n"
            "blue B L UW\n"
            "shirt SH ER T\n"
            "watch W AA CH\n"
            "watch(2) W AO CH\n");
  EXPECT_EQ(files.dictionary_words, 4u);
  EXPECT_EQ(files.words_without_pronunciation, Words{"fastrack"});
  EXPECT_EQ(fs::path(files.dictionary_path).filename(), "catalog.dic");
  EXPECT_EQ(fs::path(files.language_model_path).filename(), "catalog.lm");
}

TEST_F(SpeechModelBuilderTest, ArpaHeaderMatchesEntries) {
  const SpeechModelFiles files = Build(kSentences);
  const Arpa arpa = ParseArpa(ReadFile(files.language_model_path));

  ASSERT_EQ(files.ngram_counts.size(), 3u);
  for (int order = 1; order <= 3; ++order) {
    EXPECT_EQ(arpa.header_counts.at(order), arpa.entry_counts.at(order)) << order;
    EXPECT_EQ(arpa.header_counts.at(order), files.ngram_counts[order - 1]) << order;
  }
  EXPECT_EQ(arpa.log_probability.at("<s>"), -99);
  EXPECT_TRUE(arpa.log_backoff.contains("<s>"));
  EXPECT_TRUE(arpa.log_probability.contains("</s>"));
  EXPECT_TRUE(arpa.log_probability.contains("<s> black watch"));
}

TEST_F(SpeechModelBuilderTest, EveryHistorySumsToOne) {
  const SpeechModelFiles files = Build(kSentences);
  const Arpa arpa = ParseArpa(ReadFile(files.language_model_path));

  // Histories: the empty one, every word, every seen bigram, and an unseen bigram.
  std::set<std::string> histories = {"", "<s>", "watch shirt"};
  for (const std::string& word : arpa.vocabulary) {
    if (word != "</s>") histories.insert(word);
  }
  for (const auto& [ngram, log_probability] : arpa.log_probability) {
    if (std::count(ngram.begin(), ngram.end(), ' ') == 1 && !ngram.ends_with("</s>")) {
      histories.insert(ngram);
    }
  }
  for (const std::string& history : histories) {
    double sum = 0;
    for (const std::string& word : arpa.vocabulary) sum += Probability(arpa, history, word);
    // Six decimals of log10 allow a relative error of about 1.4e-6 per term.
    EXPECT_NEAR(sum, 1.0, 1e-4) << "history \"" << history << "\"";
  }
}

TEST_F(SpeechModelBuilderTest, SeenContinuationBeatsUnseen) {
  const SpeechModelFiles files = Build(kSentences);
  const Arpa arpa = ParseArpa(ReadFile(files.language_model_path));

  EXPECT_GT(Probability(arpa, "black", "watch"), Probability(arpa, "black", "men"));
  EXPECT_GT(Probability(arpa, "men blue", "shirt"), Probability(arpa, "men blue", "watch"));
  // Every word keeps some probability after any history.
  EXPECT_GT(Probability(arpa, "black watch", "women"), 0);
}

TEST_F(SpeechModelBuilderTest, UnpronounceableWordBreaksNgrams) {
  const SpeechModelFiles files = Build({"red zzz shirt"});
  const Arpa arpa = ParseArpa(ReadFile(files.language_model_path));

  EXPECT_EQ(files.words_without_pronunciation, Words{"zzz"});
  EXPECT_TRUE(arpa.log_probability.contains("<s> red"));
  EXPECT_TRUE(arpa.log_probability.contains("shirt </s>"));
  EXPECT_FALSE(arpa.log_probability.contains("red shirt"));
  EXPECT_FALSE(arpa.log_probability.contains("red </s>"));
  EXPECT_FALSE(arpa.log_probability.contains("<s> shirt"));
}

TEST_F(SpeechModelBuilderTest, SameInputGivesIdenticalFiles) {
  const SpeechModelFiles first = Build(kSentences, "first");
  const SpeechModelFiles second = Build(kSentences, "second");

  EXPECT_EQ(ReadFile(first.dictionary_path), ReadFile(second.dictionary_path));
  EXPECT_EQ(ReadFile(first.language_model_path), ReadFile(second.language_model_path));
}

TEST_F(SpeechModelBuilderTest, BigramOrderWritesTwoSections) {
  SpeechModelOptions options;
  options.order = 2;
  const SpeechModelFiles files = Build(kSentences, "bigram", options);
  const Arpa arpa = ParseArpa(ReadFile(files.language_model_path));

  EXPECT_EQ(files.ngram_counts.size(), 2u);
  EXPECT_FALSE(arpa.header_counts.contains(3));
  // Bigrams are the top order, so they carry no backoff weight.
  EXPECT_FALSE(arpa.log_backoff.contains("black watch"));
}

TEST_F(SpeechModelBuilderTest, CreatesMissingOutputFolder) {
  const SpeechModelFiles files = Build({"blue shirt"}, "a/b/c");
  EXPECT_TRUE(fs::exists(dir_ / "a/b/c/catalog.dic"));
  EXPECT_TRUE(fs::exists(dir_ / "a/b/c/catalog.lm"));
  EXPECT_FALSE(fs::exists(dir_ / "a/b/c/catalog.lm.tmp"));
}

TEST_F(SpeechModelBuilderTest, MissingCmudictIsNotFound) {
  const std::string missing = (dir_ / "no-such.dict").string();
  Result<SpeechModelFiles> files = BuildSpeechModel({"blue shirt"}, missing, dir_.string());
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kNotFound);
  EXPECT_NE(files.status().message().find(missing), std::string::npos);
}

TEST_F(SpeechModelBuilderTest, NoPronounceableWordIsInvalidArgument) {
  Result<SpeechModelFiles> files =
      BuildSpeechModel({"zzz qqq", "1234", ""}, cmudict_, (dir_ / "model").string());
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(files.status().message().find("pronunciation"), std::string::npos);
}

TEST_F(SpeechModelBuilderTest, UnsupportedOrderIsInvalidArgument) {
  SpeechModelOptions options;
  options.order = 4;
  Result<SpeechModelFiles> files =
      BuildSpeechModel(kSentences, cmudict_, (dir_ / "model").string(), options);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(files.status().message().find("order 4"), std::string::npos);
}

TEST_F(SpeechModelBuilderTest, UnwritableOutputIsIoError) {
  // A regular file where the output folder should be.
  std::ofstream(dir_ / "file") << "x";
  Result<SpeechModelFiles> files =
      BuildSpeechModel(kSentences, cmudict_, (dir_ / "file" / "model").string());
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace tessera
