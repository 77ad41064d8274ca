#include "ingest/fashion_catalog_reader.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

constexpr const char* kHeader =
    "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n";

class FashionCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    dir_ = temp_dir_.path();
  }

  void Write(const fs::path& relative, const std::string& text) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good()) << path;
  }

  // Reads the temporary catalogue and stores the accepted products in `products_` by id.
  Result<IngestReport> Read() {
    products_.clear();
    lines_.clear();
    return ReadFashionCatalog(dir_.string(), [&](CatalogRecord&& record) {
      EXPECT_EQ(record.op, CatalogRecord::Op::kUpsert);
      lines_[record.product.id] = record.line;
      products_[record.product.id] = std::move(record.product);
      return Status::Ok();
    });
  }

  TempDir temp_dir_{"tessera-fashion-"};
  fs::path dir_;
  std::map<std::string, Product> products_;
  std::map<std::string, size_t> lines_;
};

TEST_F(FashionCatalogTest, ValidRowBecomesProduct) {
  Write("styles.csv", std::string(kHeader) +
                          "15970,Men,Apparel,Topwear,Shirts,Navy Blue,Fall,2011,Casual,"
                          "Turtle Check Men Navy Blue Shirt\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 1u);
  EXPECT_EQ(report->rejected, 0u);
  ASSERT_EQ(products_.count("15970"), 1u);

  const Product& p = products_["15970"];
  EXPECT_EQ(p.title, "Turtle Check Men Navy Blue Shirt");
  EXPECT_EQ(p.brand, "Turtle Check");
  EXPECT_EQ(p.category_path, (std::vector<std::string>{"Apparel", "Topwear", "Shirts"}));
  EXPECT_EQ(p.Attribute("gender"), "Men");
  EXPECT_EQ(p.Attribute("article_type"), "Shirts");
  EXPECT_EQ(p.Attribute("colour"), "Navy Blue");
  EXPECT_EQ(p.Attribute("season"), "Fall");
  EXPECT_EQ(p.Attribute("year"), "2011");
  EXPECT_EQ(p.Attribute("usage"), "Casual");
  EXPECT_FALSE(p.price.has_value());
  EXPECT_EQ(lines_["15970"], 2u);
}

TEST_F(FashionCatalogTest, ProductWithoutPhotoHasNoImagePaths) {
  Write("styles.csv", std::string(kHeader) + "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 1u);
  ASSERT_EQ(products_.count("1"), 1u);
  EXPECT_TRUE(products_["1"].image_paths.empty());
}

TEST_F(FashionCatalogTest, PhotosFoundInImagesAndHires) {
  Write("styles.csv", std::string(kHeader) + "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n");
  Write("images/1.jpg", "not decoded by the reader");
  Write("hires/1.jpg", "not decoded by the reader");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(products_.count("1"), 1u);
  const std::vector<std::string> expected = {(dir_ / "images" / "1.jpg").string(),
                                             (dir_ / "hires" / "1.jpg").string()};
  EXPECT_EQ(products_["1"].image_paths, expected);
}

TEST_F(FashionCatalogTest, QuotedDisplayNameWithCommaAccepted) {
  Write("styles.csv", std::string(kHeader) +
                          "7,Women,Apparel,Topwear,Tops,Red,Summer,2012,Casual,\"Mango Women Red, Pink Top\"\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 1u);
  EXPECT_EQ(report->rejected, 0u);
  ASSERT_EQ(products_.count("7"), 1u);
  EXPECT_EQ(products_["7"].title, "Mango Women Red, Pink Top");
  EXPECT_EQ(products_["7"].brand, "Mango");
}

TEST_F(FashionCatalogTest, WrongColumnCountRejectedWithLine) {
  Write("styles.csv", std::string(kHeader) +
                          "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n"
                          "2,Women,Apparel,Topwear,Tops,Red,Summer,2012,Casual,Mango Women Red, Pink Top\n"
                          "3,Men,Footwear,Shoes,Casual Shoes,Black,Winter,2013,Casual,Puma Men Black Shoes\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 2u);
  EXPECT_EQ(report->rejected, 1u);
  EXPECT_EQ(products_.count("1"), 1u);
  EXPECT_EQ(products_.count("2"), 0u);
  EXPECT_EQ(products_.count("3"), 1u);
  ASSERT_EQ(report->rejections.size(), 1u);
  EXPECT_EQ(report->rejections[0].line, 3u);
  EXPECT_EQ(report->rejections[0].field, "record");
  EXPECT_NE(report->rejections[0].reason.find("11 columns"), std::string::npos) << report->rejections[0].reason;
}

TEST_F(FashionCatalogTest, InvalidRowRejectedWithField) {
  Write("styles.csv", std::string(kHeader) +
                          "bad id,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n"
                          "5,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,\n"
                          "6,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 1u);
  EXPECT_EQ(report->rejected, 2u);
  ASSERT_EQ(report->rejections.size(), 2u);
  EXPECT_EQ(report->rejections[0].line, 2u);
  EXPECT_EQ(report->rejections[0].field, "id");
  EXPECT_EQ(report->rejections[1].line, 3u);
  EXPECT_EQ(report->rejections[1].field, "title");
}

TEST_F(FashionCatalogTest, UnterminatedQuoteRejected) {
  Write("styles.csv", std::string(kHeader) +
                          "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n"
                          "2,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,\"Open Men Shirt\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 1u);
  EXPECT_EQ(report->rejected, 1u);
  ASSERT_EQ(report->rejections.size(), 1u);
  EXPECT_EQ(report->rejections[0].line, 3u);
}

TEST_F(FashionCatalogTest, LineNumbersCountPhysicalLines) {
  // A quoted field spanning two lines: the next record starts on line 4, not line 3.
  Write("styles.csv", std::string(kHeader) +
                          "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,\"Two Line\nMen Shirt\"\n"
                          "2,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 2u);
  EXPECT_EQ(lines_["1"], 2u);
  EXPECT_EQ(lines_["2"], 4u);
}

TEST_F(FashionCatalogTest, CrlfBomAndBlankLinesAccepted) {
  Write("styles.csv",
        "\xEF\xBB\xBF"
        "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\r\n"
        "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\r\n"
        "\r\n"
        "2,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,B Men Shirt\r\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 2u);
  EXPECT_EQ(report->rejected, 0u);
  ASSERT_EQ(products_.count("2"), 1u);
  EXPECT_EQ(products_["2"].title, "B Men Shirt");
}

TEST_F(FashionCatalogTest, NaAndEmptyAttributesLeftOut) {
  Write("styles.csv", std::string(kHeader) + "1,Men,Apparel,Topwear,Shirts,NA,,2011,NA,A Men Shirt\n");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(products_.count("1"), 1u);
  EXPECT_EQ(products_["1"].attributes.count("colour"), 0u);
  EXPECT_EQ(products_["1"].attributes.count("season"), 0u);
  EXPECT_EQ(products_["1"].attributes.count("usage"), 0u);
  EXPECT_EQ(products_["1"].Attribute("year"), "2011");
}

TEST_F(FashionCatalogTest, HiresRecordMergedForPriceBrandDescription) {
  Write("styles.csv", std::string(kHeader) +
                          "10000,Girls,Apparel,Bottomwear,Skirts,White,Summer,2012,Casual,"
                          "Palm Tree Girls Sp Jace Sko White Skirts\n");
  Write("hires/10000.json",
        R"({"data":{"price":649,"discountedPrice":519,"brandName":"Palm Tree Kids",)"
        R"("productDescriptors":{"description":{"value":"<p>Soft&nbsp;cotton <b>skirt</b> &amp; lining</p>"}}}})");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->warnings.empty());
  ASSERT_EQ(products_.count("10000"), 1u);

  const Product& p = products_["10000"];
  ASSERT_TRUE(p.price.has_value());
  EXPECT_DOUBLE_EQ(*p.price, 649.0);
  EXPECT_EQ(p.currency, "INR");
  EXPECT_EQ(p.brand, "Palm Tree Kids");
  EXPECT_EQ(p.Attribute("discounted_price"), "519");
  EXPECT_EQ(p.description, "Soft cotton skirt & lining");
}

TEST_F(FashionCatalogTest, BrokenHiresRecordWarnsAndKeepsProduct) {
  Write("styles.csv", std::string(kHeader) + "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n");
  Write("hires/1.json", "{ not json");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 1u);
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_NE(report->warnings[0].find("1.json"), std::string::npos) << report->warnings[0];
  ASSERT_EQ(products_.count("1"), 1u);
  EXPECT_FALSE(products_["1"].price.has_value());
  EXPECT_EQ(products_["1"].brand, "A");
}

TEST_F(FashionCatalogTest, NegativeHiresPriceIgnored) {
  Write("styles.csv", std::string(kHeader) + "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n");
  Write("hires/1.json", R"({"data":{"price":-5}})");
  Result<IngestReport> report = Read();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(products_.count("1"), 1u);
  EXPECT_FALSE(products_["1"].price.has_value());
}

TEST_F(FashionCatalogTest, WrongHeaderRejected) {
  Write("styles.csv",
        "id,sex,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n"
        "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n");
  Result<IngestReport> report = Read();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("'sex'"), std::string::npos) << report.status().message();
  EXPECT_TRUE(products_.empty());
}

TEST_F(FashionCatalogTest, HeaderWithMissingColumnRejected) {
  Write("styles.csv", "id,gender,masterCategory\n1,Men,Apparel\n");
  Result<IngestReport> report = Read();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FashionCatalogTest, EmptyFileRejected) {
  Write("styles.csv", "");
  Result<IngestReport> report = Read();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FashionCatalogTest, MissingStylesCsvIsNotFound) {
  Result<IngestReport> report = Read();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
}

TEST_F(FashionCatalogTest, SinkErrorStopsReading) {
  Write("styles.csv", std::string(kHeader) +
                          "1,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,A Men Shirt\n"
                          "2,Men,Apparel,Topwear,Shirts,Blue,Fall,2011,Casual,B Men Shirt\n");
  int calls = 0;
  Result<IngestReport> report = ReadFashionCatalog(dir_.string(), [&](CatalogRecord&&) {
    ++calls;
    return Status::IoError("store write failed");
  });
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kIoError);
  EXPECT_EQ(calls, 1);
}

// The real catalogue: every row is valid, and every product with a photo file gets its path.
TEST(FashionCatalogData, RealCatalogueReadsCompletely) {
  const fs::path dir = fs::path(TESSERA_DATA_DIR) / "fashion";
  if (!fs::exists(dir / "styles.csv")) GTEST_SKIP() << "the fashion catalogue is not at " << dir;

  size_t with_photo = 0;
  size_t with_price = 0;
  size_t missing_images = 0;
  size_t records = 0;
  Result<IngestReport> report = ReadFashionCatalog(dir.string(), [&](CatalogRecord&& record) {
    ++records;
    const Product& p = record.product;
    if (!p.image_paths.empty()) ++with_photo;
    if (p.price.has_value()) ++with_price;
    for (const std::string& path : p.image_paths) {
      if (!fs::exists(path)) ++missing_images;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->accepted, 44446u);
  EXPECT_EQ(report->rejected, 0u);
  EXPECT_TRUE(report->rejections.empty());
  EXPECT_TRUE(report->warnings.empty());
  EXPECT_EQ(records, 44446u);
  EXPECT_EQ(missing_images, 0u);

  // A product has a photo when images/<id>.jpg or hires/<id>.jpg exists.
  std::set<std::string> photo_ids;
  for (const char* folder : {"images", "hires"}) {
    for (const fs::directory_entry& entry : fs::directory_iterator(dir / folder)) {
      if (entry.path().extension() == ".jpg") photo_ids.insert(entry.path().stem().string());
    }
  }
  EXPECT_EQ(with_photo, photo_ids.size());
  EXPECT_GT(with_photo, 0u);
  size_t hires_records = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir / "hires")) {
    if (entry.path().extension() == ".json") ++hires_records;
  }
  EXPECT_EQ(with_price, hires_records);
}

TEST(BrandFromDisplayName, WordsBeforeAudienceWord) {
  EXPECT_EQ(BrandFromDisplayName("Peter England Men Party Blue Jeans"), "Peter England");
  EXPECT_EQ(BrandFromDisplayName("Turtle Check Men Navy Blue Shirt"), "Turtle Check");
  EXPECT_EQ(BrandFromDisplayName("Arrow Woman Joanna Navy Blue Shirt"), "Arrow");
  EXPECT_EQ(BrandFromDisplayName("Puma Unisex Black Cap"), "Puma");
  EXPECT_EQ(BrandFromDisplayName("Gini and Jony Boys Blue Jeans"), "Gini and Jony");
  EXPECT_EQ(BrandFromDisplayName("Nike Kids Red Shoes"), "Nike");
  EXPECT_EQ(BrandFromDisplayName("Wrangler Mens Jeans"), "Wrangler");
  EXPECT_EQ(BrandFromDisplayName("Catwalk Womens Heels"), "Catwalk");
  EXPECT_EQ(BrandFromDisplayName("Doodle Infant Romper"), "Doodle");
}

TEST(BrandFromDisplayName, PossessiveAudienceWord) {
  EXPECT_EQ(BrandFromDisplayName("Nike Women's Running Shoes"), "Nike");
  EXPECT_EQ(BrandFromDisplayName("Levis Men's Jeans"), "Levis");
}

TEST(BrandFromDisplayName, FirstAudienceWordEndsBrand) {
  EXPECT_EQ(BrandFromDisplayName("Fila Men Women Socks"), "Fila");
}

TEST(BrandFromDisplayName, ExtraSpacesCollapsed) {
  EXPECT_EQ(BrandFromDisplayName("  Peter   England  Men Jeans "), "Peter England");
}

TEST(BrandFromDisplayName, EmptyWithoutBrandOrAudience) {
  EXPECT_EQ(BrandFromDisplayName("Men Blue Shirt"), "");
  EXPECT_EQ(BrandFromDisplayName("Blue Cotton Shirt"), "");
  EXPECT_EQ(BrandFromDisplayName(""), "");
}

TEST(BrandFromDisplayName, AudienceWordMatchedExactly) {
  // "Menswear" and "men" are not audience words, so the name has none and no brand is derived.
  EXPECT_EQ(BrandFromDisplayName("Menswear Blue Shirt"), "");
  EXPECT_EQ(BrandFromDisplayName("Acme men Shirt"), "");
}

TEST(HtmlToText, DropsTags) {
  EXPECT_EQ(HtmlToText("<p>Soft <b>cotton</b></p>"), "Soft cotton");
}

TEST(HtmlToText, BlockTagsSeparateWords) {
  EXPECT_EQ(HtmlToText("Cotton<br>Machine wash<br/>Slim fit"), "Cotton Machine wash Slim fit");
}

TEST(HtmlToText, DecodesEntities) {
  EXPECT_EQ(HtmlToText("a&nbsp;b &amp; c &lt;d&gt; &quot;e&quot; &#39;f&#39;"), "a b & c <d> \"e\" 'f'");
}

TEST(HtmlToText, DecodesEachEntityOnce) {
  // "&amp;lt;" is the escaped text "&lt;", not a second escape of "<".
  EXPECT_EQ(HtmlToText("Fish &amp;lt; Chips"), "Fish &lt; Chips");
  EXPECT_EQ(HtmlToText("&amp;amp;"), "&amp;");
}

TEST(HtmlToText, CollapsesWhitespace) {
  EXPECT_EQ(HtmlToText("  one\n\n\ttwo \r\n three  "), "one two three");
}

TEST(HtmlToText, EmptyAndTagOnlyInputGiveEmptyText) {
  EXPECT_EQ(HtmlToText(""), "");
  EXPECT_EQ(HtmlToText("<p></p><br/>"), "");
}

TEST(HtmlToText, KeepsUtf8Text) {
  EXPECT_EQ(HtmlToText("<li>\xE7\x94\xB7\xE5\xA3\xAB</li>"), "\xE7\x94\xB7\xE5\xA3\xAB");
}

}  // namespace
}  // namespace tessera
