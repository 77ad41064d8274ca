// Checks config/synonyms/fashion.txt against the fashion catalogue: its format, its coverage of
// every article type, colour, gender and usage, and the direction of its Chinese rules.
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/text.h"
#include "eval/fashion_styles.h"

namespace tessera {
namespace {

// One line of the file: "a, b, c" (equivalent terms, all in `left`) or "a, b => c, d".
struct SynonymRule {
  size_t line = 0;
  std::vector<std::string> left;
  std::vector<std::string> right;
  bool one_way = false;
};

// True when `term` contains a UTF-8 lead byte 0xE4..0xE9, which encodes U+4000..U+9FFF: the CJK
// Unified Ideographs block (U+4E00..U+9FFF) and the little-used Extension A before it.
bool HasChinese(const std::string& term) {
  for (size_t i = 0; i + 2 < term.size(); ++i) {
    const auto byte = static_cast<unsigned char>(term[i]);
    if (byte >= 0xE4 && byte <= 0xE9) return true;
  }
  return false;
}

std::vector<std::string> ParseTerms(const std::string& part, size_t line_number) {
  std::vector<std::string> terms;
  for (const std::string& piece : Split(part, ',')) {
    const std::string term(TrimAscii(piece));
    EXPECT_FALSE(term.empty()) << "line " << line_number << " has an empty term";
    if (!term.empty()) terms.push_back(term);
  }
  return terms;
}

// A small reader of the Solr synonym format: '#' starts a comment, blank lines are skipped, and
// "=>" may appear once.
std::vector<SynonymRule> ReadSynonymFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<SynonymRule> rules;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    EXPECT_TRUE(IsValidUtf8(line)) << "line " << line_number << " is not UTF-8";
    const std::string content(TrimAscii(line.substr(0, line.find('#'))));
    if (content.empty()) continue;

    SynonymRule rule;
    rule.line = line_number;
    const size_t arrow = content.find("=>");
    if (arrow == std::string::npos) {
      rule.left = ParseTerms(content, line_number);
    } else {
      EXPECT_EQ(content.find("=>", arrow + 2), std::string::npos) << "line " << line_number << " has two \"=>\"";
      rule.one_way = true;
      rule.left = ParseTerms(content.substr(0, arrow), line_number);
      rule.right = ParseTerms(content.substr(arrow + 2), line_number);
      EXPECT_FALSE(rule.right.empty()) << "line " << line_number << " maps onto nothing";
    }
    EXPECT_FALSE(rule.left.empty()) << "line " << line_number << " has no terms";
    rules.push_back(std::move(rule));
  }
  return rules;
}

const std::vector<SynonymRule>& FashionRules() {
  static const std::vector<SynonymRule> rules =
      ReadSynonymFile(std::string(TESSERA_SOURCE_DIR) + "/config/synonyms/fashion.txt");
  return rules;
}

bool RuleHasChinese(const SynonymRule& rule) {
  for (const auto* terms : {&rule.left, &rule.right}) {
    for (const std::string& term : *terms) {
      if (HasChinese(term)) return true;
    }
  }
  return false;
}

bool RuleNames(const SynonymRule& rule, const std::string& value) {
  for (const auto* terms : {&rule.left, &rule.right}) {
    for (const std::string& term : *terms) {
      if (LowerAscii(term) == value) return true;
    }
  }
  return false;
}

// Returns the values of `values` that no rule names together with a Chinese term.
std::vector<std::string> WithoutChineseRule(const std::set<std::string>& values) {
  std::vector<std::string> missing;
  for (const std::string& value : values) {
    bool found = false;
    for (const SynonymRule& rule : FashionRules()) {
      if (RuleNames(rule, value) && RuleHasChinese(rule)) {
        found = true;
        break;
      }
    }
    if (!found) missing.push_back(value);
  }
  return missing;
}

std::string Join(const std::vector<std::string>& values) {
  std::string joined;
  for (const std::string& value : values) joined += (joined.empty() ? "" : ", ") + value;
  return joined;
}

