#include "rank/features.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <string_view>
#include <unordered_map>

namespace tessera {

namespace {

constexpr int64_t kMillisecondsPerDay = 24 * 3600 * 1000;
constexpr double kDaysPerYear = 365.2425;

// The field order of the engine's text index (Engine's TextFields); a field the index lacks
// gives a missing value.
constexpr std::pair<Feature, const char*> kFieldFeatures[] = {
    {Feature::kBm25Title, "title"},           {Feature::kBm25Brand, "brand"},
    {Feature::kBm25Category, "category"},     {Feature::kBm25Attributes, "attributes"},
    {Feature::kBm25Description, "description"}, {Feature::kBm25PhotoText, "photo_text"},
};

// Years from the middle of the product's `year` attribute (the fashion catalogue's season year)
// to the day of `now_ms`; missing when the attribute is absent or not a year. Whole days, so the
// value is the same for every request of one day (training and serving agree to the bit).
float AgeYears(const Product& product, int64_t now_ms) {
  const std::string& text = product.Attribute("year");
  int year = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), year);
  if (error != std::errc() || end != text.data() + text.size() || year < 1900 || year > 9999) {
    return kMissingFeature;
  }
  const double now_year = 1970.0 + double(now_ms / kMillisecondsPerDay) / kDaysPerYear;
  return static_cast<float>(now_year - (year + 0.5));
}

// Consensus features. Each catalogue column's values are first replaced by small ids, equal values
// by equal ids, so that the combined column and the weight sums need no string keys.
constexpr uint32_t kNoValue = std::numeric_limits<uint32_t>::max();

// A column's value ids and the number of distinct ids.
struct ColumnIds {
  std::vector<uint32_t> ids;
  size_t distinct = 0;
};

// The id of each candidate's value of `column`, in candidate order; kNoValue for an empty value.
template <typename Column>
ColumnIds ValueIds(const std::vector<const Product*>& products, Column column) {
  std::unordered_map<std::string_view, uint32_t> id_of;
  ColumnIds result{std::vector<uint32_t>(products.size(), kNoValue), 0};
  for (size_t row = 0; row < products.size(); ++row) {
    const std::string_view value = column(*products[row]);
    if (value.empty()) continue;
    result.ids[row] = id_of.try_emplace(value, static_cast<uint32_t>(id_of.size())).first->second;
  }
  result.distinct = id_of.size();
  return result;
}

// The id of each candidate's combination of `columns`; kNoValue when any of them is empty.
ColumnIds CombinedIds(std::initializer_list<const ColumnIds*> columns, size_t rows) {
  std::unordered_map<uint64_t, uint32_t> id_of;
  ColumnIds combined{std::vector<uint32_t>(rows, kNoValue), 0};
  for (size_t row = 0; row < rows; ++row) {
    // A mixed-radix number of the ids, unique per combination: each id is below its column's
    // distinct count, and the product of three counts of at most `rows` fits in 64 bits.
    uint64_t key = 0;
    bool complete = true;
    for (const ColumnIds* column : columns) {
      complete = complete && column->ids[row] != kNoValue;
      key = key * column->distinct + column->ids[row];
    }
    if (complete) combined.ids[row] = id_of.try_emplace(key, static_cast<uint32_t>(id_of.size())).first->second;
  }
  combined.distinct = id_of.size();
  return combined;
}

// Weight of the candidate at 0-based `rank` of the head: nDCG's discount 1 / log2(rank + 2), so
// the first candidates count most and a deeper consensus depth changes little.
double ConsensusWeight(size_t rank) { return 1.0 / std::log2(static_cast<double>(rank) + 2.0); }

// A photo query's candidate whose photo cosine reaches this is a copy of the query photo: the
// product the photo was taken from, or a duplicate listing.
constexpr float kSamePhotoCosine = 0.9999f;

