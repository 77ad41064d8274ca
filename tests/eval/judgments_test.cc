#include "eval/judgments.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/text.h"

namespace tessera {
namespace {

Product MakeProduct(std::string id, std::string article_type, std::string colour, std::string gender,
                    std::string usage = "Casual") {
  Product product;
  product.id = std::move(id);
  product.title = gender + " " + colour + " " + article_type;
  product.attributes = {{"article_type", std::move(article_type)},
                        {"colour", std::move(colour)},
                        {"gender", std::move(gender)},
                        {"usage", std::move(usage)}};
  return product;
}

// Reads fashion/styles.csv with a plain comma split. The file quotes no field that contains a comma,
// and the title is the last column, so everything after the ninth comma is the title.
std::vector<Product> LoadFashionCatalogue() {
  const std::string path = std::string(TESSERA_DATA_DIR) + "/fashion/styles.csv";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<Product> products;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields = Split(line, ',');
    if (fields.size() < 10) {
      ADD_FAILURE() << "short row in " << path << ": " << line;
      continue;
    }
    Product product;
    product.id = fields[0];
    product.category_path = {fields[2], fields[3], fields[4]};
    product.attributes = {{"gender", fields[1]}, {"article_type", fields[4]}, {"colour", fields[5]},
                          {"season", fields[6]}, {"year", fields[7]},         {"usage", fields[8]}};
    for (size_t i = 9; i < fields.size(); ++i) product.title += (i > 9 ? "," : "") + fields[i];
    products.push_back(std::move(product));
  }
  return products;
}

const std::vector<Product>& FashionCatalogue() {
  static const std::vector<Product> products = LoadFashionCatalogue();
  return products;
}

const JudgedQuery* FindByText(const std::vector<JudgedQuery>& queries, const std::string& text) {
  for (const JudgedQuery& query : queries) {
    if (query.text == text) return &query;
  }
  return nullptr;
}

int GradeIn(const JudgedQuery& query, const std::string& product_id) {
  const auto it = query.grades.find(product_id);
  return it == query.grades.end() ? 0 : it->second;
}

size_t CountAtGrade(const JudgedQuery& query, int grade) {
  return static_cast<size_t>(std::count_if(query.grades.begin(), query.grades.end(),
                                           [&](const auto& entry) { return entry.second == grade; }));
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("tessera_eval_" + name)).string();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// --- Grading rules ---

TEST(GradeProduct, OtherArticleTypeIsZero) {
  const Product trousers = MakeProduct("1", "Trousers", "Navy Blue", "Men");
  EXPECT_EQ(GradeProduct(trousers, {{"article_type", "shirts"}, {"colour", "navy blue"}, {"gender", "men"}}), 0);
}

TEST(GradeProduct, OnePointPerMatchedAttribute) {
  const Product shirt = MakeProduct("1", "Shirts", "Navy Blue", "Men", "Formal");
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}}), 1);
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"colour", "navy blue"}}), 2);
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"colour", "black"}}), 1);
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"colour", "navy blue"}, {"gender", "men"}}), 3);
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"colour", "navy blue"}, {"gender", "women"}}), 2);
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"usage", "formal"}}), 2);
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"usage", "casual"}}), 1);
}

TEST(GradeProduct, ColourMustMatchWholeValue) {
  const Product shirt = MakeProduct("1", "Shirts", "Navy Blue", "Men");
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"colour", "blue"}}), 1);
}

TEST(GradeProduct, ComparisonIgnoresCase) {
  const Product shirt = MakeProduct("1", "Shirts", "Navy Blue", "Men");
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "SHIRTS"}, {"colour", "Navy Blue"}}), 2);
}

TEST(GradeProduct, UnisexMatchesMenAndWomen) {
  const Product watch = MakeProduct("1", "Watches", "Black", "Unisex");
  EXPECT_EQ(GradeProduct(watch, {{"article_type", "watches"}, {"gender", "men"}}), 2);
  EXPECT_EQ(GradeProduct(watch, {{"article_type", "watches"}, {"gender", "women"}}), 2);
  EXPECT_EQ(GradeProduct(watch, {{"article_type", "watches"}, {"gender", "boys"}}), 1);
  EXPECT_EQ(GradeProduct(watch, {{"article_type", "watches"}, {"gender", "girls"}}), 1);
}

