// VectorIndex: exact inner-product nearest neighbours over unit vectors (Faiss IndexFlatIP).
//
// Exact search is the reference later approximate indexes are measured against; at the
// catalogue's 10^4 photos it costs well under a millisecond per query.
#pragma once

#include <memory>
#include <vector>

#include <roaring/roaring.hh>

#include "common/status.h"
#include "index/inverted_index.h"

namespace tessera {

struct VectorHit {
  DocId doc = 0;
  float similarity = 0;  // inner product; cosine for unit vectors
};

// Thread safety: Search may run concurrently with other Searches; Add and Remove need exclusive
// access (the engine's reader-writer lock).
class VectorIndex {
 public:
  explicit VectorIndex(size_t dimension);
  ~VectorIndex();

  // Precondition: vector.size() == dimension(); `doc` is not in the index.
  Status Add(DocId doc, const std::vector<float>& vector);
  void Remove(DocId doc);

  // The `k` most similar documents, most similar first, restricted to `allowed` when not null.
  std::vector<VectorHit> Search(const std::vector<float>& query, size_t k, const Roaring* allowed) const;

  size_t dimension() const { return dimension_; }
  size_t size() const;
  bool Contains(DocId doc) const { return docs_.contains(doc); }
  // Every document with a vector.
  const Roaring& documents() const { return docs_; }

 private:
  struct Rep;
  size_t dimension_;
  std::unique_ptr<Rep> rep_;
  Roaring docs_;
};

}  // namespace tessera
