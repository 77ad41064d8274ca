// SyntheticCatalog: a catalogue of any size built deterministically from a real one, for scale
// benchmarks. Every synthetic product is a variant of a real product: its title is re-composed
// from real words (another product's brand, another real colour, a size), and its category path,
// gender and usage are kept. It is synthetic scale, not new data. The method and its limits are
// described in docs/scale-benchmark.md.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ingest/product.h"

namespace tessera {

struct SyntheticCatalogOptions {
  // Seed of the std::mt19937_64 that picks each variant's brand and colour.
  uint64_t seed = 42;
};

// Generates synthetic products in order: product i is a variant of real product i mod
// real.size() with id "syn-<i>". The sequence depends only on the real products (in their
// order) and the seed, so the first n products of any run are the same. Draws use only the raw
// output of std::mt19937_64, which the C++ standard fixes, so the sequence is the same on every
// platform. Thread safety: none. Not copyable, because a copy would repeat the generator's sequence.
class SyntheticCatalog {
 public:
  // Precondition: `real` is not empty. The real products are copied.
  SyntheticCatalog(std::vector<Product> real, const SyntheticCatalogOptions& options = {});
  SyntheticCatalog(const SyntheticCatalog&) = delete;
  SyntheticCatalog& operator=(const SyntheticCatalog&) = delete;

  // Returns the next synthetic product; it has no photos and passes ValidateProduct.
  Product Next();

  // Number of products generated so far.
  uint64_t generated() const { return next_index_; }
  // Of those, how many got a new brand in their title, and how many got new colour words in it.
  uint64_t titles_with_new_brand() const { return titles_with_new_brand_; }
  uint64_t titles_with_new_colour() const { return titles_with_new_colour_; }

 private:
  // Return the brand or colour for a variant of a product in `group`: the value of a real product
  // drawn at random from that group.
  std::string DrawBrand(const std::vector<uint32_t>& group, const std::string& current);
  std::string DrawColour(const std::vector<uint32_t>& group, const std::string& current);

  std::vector<Product> real_;
  // Brands as they begin each real title ("" when the title names no audience word, so the brand
  // cannot be located in it).
  std::vector<std::string> title_brands_;
  // Indexes into real_ of the products of each top-level category ("Apparel", "Footwear", ...),
  // so a shirt gets the brand and colour of another apparel product, not of a lipstick.
  std::map<std::string, std::vector<uint32_t>> products_by_master_category_;
  std::mt19937_64 random_;
  uint64_t next_index_ = 0;
  uint64_t titles_with_new_brand_ = 0;
  uint64_t titles_with_new_colour_ = 0;
};

}  // namespace tessera