TEST(GradeProduct, BoysAndGirlsMatchOnlyThemselves) {
  const Product boys = MakeProduct("1", "Tshirts", "Red", "Boys");
  const Product girls = MakeProduct("2", "Tshirts", "Red", "Girls");
  EXPECT_EQ(GradeProduct(boys, {{"article_type", "tshirts"}, {"gender", "boys"}}), 2);
  EXPECT_EQ(GradeProduct(boys, {{"article_type", "tshirts"}, {"gender", "men"}}), 1);
  EXPECT_EQ(GradeProduct(girls, {{"article_type", "tshirts"}, {"gender", "girls"}}), 2);
  EXPECT_EQ(GradeProduct(girls, {{"article_type", "tshirts"}, {"gender", "women"}}), 1);
  EXPECT_EQ(GradeProduct(girls, {{"article_type", "tshirts"}, {"gender", "boys"}}), 1);
}

TEST(GradeProduct, OtherKeysAreIgnored) {
  const Product shirt = MakeProduct("1", "Shirts", "Navy Blue", "Men");
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"brand", "turtle"}}), 1);
}

TEST(GradeProduct, UnknownValueNeverMatches) {
  const Product shirt = MakeProduct("1", "Shirts", "NA", "Men", "NA");
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"usage", "na"}}), 1);
  EXPECT_EQ(GradeProduct(shirt, {{"article_type", "shirts"}, {"colour", "na"}}), 1);
}

// --- Derivation on hand-written products ---

// Six navy blue men's shirts, two navy blue unisex shirts, three black women's shirts and
// three navy blue boys' shirts.
std::vector<Product> SmallCatalogue() {
  std::vector<Product> products;
  for (int i = 0; i < 6; ++i) products.push_back(MakeProduct("m" + std::to_string(i), "Shirts", "Navy Blue", "Men"));
  for (int i = 0; i < 2; ++i) products.push_back(MakeProduct("u" + std::to_string(i), "Shirts", "Navy Blue", "Unisex"));
  for (int i = 0; i < 3; ++i) products.push_back(MakeProduct("w" + std::to_string(i), "Shirts", "Black", "Women", "Formal"));
  for (int i = 0; i < 3; ++i) products.push_back(MakeProduct("b" + std::to_string(i), "Shirts", "Navy Blue", "Boys"));
  products.push_back(MakeProduct("j0", "Jeans", "Navy Blue", "Men"));
  return products;
}

// Options that keep every qualifying candidate. The fashion catalogue has 2,468.
JudgmentOptions AllQueries(size_t min_relevant) {
  JudgmentOptions options;
  options.max_queries = 100000;
  options.min_relevant = min_relevant;
  return options;
}

TEST(DeriveJudgedQueries, GradesEveryProductOfArticleType) {
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(SmallCatalogue(), AllQueries(5));
  const JudgedQuery* query = FindByText(queries, "navy blue men shirts");
  ASSERT_NE(query, nullptr);
  EXPECT_EQ(query->max_grade, 3);
  EXPECT_EQ(query->query_template, "gender_colour_article_type");
  EXPECT_EQ(query->attributes.at("colour"), "navy blue");
  EXPECT_EQ(query->grades.size(), 14u);  // every shirt, no jeans
  EXPECT_EQ(GradeIn(*query, "m0"), 3);
  EXPECT_EQ(GradeIn(*query, "u0"), 3);  // Unisex counts as men
  EXPECT_EQ(GradeIn(*query, "b0"), 2);  // colour only: boys are not men
  EXPECT_EQ(GradeIn(*query, "w0"), 1);
  EXPECT_EQ(GradeIn(*query, "j0"), 0);
  EXPECT_EQ(CountAtGrade(*query, 3), 8u);
}

