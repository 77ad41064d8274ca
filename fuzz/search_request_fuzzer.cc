// Fuzzes a text search from request to candidates: ValidateSearchRequest, then the query parser
// and the filters through Retriever::Retrieve, over a small catalogue of English and Chinese
// products with the fashion synonyms. The input fills a SearchRequest field by field.
// Beyond crashes and sanitizer reports, it checks that a valid request stays inside the documented
// page limits and that every candidate is a live product passing the filters, best first.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "analysis/analyzer.h"
#include "analysis/synonyms.h"
#include "fuzz_support.h"
#include "index/exact_vector_index.h"
#include "index/filter_index.h"
#include "index/inverted_index.h"
#include "retrieve/query_parser.h"
#include "retrieve/retriever.h"
#include "retrieve/search_request.h"

namespace tessera::fuzz {
namespace {

struct CatalogueProduct {
  const char* title;
  const char* category;
  const char* gender;
  const char* colour;
  std::optional<double> price;
};

// Titles mix the token kinds of the analyzer: words, numbers, codes and Chinese text.
const CatalogueProduct kCatalogue[] = {
    {"Roadster Men Navy Blue Shirt", "Shirts", "Men", "Navy Blue", 899},
    {"Puma Women Grey T-shirt", "Tshirts", "Women", "Grey", 499.5},
    {"Nike Men Running Shoes XYZ-123", "Sports Shoes", "Men", "Black", 2999},
    {"Fabindia Women Kurta 100% cotton", "Kurtas", "Women", "Red", std::nullopt},
    {"Levis Men Slim Fit Jeans 32\" waist", "Jeans", "Men", "Blue", 1599},
    {"耐克 男士 藏青色 衬衫", "Shirts", "Men", "Navy Blue", 799},
    {"阿迪达斯 女式 运动鞋 白色", "Sports Shoes", "Women", "White", 3499},
    {"Crème Brûlée Scented Candle 25.4 mm", "Home", "Unisex", "", 0},
};

// The index, filters and parser, built once: libFuzzer runs every input in one process.
struct SearchSetup {
  std::unique_ptr<Analyzer> analyzer;
  std::unique_ptr<SynonymSet> synonyms;
  InvertedIndex text_index{{{"title", 1.0f}, {"category", 1.5f}}};
  FilterIndex filters;
  ExactVectorIndex image_index{4};
  Roaring live_docs;
  std::unique_ptr<QueryParser> parser;
  std::unique_ptr<Retriever> retriever;
};

const SearchSetup& Setup() {
  static const SearchSetup* setup = [] {
    auto* s = new SearchSetup;
    Result<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create();
    TESSERA_FUZZ_CHECK(analyzer.ok(), analyzer.status().ToString());
    s->analyzer = std::move(analyzer).value();
    Result<SynonymSet> synonyms = SynonymSet::LoadFile(TESSERA_SOURCE_DIR "/config/synonyms/fashion.txt", *s->analyzer);
    TESSERA_FUZZ_CHECK(synonyms.ok(), synonyms.status().ToString());
    s->synonyms = std::make_unique<SynonymSet>(std::move(synonyms).value());

    DocId doc = 0;
    for (const CatalogueProduct& product : kCatalogue) {
      s->text_index.Add(doc, {s->analyzer->IndexTerms(product.title), s->analyzer->IndexTerms(product.category)});
      s->filters.Add(doc, "category", product.category);
      s->filters.Add(doc, "gender", product.gender);
      if (*product.colour != '\0') s->filters.Add(doc, "colour", product.colour);
      s->filters.SetPrice(doc, product.price);
      s->live_docs.add(doc);
      ++doc;
    }

    // No time budget, so a slow query shows up as a libFuzzer timeout instead of a partial result.
    QueryParserOptions options;
    options.time_budget = std::chrono::milliseconds(0);
    s->parser = std::make_unique<QueryParser>(*s->analyzer, s->synonyms.get(), s->text_index, options);
    s->retriever = std::make_unique<Retriever>(*s->parser, s->text_index, s->filters, s->image_index, nullptr,
                                               s->live_docs);
    return s;
  }();
  return *setup;
}

std::optional<double> ConsumePrice(FuzzedDataProvider& input) {
  if (!input.ConsumeBool()) return std::nullopt;
  return input.ConsumeFloatingPoint<double>();
}

// Fills the fields the HTTP layer fills from query parameters; sizes and pages use the whole
// range of size_t, as a client can send any number.
SearchRequest ConsumeRequest(FuzzedDataProvider& input) {
  SearchRequest request;
  request.prefix = input.ConsumeBool();
  request.page = input.ConsumeIntegral<size_t>();
  request.per_page = input.ConsumeIntegral<size_t>();
  request.filters.price_min = ConsumePrice(input);
  request.filters.price_max = ConsumePrice(input);
  request.filters.category = input.ConsumeRandomLengthString(64);
  request.filters.gender = input.ConsumeRandomLengthString(32);
  request.filters.colour = input.ConsumeRandomLengthString(32);
  const size_t missing = input.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < missing; ++i) request.filters.missing.push_back(input.ConsumeRandomLengthString(16));
  request.text = input.ConsumeRemainingBytesAsString();
  return request;
}

void CheckCandidates(const SearchSetup& setup, const SearchRequest& request, const CandidateSet& set, size_t depth) {
  TESSERA_FUZZ_CHECK(set.candidates.size() <= depth, std::to_string(set.candidates.size()));
  const std::optional<Roaring> allowed = setup.retriever->Allowed(request.filters);
  for (size_t i = 0; i < set.candidates.size(); ++i) {
    const Candidate& candidate = set.candidates[i];
    TESSERA_FUZZ_CHECK(setup.live_docs.contains(candidate.doc), std::to_string(candidate.doc));
    TESSERA_FUZZ_CHECK(!allowed || allowed->contains(candidate.doc), "a candidate fails the filters");
    if (i > 0) {
      TESSERA_FUZZ_CHECK(set.candidates[i - 1].retrieval_score >= candidate.retrieval_score,
                         "candidates are not ordered best first");
    }
  }
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  const fuzz::SearchSetup& setup = fuzz::Setup();
  FuzzedDataProvider input(data, size);
  const SearchRequest request = fuzz::ConsumeRequest(input);

  const Status valid = ValidateSearchRequest(request);
  if (!valid.ok()) {
    fuzz::CheckErrorMessage(valid);
    return 0;
  }
  // The engine retrieves page * per_page candidates, so the product must not wrap around.
  TESSERA_FUZZ_CHECK(request.per_page > 0 && request.page <= kMaxResultWindow / request.per_page,
                     "page " + std::to_string(request.page) + " x per_page " + std::to_string(request.per_page) +
                         " passed validation");

  const size_t depth = request.page * request.per_page;
  const Result<CandidateSet> set = setup.retriever->Retrieve(request, depth);
  if (!set.ok()) {
    TESSERA_FUZZ_CHECK(set.status().code() == StatusCode::kInvalidArgument, set.status().ToString());
    fuzz::CheckErrorMessage(set.status());
    return 0;
  }
  fuzz::CheckCandidates(setup, request, *set, depth);
  return 0;
}
