#include "eval/judgments.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <system_error>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace tessera {
namespace {

constexpr char kArticleTypeKey[] = "article_type";
constexpr char kColourKey[] = "colour";
constexpr char kGenderKey[] = "gender";
constexpr char kUsageKey[] = "usage";

constexpr size_t kTemplateCount = std::size(kAllQueryTemplates);

// The four attributes that grading reads, normalized by Normalize. In a query an empty field is
// an attribute the query does not name. The member initializers let designated initializers
// leave fields out without a -Wmissing-field-initializers warning.
struct Facets {
  std::string article_type{};
  std::string colour{};
  std::string gender{};
  std::string usage{};
};

std::string Normalize(const std::string& value) { return LowerAscii(TrimAscii(value)); }

std::string NormalizedValue(const std::map<std::string, std::string>& attributes, const char* key) {
  const auto it = attributes.find(key);
  return it == attributes.end() ? std::string() : Normalize(it->second);
}

Facets FacetsOf(const std::map<std::string, std::string>& attributes) {
  return {NormalizedValue(attributes, kArticleTypeKey), NormalizedValue(attributes, kColourKey),
          NormalizedValue(attributes, kGenderKey), NormalizedValue(attributes, kUsageKey)};
}

// The fashion catalogue writes "NA" where a colour or usage is unknown. Such values never match
// and never become query words.
bool IsKnown(const std::string& normalized_value) {
  return !normalized_value.empty() && normalized_value != "na";
}

bool GenderMatches(const std::string& query_gender, const std::string& product_gender) {
  if (product_gender == query_gender) return true;
  return product_gender == "unisex" && (query_gender == "men" || query_gender == "women");
}

// Genders a product can be found under. Unisex is not a query word of its own, but a Unisex
// product counts for both men and women.
std::vector<std::string> QueryGendersFor(const std::string& product_gender) {
  if (product_gender == "unisex") return {"men", "women"};
  if (product_gender == "men" || product_gender == "women" || product_gender == "boys" ||
      product_gender == "girls") {
    return {product_gender};
  }
  return {};
}

// Returns 1 for the article type plus one for each other attribute the query names.
int MaxGrade(const Facets& query) {
  return 1 + !query.colour.empty() + !query.gender.empty() + !query.usage.empty();
}

// The grading rule of GradeProduct, on normalized values.
int GradeFacets(const Facets& product, const Facets& query) {
  if (!IsKnown(query.article_type) || product.article_type != query.article_type) return 0;

  int grade = 1;
  if (!query.colour.empty() && IsKnown(product.colour) && product.colour == query.colour) ++grade;
  if (!query.gender.empty() && IsKnown(product.gender) && GenderMatches(query.gender, product.gender)) ++grade;
  if (!query.usage.empty() && IsKnown(product.usage) && product.usage == query.usage) ++grade;
  return grade;
}

// Words in the order a shopper types them: "casual shirts", "navy blue men shirts".
std::string QueryText(const Facets& query) {
  std::string text;
  for (const std::string* value : {&query.usage, &query.colour, &query.gender, &query.article_type}) {
    if (value->empty()) continue;
    if (!text.empty()) text += ' ';
    text += *value;
  }
  return text;
}

std::map<std::string, std::string> AttributesOf(const Facets& query) {
  std::map<std::string, std::string> attributes;
  const std::pair<const char*, const std::string*> fields[] = {
      {kArticleTypeKey, &query.article_type}, {kColourKey, &query.colour},
      {kGenderKey, &query.gender},            {kUsageKey, &query.usage}};
  for (const auto& [key, value] : fields) {
    if (!value->empty()) attributes.emplace(key, *value);
  }
  return attributes;
}

struct Candidate {
  QueryTemplate query_template;
  Facets query;
  std::string text;
};

// Candidates of one template, keyed and therefore ordered by text.
using CandidateMap = std::map<std::string, Candidate>;

void AddCandidate(QueryTemplate query_template, Facets query, std::array<CandidateMap, kTemplateCount>& candidates) {
  std::string text = QueryText(query);
  auto& bucket = candidates[static_cast<size_t>(query_template)];
  if (bucket.contains(text)) return;
  Candidate candidate{query_template, std::move(query), text};
  bucket.emplace(std::move(text), std::move(candidate));
}

// Adds every query that the product's own values can build, one per template and gender.
void AddCandidatesOf(const Facets& product, std::array<CandidateMap, kTemplateCount>& candidates) {
  if (!IsKnown(product.article_type)) return;
  const bool colour_known = IsKnown(product.colour);

  AddCandidate(QueryTemplate::kArticleType, {.article_type = product.article_type}, candidates);
  if (colour_known) {
    AddCandidate(QueryTemplate::kColourArticleType,
                 {.article_type = product.article_type, .colour = product.colour}, candidates);
  }
  for (const std::string& gender : QueryGendersFor(product.gender)) {
    AddCandidate(QueryTemplate::kGenderArticleType, {.article_type = product.article_type, .gender = gender},
                 candidates);
    if (colour_known) {
      AddCandidate(QueryTemplate::kGenderColourArticleType,
                   {.article_type = product.article_type, .colour = product.colour, .gender = gender},
                   candidates);
    }
  }
  if (IsKnown(product.usage)) {
    AddCandidate(QueryTemplate::kUsageArticleType,
                 {.article_type = product.article_type, .usage = product.usage}, candidates);
  }
}

// Two templates can spell the same text: the article type "Sports Sandals" and the usage
// "Sports" with the article type "Sandals" both read "sports sandals". Such a text keeps only
// its first template, so no request text carries two different judgments.
void RemoveSharedTexts(std::array<CandidateMap, kTemplateCount>& candidates) {
  std::set<std::string> seen_texts;
  for (CandidateMap& bucket : candidates) {
    std::erase_if(bucket, [&](const auto& entry) { return seen_texts.contains(entry.first); });
    for (const auto& entry : bucket) seen_texts.insert(entry.first);
  }
}

// Returns a uniform value in [0, bound) from the raw engine output. std::shuffle and
// std::uniform_int_distribution are implementation-defined, so they would give other samples
// under another standard library. Rejecting draws below 2^64 mod bound removes the modulo bias.
uint64_t UniformBelow(std::mt19937_64& engine, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const uint64_t draw = engine();
    if (draw >= threshold) return draw % bound;
  }
}

