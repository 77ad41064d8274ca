#include "rank/features.h"

#include <algorithm>
#include <charconv>
#include <cmath>

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

  for (size_t row = 0; row < candidates.size(); ++row) {
    const Candidate& c = candidates[row];
    const Product& product = product_of(c.doc);
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
  return matrix;
}

}  // namespace tessera
