#include "eval/query_variants.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eval/fashion_styles.h"

namespace tessera {
namespace {

// A plain query as DeriveJudgedQueries writes it: text in the order usage, colour, gender,
// article type, and the same values as attributes.
JudgedQuery PlainQuery(std::string id, std::map<std::string, std::string> attributes) {
  JudgedQuery query;
  query.id = std::move(id);
  for (const char* key : {"usage", "colour", "gender", "article_type"}) {
    const auto it = attributes.find(key);
    if (it == attributes.end()) continue;
    query.text += (query.text.empty() ? "" : " ") + it->second;
  }
  query.attributes = std::move(attributes);
  query.max_grade = static_cast<int>(query.attributes.size());
  query.query_template = "test";
  query.grades = {{"1", query.max_grade}, {"2", 1}};
  return query;
}

const JudgedQuery* FindById(const std::vector<JudgedQuery>& queries, const std::string& id) {
  for (const JudgedQuery& query : queries) {
    if (query.id == id) return &query;
  }
  return nullptr;
}

std::string VariantText(const JudgedQuery& plain, const char* kind) {
  const std::vector<JudgedQuery> variants = DeriveQueryVariants({plain});
  const JudgedQuery* variant = FindById(variants, plain.id + "-" + kind);
  return variant == nullptr ? std::string() : variant->text;
}

// Optimal string alignment distance: Levenshtein plus the swap of two neighbouring characters,
// on bytes.
size_t DamerauDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string Digits(const std::string& text) {
  std::string digits;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  }
  return digits;
}

bool HasAsciiLetterOrSpace(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x80 && (std::isalpha(byte) || std::isspace(byte));
  });
}

const std::vector<JudgedQuery>& FashionQuerySet() {
  static const std::vector<JudgedQuery> queries = DeriveJudgedQuerySet(FashionProducts());
  return queries;
}

std::map<std::string, size_t> CountByKind(const std::vector<JudgedQuery>& queries) {
  std::map<std::string, size_t> counts;
  for (const JudgedQuery& query : queries) ++counts[query.kind];
  return counts;
}

// --- Each kind on hand-made queries ---

TEST(SynonymVariant, ReplacesArticleType) {
  EXPECT_EQ(VariantText(PlainQuery("q1", {{"article_type", "tshirts"}, {"colour", "navy blue"}, {"gender", "men"}}),
                        kSynonymQueryKind),
            "navy blue men tees");
  EXPECT_EQ(VariantText(PlainQuery("q2", {{"article_type", "casual shoes"}}), kSynonymQueryKind), "sneakers");
}

TEST(SynonymVariant, FallsBackToColour) {
  EXPECT_EQ(VariantText(PlainQuery("q1", {{"article_type", "shirts"}, {"colour", "grey"}}), kSynonymQueryKind),
            "gray shirts");
}

TEST(SynonymVariant, NoneWithoutShopperWord) {
  EXPECT_EQ(VariantText(PlainQuery("q1", {{"article_type", "shirts"}, {"colour", "navy blue"}}), kSynonymQueryKind),
            "");
}

TEST(ChineseVariant, FollowsChineseWordOrder) {
  EXPECT_EQ(VariantText(PlainQuery("q1", {{"article_type", "shirts"}, {"colour", "navy blue"}, {"gender", "men"}}),
                        kChineseQueryKind),
            "男士藏青色衬衫");
  EXPECT_EQ(VariantText(PlainQuery("q2", {{"article_type", "sandals"}, {"usage", "formal"}}), kChineseQueryKind),
            "正装凉鞋");
}

TEST(ChineseVariant, UsageNotRepeatedInArticleType) {
  EXPECT_EQ(VariantText(PlainQuery("q1", {{"article_type", "casual shoes"}, {"usage", "casual"}}), kChineseQueryKind),
            "休闲鞋");
}

TEST(ChineseVariant, NoneWhenAnAttributeLacksTranslation) {
  EXPECT_EQ(VariantText(PlainQuery("q1", {{"article_type", "kurtas"}, {"gender", "women"}}), kChineseQueryKind), "");
}

TEST(TypoVariant, EditsOneLetterInLongWord) {
  const JudgedQuery plain = PlainQuery("q1", {{"article_type", "shirts"}, {"colour", "red"}, {"gender", "men"}});
  const std::string typo = VariantText(plain, kTypoQueryKind);
  ASSERT_FALSE(typo.empty());
  EXPECT_EQ(DamerauDistance(plain.text, typo), 1u) << typo;
  // "red" and "men" are shorter than 5 letters, so only "shirts" may change, and never its first or last letter.
  EXPECT_TRUE(typo.starts_with("red men s")) << typo;
  EXPECT_TRUE(typo.ends_with("s")) << typo;
}

