#include "ingest/product.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/catalog_record.h"

namespace tessera {
namespace {

using nlohmann::json;

Product ValidProduct() {
  Product p;
  p.id = "15970";
  p.title = "Turtle Check Men Navy Blue Shirt";
  p.description = "A cotton shirt.";
  p.brand = "Turtle";
  p.category_path = {"Apparel", "Topwear", "Shirts"};
  p.price = 649.0;
  p.currency = "INR";
  p.attributes = {{"gender", "Men"}, {"colour", "Navy Blue"}};
  p.image_paths = {"/data/images/15970.jpg"};
  p.availability = Availability::kOutOfStock;
  return p;
}

// Returns the field that the validation message of `p` names, or "ok" when `p` is valid.
std::string RejectedField(const Product& p) {
  const Status status = ValidateProduct(p);
  if (status.ok()) return "ok";
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  return FieldNamedIn(status.message());
}

TEST(ValidateProduct, AcceptsCompleteProduct) {
  const Status status = ValidateProduct(ValidProduct());
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateProduct, AcceptsProductWithOnlyIdAndTitle) {
  Product p;
  p.id = "a";
  p.title = "t";
  const Status status = ValidateProduct(p);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateProduct, RejectsMissingId) {
  Product p = ValidProduct();
  p.id.clear();
  EXPECT_EQ(RejectedField(p), "id");
}

TEST(ValidateProduct, RejectsIdOutsideAllowedCharacters) {
  for (const std::string id : {"a b", "a/b", "a,b", "caf\xC3\xA9", "a\"b"}) {
    Product p = ValidProduct();
    p.id = id;
    EXPECT_EQ(RejectedField(p), "id") << id;
  }
}

TEST(ValidateProduct, AcceptsEveryAllowedIdCharacter) {
  Product p = ValidProduct();
  p.id = "AZaz09._:-";
  const Status status = ValidateProduct(p);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateProduct, IdLengthLimitIsInclusive) {
  Product p = ValidProduct();
  p.id = std::string(kMaxProductIdBytes, 'a');
  EXPECT_EQ(RejectedField(p), "ok");
  p.id += 'a';
  EXPECT_EQ(RejectedField(p), "id");
}

TEST(ValidateProduct, RejectsMissingOrBlankTitle) {
  Product p = ValidProduct();
  p.title.clear();
  EXPECT_EQ(RejectedField(p), "title");
  p.title = " \t ";
  EXPECT_EQ(RejectedField(p), "title");
}

TEST(ValidateProduct, RejectsOverlongTitle) {
  Product p = ValidProduct();
  p.title = std::string(kMaxTitleBytes + 1, 'x');
  EXPECT_EQ(RejectedField(p), "title");
}

TEST(ValidateProduct, RejectsInvalidUtf8InEachTextField) {
  const std::string invalid = "bad \xC3( text";
  Product title = ValidProduct();
  title.title = invalid;
  EXPECT_EQ(RejectedField(title), "title");

  Product description = ValidProduct();
  description.description = invalid;
  EXPECT_EQ(RejectedField(description), "description");

  Product brand = ValidProduct();
  brand.brand = invalid;
  EXPECT_EQ(RejectedField(brand), "brand");

  Product category = ValidProduct();
  category.category_path = {"Apparel", invalid};
  EXPECT_EQ(RejectedField(category), "category_path");

  Product attribute = ValidProduct();
  attribute.attributes["colour"] = invalid;
  EXPECT_EQ(RejectedField(attribute), "attributes");
}

TEST(ValidateProduct, RejectsOverlongDescription) {
  Product p = ValidProduct();
  p.description = std::string(kMaxDescriptionBytes + 1, 'x');
  EXPECT_EQ(RejectedField(p), "description");
}

TEST(ValidateProduct, RejectsEmptyCategoryLevel) {
  Product p = ValidProduct();
  p.category_path = {"Apparel", " "};
  EXPECT_EQ(RejectedField(p), "category_path");
}

TEST(ValidateProduct, RejectsNegativePrice) {
  Product p = ValidProduct();
  p.price = -3.0;
  EXPECT_EQ(RejectedField(p), "price");
}

TEST(ValidateProduct, RejectsNonFinitePrice) {
  Product nan = ValidProduct();
  nan.price = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(RejectedField(nan), "price");

  Product infinite = ValidProduct();
  infinite.price = std::numeric_limits<double>::infinity();
  EXPECT_EQ(RejectedField(infinite), "price");
}

TEST(ValidateProduct, AcceptsZeroPrice) {
  Product p = ValidProduct();
  p.price = 0.0;
  EXPECT_EQ(RejectedField(p), "ok");
}

TEST(ValidateProduct, RejectsPriceWithoutCurrency) {
  Product p = ValidProduct();
  p.currency.clear();
  EXPECT_EQ(RejectedField(p), "currency");
}

TEST(ValidateProduct, RejectsMalformedCurrency) {
  for (const std::string currency : {"usd", "US", "USDX", "U5D"}) {
    Product p = ValidProduct();
    p.currency = currency;
    EXPECT_EQ(RejectedField(p), "currency") << currency;
  }
}

TEST(ValidateProduct, CurrencyWithoutPriceIsIgnored) {
  Product p = ValidProduct();
  p.price.reset();
  p.currency = "not checked";
  EXPECT_EQ(RejectedField(p), "ok");
}

TEST(ValidateProduct, RejectsEmptyAttributeKey) {
  Product p = ValidProduct();
  p.attributes[""] = "x";
  EXPECT_EQ(RejectedField(p), "attributes");
}

TEST(ValidateProduct, RejectsTooManyAttributes) {
  Product p = ValidProduct();
  p.attributes.clear();
  for (size_t i = 0; i < kMaxAttributes; ++i) p.attributes["k" + std::to_string(i)] = "v";
  EXPECT_EQ(RejectedField(p), "ok");
  p.attributes["one_more"] = "v";
  EXPECT_EQ(RejectedField(p), "attributes");
}

TEST(ValidateProduct, RejectsTooManyImages) {
  Product p = ValidProduct();
  p.image_paths.assign(kMaxImages, "/a.jpg");
  EXPECT_EQ(RejectedField(p), "ok");
  p.image_paths.push_back("/b.jpg");
  EXPECT_EQ(RejectedField(p), "images");
}

TEST(ValidateProduct, MessageNamesBadValue) {
  Product p = ValidProduct();
  p.id = "bad id";
  const Status status = ValidateProduct(p);
  EXPECT_NE(status.message().find("bad id"), std::string::npos) << status.message();
}

TEST(AvailabilityName, NamesEveryValue) {
  EXPECT_STREQ(AvailabilityName(Availability::kInStock), "in_stock");
  EXPECT_STREQ(AvailabilityName(Availability::kOutOfStock), "out_of_stock");
  EXPECT_STREQ(AvailabilityName(Availability::kPreorder), "preorder");
}

TEST(ProductAttribute, ReturnsValueOrEmpty) {
  const Product p = ValidProduct();
  EXPECT_EQ(p.Attribute("colour"), "Navy Blue");
  EXPECT_EQ(p.Attribute("season"), "");
}

TEST(ProductJson, RoundTripKeepsEveryField) {
  const Product original = ValidProduct();
  Result<Product> parsed = ProductFromJson(ProductToJson(original), "");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->id, original.id);
  EXPECT_EQ(parsed->title, original.title);
  EXPECT_EQ(parsed->description, original.description);
  EXPECT_EQ(parsed->brand, original.brand);
  EXPECT_EQ(parsed->category_path, original.category_path);
  ASSERT_TRUE(parsed->price.has_value());
  EXPECT_EQ(*parsed->price, *original.price);
  EXPECT_EQ(parsed->currency, original.currency);
  EXPECT_EQ(parsed->attributes, original.attributes);
  EXPECT_EQ(parsed->image_paths, original.image_paths);
  EXPECT_EQ(parsed->availability, original.availability);
}

TEST(ProductJson, UnpricedProductHasNoPriceField) {
  Product p = ValidProduct();
  p.price.reset();
  const json object = ProductToJson(p);
  EXPECT_FALSE(object.contains("price"));
  EXPECT_FALSE(object.contains("currency"));
}

TEST(ProductFromJson, NumericIdKeptAsText) {
  Result<Product> p = ProductFromJson(json{{"id", 15970}, {"title", "Shirt"}}, "");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, "15970");
}

