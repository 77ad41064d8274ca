// Judged queries: search requests paired with graded relevance, derived from catalogue columns.
//
// The grading rules, the query templates and their limits are described in docs/evaluation.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "ingest/product.h"

namespace tessera {

// Kind of a query whose text is the catalogue's own column values, lower-cased.
inline constexpr char kPlainQueryKind[] = "plain";
// Kind of a query made of one product's photo and no words.
inline constexpr char kPhotoQueryKind[] = "photo";

// One judged query. Products absent from `grades` have grade 0 (not relevant).
struct JudgedQuery {
  std::string id;    // stable within one derived set, e.g. "q0001"
  std::string text;  // lower-case request text, e.g. "navy blue men shirts"; empty for photo queries
  // Photo queries: the product whose photo is the query. It is not graded, because finding the
  // photo's own product does not measure the ranking.
  std::string photo_product_id;
  std::unordered_map<std::string, int> grades;  // product id -> graded relevance, each in [1, max_grade]
  int max_grade = 0;  // grade of a product that matches every attribute the query names

  // Name of the template the query came from (see QueryTemplateName). Empty for hand-written queries.
  std::string query_template;
  // Lower-cased attribute values the query names, keyed like Product::attributes
  // ("article_type", "colour", "gender", "usage"). Empty for hand-written queries.
  std::map<std::string, std::string> attributes;
  // How the text was written: kPlainQueryKind for the tidy column values, a variant kind from
  // eval/query_variants.h ("synonym", "typo", "chinese"), or kPhotoQueryKind. Never empty.
  std::string kind = kPlainQueryKind;
};

// Attribute combinations that queries are built from. Each query names one article type and
// zero to two of colour, gender and usage.
enum class QueryTemplate {
  kArticleType,             // "shirts"
  kColourArticleType,       // "navy blue shirts"
  kGenderArticleType,       // "men shirts"
  kGenderColourArticleType, // "navy blue men shirts"
  kUsageArticleType,        // "casual shirts"
};

inline constexpr QueryTemplate kAllQueryTemplates[] = {
    QueryTemplate::kArticleType,       QueryTemplate::kColourArticleType,
    QueryTemplate::kGenderArticleType, QueryTemplate::kGenderColourArticleType,
    QueryTemplate::kUsageArticleType,
};

// Returns the snake_case name stored in JudgedQuery::query_template, e.g. "colour_article_type".
const char* QueryTemplateName(QueryTemplate query_template);

struct JudgmentOptions {
  size_t max_queries = 200;  // maximum size of the sampled set, smaller when fewer queries qualify
  size_t min_relevant = 5;   // minimum number of products at max_grade for a query to be kept
  uint64_t seed = 42;        // seed of the std::mt19937_64 that samples the queries
};

// Returns the grade of `product` for a query naming `query_attributes` (lower-cased values keyed
// like Product::attributes). The grade is 0 unless the article types are equal. Otherwise it is
// 1 plus one point for each other attribute the query names that the product matches. Values are
// compared case-insensitively, and a value of "NA" never matches. A Unisex product matches a
// query for men or women, while Boys and Girls match only themselves. Only the keys
// "article_type", "colour", "gender" and "usage" are graded; other keys are ignored.
int GradeProduct(const Product& product, const std::map<std::string, std::string>& query_attributes);

// Derives a judged query set from the products' article type, colour, gender and usage columns.
// Candidate queries are every attribute combination of each template that occurs in `products`
// and that has at least options.min_relevant products at max_grade. The set samples the
// templates in turn, each in a seeded shuffle, until options.max_queries are chosen or the
// candidates run out. The result is ordered by template, then by text, and numbered q0001,
// q0002, ... in that order. It is the same for the same products, options and seed on every
// platform, because the shuffle uses only the raw output of std::mt19937_64.
std::vector<JudgedQuery> DeriveJudgedQueries(const std::vector<Product>& products,
                                             const JudgmentOptions& options = {});

struct PhotoJudgmentOptions {
  size_t max_queries = 200;          // maximum size of the set, smaller when fewer products qualify
  size_t max_per_article_type = 10;  // so the commonest article types do not fill the set
  size_t min_relevant = 5;           // minimum number of other products at max_grade
  uint64_t seed = 42;                // seed of the std::mt19937_64 that samples the query products
  // Filter on the products that may become queries, or null to admit every product. A model
  // trained on a product's photo can recall that product's columns, so its training products fail it.
  std::function<bool(const Product&)> eligible;
};

// Derives photo queries: each is the photo of one product that has a photo (Product::image_paths not
// empty), judged like a text query naming that product's article type, colour and gender, with
// the rules of GradeProduct. A Unisex query product names no gender, since a shopper's photo of
// it does not show whom it is for. The query product itself is not graded. Query products
// are sampled in a seeded shuffle, at most options.max_per_article_type per article type, among
// the eligible ones with at least options.min_relevant other products at max_grade. The result
// is ordered by query product id and numbered p0001, p0002, ... in that order.
std::vector<JudgedQuery> DerivePhotoJudgedQueries(const std::vector<Product>& products,
                                                  const PhotoJudgmentOptions& options = {});

// Writes `queries` to `path` as JSON Lines, one query object per line, replacing the file.
// Fails with kInvalidArgument when a query has an empty id or kind, empty text (except photo
// queries, which need photo_product_id instead), a duplicate id, or a grade outside
// [1, max_grade], and with kIoError when the file cannot be written.
[[nodiscard]] Status WriteJudgedQueries(const std::vector<JudgedQuery>& queries, const std::string& path);

// Reads a file written by WriteJudgedQueries. Blank lines are skipped. A line that is not valid
// JSON, has a missing, unknown or mistyped field, breaks the rules WriteJudgedQueries checks, or
// repeats an earlier id fails the read with kInvalidArgument and a message naming the file and
// the 1-based line number. A missing file fails with kNotFound. A line without "kind" reads as
// kPlainQueryKind, so files written before the field existed still load.
[[nodiscard]] Result<std::vector<JudgedQuery>> ReadJudgedQueries(const std::string& path);

}  // namespace tessera
