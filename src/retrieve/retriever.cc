#include "retrieve/retriever.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "common/text.h"
#include "retrieve/candidate_fusion.h"

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

float Retriever::JointSimilarity(const std::vector<float>& joint_vector, DocId doc) const {
  if (joint_index_ == nullptr || joint_vector.empty()) return 0;
  return joint_index_->Similarity(joint_vector, doc);
}

std::vector<Candidate> Retriever::PhotoCandidates(const SearchRequest& request, size_t depth,
                                                  const Roaring* allowed) const {
  // Neighbours of either kind, each scored on both: a product found by its photo also gets its
  // joint similarity, and one found through the joint space (perhaps without a photo) its photo
  // similarity, 0 when it has none.
  std::unordered_map<DocId, Candidate> found;
  for (const VectorHit& hit : image_index_.Search(request.image_vector, depth, allowed)) {
    Candidate& c = found[hit.doc];
    c.doc = hit.doc;
    c.image_similarity = hit.similarity;
  }
  const bool joint = joint_index_ != nullptr && !request.joint_vector.empty();
  if (joint) {
    for (const VectorHit& hit : joint_index_->Search(request.joint_vector, depth, allowed)) {
      Candidate& c = found[hit.doc];
      c.doc = hit.doc;
      c.joint_similarity = hit.similarity;
    }
  }
  std::vector<Candidate> candidates;
  candidates.reserve(found.size());
  for (auto& [doc, c] : found) {
    if (c.image_similarity == 0) c.image_similarity = image_index_.Similarity(request.image_vector, doc);
    if (joint && c.joint_similarity == 0) c.joint_similarity = JointSimilarity(request.joint_vector, doc);
    const float w = joint ? hybrid_.photo_joint_weight : 0.0f;
    c.retrieval_score = (1 - w) * c.image_similarity + w * c.joint_similarity;
    candidates.push_back(c);
  }
  // Equal scores (the same photo on two products) go to the lower DocId, so the order does not
  // depend on the indexes' internal order.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.retrieval_score != b.retrieval_score ? a.retrieval_score > b.retrieval_score : a.doc < b.doc;
  });
  if (candidates.size() > depth) candidates.resize(depth);
  return candidates;
}

namespace {

constexpr uint32_t kBandCountLimit = 3;  // typo and synonym counts from this one up share a band

uint32_t BandOf(const ScoredDoc& hit) {
  return 16 * hit.level + 4 * std::min(hit.typos, kBandCountLimit) + std::min(hit.synonyms, kBandCountLimit);
}

// Whether the candidates after `last` in the index's order could rank before it by retrieval
// score. Below the band limits, bands ascend with the index's order (level, typos, synonyms,
// score), so the ones after `last` never rank before it, nor raise the best score of its band.
// At a limit, bands merge counts and are ordered by score alone.
bool CutMayReorder(const ScoredDoc& last) {
  return last.typos >= kBandCountLimit || last.synonyms >= kBandCountLimit;
}

}  // namespace

std::vector<Candidate> Retriever::FusedTextCandidates(const SearchRequest& request, const TermQueryResult& text,
                                                      size_t depth, const Roaring* allowed, Roaring* matched) const {
  FusionOptions fusion;
  ParseFusionMethod(hybrid_.fusion, &fusion.method);
  fusion.vector_weight = hybrid_.normalized_vector_weight;

  // The vector list contains the joint space's nearest products and every word match with its
  // similarity, so that the vector rank, not the document id, orders matches the words tie.
  std::vector<LexicalEntry> lexical;
  std::unordered_map<DocId, const ScoredDoc*> hit_of;
  std::vector<VectorEntry> vector;
  for (const ScoredDoc& hit : text.top) {
    lexical.push_back({hit.doc, BandOf(hit), hit.score});
    hit_of[hit.doc] = &hit;
    vector.push_back({hit.doc, JointSimilarity(request.joint_vector, hit.doc)});
  }
  for (const VectorHit& hit : joint_index_->Search(request.joint_vector, depth, allowed)) {
    if (!hit_of.contains(hit.doc)) vector.push_back({hit.doc, hit.similarity});
  }
  std::sort(vector.begin(), vector.end(), [](const VectorEntry& a, const VectorEntry& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.doc < b.doc;
  });

  // Scores into [0, 1]: reciprocal rank fusion's best possible is first in both lists.
  const float scale = fusion.method == FusionMethod::kReciprocalRank ? (fusion.rrf_k + 1) / 2 : 1.0f;
  std::unordered_map<DocId, float> similarity_of;
  for (const VectorEntry& e : vector) similarity_of[e.doc] = e.similarity;
  std::vector<Candidate> candidates;
  for (const FusedEntry& fused : FuseCandidates(lexical, vector, fusion, depth)) {
    Candidate c;
    c.doc = fused.doc;
    if (auto hit = hit_of.find(fused.doc); hit != hit_of.end()) {
      c.text_score = hit->second->score;
      c.matched_terms = hit->second->matched_terms;
      c.level = hit->second->level;
      c.typos = hit->second->typos;
      c.synonyms = hit->second->synonyms;
    }
    c.joint_similarity = similarity_of[fused.doc];
    c.retrieval_score = std::clamp(fused.score * scale, 0.0f, 1.0f);
    candidates.push_back(c);
    matched->add(fused.doc);
  }
  return candidates;
}

