// Ranking features: one schema and one extractor, shared by training (`tessera features`,
// `tessera train-ranker`) and serving, so a model reads at serving time exactly the values it was
// trained on.
//
// A value that does not exist for a candidate (no price, no photo, a query without a photo) is
// NaN, which XGBoost treats as missing and which the JSON output writes as null. Zero means a
// measured zero: a shopper without a profile has personal shares of 0, as an unknown shopper
// has no affinity at all.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "index/inverted_index.h"
#include "index/lexical_query.h"
#include "index/vector_index.h"
#include "ingest/product.h"
#include "rank/product_signals.h"
#include "retrieve/retriever.h"

namespace tessera {

// Bumped whenever a feature is added, removed or computed differently. A model file records the
// schema version it was trained with, and the engine rejects a model from another version.
inline constexpr uint32_t kFeatureSchemaVersion = 3;

// Candidates at the head of the retrieval order that the consensus features compare each
// candidate with, unless the engine is configured otherwise (EngineOptions::consensus_depth).
// 0 (features missing, pass skipped): no depth beat it on validation nDCG@10 of LambdaMART,
// and the model trained with them kept 122 trees against 3 (BENCHMARKS.md, "Learned ranking").
inline constexpr size_t kDefaultConsensusDepth = 0;

enum class Feature : uint32_t {
  kRetrievalScore,   // the retriever's blended score in [0, 1]
  kBm25f,            // BM25F over all fields
  kBm25Title,        // BM25 of the query's words in one field alone
  kBm25Brand,
  kBm25Category,
  kBm25Attributes,
  kBm25Description,
  kBm25PhotoText,
  kCoverage,         // share of the query's required words matched
  kWordsDropped,     // query words dropped to reach the product (relaxation level)
  kExactMatch,       // 1 when every word matched as typed, without typo or synonym
  kTypoEdits,        // edits summed over the words matched through a correction
  kSynonymWords,     // words matched only through a synonym
  kCosinePhoto,      // query photo to product photo, photo encoder space
  kCosineFused,      // query to product in the joint text-photo space
  kCosineText,       // query to the product's text alone, in the joint space
  kCosineJointPhoto, // query to the product's photo alone, projected into the joint space
  kCosinePhotoText,  // query to the words read from the product's photo, in the joint space
  kPopularity,       // log(1 + weighted events on the product)
  kClickThrough,     // smoothed clicks per view
  kPrice,            // in the catalogue's currency
  kPriceBand,        // price's percentile among products of the same article type
  kAgeYears,         // years since the product's season year
  kHasPhoto,
  // Consensus: the rank-weighted share of the first consensus_depth candidates of the retrieval
  // order (the candidate itself and copies of a query photo left out) that share the candidate's
  // value of a catalogue column.
  kConsensusArticleType,
  kConsensusSubCategory,  // the second level of the category path
  kConsensusColour,
  kConsensusGender,
  kConsensusAll,          // article type, colour and gender all three
  kPersonalArticleType,  // the shopper's affinity share for the product's article type
  kPersonalColour,
  kPersonalGender,
  kPersonalBrand,
  kPersonalStrength,     // how much evidence the shopper's profile holds, in [0, 1)
  kCount,
};

inline constexpr size_t kFeatureCount = static_cast<size_t>(Feature::kCount);
inline constexpr float kMissingFeature = std::numeric_limits<float>::quiet_NaN();

struct FeatureInfo {
  const char* name;         // snake_case, as in model files and explanations
  const char* description;  // one line, for `tessera features --describe` and the docs
};

// Name and description of every feature, in Feature order.
const std::array<FeatureInfo, kFeatureCount>& FeatureInfos();
const char* FeatureName(Feature feature);
// The Feature named `name`, or kCount when no feature has that name.
Feature FeatureByName(std::string_view name);

// Feature rows, one per candidate, kFeatureCount floats each.
class FeatureMatrix {
 public:
  FeatureMatrix() = default;
  explicit FeatureMatrix(size_t rows) : values_(rows * kFeatureCount, 0.0f) {}

  size_t rows() const { return values_.size() / kFeatureCount; }
  std::span<float> Row(size_t row) { return {values_.data() + row * kFeatureCount, kFeatureCount}; }
  std::span<const float> Row(size_t row) const { return {values_.data() + row * kFeatureCount, kFeatureCount}; }
  float& At(size_t row, Feature feature) { return values_[row * kFeatureCount + static_cast<size_t>(feature)]; }
  float At(size_t row, Feature feature) const { return values_[row * kFeatureCount + static_cast<size_t>(feature)]; }
  const std::vector<float>& values() const { return values_; }
  // Appends one row, kFeatureCount values in Feature order.
  void AppendRow(std::span<const float, kFeatureCount> row) { values_.insert(values_.end(), row.begin(), row.end()); }

 private:
  std::vector<float> values_;
};

// The shopper's side of the personal features, computed by the personalization stage for one
// product. All zero for a shopper without a profile.
struct PersonalFeatures {
  float article_type = 0;
  float colour = 0;
  float gender = 0;
  float brand = 0;
  float strength = 0;
};

// The query-side inputs of the extractor.
struct FeatureQuery {
  const LexicalQuery* lexical = nullptr;  // null for a query without words
  bool has_photo = false;                 // the query has a photo vector
  bool has_joint = false;                 // the query has a joint-space vector
  // The query's unit vector in the joint space (the part dimension), for the per-modality
  // cosines; empty without a joint model.
  std::vector<float> joint_part_query;
  int64_t now_ms = 0;                     // for the age of products
  // Candidates at the head of `candidates` that the consensus features compare with; 0 makes
  // every consensus feature missing.
  size_t consensus_depth = kDefaultConsensusDepth;
  // Personal features of a product; null when the request names no shopper.
  std::function<PersonalFeatures(const Product&)> personal;
};

// Thread safety: Extract may run concurrently while nothing it holds is modified (the engine's
// reader lock). Holds references only.
class FeatureExtractor {
 public:
  // `joint_parts` are the joint space's text, photo and photo-text parts of the products. Any
  // may be null (no joint model), and then its cosine is missing.
  FeatureExtractor(const InvertedIndex& text_index, const VectorIndex& photo_index, const ProductSignals& signals,
                   std::array<const VectorIndex*, 3> joint_parts = {})
      : text_index_(text_index), photo_index_(photo_index), signals_(signals), joint_parts_(joint_parts) {}

  // One row per candidate, in the order of `candidates`, which must be the retrieval order (best
  // first) because the consensus features read its head. `product_of` returns the product of a
  // DocId and must cover every candidate.
  FeatureMatrix Extract(const FeatureQuery& query, std::span<const Candidate> candidates,
                        const std::function<const Product&(DocId)>& product_of) const;

 private:
  const InvertedIndex& text_index_;
  const VectorIndex& photo_index_;
  const ProductSignals& signals_;
  std::array<const VectorIndex*, 3> joint_parts_;
};

}  // namespace tessera