TEST(ProductFromJson, NumericAttributeKeptAsText) {
  Result<Product> p = ProductFromJson(json{{"id", "a"}, {"title", "Shirt"}, {"attributes", {{"year", 2011}}}}, "");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Attribute("year"), "2011");
}

TEST(ProductFromJson, AvailabilityDefaultsToInStock) {
  Result<Product> p = ProductFromJson(json{{"id", "a"}, {"title", "Shirt"}}, "");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->availability, Availability::kInStock);
}

TEST(ProductFromJson, NullFieldsCountAsAbsent) {
  Result<Product> p = ProductFromJson(
      json{{"id", "a"}, {"title", "Shirt"}, {"brand", nullptr}, {"price", nullptr}, {"images", nullptr}}, "");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->brand, "");
  EXPECT_FALSE(p->price.has_value());
  EXPECT_TRUE(p->image_paths.empty());
}

TEST(ProductFromJson, RejectsNonObject) {
  Result<Product> p = ProductFromJson(json::array({1, 2}), "");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
}

TEST(ProductFromJson, RejectsInvalidUtf8Title) {
  // nlohmann::json stores the bytes it is given, so invalid UTF-8 reaches validation.
  Result<Product> p = ProductFromJson(json{{"id", "a"}, {"title", "bad \xFF title"}}, "");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(FieldNamedIn(p.status().message()), "title") << p.status().message();
}

TEST(ProductFromJson, ResolvesRelativeImagePaths) {
  Result<Product> p = ProductFromJson(
      json{{"id", "a"}, {"title", "Shirt"}, {"images", {"photos/a.jpg", "/abs/b.jpg", "../other/c.jpg"}}},
      "/catalogue/feed");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->image_paths.size(), 3u);
  EXPECT_EQ(p->image_paths[0], "/catalogue/feed/photos/a.jpg");
  EXPECT_EQ(p->image_paths[1], "/abs/b.jpg");
  EXPECT_EQ(p->image_paths[2], "/catalogue/other/c.jpg");
}

TEST(FieldNamedIn, ReadsQuotedFieldName) {
  EXPECT_EQ(FieldNamedIn("field 'price' must be a number"), "price");
  EXPECT_EQ(FieldNamedIn("unknown field 'colour': known fields are ..."), "colour");
  EXPECT_EQ(FieldNamedIn("attribute 'year' must be a string or number"), "year");
}

TEST(FieldNamedIn, ReadsLeadingFieldWord) {
  EXPECT_EQ(FieldNamedIn("id 'a b' contains a character outside [A-Za-z0-9._:-]"), "id");
  EXPECT_EQ(FieldNamedIn("title is not valid UTF-8"), "title");
}

TEST(FieldNamedIn, FallsBackToRecord) {
  EXPECT_EQ(FieldNamedIn("malformed JSON '{': each line must be one JSON object"), "record");
}

}  // namespace
}  // namespace tessera
