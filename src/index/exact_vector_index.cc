#include "index/exact_vector_index.h"

#include <algorithm>

#include <faiss/utils/distances.h>

namespace tessera {

Status ExactVectorIndex::Upsert(DocId doc, std::span<const float> vector) {
  TESSERA_RETURN_IF_ERROR(CheckVector(doc, vector));
  auto found = doc_row_.find(doc);
  if (found != doc_row_.end()) {
    std::copy(vector.begin(), vector.end(), rows_.begin() + static_cast<std::ptrdiff_t>(found->second * dimension_));
    return Status::Ok();
  }
  doc_row_.emplace(doc, row_doc_.size());
  row_doc_.push_back(doc);
  rows_.insert(rows_.end(), vector.begin(), vector.end());
  docs_.add(doc);
  return Status::Ok();
}

void ExactVectorIndex::Remove(DocId doc) {
  auto found = doc_row_.find(doc);
  if (found == doc_row_.end()) return;
  const size_t row = found->second;
  const size_t last = row_doc_.size() - 1;
  if (row != last) {
    std::copy_n(rows_.begin() + static_cast<std::ptrdiff_t>(last * dimension_), dimension_,
                rows_.begin() + static_cast<std::ptrdiff_t>(row * dimension_));
    row_doc_[row] = row_doc_[last];
    doc_row_[row_doc_[row]] = row;
  }
  rows_.resize(last * dimension_);
  row_doc_.pop_back();
  doc_row_.erase(found);
  docs_.remove(doc);
}

std::vector<VectorHit> ExactVectorIndex::Search(std::span<const float> query, size_t k, const Roaring* allowed) const {
  std::vector<VectorHit> hits;
  if (k == 0 || query.size() != dimension_ || row_doc_.empty()) return hits;

  if (allowed == nullptr) {
    std::vector<float> similarities(row_doc_.size());
    faiss::fvec_inner_products_ny(similarities.data(), query.data(), rows_.data(), dimension_, row_doc_.size());
    hits.reserve(row_doc_.size());
    for (size_t row = 0; row < row_doc_.size(); ++row) hits.push_back({row_doc_[row], similarities[row]});
  } else {
    const Roaring candidates = *allowed & docs_;
    hits.reserve(candidates.cardinality());
    for (DocId doc : candidates) hits.push_back({doc, InnerProduct(query, Row(doc_row_.at(doc)))});
  }
  KeepTopK(&hits, k);
  return hits;
}

float ExactVectorIndex::Similarity(std::span<const float> query, DocId doc) const {
  auto found = doc_row_.find(doc);
  if (found == doc_row_.end() || query.size() != dimension_) return 0;
  return InnerProduct(query, Row(found->second));
}

std::vector<float> ExactVectorIndex::Vector(DocId doc) const {
  auto found = doc_row_.find(doc);
  if (found == doc_row_.end()) return {};
  const std::span<const float> row = Row(found->second);
  return {row.begin(), row.end()};
}

}  // namespace tessera
