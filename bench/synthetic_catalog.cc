#include "synthetic_catalog.h"

#include <array>
#include <cassert>
#include <utility>

#include "common/text.h"
#include "ingest/fashion_catalog_reader.h"

namespace tessera {
namespace {

// A brand or colour is redrawn at most this many times while it equals the one it replaces or
// is empty. Past that the real value is kept, so generation always ends.
constexpr int kMaxDraws = 8;

constexpr std::array<const char*, 6> kApparelSizes = {"XS", "S", "M", "L", "XL", "XXL"};
constexpr std::array<const char*, 7> kFootwearSizes = {"UK 5", "UK 6", "UK 7", "UK 8", "UK 9", "UK 10", "UK 11"};

// Returns the byte offset of the first whole-word occurrence of `word` in `text`, ignoring case.
// A whole word is bounded by spaces or the ends of `text`. Returns std::string::npos when none.
size_t FindWholeWords(const std::string& text, const std::string& word) {
  const std::string lower_text = LowerAscii(text);
  const std::string lower_word = LowerAscii(word);
  for (size_t at = lower_text.find(lower_word); at != std::string::npos; at = lower_text.find(lower_word, at + 1)) {
    const size_t end = at + lower_word.size();
    const bool starts_word = at == 0 || lower_text[at - 1] == ' ';
    const bool ends_word = end == lower_text.size() || lower_text[end] == ' ';
    if (starts_word && ends_word) return at;
  }
  return std::string::npos;
}

// Returns the broadest level of the product's category path; "" when it has none.
std::string MasterCategory(const Product& product) {
  return product.category_path.empty() ? std::string() : product.category_path.front();
}

}  // namespace

SyntheticCatalog::SyntheticCatalog(std::vector<Product> real, const SyntheticCatalogOptions& options)
    : real_(std::move(real)), random_(options.seed) {
  assert(!real_.empty() && "SyntheticCatalog needs at least one real product");
  title_brands_.reserve(real_.size());
  for (uint32_t i = 0; i < real_.size(); ++i) {
    title_brands_.push_back(BrandFromDisplayName(real_[i].title));
    products_by_master_category_[MasterCategory(real_[i])].push_back(i);
  }
}

std::string SyntheticCatalog::DrawBrand(const std::vector<uint32_t>& group, const std::string& current) {
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    const std::string& brand = title_brands_[group[random_() % group.size()]];
    if (!brand.empty() && brand != current) return brand;
  }
  return current;
}

std::string SyntheticCatalog::DrawColour(const std::vector<uint32_t>& group, const std::string& current) {
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    const std::string& colour = real_[group[random_() % group.size()]].Attribute("colour");
    if (!colour.empty() && colour != current) return colour;
  }
  return current;
}

Product SyntheticCatalog::Next() {
  const uint64_t index = next_index_++;
  const Product& base = real_[index % real_.size()];
  const std::string& base_title_brand = title_brands_[index % real_.size()];
  const std::string master = MasterCategory(base);
  const std::vector<uint32_t>& group = products_by_master_category_.at(master);

  // Kept from the real product: category path, attributes other than colour and size, price and
  // availability. Photos and the description are dropped (the description may name the brand).
  Product variant;
  variant.id = "syn-" + std::to_string(index);
  variant.category_path = base.category_path;
  variant.attributes = base.attributes;
  variant.price = base.price;
  variant.currency = base.currency;
  variant.availability = base.availability;

  // Brand: the title's leading brand words are replaced by another real product's. A title with
  // no audience word has no brand that can be located, so it keeps its brand.
  std::string rest = base.title;
  variant.brand = base.brand;
  if (!base_title_brand.empty()) {
    variant.brand = DrawBrand(group, base_title_brand);
    rest = base.title.substr(base_title_brand.size());
    titles_with_new_brand_ += variant.brand != base_title_brand;
  }

  // Colour: the attribute and its words in the title (searched after the brand) change together.
  // A title that does not name its colour keeps its words.
  const std::string& base_colour = base.Attribute("colour");
  if (!base_colour.empty()) {
    const std::string colour = DrawColour(group, base_colour);
    variant.attributes["colour"] = colour;
    if (const size_t at = FindWholeWords(rest, base_colour); at != std::string::npos) {
      rest.replace(at, base_colour.size(), colour);
      titles_with_new_colour_ += colour != base_colour;
    }
  }

  // Size: a clothing size for apparel and a UK shoe size for footwear; other products get none.
  std::string size;
  if (master == "Apparel") size = kApparelSizes[random_() % kApparelSizes.size()];
  if (master == "Footwear") size = kFootwearSizes[random_() % kFootwearSizes.size()];
  if (!size.empty()) variant.attributes["size"] = size;

  variant.title = base_title_brand.empty() ? rest : variant.brand + rest;
  if (master == "Apparel") variant.title += " Size " + size;
  if (master == "Footwear") variant.title += " " + size;
  return variant;
}

}  // namespace tessera