TEST(TypoVariant, NeverTouchesDigits) {
  JudgedQuery plain;
  plain.id = "h1";
  plain.text = "levis 501 jeans 2012 edition 123456";
  plain.max_grade = 1;
  plain.grades = {{"1", 1}};
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const std::vector<JudgedQuery> variants = DeriveQueryVariants({plain}, {.seed = seed});
    const JudgedQuery* typo = FindById(variants, "h1-typo");
    ASSERT_NE(typo, nullptr) << "seed " << seed;
    EXPECT_EQ(Digits(typo->text), Digits(plain.text)) << typo->text;
    EXPECT_EQ(DamerauDistance(plain.text, typo->text), 1u) << typo->text;
    EXPECT_NE(typo->text.find(" 501 "), std::string::npos) << typo->text;
    EXPECT_NE(typo->text.find(" 2012 "), std::string::npos) << typo->text;
    EXPECT_TRUE(typo->text.ends_with(" 123456")) << typo->text;
  }
}

TEST(TypoVariant, NoneWithoutLongLetterWord) {
  JudgedQuery plain;
  plain.id = "h1";
  plain.text = "red 12345 bag";
  plain.max_grade = 1;
  EXPECT_TRUE(DeriveQueryVariants({plain}).empty());
}

TEST(TypoVariant, NeverSpellsAnotherQueryWord) {
  const JudgedQuery shorts = PlainQuery("q1", {{"article_type", "shorts"}});
  const JudgedQuery shirts = PlainQuery("q2", {{"article_type", "shirts"}});
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const std::vector<JudgedQuery> variants = DeriveQueryVariants({shorts, shirts}, {.seed = seed});
    const JudgedQuery* typo = FindById(variants, "q1-typo");
    ASSERT_NE(typo, nullptr) << "seed " << seed;
    EXPECT_NE(typo->text, "shirts") << "seed " << seed;
  }
}

// --- Shared rules ---

TEST(DeriveQueryVariants, HandWrittenQueryGetsOnlyTypo) {
  JudgedQuery plain;
  plain.id = "h1";
  plain.text = "navy shirts for office";
  plain.max_grade = 1;
  plain.grades = {{"1", 1}};
  const std::vector<JudgedQuery> variants = DeriveQueryVariants({plain});
  ASSERT_EQ(variants.size(), 1u);
  EXPECT_EQ(variants[0].kind, kTypoQueryKind);
}

TEST(DeriveQueryVariants, SkipsQueriesThatAreVariants) {
  JudgedQuery variant = PlainQuery("q1-typo", {{"article_type", "tshirts"}});
  variant.kind = kTypoQueryKind;
  EXPECT_TRUE(DeriveQueryVariants({variant}).empty());
}

TEST(DeriveQueryVariants, IdsAndKindsFollowPlainQuery) {
  const JudgedQuery plain = PlainQuery("q0007", {{"article_type", "tshirts"}, {"gender", "women"}});
  const std::vector<JudgedQuery> variants = DeriveQueryVariants({plain});
  ASSERT_EQ(variants.size(), 3u);
  EXPECT_EQ(variants[0].id, "q0007-synonym");
  EXPECT_EQ(variants[0].kind, kSynonymQueryKind);
  EXPECT_EQ(variants[1].id, "q0007-typo");
  EXPECT_EQ(variants[1].kind, kTypoQueryKind);
  EXPECT_EQ(variants[2].id, "q0007-chinese");
  EXPECT_EQ(variants[2].kind, kChineseQueryKind);
}

// --- The fashion catalogue ---

TEST(DeriveJudgedQuerySetFashion, PlainQueriesComeFirst) {
  const std::vector<JudgedQuery>& queries = FashionQuerySet();
  const std::vector<JudgedQuery> plain = DeriveJudgedQueries(FashionProducts());
  ASSERT_GT(queries.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(queries[i].id, plain[i].id);
    EXPECT_EQ(queries[i].kind, kPlainQueryKind);
  }
}

TEST(DeriveJudgedQuerySetFashion, CountsPerKind) {
  // Measured on styles.csv (44,446 products) with the default options. docs/evaluation.md
  // quotes the same numbers.
  const std::map<std::string, size_t> counts = CountByKind(FashionQuerySet());
  EXPECT_EQ(counts.at(kPlainQueryKind), 200u);
  EXPECT_EQ(counts.at(kSynonymQueryKind), 103u);
  EXPECT_EQ(counts.at(kTypoQueryKind), 195u);
  EXPECT_EQ(counts.at(kChineseQueryKind), 187u);
}