// Fisher-Yates shuffle on UniformBelow.
template <typename T>
void Shuffle(std::vector<T>& items, std::mt19937_64& engine) {
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = UniformBelow(engine, i);
    std::swap(items[i - 1], items[j]);
  }
}

// Shuffles each template's list with one engine seeded by options.seed, then takes one query
// from each template in turn. A template that runs out leaves its share to the others. Returns
// the chosen candidates ordered by template, then text.
std::vector<const Candidate*> SampleEvenly(std::array<std::vector<const Candidate*>, kTemplateCount> qualified,
                                           const JudgmentOptions& options) {
  std::mt19937_64 engine(options.seed);
  for (auto& list : qualified) Shuffle(list, engine);

  std::vector<const Candidate*> chosen;
  std::array<size_t, kTemplateCount> next{};
  bool took_any = true;
  while (chosen.size() < options.max_queries && took_any) {
    took_any = false;
    for (size_t t = 0; t < kTemplateCount && chosen.size() < options.max_queries; ++t) {
      if (next[t] >= qualified[t].size()) continue;
      chosen.push_back(qualified[t][next[t]++]);
      took_any = true;
    }
  }

  std::sort(chosen.begin(), chosen.end(), [](const Candidate* a, const Candidate* b) {
    return std::tie(a->query_template, a->text) < std::tie(b->query_template, b->text);
  });
  return chosen;
}

// The products' graded attributes, normalized once, and the indexes of the products of each
// known article type, because only products of the query's article type can have a grade above 0.
struct CatalogueFacets {
  std::vector<Facets> facets;
  std::map<std::string, std::vector<size_t>> by_article_type;
};

CatalogueFacets NormalizeCatalogue(const std::vector<Product>& products) {
  CatalogueFacets catalogue;
  catalogue.facets.reserve(products.size());
  for (size_t i = 0; i < products.size(); ++i) {
    catalogue.facets.push_back(FacetsOf(products[i].attributes));
    const std::string& article_type = catalogue.facets.back().article_type;
    if (IsKnown(article_type)) catalogue.by_article_type[article_type].push_back(i);
  }
  return catalogue;
}

std::string QueryId(size_t index, char prefix = 'q') {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%c%04zu", prefix, index + 1);
  return buffer;
}

