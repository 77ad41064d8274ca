#include "retrieve/retriever.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "common/text.h"

namespace tessera {

std::optional<Roaring> Retriever::Allowed(const SearchFilters& filters) const {
  if (filters.empty()) return std::nullopt;
  Roaring allowed = live_docs_;
  // Products holding any of the comma-separated values of a field.
  auto any_of = [&](const char* field, const std::string& values) {
    Roaring docs;
    for (const std::string& value : Split(values, ',')) {
      const std::string_view trimmed = TrimAscii(value);
      if (!trimmed.empty()) docs |= filters_.Matching(field, std::string(trimmed));
    }
    return docs;
  };
  if (!filters.category.empty()) allowed &= any_of("category", filters.category);
  if (!filters.gender.empty()) allowed &= any_of("gender", filters.gender);
  if (!filters.colour.empty()) allowed &= any_of("colour", filters.colour);
  if (filters.price_min || filters.price_max) allowed &= filters_.PriceBetween(filters.price_min, filters.price_max);
  for (const std::string& field : filters.missing) allowed = filters_.Missing(field, allowed);
  return allowed;
}

Result<CandidateSet> Retriever::Retrieve(const SearchRequest& request, size_t depth, size_t relax_until) const {
  CandidateSet set;
  const std::optional<Roaring> allowed = Allowed(request.filters);
  const Roaring* allowed_ptr = allowed ? &*allowed : nullptr;
  Result<LexicalQuery> query = parser_.Parse(request.text, request.prefix);
  if (!query.ok()) return query.status();
  const bool has_text = !query->groups.empty();
  const bool has_image = !request.image_vector.empty();

  // Browse: filters alone.
  if (!has_text && !has_image) {
    set.matched = allowed ? *allowed : live_docs_;
    set.total = set.matched.cardinality();
    for (DocId doc : set.matched) {
      if (set.candidates.size() >= depth) break;
      set.candidates.push_back({doc, 0, 0, 0, 0});
    }
    return set;
  }

  // Text candidates come in the index's order, which already breaks ties in favour of products
  // with a photo, so every page of a query has the same order.
  std::vector<Candidate> text_candidates;
  if (has_text) {
    TextSearchOptions options;
    options.allowed = allowed_ptr;
    options.top_k = depth;
    options.relax_until = relax_until;
    options.preferred = &image_index_.documents();
    TermQueryResult text = text_index_.Search(*query, options);
    std::unordered_map<uint32_t, float> best_in_band;
    auto band_of = [](const ScoredDoc& hit) {
      return 16 * hit.level + 4 * std::min<uint32_t>(hit.typos, 3) + std::min<uint32_t>(hit.synonyms, 3);
    };
    for (const ScoredDoc& hit : text.top) {
      float& best = best_in_band[band_of(hit)];
      best = std::max({best, hit.score, 1e-6f});
    }
    for (const ScoredDoc& hit : text.top) {
      Candidate c;
      c.doc = hit.doc;
      c.text_score = hit.score;
      c.matched_terms = hit.matched_terms;
      c.level = hit.level;
      c.typos = hit.typos;
      const uint32_t band = band_of(hit);
      c.retrieval_score = std::ldexp(0.5f + 0.5f * hit.score / best_in_band[band], -static_cast<int>(band));
      text_candidates.push_back(c);
    }
    set.matched = std::move(text.matched);
    set.partial = text.partial;
  }
  if (!has_image) {
    set.total = set.matched.cardinality();
    set.candidates = std::move(text_candidates);
    return set;
  }

  // Photo candidates, most similar first; merged with the text candidates when there are both.
  // Equal similarities (the same photo on two products) go to the lower DocId, so the order does
  // not depend on Faiss's internal order.
  std::vector<VectorHit> hits = image_index_.Search(request.image_vector, depth, allowed_ptr);
  std::stable_sort(hits.begin(), hits.end(), [](const VectorHit& a, const VectorHit& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.doc < b.doc;
  });
  Roaring image_matched;
  for (const VectorHit& hit : hits) image_matched.add(hit.doc);
  if (!has_text) {
    for (const VectorHit& hit : hits) {
      Candidate c;
      c.doc = hit.doc;
      c.image_similarity = hit.similarity;
      c.retrieval_score = hit.similarity;
      set.candidates.push_back(c);
    }
    set.matched = std::move(image_matched);
    set.total = set.matched.cardinality();
    return set;
  }

  std::unordered_map<DocId, Candidate> merged;
  for (const Candidate& c : text_candidates) merged[c.doc] = c;
  for (const VectorHit& hit : hits) {
    Candidate& c = merged[hit.doc];
    c.doc = hit.doc;
    c.image_similarity = hit.similarity;
  }
  for (auto& [doc, c] : merged) c.retrieval_score = 0.5f * (c.retrieval_score + c.image_similarity);
  set.matched |= image_matched;
  set.total = set.matched.cardinality();

  // Equal scores go to products with a photo, then to the lower DocId for a stable order. The
  // photo test is looked up once per candidate, not in every comparison.
  std::vector<std::pair<Candidate, bool>> keyed;
  keyed.reserve(merged.size());
  for (auto& [doc, c] : merged) keyed.emplace_back(c, image_index_.Contains(doc));
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    if (a.first.retrieval_score != b.first.retrieval_score) return a.first.retrieval_score > b.first.retrieval_score;
    if (a.second != b.second) return a.second;
    return a.first.doc < b.first.doc;
  });
  for (const auto& [candidate, has_photo] : keyed) set.candidates.push_back(candidate);
  if (set.candidates.size() > depth) set.candidates.resize(depth);
  return set;
}

}  // namespace tessera