TEST(DeriveJudgedQueries, BuildsEachTemplate) {
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(SmallCatalogue(), AllQueries(5));
  std::set<std::string> texts;
  for (const JudgedQuery& query : queries) texts.insert(query.text);
  // "women shirts" qualifies through the two Unisex shirts beside the three women's shirts.
  const std::set<std::string> expected = {"shirts",       "navy blue shirts",     "men shirts",
                                          "women shirts", "navy blue men shirts", "casual shirts"};
  EXPECT_EQ(texts, expected);
  EXPECT_EQ(FindByText(queries, "shirts")->max_grade, 1);
  EXPECT_EQ(FindByText(queries, "casual shirts")->max_grade, 2);
}

TEST(DeriveJudgedQueries, DropsQueriesWithTooFewFullyRelevant) {
  // "black women shirts" and "navy blue boys shirts" have 3 fully relevant products each, and
  // "jeans" has 1, so none reaches min_relevant = 5. At 3 they all qualify except jeans.
  const std::vector<JudgedQuery> strict = DeriveJudgedQueries(SmallCatalogue(), AllQueries(5));
  EXPECT_EQ(FindByText(strict, "black women shirts"), nullptr);
  EXPECT_EQ(FindByText(strict, "navy blue boys shirts"), nullptr);
  EXPECT_EQ(FindByText(strict, "jeans"), nullptr);

  const std::vector<JudgedQuery> loose = DeriveJudgedQueries(SmallCatalogue(), AllQueries(3));
  EXPECT_NE(FindByText(loose, "black women shirts"), nullptr);
  EXPECT_NE(FindByText(loose, "navy blue boys shirts"), nullptr);
  EXPECT_NE(FindByText(loose, "formal shirts"), nullptr);
  EXPECT_EQ(FindByText(loose, "jeans"), nullptr);
  EXPECT_EQ(FindByText(loose, "unisex shirts"), nullptr);  // Unisex is no query word
}

TEST(DeriveJudgedQueries, IdsFollowTemplateThenText) {
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(SmallCatalogue(), AllQueries(5));
  ASSERT_EQ(queries.size(), 6u);
  EXPECT_EQ(queries[0].id, "q0001");
  EXPECT_EQ(queries[0].text, "shirts");
  EXPECT_EQ(queries[2].text, "men shirts");
  EXPECT_EQ(queries[3].text, "women shirts");
  EXPECT_EQ(queries[5].id, "q0006");
  EXPECT_EQ(queries[5].text, "casual shirts");
}

TEST(DeriveJudgedQueries, EmptyCatalogueGivesNoQueries) {
  EXPECT_TRUE(DeriveJudgedQueries({}).empty());
}

TEST(DeriveJudgedQueries, TextSharedByTwoTemplatesKeepsFirst) {
  // Article type "Sports Sandals" and usage "Sports" with article type "Sandals" both read
  // "sports sandals". The article type template comes first and keeps the text.
  std::vector<Product> products;
  for (int i = 0; i < 5; ++i) products.push_back(MakeProduct("s" + std::to_string(i), "Sports Sandals", "Black", "Men"));
  for (int i = 0; i < 5; ++i) {
    products.push_back(MakeProduct("t" + std::to_string(i), "Sandals", "Brown", "Women", "Sports"));
  }
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(products, AllQueries(5));
  size_t matches = 0;
  for (const JudgedQuery& query : queries) matches += query.text == "sports sandals";
  EXPECT_EQ(matches, 1u);
  const JudgedQuery* query = FindByText(queries, "sports sandals");
  ASSERT_NE(query, nullptr);
  EXPECT_EQ(query->query_template, "article_type");
  EXPECT_EQ(GradeIn(*query, "s0"), 1);
  EXPECT_EQ(GradeIn(*query, "t0"), 0);
}

// --- Derivation on the real catalogue ---

