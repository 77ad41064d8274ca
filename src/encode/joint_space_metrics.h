// Retrieval metrics of a joint text-photo space on held-out (text, photo) pairs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessera {

// One direction, e.g. texts querying photos. Fractions in [0, 1].
struct RetrievalMetrics {
  size_t queries = 0;
  // Recall@k: the fraction of queries whose own pair ranks in the first k of all candidates.
  double recall_at_1 = 0;
  double recall_at_10 = 0;
  double mean_reciprocal_rank = 0;  // over the full ranking, not cut at 10
  // Among the 10 nearest candidates other than the query's own pair, the fraction with the
  // query's article type (and colour). Queries without an article type (colour) are skipped.
  double precision_at_10_type = 0;
  double precision_at_10_type_colour = 0;
};

struct JointSpaceMetrics {
  size_t pairs = 0;
  RetrievalMetrics text_to_photo;
  RetrievalMetrics photo_to_text;
  // Short shopper-style queries ("Navy Blue Shirts"), one per distinct (colour, article type) of
  // the pairs, querying all photos. Only the precision fields are filled, because a query has no
  // own pair; they show whether the category words were learnt.
  RetrievalMetrics attribute_query_to_photo;
  // The precision a random ranking would have in expectation: the chance that two different
  // pairs share the article type (and colour).
  double chance_type = 0;
  double chance_type_colour = 0;
};

// Labels of one pair, used only for the precision figures; empty when unknown.
struct PairLabels {
  std::string article_type;
  std::string colour;
};

// `texts` and `photos` hold labels.size() unit vectors of `dimension` floats each, row-major;
// row i of each belongs to pair i. Ties are ranked against the query (a candidate with the same
// score as the own pair counts as ranked above it). Exact: O(pairs^2 x dimension).
JointSpaceMetrics EvaluateJointSpace(const std::vector<float>& texts, const std::vector<float>& photos,
                                     size_t dimension, const std::vector<PairLabels>& labels);

// Returns "<colour> <article type>" for every distinct labelled (colour, article type) in
// `labels`, in first-seen order, and the labels of each query.
std::vector<std::pair<std::string, PairLabels>> AttributeQueries(const std::vector<PairLabels>& labels);

// Fills attribute_query_to_photo of `metrics`. `queries` contains query_labels.size() unit vectors
// and `photos` the photos of `labels`, both row-major with `dimension` floats per row.
void EvaluateAttributeQueries(const std::vector<float>& queries, const std::vector<PairLabels>& query_labels,
                              const std::vector<float>& photos, size_t dimension,
                              const std::vector<PairLabels>& labels, JointSpaceMetrics* metrics);

nlohmann::json ToJson(const RetrievalMetrics& metrics);
nlohmann::json ToJson(const JointSpaceMetrics& metrics);

}  // namespace tessera
