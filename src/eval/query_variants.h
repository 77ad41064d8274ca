// Query variants: the same judged request written as a shopper might type it, with a synonym, a
// typo or in Simplified Chinese, so relevance can be measured per query kind.
//
// The method and its limits are described in docs/evaluation.md ("Query kinds").
#pragma once

#include <cstdint>
#include <vector>

#include "eval/judgments.h"

namespace tessera {

// Values of JudgedQuery::kind besides kPlainQueryKind.
inline constexpr char kSynonymQueryKind[] = "synonym";
inline constexpr char kTypoQueryKind[] = "typo";
inline constexpr char kChineseQueryKind[] = "chinese";

struct QueryVariantOptions {
  // Seed of the std::mt19937_64 that places each typo. Each query's engine is seeded with this
  // value mixed with a hash of the query text, so a query's typo does not depend on the others.
  uint64_t seed = 42;
};

// Derives up to three variants of each query in `plain`, in the order of `plain`, each in the
// order synonym, typo, chinese. A variant copies grades, max_grade, attributes and
// query_template, sets `kind`, and gets the id of its query plus "-synonym", "-typo" or
// "-chinese" (e.g. "q0001-typo"). The text is:
//   - synonym: the article type, or else the colour, replaced by another English shopper word
//     ("tshirts" -> "tees"). There is no synonym variant when neither has one.
//   - typo: one edit of Damerau distance 1 (adjacent-key substitution, deletion, transposition
//     or insertion) inside one word of at least 5 ASCII letters. The first and last letters of
//     the word are kept, so the edit never turns a plural into its singular. There is no typo
//     variant when no word qualifies.
//   - chinese: the request in Simplified Chinese without spaces, in the order gender, usage,
//     colour, article type ("男士藏青色衬衫"). A query gets one only when every attribute it
//     names has a translation.
// Queries whose kind is not "plain" are skipped. A query whose text is not its attributes in
// the order DeriveJudgedQueries writes them (a hand-written query) yields only a typo variant.
// The result depends only on `plain` and options.seed. A typo is redrawn when it would spell a
// word of another query in `plain`, so the same query can get another typo in another set.
std::vector<JudgedQuery> DeriveQueryVariants(const std::vector<JudgedQuery>& plain,
                                             const QueryVariantOptions& options = {});

// Returns DeriveJudgedQueries(products, options) followed by their variants, derived with the
// same seed.
std::vector<JudgedQuery> DeriveJudgedQuerySet(const std::vector<Product>& products,
                                              const JudgmentOptions& options = {});

}  // namespace tessera
