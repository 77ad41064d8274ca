// ExactVectorIndex: brute-force nearest neighbours, the reference the approximate index is
// measured against, and the right choice for small or heavily filtered sets.
#pragma once

#include <unordered_map>
#include <vector>

#include "index/vector_index.h"

namespace tessera {

// Vectors are kept row by row in one array. A removal moves the last row into the gap, so the
// array stays dense and a search is one pass of Faiss's SIMD inner-product kernel over it.
class ExactVectorIndex final : public VectorIndex {
 public:
  explicit ExactVectorIndex(size_t dimension) : VectorIndex(dimension) {}

  [[nodiscard]] Status Upsert(DocId doc, std::span<const float> vector) override;
  void Remove(DocId doc) override;
  std::vector<VectorHit> Search(std::span<const float> query, size_t k, const Roaring* allowed) const override;
  std::vector<float> Vector(DocId doc) const override;
  float Similarity(std::span<const float> query, DocId doc) const override;

 private:
  std::span<const float> Row(size_t row) const { return {rows_.data() + row * dimension_, dimension_}; }

  std::vector<float> rows_;                   // size() x dimension(), row-major
  std::vector<DocId> row_doc_;                // the document of each row
  std::unordered_map<DocId, size_t> doc_row_;  // inverse of row_doc_
};

}  // namespace tessera
