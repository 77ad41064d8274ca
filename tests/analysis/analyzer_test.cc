#include "analysis/analyzer.h"

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

using Terms = std::vector<std::string>;

class AnalyzerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create();
    ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
    analyzer_ = std::move(analyzer).value();
  }

  std::unique_ptr<Analyzer> analyzer_;
};

TEST_F(AnalyzerTest, FullWidthLettersFold) {
  // ＳＨＩＲＴ is U+FF33 U+FF28 U+FF29 U+FF32 U+FF34.
  EXPECT_EQ(analyzer_->Terms("\xEF\xBC\xB3\xEF\xBC\xA8\xEF\xBC\xA9\xEF\xBC\xB2\xEF\xBC\xB4"), Terms{"shirt"});
}

TEST_F(AnalyzerTest, FullWidthDigitsFold) {
  // １１ is U+FF11 U+FF11.
  EXPECT_EQ(analyzer_->Terms("\xEF\xBC\x91\xEF\xBC\x91"), Terms{"11"});
}

TEST_F(AnalyzerTest, CaseFolds) {
  EXPECT_EQ(analyzer_->Terms("SHIRT Shirt shirt"), (Terms{"shirt", "shirt", "shirt"}));
}

TEST_F(AnalyzerTest, NonAsciiCaseFolds) {
  // "ÉTÉ" folds to "été", which is not ASCII, so the stemmer leaves it whole.
  EXPECT_EQ(analyzer_->Terms("\xC3\x89T\xC3\x89"), Terms{"\xC3\xA9t\xC3\xA9"});
}

TEST_F(AnalyzerTest, LigatureFolds) {
  // "ﬁt" with U+FB01 LATIN SMALL LIGATURE FI.
  EXPECT_EQ(analyzer_->Terms("\xEF\xAC\x81t"), Terms{"fit"});
}

TEST_F(AnalyzerTest, PluralsStem) {
  EXPECT_EQ(analyzer_->Terms("shirts"), Terms{"shirt"});
  EXPECT_EQ(analyzer_->Terms("Dresses"), Terms{"dress"});
  EXPECT_EQ(analyzer_->Terms("shoes"), analyzer_->Terms("shoe"));
  EXPECT_EQ(analyzer_->Terms("watches"), analyzer_->Terms("watch"));
}

TEST_F(AnalyzerTest, StemmingCanBeTurnedOff) {
  Result<std::unique_ptr<Analyzer>> plain = Analyzer::Create(AnalyzerOptions{.stem_english = false});
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ((*plain)->Terms("Shirts"), Terms{"shirts"});
}

TEST_F(AnalyzerTest, ChineseSegmentsWithDictionary) {
  // 男士藏青色衬衫 ("men's navy blue shirt") -> 男士 / 藏青色 / 衬衫 with ICU 72's dictionary.
  const Terms expected = {"\xE7\x94\xB7\xE5\xA3\xAB", "\xE8\x97\x8F\xE9\x9D\x92\xE8\x89\xB2",
                          "\xE8\xA1\xAC\xE8\xA1\xAB"};
  EXPECT_EQ(analyzer_->Terms("\xE7\x94\xB7\xE5\xA3\xAB\xE8\x97\x8F\xE9\x9D\x92\xE8\x89\xB2\xE8\xA1\xAC\xE8\xA1\xAB"),
            expected);
}

TEST_F(AnalyzerTest, MixedModelNameKeepsNumber) {
  EXPECT_EQ(analyzer_->Terms("iPhone 11 Pro"), (Terms{"iphon", "11", "pro"}));
}

TEST_F(AnalyzerTest, QueryAndProductTextMatch) {
  EXPECT_EQ(analyzer_->Terms("IPHONE 11 pro"), analyzer_->Terms("iPhone 11 Pro"));
}

