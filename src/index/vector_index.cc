#include "index/vector_index.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <faiss/utils/distances.h>

namespace tessera {

Status VectorIndex::CheckVector(DocId doc, std::span<const float> vector) const {
  if (vector.size() != dimension_) {
    return Status::InvalidArgument("vector of document " + std::to_string(doc) + " has " +
                                   std::to_string(vector.size()) + " dimensions, the index has " +
                                   std::to_string(dimension_));
  }
  for (size_t i = 0; i < vector.size(); ++i) {
    if (!std::isfinite(vector[i])) {
      return Status::InvalidArgument("vector of document " + std::to_string(doc) + " has a non-finite value at " +
                                     std::to_string(i) + "; encoders must return finite values");
    }
  }
  return Status::Ok();
}

float InnerProduct(std::span<const float> a, std::span<const float> b) {
  return faiss::fvec_inner_product(a.data(), b.data(), std::min(a.size(), b.size()));
}

void KeepTopK(std::vector<VectorHit>* hits, size_t k) {
  const auto better = [](const VectorHit& a, const VectorHit& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.doc < b.doc;
  };
  if (hits->size() > k) {
    std::nth_element(hits->begin(), hits->begin() + static_cast<std::ptrdiff_t>(k), hits->end(), better);
    hits->resize(k);
  }
  std::sort(hits->begin(), hits->end(), better);
}

}  // namespace tessera