Status ValidateQuery(const JudgedQuery& query) {
  if (query.id.empty()) return Status::InvalidArgument("query id is empty: give every query a unique id");
  if (query.kind == kPhotoQueryKind) {
    if (query.photo_product_id.empty()) {
      return Status::InvalidArgument("photo query \"" + query.id +
                                     "\" has no photo_product_id: name the product whose photo is the query");
    }
  } else if (query.text.empty()) {
    return Status::InvalidArgument("query \"" + query.id + "\" has empty text: give the request text");
  }
  if (query.kind.empty()) {
    return Status::InvalidArgument("query \"" + query.id + "\" has an empty kind: use \"plain\" or a variant kind");
  }
  if (query.max_grade < 0) {
    return Status::InvalidArgument("query \"" + query.id + "\" has max_grade " +
                                   std::to_string(query.max_grade) + ": use a max_grade >= 0");
  }
  for (const auto& [product_id, grade] : query.grades) {
    if (product_id.empty()) {
      return Status::InvalidArgument("query \"" + query.id + "\" grades an empty product id");
    }
    if (grade < 1 || grade > query.max_grade) {
      return Status::InvalidArgument("query \"" + query.id + "\" gives product \"" + product_id +
                                     "\" grade " + std::to_string(grade) + ", outside [1, " +
                                     std::to_string(query.max_grade) +
                                     "]: omit products of grade 0 and raise max_grade to the top grade");
    }
  }
  return Status::Ok();
}

nlohmann::json QueryToJson(const JudgedQuery& query) {
  // nlohmann::json objects keep their keys sorted, so the grades are written in product id order
  // and the same set always produces the same bytes.
  nlohmann::json grades = nlohmann::json::object();
  for (const auto& [product_id, grade] : query.grades) grades[product_id] = grade;
  nlohmann::json attributes = nlohmann::json::object();
  for (const auto& [key, value] : query.attributes) attributes[key] = value;
  nlohmann::json object = {{"id", query.id},
                            {"text", query.text},
                            {"template", query.query_template},
                            {"kind", query.kind},
                            {"attributes", std::move(attributes)},
                            {"max_grade", query.max_grade},
                            {"grades", std::move(grades)}};
  if (!query.photo_product_id.empty()) object["photo_product_id"] = query.photo_product_id;
  return object;
}

Status FieldError(const std::string& field, const std::string& problem) {
  return Status::InvalidArgument("field \"" + field + "\" " + problem);
}

Result<int> IntFromJson(const nlohmann::json& value, const std::string& field) {
  if (!value.is_number_integer()) return FieldError(field, "is not an integer: " + Excerpt(value.dump()));
  const int64_t number = value.get<int64_t>();
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT_MAX)) {
    return FieldError(field, "is out of range: " + value.dump());
  }
  if (number < INT_MIN || number > INT_MAX) return FieldError(field, "is out of range: " + value.dump());
  return static_cast<int>(number);
}

Result<JudgedQuery> QueryFromJson(const nlohmann::json& object) {
  if (!object.is_object()) return Status::InvalidArgument("line is not a JSON object: " + Excerpt(object.dump()));
  static const std::set<std::string> kKnownFields = {"id",         "text",      "template", "kind",
                                                     "attributes", "max_grade", "grades",   "photo_product_id"};
  for (const auto& [key, value] : object.items()) {
    if (!kKnownFields.contains(key)) {
      return FieldError(key,
                        "is unknown: expected id, text, template, kind, attributes, max_grade, grades and "
                        "photo_product_id");
    }
  }
  for (const char* required : {"id", "text", "max_grade", "grades"}) {
    if (!object.contains(required)) return FieldError(required, "is missing");
  }

  JudgedQuery query;
  for (auto [field, target] : {std::pair{"id", &query.id}, std::pair{"text", &query.text},
                               std::pair{"template", &query.query_template}, std::pair{"kind", &query.kind},
                               std::pair{"photo_product_id", &query.photo_product_id}}) {
    if (!object.contains(field)) continue;
    const auto& value = object.at(field);
    if (!value.is_string()) return FieldError(field, "is not a string: " + Excerpt(value.dump()));
    *target = value.get<std::string>();
  }

  Result<int> max_grade = IntFromJson(object.at("max_grade"), "max_grade");
  if (!max_grade.ok()) return max_grade.status();
  query.max_grade = *max_grade;

  const auto& grades = object.at("grades");
  if (!grades.is_object()) return FieldError("grades", "is not an object of product id to grade");
  for (const auto& [product_id, value] : grades.items()) {
    Result<int> grade = IntFromJson(value, "grades." + product_id);
    if (!grade.ok()) return grade.status();
    query.grades.emplace(product_id, *grade);
  }

  if (object.contains("attributes")) {
    const auto& attributes = object.at("attributes");
    if (!attributes.is_object()) return FieldError("attributes", "is not an object of attribute to value");
    for (const auto& [key, value] : attributes.items()) {
      if (!value.is_string()) return FieldError("attributes." + key, "is not a string: " + Excerpt(value.dump()));
      query.attributes.emplace(key, value.get<std::string>());
    }
  }

  TESSERA_RETURN_IF_ERROR(ValidateQuery(query));
  return query;
}