// The rows of the head: the first query.consensus_depth candidates in retrieval order, leaving out
// copies of a query photo. Such a copy would hand its own catalogue columns to the consensus, which a
// shopper's new photo never does, and a model trained on it would lean on that.
std::vector<size_t> HeadRows(const FeatureQuery& query, std::span<const Candidate> candidates) {
  std::vector<size_t> head;
  for (size_t row = 0; row < candidates.size() && head.size() < query.consensus_depth; ++row) {
    if (query.has_photo && candidates[row].image_similarity >= kSamePhotoCosine) continue;
    head.push_back(row);
  }
  return head;
}

// Sets `feature` of every row to the weighted share of the head, the row itself left out, whose
// value id equals the row's. Missing for a row without a value, and when the head contains no
// other candidate.
void SetConsensus(const ColumnIds& column, const std::vector<size_t>& head, Feature feature, FeatureMatrix* matrix) {
  const std::vector<uint32_t>& ids = column.ids;
  std::vector<double> weight_of(column.distinct, 0.0);
  std::vector<double> own(ids.size(), 0.0);  // each row's weight in the head, 0 outside it
  double head_weight = 0;
  for (size_t rank = 0; rank < head.size(); ++rank) {
    const size_t row = head[rank];
    own[row] = ConsensusWeight(rank);
    head_weight += own[row];
    if (ids[row] != kNoValue) weight_of[ids[row]] += own[row];
  }
  for (size_t row = 0; row < ids.size(); ++row) {
    const double others = head_weight - own[row];
    if (ids[row] == kNoValue || others <= 0) {
      matrix->At(row, feature) = kMissingFeature;
      continue;
    }
    // The subtraction may round a little below 0 or the share a little above 1.
    const double agreeing = weight_of[ids[row]] - own[row];
    matrix->At(row, feature) = static_cast<float>(std::clamp(agreeing / others, 0.0, 1.0));
  }
}

// The consensus features of every candidate; `products` are the candidates' products.
void SetConsensusFeatures(const FeatureQuery& query, std::span<const Candidate> candidates,
                          const std::vector<const Product*>& products, FeatureMatrix* matrix) {
  constexpr Feature kConsensusFeatures[] = {Feature::kConsensusArticleType, Feature::kConsensusSubCategory,
                                            Feature::kConsensusColour, Feature::kConsensusGender, Feature::kConsensusAll};
  if (query.consensus_depth == 0) {
    // No head to compare with; skipping the pass also measures what it costs.
    for (size_t row = 0; row < products.size(); ++row) {
      for (Feature feature : kConsensusFeatures) matrix->At(row, feature) = kMissingFeature;
    }
    return;
  }

  auto attribute = [](const char* key) {
    return [key](const Product& product) -> std::string_view { return product.Attribute(key); };
  };
  auto sub_category = [](const Product& product) -> std::string_view {
    return product.category_path.size() >= 2 ? std::string_view(product.category_path[1]) : std::string_view();
  };

  const ColumnIds types = ValueIds(products, attribute("article_type"));
  const ColumnIds sub_categories = ValueIds(products, sub_category);
  const ColumnIds colours = ValueIds(products, attribute("colour"));
  const ColumnIds genders = ValueIds(products, attribute("gender"));
  const ColumnIds combinations = CombinedIds({&types, &colours, &genders}, products.size());

  const std::vector<size_t> head = HeadRows(query, candidates);
  SetConsensus(types, head, Feature::kConsensusArticleType, matrix);
  SetConsensus(sub_categories, head, Feature::kConsensusSubCategory, matrix);
  SetConsensus(colours, head, Feature::kConsensusColour, matrix);
  SetConsensus(genders, head, Feature::kConsensusGender, matrix);
  SetConsensus(combinations, head, Feature::kConsensusAll, matrix);
}

}  // namespace

