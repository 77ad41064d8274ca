// Item vectors learned from click sessions: a truncated eigendecomposition of the positive
// pointwise mutual information (PPMI) matrix of item co-occurrence within sessions.
//
// Why this factorization and not item2vec (skip-gram with negative sampling, SGNS): Levy and
// Goldberg ("Neural Word Embedding as Implicit Matrix Factorization", NIPS 2014) show that SGNS
// implicitly factorizes a shifted PMI matrix. Levy, Goldberg and Dagan ("Improving Distributional
// Similarity with Lessons Learned from Word Embeddings", TACL 2015) find mostly insignificant
// differences between SGNS and the factorized PPMI once both use the same choices, such as
// context-distribution smoothing. The factorization has no learning rate or epoch count to tune,
// gives the same vectors for the same seed, and needs no libtorch in the replay. The method is
// described in docs/replay.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tessera {

struct ItemEmbeddingOptions {
  size_t dimensions = 64;           // upper bound: an embedding of n items has at most n columns
  size_t window = 5;                // two clicks of a session at most this many positions apart co-occur
  double context_smoothing = 0.75;  // marginals are raised to this power before PMI (Levy et al. 2015)
  size_t oversampling = 16;         // extra columns of the randomized range finder
  size_t power_iterations = 4;      // subspace iterations of the range finder
  uint64_t seed = 7;                // seed of the Gaussian test matrix
};

// Row-major item vectors, one row per item index.
struct ItemEmbedding {
  size_t item_count = 0;
  size_t dimensions = 0;
  std::vector<float> values;  // item_count * dimensions

  // Precondition: item < item_count.
  std::span<const float> Vector(size_t item) const {
    return std::span<const float>(values).subspan(item * dimensions, dimensions);
  }
};

// Learns one vector per item in [0, item_count) from `sessions`, each a sequence of item indices
// in click order. Two clicks of one session at most `window` positions apart count as one
// co-occurrence of their items in both directions. A click next to the same item does not count.
// An item with no co-occurrence gets the zero vector. The result is deterministic for a given
// input and seed with the same standard library, because std::normal_distribution is not
// specified to give the same numbers across libraries. Precondition: every index < item_count.
ItemEmbedding TrainPpmiEmbedding(const std::vector<std::vector<uint32_t>>& sessions, size_t item_count,
                                 const ItemEmbeddingOptions& options);

}  // namespace tessera
