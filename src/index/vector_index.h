// VectorIndex: nearest neighbours by inner product over unit vectors, with filters, upserts and
// deletes. Two implementations share this interface: ExactVectorIndex (brute force, the
// reference) and HnswVectorIndex (approximate, what the engine serves with). Tests measure the
// recall of the second against the first.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <roaring/roaring.hh>

#include "common/status.h"
#include "index/inverted_index.h"

namespace tessera {

struct VectorHit {
  DocId doc = 0;
  float similarity = 0;  // inner product; cosine for unit vectors
};

// Thread safety: Search and the const accessors may run concurrently with each other; Upsert
// and Remove need exclusive access (the engine's reader-writer lock).
class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // Adds `doc`, or replaces its vector when it is already present. Rejects a vector whose size
  // is not dimension(), or which contains a NaN or infinity, naming the document.
  [[nodiscard]] virtual Status Upsert(DocId doc, std::span<const float> vector) = 0;
  // Removing a document that is absent does nothing.
  virtual void Remove(DocId doc) = 0;

  // The `k` most similar documents, most similar first (ties by ascending DocId), restricted to
  // `allowed` when it is not null. Empty when the query's size is not dimension().
  virtual std::vector<VectorHit> Search(std::span<const float> query, size_t k, const Roaring* allowed) const = 0;

  // The stored vector of `doc`, or an empty vector when it has none.
  virtual std::vector<float> Vector(DocId doc) const = 0;
  // The inner product of `query` with the stored vector of `doc`, without copying it; 0 when
  // `doc` has no vector or the query's size is not dimension().
  virtual float Similarity(std::span<const float> query, DocId doc) const = 0;

  size_t dimension() const { return dimension_; }
  size_t size() const { return docs_.cardinality(); }
  bool Contains(DocId doc) const { return docs_.contains(doc); }
  // Every document with a vector.
  const Roaring& documents() const { return docs_; }

 protected:
  explicit VectorIndex(size_t dimension) : dimension_(dimension) {}
  // Returns an error when `vector` cannot be stored for `doc`; see Upsert.
  Status CheckVector(DocId doc, std::span<const float> vector) const;

  size_t dimension_;
  Roaring docs_;
};

// Inner product of two vectors of equal length, with Faiss's SIMD kernel.
float InnerProduct(std::span<const float> a, std::span<const float> b);

// Keeps the `k` best of `hits` (by similarity, then ascending DocId) in that order.
void KeepTopK(std::vector<VectorHit>* hits, size_t k);

}  // namespace tessera