TEST(DeriveJudgedQueriesFashion, DefaultSetIsBalancedAndFullyJudged) {
  const std::vector<Product>& products = FashionCatalogue();
  ASSERT_EQ(products.size(), 44446u);
  const JudgmentOptions options;
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(products, options);
  ASSERT_EQ(queries.size(), options.max_queries);

  std::map<std::string, size_t> per_template;
  std::set<std::string> ids;
  std::set<std::string> texts;
  for (const JudgedQuery& query : queries) {
    ++per_template[query.query_template];
    ids.insert(query.id);
    texts.insert(query.text);
    EXPECT_EQ(query.text, LowerAscii(query.text));
    EXPECT_EQ(query.max_grade, static_cast<int>(query.attributes.size())) << query.text;
    EXPECT_GE(CountAtGrade(query, query.max_grade), options.min_relevant) << query.text;
    for (const auto& [product_id, grade] : query.grades) {
      ASSERT_GE(grade, 1) << query.text << " " << product_id;
      ASSERT_LE(grade, query.max_grade) << query.text << " " << product_id;
    }
  }
  EXPECT_EQ(ids.size(), queries.size());
  EXPECT_EQ(texts.size(), queries.size());
  // Every template has more than 40 qualifying queries, so each gets an equal fifth.
  ASSERT_EQ(per_template.size(), 5u);
  for (const auto& [name, count] : per_template) EXPECT_EQ(count, 40u) << name;
}

TEST(DeriveJudgedQueriesFashion, GradesMatchIndependentCount) {
  // Counted from styles.csv with Python's csv module, apart from this code: 3,217 Shirts, of which
  // 174 are Navy Blue and Men or Unisex (grade 3), 2,692 match one of the two (grade 2) and 351
  // neither (grade 1).
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(FashionCatalogue(), AllQueries(5));
  const JudgedQuery* query = FindByText(queries, "navy blue men shirts");
  ASSERT_NE(query, nullptr);
  EXPECT_EQ(query->grades.size(), 3217u);
  EXPECT_EQ(CountAtGrade(*query, 3), 174u);
  EXPECT_EQ(CountAtGrade(*query, 2), 2692u);
  EXPECT_EQ(CountAtGrade(*query, 1), 351u);
  EXPECT_EQ(GradeIn(*query, "15970"), 3);  // Turtle Check Men Navy Blue Shirt
}

TEST(DeriveJudgedQueriesFashion, SameSeedGivesSameSet) {
  const std::vector<JudgedQuery> first = DeriveJudgedQueries(FashionCatalogue(), {.seed = 7});
  const std::vector<JudgedQuery> second = DeriveJudgedQueries(FashionCatalogue(), {.seed = 7});
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].id, second[i].id);
    EXPECT_EQ(first[i].text, second[i].text);
    EXPECT_EQ(first[i].grades, second[i].grades) << first[i].text;
  }
}

TEST(DeriveJudgedQueriesFashion, DifferentSeedGivesDifferentSet) {
  const std::vector<JudgedQuery> first = DeriveJudgedQueries(FashionCatalogue(), {.seed = 1});
  const std::vector<JudgedQuery> second = DeriveJudgedQueries(FashionCatalogue(), {.seed = 2});
  std::set<std::string> first_texts;
  std::set<std::string> second_texts;
  for (const JudgedQuery& query : first) first_texts.insert(query.text);
  for (const JudgedQuery& query : second) second_texts.insert(query.text);
  EXPECT_NE(first_texts, second_texts);
}

TEST(DeriveJudgedQueriesFashion, ProductOrderDoesNotChangeSet) {
  std::vector<Product> reversed = FashionCatalogue();
  std::reverse(reversed.begin(), reversed.end());
  const std::vector<JudgedQuery> forward = DeriveJudgedQueries(FashionCatalogue());
  const std::vector<JudgedQuery> backward = DeriveJudgedQueries(reversed);
  ASSERT_EQ(forward.size(), backward.size());
  for (size_t i = 0; i < forward.size(); ++i) {
    EXPECT_EQ(forward[i].text, backward[i].text);
    EXPECT_EQ(forward[i].grades, backward[i].grades) << forward[i].text;
  }
}

// --- JSON Lines files ---

