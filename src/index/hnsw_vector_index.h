// HnswVectorIndex: approximate nearest neighbours with hnswlib's HNSW graph, plus exact search
// for filters that leave few documents, and persistence with a checksum.
//
// Why hnswlib rather than Faiss: Debian's Faiss 1.7.3 cannot remove vectors from its HNSW index,
// and its IVF indexes need training on the data before the first insert. hnswlib updates a vector
// in place, marks deletions and needs no training, which live catalogue updates require.
// Faiss's SIMD kernels still compute the exact scores (see ExactVectorIndex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "index/vector_index.h"

namespace tessera {

struct HnswOptions {
  // Links per node and the candidate list while building: hnswlib's defaults, which reach a
  // recall@10 above 0.99 on the catalogue's photo vectors (docs/vector-index.md).
  size_t m = 16;
  size_t ef_construction = 200;
  // Candidate list while searching; raised to k when k is larger.
  size_t ef_search = 64;
  // A filter that leaves at most this many documents is searched exactly: scoring them all costs
  // less than walking a graph in which most nodes are filtered out.
  size_t exact_below = 2000;
  // Seed of the graph's level assignment, so a rebuild from the same vectors is the same graph.
  uint64_t seed = 100;
};

// Thread safety: as VectorIndex.
class HnswVectorIndex final : public VectorIndex {
 public:
  HnswVectorIndex(size_t dimension, const HnswOptions& options = {});
  ~HnswVectorIndex() override;

  [[nodiscard]] Status Upsert(DocId doc, std::span<const float> vector) override;
  void Remove(DocId doc) override;
  std::vector<VectorHit> Search(std::span<const float> query, size_t k, const Roaring* allowed) const override;
  std::vector<float> Vector(DocId doc) const override;
  float Similarity(std::span<const float> query, DocId doc) const override;

  // Writes the graph to `path` and a header to `path` + ".meta": magic, format version,
  // dimension, `generation` (the caller's version of the vectors held), CRC-32 of the graph,
  // and the key of every live document (`key_of(doc)`, e.g. its product id), so that Load can
  // map the graph onto DocIds assigned afresh. Each file is written to a temporary name first.
  [[nodiscard]] Status Save(const std::string& path, uint64_t generation,
                            const std::function<std::string(DocId)>& key_of) const;

  // Loads an index saved by Save, relabelling each saved document with `doc_of(key)`; one whose
  // key maps to nothing is dropped. Fails with kNotFound when either file is absent, and with
  // kCorruption when a checksum, size, magic, version, dimension or `generation` differs. The
  // caller then rebuilds from its vectors.
  static Result<std::unique_ptr<HnswVectorIndex>> Load(const std::string& path, size_t dimension,
                                                       uint64_t generation,
                                                       const std::function<std::optional<DocId>(const std::string&)>& doc_of,
                                                       const HnswOptions& options = {});

  // Elements marked deleted but still in the graph; a rebuild drops them.
  size_t deleted_count() const;

 private:
  struct Rep;
  // Rebuilds the graph from the live vectors when deletions outnumber them, so search time and
  // memory follow the live catalogue.
  void CompactIfMostlyDeleted();
  std::vector<VectorHit> ExactSearch(std::span<const float> query, size_t k, const Roaring& candidates) const;

  HnswOptions options_;
  std::unique_ptr<Rep> rep_;
};

}  // namespace tessera