const std::array<FeatureInfo, kFeatureCount>& FeatureInfos() {
  static const std::array<FeatureInfo, kFeatureCount> infos = {{
      {"retrieval_score", "the retriever's score in [0, 1]: word-match band, BM25F and joint similarity blended"},
      {"bm25f", "BM25F of the query over all weighted text fields"},
      {"bm25_title", "BM25 of the query in the title alone"},
      {"bm25_brand", "BM25 of the query in the brand alone"},
      {"bm25_category", "BM25 of the query in the category path alone"},
      {"bm25_attributes", "BM25 of the query in the colour, gender, usage and season values alone"},
      {"bm25_description", "BM25 of the query in the description alone"},
      {"bm25_photo_text", "BM25 of the query in the text read from the photos (OCR) alone"},
      {"coverage", "share of the query's required words the product matches, in [0, 1]"},
      {"words_dropped", "query words dropped to reach the product (0 when all matched)"},
      {"exact_match", "1 when every query word matched as typed, without a typo correction or synonym"},
      {"typo_edits", "edits summed over the words matched through a typo correction"},
      {"synonym_words", "query words matched only through a synonym"},
      {"cosine_photo", "cosine of the query photo and the product photo (photo queries with a product photo only)"},
      {"cosine_fused", "cosine of the query and the product's fused vector in the joint text-photo space"},
      {"cosine_text", "cosine of the query and the product's text alone, in the joint space"},
      {"cosine_joint_photo", "cosine of the query and the product's photo projected into the joint space (products with a photo)"},
      {"cosine_photo_text", "cosine of the query and the words read from the product's photo, in the joint space (products with such words)"},
      {"popularity", "log(1 + weighted views, clicks, carts and purchases of the product)"},
      {"click_through", "clicks per view, smoothed towards the catalogue's mean"},
      {"price", "price in the catalogue's currency"},
      {"price_band", "price percentile among products of the same article type, in [0, 1]"},
      {"age_years", "years since the product's season year"},
      {"has_photo", "1 when the product has an encoded photo"},
      {"consensus_article_type", "share of the first N candidates of the retrieval order (N = --consensus-depth, the product left out, each weighted 1 / log2(rank + 1)) with the product's article type"},
      {"consensus_sub_category", "as consensus_article_type, for the second level of the product's category path"},
      {"consensus_colour", "as consensus_article_type, for the product's colour"},
      {"consensus_gender", "as consensus_article_type, for the product's gender"},
      {"consensus_all", "as consensus_article_type, for the product's article type, colour and gender together"},
      {"personal_article_type", "the shopper's affinity share for the product's article type, in [0, 1]"},
      {"personal_colour", "the shopper's affinity share for the product's colour, in [0, 1]"},
      {"personal_gender", "the shopper's affinity share for the product's gender, in [0, 1]"},
      {"personal_brand", "the shopper's affinity share for the product's brand, in [0, 1]"},
      {"personal_strength", "how much the shopper's profile counts: evidence / (evidence + confidence weight)"},
  }};
  return infos;
}

const char* FeatureName(Feature feature) { return FeatureInfos()[static_cast<size_t>(feature)].name; }

Feature FeatureByName(std::string_view name) {
  const auto& infos = FeatureInfos();
  for (size_t i = 0; i < infos.size(); ++i) {
    if (name == infos[i].name) return static_cast<Feature>(i);
  }
  return Feature::kCount;
}