TEST(JudgedQueryFile, RoundTripKeepsEveryField) {
  const std::vector<JudgedQuery> queries = DeriveJudgedQueries(SmallCatalogue(), AllQueries(3));
  ASSERT_FALSE(queries.empty());
  const std::string path = TempPath("round_trip.jsonl");
  ASSERT_TRUE(WriteJudgedQueries(queries, path).ok());

  Result<std::vector<JudgedQuery>> read = ReadJudgedQueries(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ((*read)[i].id, queries[i].id);
    EXPECT_EQ((*read)[i].text, queries[i].text);
    EXPECT_EQ((*read)[i].grades, queries[i].grades);
    EXPECT_EQ((*read)[i].max_grade, queries[i].max_grade);
    EXPECT_EQ((*read)[i].query_template, queries[i].query_template);
    EXPECT_EQ((*read)[i].attributes, queries[i].attributes);
    EXPECT_EQ((*read)[i].kind, queries[i].kind);
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(JudgedQueryFile, RoundTripKeepsKind) {
  std::vector<JudgedQuery> queries = DeriveJudgedQueries(SmallCatalogue(), AllQueries(2));
  queries.resize(std::min<size_t>(queries.size(), 2));
  ASSERT_EQ(queries.size(), 2u);
  queries[1].id += "-typo";
  queries[1].kind = "typo";
  const std::string path = TempPath("round_trip_kind.jsonl");
  ASSERT_TRUE(WriteJudgedQueries(queries, path).ok());

  Result<std::vector<JudgedQuery>> read = ReadJudgedQueries(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].kind, "plain");
  EXPECT_EQ((*read)[1].kind, "typo");
}

TEST(JudgedQueryFile, WriteRejectsEmptyKind) {
  std::vector<JudgedQuery> queries = DeriveJudgedQueries(SmallCatalogue(), AllQueries(1));
  ASSERT_FALSE(queries.empty());
  queries[0].kind.clear();
  const Status written = WriteJudgedQueries(queries, TempPath("empty_kind.jsonl"));
  EXPECT_EQ(written.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(written.message().find("kind"), std::string::npos) << written.message();
}

TEST(JudgedQueryFile, HandWrittenQueryNeedsOnlyCoreFields) {
  const std::string path = TempPath("hand_written.jsonl");
  WriteText(path, "{\"id\":\"h1\",\"text\":\"red dress\",\"max_grade\":2,\"grades\":{\"7\":2,\"8\":1}}\n\n");
  Result<std::vector<JudgedQuery>> read = ReadJudgedQueries(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].grades.at("7"), 2);
  EXPECT_TRUE((*read)[0].query_template.empty());
  EXPECT_EQ((*read)[0].kind, "plain");  // files written before the field existed read as plain
}

TEST(JudgedQueryFile, MalformedLineReportsLineNumber) {
  const std::string good = "{\"id\":\"a\",\"text\":\"shirts\",\"max_grade\":1,\"grades\":{\"1\":1}}\n";
  struct Case {
    std::string name;
    std::string third_line;
    std::string expected_words;
  };
  const std::vector<Case> cases = {
      {"broken JSON", "{\"id\":\"b\",", "invalid JSON"},
      {"not an object", "[1, 2]", "not a JSON object"},
      {"missing grades", "{\"id\":\"b\",\"text\":\"t\",\"max_grade\":1}", "\"grades\" is missing"},
      {"grade above max", "{\"id\":\"b\",\"text\":\"t\",\"max_grade\":1,\"grades\":{\"1\":2}}", "outside [1, 1]"},
      {"grade zero", "{\"id\":\"b\",\"text\":\"t\",\"max_grade\":1,\"grades\":{\"1\":0}}", "outside [1, 1]"},
      {"string grade", "{\"id\":\"b\",\"text\":\"t\",\"max_grade\":1,\"grades\":{\"1\":\"1\"}}", "not an integer"},
      {"unknown field", "{\"id\":\"b\",\"text\":\"t\",\"max_grade\":1,\"grades\":{},\"score\":1}", "\"score\" is unknown"},
      {"number kind", "{\"id\":\"b\",\"text\":\"t\",\"kind\":3,\"max_grade\":1,\"grades\":{}}", "\"kind\" is not a string"},
      {"empty kind", "{\"id\":\"b\",\"text\":\"t\",\"kind\":\"\",\"max_grade\":1,\"grades\":{}}", "empty kind"},
      {"repeated id", "{\"id\":\"a\",\"text\":\"t\",\"max_grade\":1,\"grades\":{}}", "already appears on line 1"},
  };
  for (const Case& c : cases) {
    const std::string path = TempPath("malformed.jsonl");
    WriteText(path, good + "\n" + c.third_line + "\n" + good);
    Result<std::vector<JudgedQuery>> read = ReadJudgedQueries(path);
    ASSERT_FALSE(read.ok()) << c.name;
    EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(read.status().message().find(path + ":3:"), std::string::npos)
        << c.name << ": " << read.status().message();
    EXPECT_NE(read.status().message().find(c.expected_words), std::string::npos)
        << c.name << ": " << read.status().message();
  }
}

TEST(JudgedQueryFile, MissingFileIsNotFound) {
  Result<std::vector<JudgedQuery>> read = ReadJudgedQueries(TempPath("does_not_exist.jsonl"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
}

TEST(JudgedQueryFile, WriteRejectsInvalidQuery) {
  JudgedQuery query;
  query.id = "q1";
  query.text = "shirts";
  query.max_grade = 1;
  query.grades = {{"1", 2}};
  const std::string path = TempPath("invalid.jsonl");
  Status status = WriteJudgedQueries({query}, path);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);

  query.grades = {{"1", 1}};
  status = WriteJudgedQueries({query, query}, path);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("appears twice"), std::string::npos) << status.message();
}

TEST(JudgedQueryFile, WriteToMissingFolderFails) {
  const Status status = WriteJudgedQueries({}, TempPath("no_such_folder/queries.jsonl"));
  EXPECT_EQ(status.code(), StatusCode::kIoError);
}

// --- Photo queries ---

// A product with a photo path; the path need not exist, since only its presence is read.
Product WithPhoto(Product product) {
  product.image_paths = {"/photos/" + product.id + ".jpg"};
  return product;
}

TEST(DerivePhotoJudgedQueries, GradesOthersByTheQueryProduct) {
  std::vector<Product> products;
  products.push_back(WithPhoto(MakeProduct("q", "Shirts", "Navy Blue", "Men")));
  for (int i = 0; i < 5; ++i) products.push_back(MakeProduct("m" + std::to_string(i), "Shirts", "Navy Blue", "Men"));
  products.push_back(MakeProduct("w0", "Shirts", "Navy Blue", "Women"));
  products.push_back(MakeProduct("k0", "Shirts", "Black", "Women"));
  products.push_back(MakeProduct("j0", "Jeans", "Navy Blue", "Men"));

  const std::vector<JudgedQuery> queries = DerivePhotoJudgedQueries(products);
  ASSERT_EQ(queries.size(), 1u);
  const JudgedQuery& query = queries[0];
  EXPECT_EQ(query.id, "p0001");
  EXPECT_EQ(query.kind, kPhotoQueryKind);
  EXPECT_EQ(query.photo_product_id, "q");
  EXPECT_TRUE(query.text.empty());
  EXPECT_EQ(query.max_grade, 3);
  EXPECT_FALSE(query.grades.contains("q")) << "the query product is not graded";
  EXPECT_EQ(query.grades.at("m0"), 3);
  EXPECT_EQ(query.grades.at("w0"), 2);
  EXPECT_EQ(query.grades.at("k0"), 1);
  EXPECT_FALSE(query.grades.contains("j0"));
}

TEST(DerivePhotoJudgedQueries, UnisexQueryNamesNoGender) {
  std::vector<Product> products;
  products.push_back(WithPhoto(MakeProduct("q", "Watches", "Black", "Unisex")));
  for (int i = 0; i < 5; ++i) products.push_back(MakeProduct("w" + std::to_string(i), "Watches", "Black", "Women"));
  const std::vector<JudgedQuery> queries = DerivePhotoJudgedQueries(products);
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(queries[0].max_grade, 2);
  EXPECT_FALSE(queries[0].attributes.contains("gender"));
  EXPECT_EQ(queries[0].grades.at("w0"), 2);
}

TEST(DerivePhotoJudgedQueries, SkipsProductsWithoutPhotoOrPeers) {
  std::vector<Product> products;
  products.push_back(MakeProduct("no-photo", "Shirts", "Navy Blue", "Men"));
  products.push_back(WithPhoto(MakeProduct("lonely", "Scarves", "Purple", "Women")));
  for (int i = 0; i < 5; ++i) products.push_back(MakeProduct("m" + std::to_string(i), "Shirts", "Navy Blue", "Men"));
  EXPECT_TRUE(DerivePhotoJudgedQueries(products).empty());
}

TEST(DerivePhotoJudgedQueries, CapsQueriesPerArticleType) {
  std::vector<Product> products;
  for (int i = 0; i < 20; ++i) products.push_back(WithPhoto(MakeProduct("s" + std::to_string(i), "Shirts", "Navy Blue", "Men")));
  PhotoJudgmentOptions options;
  options.max_per_article_type = 4;
  EXPECT_EQ(DerivePhotoJudgedQueries(products, options).size(), 4u);
}

TEST(DerivePhotoJudgedQueries, OnlyEligibleProductsAreQueries) {
  std::vector<Product> products;
  for (int i = 0; i < 20; ++i) products.push_back(WithPhoto(MakeProduct("s" + std::to_string(i), "Shirts", "Navy Blue", "Men")));
  PhotoJudgmentOptions options;
  options.eligible = [](const Product& product) { return product.id == "s3" || product.id == "s17"; };
  const std::vector<JudgedQuery> queries = DerivePhotoJudgedQueries(products, options);
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].photo_product_id, "s17");
  EXPECT_EQ(queries[1].photo_product_id, "s3");
  // Ineligible products are still graded.
  EXPECT_EQ(queries[0].grades.at("s0"), 3);
}

