#include "index/vector_index.h"

#include <algorithm>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/IDSelector.h>

namespace tessera {

struct VectorIndex::Rep {
  explicit Rep(size_t dimension) : flat(static_cast<faiss::Index::idx_t>(dimension)), index(&flat) {}
  faiss::IndexFlatIP flat;
  faiss::IndexIDMap2 index;  // maps Faiss's sequential ids to DocIds; supports remove_ids
};

VectorIndex::VectorIndex(size_t dimension) : dimension_(dimension), rep_(std::make_unique<Rep>(dimension)) {}
VectorIndex::~VectorIndex() = default;

size_t VectorIndex::size() const { return static_cast<size_t>(rep_->index.ntotal); }

Status VectorIndex::Add(DocId doc, const std::vector<float>& vector) {
  if (vector.size() != dimension_) {
    return Status::InvalidArgument("vector has " + std::to_string(vector.size()) + " dimensions, the index has " +
                                   std::to_string(dimension_));
  }
  const faiss::Index::idx_t id = doc;
  rep_->index.add_with_ids(1, vector.data(), &id);
  docs_.add(doc);
  return Status::Ok();
}

void VectorIndex::Remove(DocId doc) {
  if (!docs_.contains(doc)) return;
  faiss::IDSelectorBatch selector(1, std::vector<faiss::Index::idx_t>{doc}.data());
  rep_->index.remove_ids(selector);
  docs_.remove(doc);
}

std::vector<VectorHit> VectorIndex::Search(const std::vector<float>& query, size_t k, const Roaring* allowed) const {
  std::vector<VectorHit> hits;
  const auto total = static_cast<size_t>(rep_->index.ntotal);
  if (total == 0 || k == 0 || query.size() != dimension_) return hits;

  // With a filter, over-fetch and drop disallowed hits. When the filter is so selective that the
  // first pass comes back short, search every vector.
  size_t fetch = allowed == nullptr ? std::min(k, total) : std::min(total, std::max<size_t>(k * 20, 1000));
  while (true) {
    std::vector<float> distances(fetch);
    std::vector<faiss::Index::idx_t> labels(fetch);
    rep_->index.search(1, query.data(), static_cast<faiss::Index::idx_t>(fetch), distances.data(), labels.data());
    hits.clear();
    for (size_t i = 0; i < fetch && hits.size() < k; ++i) {
      if (labels[i] < 0) break;
      const auto doc = static_cast<DocId>(labels[i]);
      if (allowed != nullptr && !allowed->contains(doc)) continue;
      hits.push_back({doc, distances[i]});
    }
    if (hits.size() >= k || fetch >= total) return hits;
    fetch = total;
  }
}

}  // namespace tessera
