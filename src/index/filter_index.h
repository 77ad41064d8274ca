// FilterIndex: compressed bitmaps (CRoaring) of the documents holding each value of each
// filterable field, and per-document prices for range filters.
#pragma once

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <roaring/roaring.hh>

#include "index/inverted_index.h"

namespace tessera {

// Thread safety: none; guarded by the engine's reader-writer lock.
class FilterIndex {
 public:
  // Values are matched after Unicode case folding, so "navy blue" selects "Navy Blue" and
  // "CRÈME" selects "Crème".
  void Add(DocId doc, const std::string& field, const std::string& value);
  void SetPrice(DocId doc, std::optional<double> price);
  // Removes `doc` from every bitmap.
  void Remove(DocId doc);

  // Documents whose `field` equals `value`; an empty bitmap when none.
  Roaring Matching(const std::string& field, const std::string& value) const;
  // Documents with a price in [min, max]; either bound may be absent. Unpriced products never match.
  Roaring PriceBetween(std::optional<double> min, std::optional<double> max) const;

  // Documents of `universe` with no value for `field` ("price" means unpriced).
  Roaring Missing(const std::string& field, const Roaring& universe) const;

  // For each value of `field`: how many documents of `within` hold it. Values with no such
  // document are left out. Keys are the values as first added (original case).
  std::map<std::string, uint64_t> Facet(const std::string& field, const Roaring& within) const;

 private:
  struct Value {
    std::string display;  // the value as first seen, for facets
    Roaring docs;
  };
  std::map<std::string, std::map<std::string, Value>> fields_;  // field -> folded value -> docs
  std::vector<double> price_by_doc_;  // NaN when unpriced or removed
};

}  // namespace tessera