std::set<std::string> AllCatalogueValues() {
  const FashionColumnValues& values = FashionValues();
  std::set<std::string> all;
  for (const auto* set : {&values.article_types, &values.colours, &values.genders, &values.usages}) {
    all.insert(set->begin(), set->end());
  }
  return all;
}

TEST(FashionSynonymFile, CataloguePresent) {
  // Guards the coverage tests below against passing on an empty catalogue.
  EXPECT_EQ(FashionValues().article_types.size(), 143u);
  EXPECT_EQ(FashionValues().colours.size(), 46u);
  EXPECT_EQ(FashionValues().genders.size(), 5u);
  EXPECT_EQ(FashionValues().usages.size(), 8u);
  EXPECT_GT(FashionRules().size(), 300u);
}

TEST(FashionSynonymFile, EveryArticleTypeHasChinese) {
  const std::vector<std::string> missing = WithoutChineseRule(FashionValues().article_types);
  EXPECT_TRUE(missing.empty()) << "article types without a Chinese rule: " << Join(missing);
}

TEST(FashionSynonymFile, EveryColourHasChinese) {
  const std::vector<std::string> missing = WithoutChineseRule(FashionValues().colours);
  EXPECT_TRUE(missing.empty()) << "colours without a Chinese rule: " << Join(missing);
}

TEST(FashionSynonymFile, EveryGenderHasChinese) {
  const std::vector<std::string> missing = WithoutChineseRule(FashionValues().genders);
  EXPECT_TRUE(missing.empty()) << "genders without a Chinese rule: " << Join(missing);
}

TEST(FashionSynonymFile, EveryUsageHasChinese) {
  const std::vector<std::string> missing = WithoutChineseRule(FashionValues().usages);
  EXPECT_TRUE(missing.empty()) << "usages without a Chinese rule: " << Join(missing);
}

TEST(FashionSynonymFile, ChineseMapsOneWayOntoCatalogueValues) {
  const std::set<std::string> catalogue = AllCatalogueValues();
  for (const SynonymRule& rule : FashionRules()) {
    if (!RuleHasChinese(rule)) continue;
    EXPECT_TRUE(rule.one_way) << "line " << rule.line << ": Chinese terms need a one-way rule";
    for (const std::string& term : rule.left) {
      EXPECT_TRUE(HasChinese(term)) << "line " << rule.line << ": \"" << term << "\" mixes with Chinese terms";
    }
    for (const std::string& term : rule.right) {
      EXPECT_TRUE(catalogue.contains(term)) << "line " << rule.line << ": \"" << term << "\" is not a catalogue value";
    }
  }
}

TEST(FashionSynonymFile, EveryRuleNamesCatalogueValue) {
  const std::set<std::string> catalogue = AllCatalogueValues();
  for (const SynonymRule& rule : FashionRules()) {
    const std::vector<std::string>& targets = rule.one_way ? rule.right : rule.left;
    bool names_value = false;
    for (const std::string& term : targets) names_value = names_value || catalogue.contains(term);
    EXPECT_TRUE(names_value) << "line " << rule.line << " names no catalogue value on its right side or in its group";
  }
}

TEST(FashionSynonymFile, TermOnLeftSideOnce) {
  std::map<std::string, size_t> line_of_term;
  for (const SynonymRule& rule : FashionRules()) {
    for (const std::string& term : rule.left) {
      const auto [it, inserted] = line_of_term.emplace(term, rule.line);
      EXPECT_TRUE(inserted) << "\"" << term << "\" is on the left of line " << it->second << " and line " << rule.line;
    }
  }
}

TEST(FashionSynonymFile, EnglishTermsAreLowerCase) {
  for (const SynonymRule& rule : FashionRules()) {
    for (const auto* terms : {&rule.left, &rule.right}) {
      for (const std::string& term : *terms) {
        EXPECT_EQ(term, LowerAscii(term)) << "line " << rule.line;
      }
    }
  }
}

}  // namespace
}  // namespace tessera