FeatureMatrix FeatureExtractor::Extract(const FeatureQuery& query, std::span<const Candidate> candidates,
                                        const std::function<const Product&(DocId)>& product_of) const {
  FeatureMatrix matrix(candidates.size());

  // Index of each per-field feature in the text index's fields, or -1 when it has no such field.
  std::array<int, std::size(kFieldFeatures)> field_index;
  const std::vector<FieldSpec>& fields = text_index_.fields();
  for (size_t k = 0; k < std::size(kFieldFeatures); ++k) {
    field_index[k] = -1;
    for (size_t f = 0; f < fields.size(); ++f) {
      if (fields[f].name == kFieldFeatures[k].second) field_index[k] = static_cast<int>(f);
    }
  }
  size_t required_groups = 0;
  if (query.lexical != nullptr) {
    for (const QueryGroup& group : query.lexical->groups) required_groups += group.optional ? 0 : 1;
    if (required_groups == 0) required_groups = query.lexical->groups.size();
  }

  std::vector<const Product*> products(candidates.size());
  for (size_t row = 0; row < candidates.size(); ++row) {
    const Candidate& c = candidates[row];
    const Product& product = product_of(c.doc);
    products[row] = &product;
    auto set = [&](Feature feature, float value) { matrix.At(row, feature) = value; };

    set(Feature::kRetrievalScore, c.retrieval_score);
    if (required_groups > 0) {
      set(Feature::kBm25f, c.text_score);
      const std::vector<float> field_scores = text_index_.FieldScores(*query.lexical, c.doc);
      for (size_t k = 0; k < std::size(kFieldFeatures); ++k) {
        set(kFieldFeatures[k].first, field_index[k] < 0 ? kMissingFeature : field_scores[size_t(field_index[k])]);
      }
      set(Feature::kCoverage, static_cast<float>(c.matched_terms) / static_cast<float>(required_groups));
      set(Feature::kWordsDropped, static_cast<float>(c.level));
      const bool matched = c.matched_terms > 0;
      set(Feature::kExactMatch, matched && c.level == 0 && c.typos == 0 && c.synonyms == 0 ? 1.0f : 0.0f);
      set(Feature::kTypoEdits, static_cast<float>(c.typos));
      set(Feature::kSynonymWords, static_cast<float>(c.synonyms));
    } else {
      // A query without words: no text feature exists for it.
      for (Feature f : {Feature::kBm25f, Feature::kCoverage, Feature::kWordsDropped, Feature::kExactMatch,
                        Feature::kTypoEdits, Feature::kSynonymWords}) {
        set(f, kMissingFeature);
      }
      for (const auto& [feature, name] : kFieldFeatures) set(feature, kMissingFeature);
    }

    const bool has_photo = photo_index_.Contains(c.doc);
    set(Feature::kCosinePhoto, query.has_photo && has_photo ? c.image_similarity : kMissingFeature);
    set(Feature::kCosineFused, query.has_joint ? c.joint_similarity : kMissingFeature);
    // Each part's cosine, missing when the query has no joint vector or the product lacks the part.
    constexpr Feature kPartFeatures[] = {Feature::kCosineText, Feature::kCosineJointPhoto, Feature::kCosinePhotoText};
    for (size_t i = 0; i < std::size(kPartFeatures); ++i) {
      const VectorIndex* part = joint_parts_[i];
      const bool present = part != nullptr && !query.joint_part_query.empty() && part->Contains(c.doc);
      set(kPartFeatures[i], present ? part->Similarity(query.joint_part_query, c.doc) : kMissingFeature);
    }
    set(Feature::kPopularity, static_cast<float>(signals_.Popularity(product.id)));
    set(Feature::kClickThrough, static_cast<float>(signals_.ClickThrough(product.id)));
    set(Feature::kPrice, product.price ? static_cast<float>(*product.price) : kMissingFeature);
    const std::optional<double> band = signals_.PriceBand(product.id);
    set(Feature::kPriceBand, band ? static_cast<float>(*band) : kMissingFeature);
    set(Feature::kAgeYears, AgeYears(product, query.now_ms));
    set(Feature::kHasPhoto, has_photo ? 1.0f : 0.0f);

    const PersonalFeatures personal = query.personal ? query.personal(product) : PersonalFeatures{};
    set(Feature::kPersonalArticleType, personal.article_type);
    set(Feature::kPersonalColour, personal.colour);
    set(Feature::kPersonalGender, personal.gender);
    set(Feature::kPersonalBrand, personal.brand);
    set(Feature::kPersonalStrength, personal.strength);
  }
  SetConsensusFeatures(query, candidates, products, &matrix);
  return matrix;
}

}  // namespace tessera
