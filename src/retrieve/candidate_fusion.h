// Candidate fusion: one candidate list from a lexical list and a vector list.
//
// Three methods, chosen by HybridOptions::fusion:
//   - "bands" (the default): the lexical order decides, and the vector similarity only orders
//     matches of equal standing (see Retriever::Retrieve).
//   - "rrf": reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009),
//     score = sum over lists of 1 / (k + rank), with k = 60 as in that paper.
//   - "normalized": score = (1 - w) * lexical + w * vector, where lexical is BM25F relative to
//     the best of its band, halved per band (so fewer words never outscore more), and vector is
//     the similarity scaled to [0, 1] by the list's best and worst; a document missing from a
//     list gets 0 there.
// Lexical ties share one rank (the best of the tied positions), so the vector list, not the
// document id, orders products that the words cannot tell apart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "index/inverted_index.h"

namespace tessera {

struct LexicalEntry {
  DocId doc = 0;
  uint32_t band = 0;  // lower is better: words dropped, typos, synonyms (see Retriever::Retrieve)
  float score = 0;    // BM25F within the band
};

struct VectorEntry {
  DocId doc = 0;
  float similarity = 0;
};

struct FusedEntry {
  DocId doc = 0;
  float score = 0;          // the fused score, higher first
  bool lexical = false;     // found by the words
  bool vector = false;      // found by the vector search
};

enum class FusionMethod { kBands, kReciprocalRank, kNormalized };

// Parses "bands", "rrf" or "normalized".
bool ParseFusionMethod(const std::string& name, FusionMethod* method);

struct FusionOptions {
  FusionMethod method = FusionMethod::kReciprocalRank;
  float rrf_k = 60;             // reciprocal rank fusion's rank offset
  float vector_weight = 0.3f;   // w of the normalized method
};

// Fuses `lexical` (best first) and `vector` (best first) into at most `depth` entries, best
// first. Equal fused scores go to the lexical list's order, then to the vector list's order, then
// to the lower DocId. The Retriever places bands itself, so kBands returns the lexical list.
std::vector<FusedEntry> FuseCandidates(const std::vector<LexicalEntry>& lexical, const std::vector<VectorEntry>& vector,
                                       const FusionOptions& options, size_t depth);

}  // namespace tessera
