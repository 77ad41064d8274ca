#include "retrieve/candidate_fusion.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace tessera {

namespace {

constexpr size_t kAbsent = std::numeric_limits<size_t>::max();

struct Merged {
  FusedEntry entry;
  size_t lexical_position = kAbsent;
  size_t vector_position = kAbsent;
};

// Min-max scaling of `value` into [0, 1]; 1 when every value is equal.
float Scale(float value, float low, float high) { return high > low ? (value - low) / (high - low) : 1.0f; }

}  // namespace

bool ParseFusionMethod(const std::string& name, FusionMethod* method) {
  if (name == "bands") {
    *method = FusionMethod::kBands;
  } else if (name == "rrf") {
    *method = FusionMethod::kReciprocalRank;
  } else if (name == "normalized") {
    *method = FusionMethod::kNormalized;
  } else {
    return false;
  }
  return true;
}

std::vector<FusedEntry> FuseCandidates(const std::vector<LexicalEntry>& lexical, const std::vector<VectorEntry>& vector,
                                       const FusionOptions& options, size_t depth) {
  if (options.method == FusionMethod::kBands) {
    std::vector<FusedEntry> fused;
    for (size_t i = 0; i < lexical.size() && i < depth; ++i) {
      fused.push_back({lexical[i].doc, 1.0f / float(i + 1), true, false});
    }
    return fused;
  }
  std::vector<Merged> merged;
  std::unordered_map<DocId, size_t> index_of;
  auto slot = [&](DocId doc) -> Merged& {
    auto [it, inserted] = index_of.try_emplace(doc, merged.size());
    if (inserted) merged.push_back({{doc, 0, false, false}});
    return merged[it->second];
  };

  // Lexical ranks: tied entries (same band and score) share the rank of the first of them.
  std::vector<size_t> lexical_rank(lexical.size());
  std::unordered_map<uint32_t, float> best_in_band;
  for (size_t i = 0; i < lexical.size(); ++i) {
    const LexicalEntry& e = lexical[i];
    Merged& m = slot(e.doc);
    m.entry.lexical = true;
    m.lexical_position = i;
    const bool tied = i > 0 && lexical[i - 1].band == e.band && lexical[i - 1].score == e.score;
    lexical_rank[i] = tied ? lexical_rank[i - 1] : i;
    float& best = best_in_band[e.band];
    best = std::max({best, e.score, 1e-6f});
  }
  float best_vector = 0, worst_vector = 0;
  for (size_t i = 0; i < vector.size(); ++i) {
    Merged& m = slot(vector[i].doc);
    m.entry.vector = true;
    m.vector_position = i;
    best_vector = i == 0 ? vector[i].similarity : std::max(best_vector, vector[i].similarity);
    worst_vector = i == 0 ? vector[i].similarity : std::min(worst_vector, vector[i].similarity);
  }

  for (Merged& m : merged) {
    if (options.method == FusionMethod::kNormalized) {
      float lexical_part = 0, vector_part = 0;
      if (m.lexical_position != kAbsent) {
        // BM25F relative to its band's best, halved per band, so a match with fewer words or
        // more typos never outscores a better one on the words alone.
        const LexicalEntry& e = lexical[m.lexical_position];
        lexical_part = std::ldexp(e.score / best_in_band[e.band], -static_cast<int>(std::min<uint32_t>(e.band, 64)));
      }
      if (m.vector_position != kAbsent) {
        vector_part = Scale(vector[m.vector_position].similarity, worst_vector, best_vector);
      }
      m.entry.score = (1 - options.vector_weight) * lexical_part + options.vector_weight * vector_part;
    } else {
      float score = 0;
      if (m.lexical_position != kAbsent) score += 1.0f / (options.rrf_k + 1 + float(lexical_rank[m.lexical_position]));
      if (m.vector_position != kAbsent) score += 1.0f / (options.rrf_k + 1 + float(m.vector_position));
      m.entry.score = score;
    }
  }

  std::sort(merged.begin(), merged.end(), [](const Merged& a, const Merged& b) {
    if (a.entry.score != b.entry.score) return a.entry.score > b.entry.score;
    if (a.lexical_position != b.lexical_position) return a.lexical_position < b.lexical_position;
    if (a.vector_position != b.vector_position) return a.vector_position < b.vector_position;
    return a.entry.doc < b.entry.doc;
  });
  std::vector<FusedEntry> fused;
  for (size_t i = 0; i < merged.size() && i < depth; ++i) fused.push_back(merged[i].entry);
  return fused;
}

}  // namespace tessera