Status LineError(const std::string& path, size_t line_number, const std::string& message) {
  return Status::InvalidArgument(path + ":" + std::to_string(line_number) + ": " + message);
}

}  // namespace

const char* QueryTemplateName(QueryTemplate query_template) {
  switch (query_template) {
    case QueryTemplate::kArticleType: return "article_type";
    case QueryTemplate::kColourArticleType: return "colour_article_type";
    case QueryTemplate::kGenderArticleType: return "gender_article_type";
    case QueryTemplate::kGenderColourArticleType: return "gender_colour_article_type";
    case QueryTemplate::kUsageArticleType: return "usage_article_type";
  }
  return "unknown";
}

int GradeProduct(const Product& product, const std::map<std::string, std::string>& query_attributes) {
  return GradeFacets(FacetsOf(product.attributes), FacetsOf(query_attributes));
}

std::vector<JudgedQuery> DeriveJudgedQueries(const std::vector<Product>& products,
                                             const JudgmentOptions& options) {
  CatalogueFacets catalogue = NormalizeCatalogue(products);
  const std::vector<Facets>& facets = catalogue.facets;
  std::map<std::string, std::vector<size_t>>& by_article_type = catalogue.by_article_type;

  std::array<CandidateMap, kTemplateCount> candidates;
  for (const Facets& product : facets) AddCandidatesOf(product, candidates);
  RemoveSharedTexts(candidates);

  // Keep the candidates with enough fully relevant products. The maps iterate in text order, so
  // the lists below do not depend on the order of `products`.
  std::array<std::vector<const Candidate*>, kTemplateCount> qualified;
  for (size_t t = 0; t < kTemplateCount; ++t) {
    for (const auto& [text, candidate] : candidates[t]) {
      const int max_grade = MaxGrade(candidate.query);
      size_t fully_relevant = 0;
      for (size_t i : by_article_type[candidate.query.article_type]) {
        if (GradeFacets(facets[i], candidate.query) == max_grade) ++fully_relevant;
      }
      if (fully_relevant >= options.min_relevant) qualified[t].push_back(&candidate);
    }
  }

  std::vector<const Candidate*> chosen = SampleEvenly(qualified, options);

  // Grade every product of the query's article type. Grades are stored only for the chosen
  // queries, because all candidates together would hold millions of graded pairs.
  std::vector<JudgedQuery> queries;
  queries.reserve(chosen.size());
  for (const Candidate* candidate : chosen) {
    JudgedQuery query;
    query.id = QueryId(queries.size());
    query.text = candidate->text;
    query.max_grade = MaxGrade(candidate->query);
    query.query_template = QueryTemplateName(candidate->query_template);
    query.attributes = AttributesOf(candidate->query);
    for (size_t i : by_article_type[candidate->query.article_type]) {
      int& stored = query.grades[products[i].id];
      stored = std::max(stored, GradeFacets(facets[i], candidate->query));  // a repeated id keeps its highest grade
    }
    queries.push_back(std::move(query));
  }
  return queries;
}