Result<CandidateSet> Retriever::Retrieve(const SearchRequest& request, size_t depth, size_t relax_until) const {
  CandidateSet set;
  const std::optional<Roaring> allowed = Allowed(request.filters);
  const Roaring* allowed_ptr = allowed ? &*allowed : nullptr;
  Result<LexicalQuery> parsed = parser_.Parse(request.text, request.prefix);
  if (!parsed.ok()) return parsed.status();
  set.query = std::move(parsed).value();
  const LexicalQuery& query = set.query;
  const bool has_text = !query.groups.empty();
  const bool has_image = !request.image_vector.empty();
  const bool has_joint = joint_index_ != nullptr && !request.joint_vector.empty();
  // Photo candidates, fused lists and the joint space's fill change with the number fetched, so
  // those paths fetch at least `relax_until` whatever the requested depth. A smaller depth then
  // gives the same first candidates.
  if (has_image || has_joint) depth = std::max(depth, relax_until);

  // Browse: filters alone.
  if (!has_text && !has_image) {
    set.matched = allowed ? *allowed : live_docs_;
    set.total = set.matched.cardinality();
    for (DocId doc : set.matched) {
      if (set.candidates.size() >= depth) break;
      set.candidates.push_back({.doc = doc});
    }
    return set;
  }

  // Photo candidates, best first. With words too ("like this, but in red"), the words are
  // matched among them only: a red cap unlike the photo is not what the shopper asked for.
  std::vector<Candidate> photo_candidates;
  Roaring image_matched;
  if (has_image) {
    photo_candidates = PhotoCandidates(request, depth, allowed_ptr);
    for (const Candidate& c : photo_candidates) image_matched.add(c.doc);
  }

  // Text candidates come in the index's order, which already breaks ties in favour of products
  // with a photo, so every page of a query has the same order.
  std::vector<Candidate> text_candidates;
  if (has_text) {
    TextSearchOptions options;
    options.allowed = has_image ? &image_matched : allowed_ptr;
    options.top_k = depth;
    options.relax_until = relax_until;
    options.preferred = &image_index_.documents();
    TermQueryResult text = text_index_.Search(query, options);
    // A list cut below relax_until must be the start of the list at relax_until. Where the cut
    // falls in a merged band, the query runs again at that depth.
    if (depth < relax_until && text.top.size() == depth && CutMayReorder(text.top.back())) {
      options.top_k = relax_until;
      text = text_index_.Search(query, options);
    }
    if (has_joint && !has_image && hybrid_.fusion != "bands") {
      set.matched = std::move(text.matched);
      set.partial = text.partial;
      set.candidates = FusedTextCandidates(request, text, depth, allowed_ptr, &set.matched);
      set.total = set.matched.cardinality();
      return set;
    }
    // The best score of each band. A query has a few bands, so a list is cheaper than a hash map,
    // which allocates a node per band.
    std::vector<std::pair<uint32_t, float>> best_in_band;
    auto band_of = BandOf;
    auto best_of = [&](uint32_t band) -> float& {
      for (auto& [known, best] : best_in_band) {
        if (known == band) return best;
      }
      return best_in_band.emplace_back(band, 0.0f).second;
    };
    for (const ScoredDoc& hit : text.top) {
      float& best = best_of(band_of(hit));
      best = std::max({best, hit.score, 1e-6f});
    }
    text_candidates.reserve(text.top.size());
    // A text-only query blends the joint similarity into each match's place in its band.
    const float joint_weight = has_joint && !has_image ? hybrid_.text_joint_weight : 0.0f;
    for (const ScoredDoc& hit : text.top) {
      Candidate c;
      c.doc = hit.doc;
      c.text_score = hit.score;
      c.matched_terms = hit.matched_terms;
      c.level = hit.level;
      c.typos = hit.typos;
      c.synonyms = hit.synonyms;
      if (has_joint) c.joint_similarity = JointSimilarity(request.joint_vector, hit.doc);
      const uint32_t band = band_of(hit);
      const float place = (1 - joint_weight) * hit.score / best_of(band) +
                          joint_weight * std::clamp(c.joint_similarity, 0.0f, 1.0f);
      c.retrieval_score = std::ldexp(0.5f + 0.5f * place, -static_cast<int>(band));
      text_candidates.push_back(c);
    }
    if (joint_weight > 0) {
      std::stable_sort(text_candidates.begin(), text_candidates.end(), [](const Candidate& a, const Candidate& b) {
        return a.retrieval_score > b.retrieval_score;
      });
    }
    set.matched = std::move(text.matched);
    set.partial = text.partial;

    // Too few word matches: the joint space's nearest products fill the list up to max_fill,
    // below every match, so a query in words the catalogue lacks still finds what it describes.
    if (has_joint && !has_image && text_candidates.size() < std::min(depth, hybrid_.max_fill)) {
      const size_t fill = std::min(depth, hybrid_.max_fill) - text_candidates.size();
      for (const VectorHit& hit : joint_index_->Search(request.joint_vector, fill, allowed_ptr)) {
        if (text_candidates.size() >= depth) break;
        if (set.matched.contains(hit.doc)) continue;
        Candidate c;
        c.doc = hit.doc;
        c.joint_similarity = hit.similarity;
        c.retrieval_score = std::ldexp(std::clamp(hit.similarity, 0.0f, 1.0f), -64);
        text_candidates.push_back(c);
        set.matched.add(hit.doc);
      }
    }
  }
  if (!has_image) {
    set.total = set.matched.cardinality();
    set.candidates = std::move(text_candidates);
    return set;
  }

  if (!has_text) {
    set.candidates = photo_candidates;
    set.matched = std::move(image_matched);
    set.total = set.matched.cardinality();
    return set;
  }

  // Words and a photo: when no candidate of the photo matches the words, the photo alone
  // decides. Otherwise the matches keep their bands (all words before fewer, exact before
  // corrected), and the photo and joint similarity order each band.
  if (text_candidates.empty()) {
    set.candidates = photo_candidates;
    set.matched = std::move(image_matched);
    set.total = set.matched.cardinality();
    return set;
  }
  std::unordered_map<DocId, const Candidate*> photo_by_doc;
  for (const Candidate& photo : photo_candidates) photo_by_doc[photo.doc] = &photo;
  for (Candidate& c : text_candidates) {
    const Candidate* photo = photo_by_doc.at(c.doc);  // the words were matched among these only
    c.image_similarity = photo->image_similarity;
    c.joint_similarity = photo->joint_similarity;
    const int band = static_cast<int>(std::floor(-std::log2(c.retrieval_score)));
    c.retrieval_score = std::ldexp(0.5f + 0.5f * std::clamp(photo->retrieval_score, 0.0f, 1.0f), -band);
  }
  std::sort(text_candidates.begin(), text_candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.retrieval_score != b.retrieval_score ? a.retrieval_score > b.retrieval_score : a.doc < b.doc;
  });
  set.total = set.matched.cardinality();
  set.candidates = std::move(text_candidates);
  if (set.candidates.size() > depth) set.candidates.resize(depth);
  return set;
}

}  // namespace tessera