TEST(DeriveJudgedQuerySetFashion, VariantsKeepGrades) {
  const std::vector<JudgedQuery>& queries = FashionQuerySet();
  std::map<std::string, const JudgedQuery*> plain_by_id;
  for (const JudgedQuery& query : queries) {
    if (query.kind == kPlainQueryKind) plain_by_id[query.id] = &query;
  }
  for (const JudgedQuery& variant : queries) {
    if (variant.kind == kPlainQueryKind) continue;
    const std::string plain_id = variant.id.substr(0, variant.id.find('-'));
    ASSERT_TRUE(plain_by_id.contains(plain_id)) << variant.id;
    const JudgedQuery& plain = *plain_by_id[plain_id];
    EXPECT_EQ(variant.id, plain.id + "-" + variant.kind);
    EXPECT_EQ(variant.grades, plain.grades) << variant.id;
    EXPECT_EQ(variant.max_grade, plain.max_grade) << variant.id;
    EXPECT_EQ(variant.attributes, plain.attributes) << variant.id;
    EXPECT_EQ(variant.query_template, plain.query_template) << variant.id;
    EXPECT_FALSE(variant.text.empty()) << variant.id;
    EXPECT_NE(variant.text, plain.text) << variant.id;
  }
}

TEST(DeriveJudgedQuerySetFashion, SameSeedGivesSameSet) {
  const std::vector<JudgedQuery> again = DeriveJudgedQuerySet(FashionProducts());
  const std::vector<JudgedQuery>& first = FashionQuerySet();
  ASSERT_EQ(again.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(again[i].id, first[i].id);
    EXPECT_EQ(again[i].text, first[i].text);
  }
}

TEST(DeriveJudgedQuerySetFashion, OtherSeedMovesTypos) {
  const std::vector<JudgedQuery> plain = DeriveJudgedQueries(FashionProducts());
  const std::vector<JudgedQuery> a = DeriveQueryVariants(plain, {.seed = 1});
  const std::vector<JudgedQuery> b = DeriveQueryVariants(plain, {.seed = 2});
  ASSERT_EQ(a.size(), b.size());
  size_t typos = 0, differing_typos = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].kind == kTypoQueryKind) {
      ++typos;
      differing_typos += a[i].text != b[i].text;
    } else {
      EXPECT_EQ(a[i].text, b[i].text) << a[i].id;  // only typos depend on the seed
    }
  }
  EXPECT_GT(differing_typos, typos / 2);
}

TEST(DeriveJudgedQuerySetFashion, TyposAreOneEditApart) {
  const std::vector<JudgedQuery>& queries = FashionQuerySet();
  std::map<std::string, std::string> plain_text;
  for (const JudgedQuery& query : queries) {
    if (query.kind == kPlainQueryKind) plain_text[query.id] = query.text;
  }
  for (const JudgedQuery& query : queries) {
    if (query.kind != kTypoQueryKind) continue;
    const std::string& original = plain_text[query.id.substr(0, query.id.find('-'))];
    EXPECT_EQ(DamerauDistance(original, query.text), 1u) << original << " -> " << query.text;
    EXPECT_EQ(Digits(original), Digits(query.text)) << query.text;
  }
}

TEST(DeriveJudgedQuerySetFashion, ChineseHasNoLatinLettersOrSpaces) {
  size_t chinese = 0;
  for (const JudgedQuery& query : FashionQuerySet()) {
    if (query.kind != kChineseQueryKind) continue;
    ++chinese;
    EXPECT_FALSE(query.text.empty()) << query.id;
    EXPECT_FALSE(HasAsciiLetterOrSpace(query.text)) << query.id << ": " << query.text;
    EXPECT_TRUE(IsValidUtf8(query.text)) << query.id;
  }
  EXPECT_GT(chinese, 0u);
}

// Every value of styles.csv has a Chinese word, except the Indian garments without an
// established Chinese name and "ipad", which Chinese shoppers type in Latin letters.
TEST(ChineseVariant, CoversCatalogueValues) {
  const std::set<std::string> untranslated = {"churidar", "dupatta", "ipad",   "kurta sets",        "kurtas",
                                              "kurtis",   "lehenga choli", "nehru jackets", "patiala",
                                              "salwar",   "salwar and dupatta"};
  const FashionColumnValues& values = FashionValues();
  for (const std::string& article_type : values.article_types) {
    const std::string text = VariantText(PlainQuery("q", {{"article_type", article_type}}), kChineseQueryKind);
    EXPECT_EQ(text.empty(), untranslated.contains(article_type)) << article_type << " -> " << text;
  }
  for (const std::string& colour : values.colours) {
    EXPECT_NE(VariantText(PlainQuery("q", {{"article_type", "shirts"}, {"colour", colour}}), kChineseQueryKind), "")
        << colour;
  }
  for (const std::string& gender : values.genders) {
    if (gender == "unisex") continue;  // never a query word, see docs/evaluation.md
    EXPECT_NE(VariantText(PlainQuery("q", {{"article_type", "shirts"}, {"gender", gender}}), kChineseQueryKind), "")
        << gender;
  }
  for (const std::string& usage : values.usages) {
    EXPECT_NE(VariantText(PlainQuery("q", {{"article_type", "shirts"}, {"usage", usage}}), kChineseQueryKind), "")
        << usage;
  }
}

}  // namespace
}  // namespace tessera