std::vector<JudgedQuery> DerivePhotoJudgedQueries(const std::vector<Product>& products,
                                                  const PhotoJudgmentOptions& options) {
  CatalogueFacets catalogue = NormalizeCatalogue(products);
  const std::vector<Facets>& facets = catalogue.facets;
  std::map<std::string, std::vector<size_t>>& by_article_type = catalogue.by_article_type;

  // The query a product's photo stands for: its article type, and its colour and gender when
  // known. Unisex names no gender.
  auto query_of = [&](size_t i) {
    Facets query{.article_type = facets[i].article_type};
    if (IsKnown(facets[i].colour)) query.colour = facets[i].colour;
    if (IsKnown(facets[i].gender) && facets[i].gender != "unisex") query.gender = facets[i].gender;
    return query;
  };

  // Visit products with a photo in a seeded shuffle of the id order, so the sample does not
  // depend on the order of `products`.
  std::vector<size_t> order;
  for (size_t i = 0; i < products.size(); ++i) {
    const bool eligible = !options.eligible || options.eligible(products[i]);
    if (eligible && !products[i].image_paths.empty() && IsKnown(facets[i].article_type)) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return products[a].id < products[b].id; });
  std::mt19937_64 engine(options.seed);
  Shuffle(order, engine);

  std::map<std::string, size_t> chosen_per_type;
  std::vector<size_t> chosen;
  for (size_t i : order) {
    if (chosen.size() >= options.max_queries) break;
    size_t& chosen_of_type = chosen_per_type[facets[i].article_type];
    if (chosen_of_type >= options.max_per_article_type) continue;
    const Facets query = query_of(i);
    const int max_grade = MaxGrade(query);
    size_t fully_relevant = 0;
    for (size_t j : by_article_type[query.article_type]) {
      if (j != i && products[j].id != products[i].id && GradeFacets(facets[j], query) == max_grade) ++fully_relevant;
    }
    if (fully_relevant < options.min_relevant) continue;
    ++chosen_of_type;
    chosen.push_back(i);
  }
  std::sort(chosen.begin(), chosen.end(), [&](size_t a, size_t b) { return products[a].id < products[b].id; });

  std::vector<JudgedQuery> queries;
  queries.reserve(chosen.size());
  for (size_t i : chosen) {
    const Facets query_facets = query_of(i);
    JudgedQuery query;
    query.id = QueryId(queries.size(), 'p');
    query.kind = kPhotoQueryKind;
    query.photo_product_id = products[i].id;
    query.max_grade = MaxGrade(query_facets);
    query.attributes = AttributesOf(query_facets);
    for (size_t j : by_article_type[query_facets.article_type]) {
      if (products[j].id == products[i].id) continue;
      int& stored = query.grades[products[j].id];
      stored = std::max(stored, GradeFacets(facets[j], query_facets));  // a repeated id keeps its highest grade
    }
    queries.push_back(std::move(query));
  }
  return queries;
}

Status WriteJudgedQueries(const std::vector<JudgedQuery>& queries, const std::string& path) {
  std::set<std::string> ids;
  for (const JudgedQuery& query : queries) {
    TESSERA_RETURN_IF_ERROR(ValidateQuery(query));
    if (!ids.insert(query.id).second) {
      return Status::InvalidArgument("query id \"" + query.id + "\" appears twice: give every query a unique id");
    }
  }

  // Write beside the target and rename, so a failed write never leaves a truncated file at `path`.
  const std::string temporary_path = path + ".tmp";
  {
    std::ofstream out(temporary_path, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError("failed to open " + temporary_path + " for writing: check the folder exists and is writable");
    for (const JudgedQuery& query : queries) out << QueryToJson(query).dump() << '\n';
    out.close();
    if (!out) return Status::IoError("failed to write " + temporary_path + ": check free disk space");
  }
  std::error_code error;
  std::filesystem::rename(temporary_path, path, error);
  if (error) return Status::IoError("failed to rename " + temporary_path + " to " + path + ": " + error.message());
  return Status::Ok();
}

Result<std::vector<JudgedQuery>> ReadJudgedQueries(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) return Status::NotFound("judged query file " + path + " does not exist");
    return Status::IoError("failed to open judged query file " + path + " for reading: check its permissions");
  }

  std::vector<JudgedQuery> queries;
  std::map<std::string, size_t> line_of_id;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (TrimAscii(line).empty()) continue;

    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      return LineError(path, line_number, std::string("invalid JSON: ") + e.what());
    }
    Result<JudgedQuery> query = QueryFromJson(object);
    if (!query.ok()) return LineError(path, line_number, query.status().message());

    const auto [it, inserted] = line_of_id.emplace(query->id, line_number);
    if (!inserted) {
      return LineError(path, line_number,
                       "query id \"" + query->id + "\" already appears on line " + std::to_string(it->second));
    }
    queries.push_back(std::move(query).value());
  }
  if (in.bad()) return Status::IoError("failed to read judged query file " + path);
  return queries;
}

}  // namespace tessera
