#include "index/filter_index.h"

#include <limits>

#include "analysis/analyzer.h"

namespace tessera {

void FilterIndex::Add(DocId doc, const std::string& field, const std::string& value) {
  if (value.empty()) return;
  Value& entry = fields_[field][FoldCase(value)];
  if (entry.display.empty()) entry.display = value;
  entry.docs.add(doc);
}

void FilterIndex::SetPrice(DocId doc, std::optional<double> price) {
  if (price_by_doc_.size() <= doc) price_by_doc_.resize(size_t(doc) + 1, std::numeric_limits<double>::quiet_NaN());
  price_by_doc_[doc] = price.value_or(std::numeric_limits<double>::quiet_NaN());
}

void FilterIndex::Remove(DocId doc) {
  for (auto& [field, values] : fields_) {
    for (auto& [folded, entry] : values) entry.docs.remove(doc);
  }
  if (doc < price_by_doc_.size()) price_by_doc_[doc] = std::numeric_limits<double>::quiet_NaN();
}

Roaring FilterIndex::Matching(const std::string& field, const std::string& value) const {
  auto f = fields_.find(field);
  if (f == fields_.end()) return Roaring();
  auto v = f->second.find(FoldCase(value));
  return v == f->second.end() ? Roaring() : v->second.docs;
}

Roaring FilterIndex::PriceBetween(std::optional<double> min, std::optional<double> max) const {
  Roaring docs;
  for (size_t doc = 0; doc < price_by_doc_.size(); ++doc) {
    const double price = price_by_doc_[doc];
    if (std::isnan(price)) continue;
    if (min && price < *min) continue;
    if (max && price > *max) continue;
    docs.add(static_cast<uint32_t>(doc));
  }
  return docs;
}

Roaring FilterIndex::Missing(const std::string& field, const Roaring& universe) const {
  Roaring missing = universe;
  if (field == "price") {
    for (size_t doc = 0; doc < price_by_doc_.size(); ++doc) {
      if (!std::isnan(price_by_doc_[doc])) missing.remove(static_cast<uint32_t>(doc));
    }
    return missing;
  }
  auto f = fields_.find(field);
  if (f == fields_.end()) return missing;
  for (const auto& [folded, entry] : f->second) missing -= entry.docs;
  return missing;
}

std::map<std::string, uint64_t> FilterIndex::Facet(const std::string& field, const Roaring& within) const {
  std::map<std::string, uint64_t> counts;
  auto f = fields_.find(field);
  if (f == fields_.end()) return counts;
  for (const auto& [folded, entry] : f->second) {
    const uint64_t count = entry.docs.and_cardinality(within);
    if (count > 0) counts[entry.display] = count;
  }
  return counts;
}

}  // namespace tessera