TEST(DerivePhotoJudgedQueries, ProductOrderDoesNotChangeSet) {
  std::vector<Product> products;
  for (int i = 0; i < 30; ++i) {
    products.push_back(WithPhoto(MakeProduct("s" + std::to_string(i), i % 2 ? "Shirts" : "Jeans", "Navy Blue", "Men")));
  }
  PhotoJudgmentOptions options;
  options.max_queries = 6;
  const std::vector<JudgedQuery> forward = DerivePhotoJudgedQueries(products, options);
  std::reverse(products.begin(), products.end());
  const std::vector<JudgedQuery> backward = DerivePhotoJudgedQueries(products, options);
  ASSERT_EQ(forward.size(), 6u);
  ASSERT_EQ(backward.size(), forward.size());
  for (size_t i = 0; i < forward.size(); ++i) EXPECT_EQ(backward[i].photo_product_id, forward[i].photo_product_id);
}

TEST(JudgedQueryFile, RoundTripKeepsPhotoQuery) {
  std::vector<Product> products;
  products.push_back(WithPhoto(MakeProduct("q", "Shirts", "Navy Blue", "Men")));
  for (int i = 0; i < 5; ++i) products.push_back(MakeProduct("m" + std::to_string(i), "Shirts", "Navy Blue", "Men"));
  const std::vector<JudgedQuery> queries = DerivePhotoJudgedQueries(products);
  ASSERT_EQ(queries.size(), 1u);
  const std::string path = TempPath("photo_round_trip.jsonl");
  ASSERT_TRUE(WriteJudgedQueries(queries, path).ok());
  Result<std::vector<JudgedQuery>> read = ReadJudgedQueries(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].photo_product_id, "q");
  EXPECT_EQ((*read)[0].kind, kPhotoQueryKind);
  EXPECT_EQ((*read)[0].grades, queries[0].grades);
}

TEST(JudgedQueryFile, PhotoQueryNeedsItsProduct) {
  JudgedQuery query;
  query.id = "p0001";
  query.kind = kPhotoQueryKind;
  query.max_grade = 1;
  const Status status = WriteJudgedQueries({query}, TempPath("photo_without_product.jsonl"));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("photo_product_id"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace tessera