TEST_F(AnalyzerTest, PunctuationDropped) {
  EXPECT_EQ(analyzer_->Terms("shirt, blue! (navy) - cotton... & / ?"), (Terms{"shirt", "blue", "navi", "cotton"}));
}

TEST_F(AnalyzerTest, DecimalNumberKeptWhole) {
  EXPECT_EQ(analyzer_->Terms("size 9.5"), (Terms{"size", "9.5"}));
}

TEST_F(AnalyzerTest, PositionsIncreaseByOne) {
  const std::vector<Token> tokens = analyzer_->Analyze("Turtle, Check Men -- Navy Blue Shirts!");
  ASSERT_EQ(tokens.size(), 6u);
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(tokens[i].position, i) << tokens[i].term;
  }
}

TEST_F(AnalyzerTest, EmptyInputGivesNoTokens) {
  EXPECT_TRUE(analyzer_->Analyze("").empty());
}

TEST_F(AnalyzerTest, WhitespaceOnlyInputGivesNoTokens) {
  // Includes U+3000 IDEOGRAPHIC SPACE.
  EXPECT_TRUE(analyzer_->Analyze(" \t\r\n \xE3\x80\x80 ").empty());
}

TEST_F(AnalyzerTest, PunctuationOnlyInputGivesNoTokens) {
  EXPECT_TRUE(analyzer_->Analyze("!?.,;:-()[]").empty());
}

TEST_F(AnalyzerTest, InvalidUtf8KeepsValidWords) {
  // Invalid bytes become U+FFFD, which is dropped with the punctuation.
  const Terms terms = analyzer_->Terms("blue \xFF\xFE shirt \xC3");
  EXPECT_EQ(terms, (Terms{"blue", "shirt"}));
}

TEST_F(AnalyzerTest, InvalidUtf8OnlyInputGivesNoTokens) {
  EXPECT_TRUE(analyzer_->Analyze("\xFF\xFE\xFD\x80\xC0\xAF").empty());
}

// The ASCII fast path must segment exactly as ICU does. Random text over its characters, with
// runs of spaces and separators, covers the word break rules it reproduces.
TEST_F(AnalyzerTest, AsciiFastPathMatchesIcu) {
  Result<std::unique_ptr<Analyzer>> icu_only = Analyzer::Create(AnalyzerOptions{.ascii_fast_path = false});
  ASSERT_TRUE(icu_only.ok()) << icu_only.status().ToString();
  const std::vector<std::string> pieces = {"a", "Z", "shirt", "T", "65", "9", "mm", "inches", "in", "xyz",
                                           " ", "  ", "-", "/", "--", "0"};
  std::mt19937 random(11);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<size_t> length(0, 12);
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    for (size_t n = length(random); n > 0; --n) text += pieces[pick(random)];
    SCOPED_TRACE("text \"" + text + "\"");
    const std::vector<Token> expected = (*icu_only)->Analyze(text);
    const std::vector<Token> actual = analyzer_->Analyze(text);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t t = 0; t < expected.size(); ++t) {
      EXPECT_EQ(actual[t].term, expected[t].term);
      EXPECT_EQ(actual[t].surface, expected[t].surface);
      EXPECT_EQ(actual[t].position, expected[t].position);
      EXPECT_EQ(actual[t].kind, expected[t].kind);
      EXPECT_EQ(actual[t].parts, expected[t].parts);
    }
  }
}

TEST_F(AnalyzerTest, ConcurrentAnalyzeGivesSameTerms) {
  const std::string text = "Turtle Check Men Navy Blue Shirts \xE7\x94\xB7\xE5\xA3\xAB\xE8\xA1\xAC\xE8\xA1\xAB";
  const Terms expected = analyzer_->Terms(text);
  constexpr int kIterations = 2000;
  int mismatches[2] = {0, 0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        if (analyzer_->Terms(text) != expected) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches[0], 0);
  EXPECT_EQ(mismatches[1], 0);
}

}  // namespace
}  // namespace tessera
