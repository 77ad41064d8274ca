// Lexical search regressions: each test sends a shopper's query to the real engine on a small
// handwritten catalogue and checks which products come back, and in which order where it matters.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/analyzer.h"
#include "engine/engine.h"
#include "index/inverted_index.h"
#include "retrieve/query_parser.h"
#include "retrieve/search_request.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

using Ids = std::vector<std::string>;

// One product per line, with titles written the way shop feeds write them. The hard cases are in
// the catalogue itself: codes with and without a dash, inch marks, a brand with a stop word, and
// Chinese titles whose characters also occur apart in other titles.
constexpr const char* kCatalogue = R"jsonl({"id":"shirt-navy","title":"Roadster Men Navy Blue Casual Shirt","brand":"Roadster","category_path":["Apparel","Topwear","Shirts"],"price":899,"currency":"INR","attributes":{"gender":"Men","colour":"Navy Blue","article_type":"Shirts"}}
{"id":"shirt-white","title":"Highlander Men White Slim Fit Shirt","brand":"Highlander","category_path":["Apparel","Topwear","Shirts"],"price":799,"currency":"INR","description":"A slim fit cotton shirt for men, for office days and evenings out.","attributes":{"gender":"Men","colour":"White","article_type":"Shirts"}}
{"id":"shirt-pink","title":"Vero Moda Women Pink Shirt","brand":"Vero Moda","category_path":["Apparel","Topwear","Shirts"],"price":999,"currency":"INR","attributes":{"gender":"Women","colour":"Pink","article_type":"Shirts"}}
{"id":"shirt-unpriced","title":"Basics Men Grey Oxford Shirt","brand":"Basics","category_path":["Apparel","Topwear","Shirts"],"attributes":{"gender":"Men","colour":"Grey","article_type":"Shirts"}}
{"id":"tshirt-puma","title":"Puma Men Grey T-Shirt","brand":"Puma","category_path":["Apparel","Topwear","Tshirts"],"price":899.5,"currency":"INR","attributes":{"gender":"Men","colour":"Grey","article_type":"Tshirts"}}
{"id":"tee-graphic","title":"Bewakoof Women Graphic Tee","brand":"Bewakoof","category_path":["Apparel","Topwear","Tshirts"],"price":499,"currency":"INR","attributes":{"gender":"Women","colour":"Black","article_type":"Tshirts"}}
{"id":"sweatshirt","title":"HRX Men Olive Hooded Sweatshirt","brand":"HRX","category_path":["Apparel","Topwear","Sweatshirts"],"price":1299,"currency":"INR","attributes":{"gender":"Men","colour":"Olive","article_type":"Sweatshirts"}}
{"id":"sweater","title":"Monte Carlo Women Cream Woollen Sweater","brand":"Monte Carlo","category_path":["Apparel","Topwear","Sweaters"],"price":1599,"currency":"INR","attributes":{"gender":"Women","colour":"Cream","article_type":"Sweaters"}}
{"id":"hat","title":"Wildcraft Unisex Blue Sun Hat","brand":"Wildcraft","category_path":["Accessories","Headwear","Hats"],"price":399,"currency":"INR","attributes":{"gender":"Unisex","colour":"Blue","article_type":"Hats"}}
{"id":"corduroy-plain","title":"Corduroy Trousers","category_path":["Apparel","Bottomwear","Trousers"],"price":1499,"currency":"INR","attributes":{"gender":"Men","colour":"Brown","article_type":"Trousers"}}
{"id":"corduroy-navy","title":"Louis Philippe Men Navy Blue Slim Fit Corduroy Trousers","brand":"Louis Philippe","category_path":["Apparel","Bottomwear","Trousers"],"price":2499,"currency":"INR","attributes":{"gender":"Men","colour":"Navy Blue","article_type":"Trousers"}}
{"id":"tnf-jacket","title":"The North Face Men Black Thermoball Jacket","brand":"The North Face","category_path":["Apparel","Topwear","Jackets"],"price":12999,"currency":"INR","attributes":{"gender":"Men","colour":"Black","article_type":"Jackets"}}
{"id":"tnf-backpack","title":"The North Face Unisex Black Borealis Backpack","brand":"The North Face","category_path":["Accessories","Bags","Backpacks"],"price":8999,"currency":"INR","attributes":{"gender":"Unisex","colour":"Black","article_type":"Backpacks"}}
{"id":"denim-jacket","title":"Roadster Men Blue Denim Jacket","brand":"Roadster","category_path":["Apparel","Topwear","Jackets"],"price":1999,"currency":"INR","attributes":{"gender":"Men","colour":"Blue","article_type":"Jackets"}}
{"id":"face-wash","title":"Himalaya Neem Face Wash","brand":"Himalaya","category_path":["Personal Care","Skin Care","Face Wash"],"price":150,"currency":"INR","attributes":{"gender":"Unisex","article_type":"Face Wash"}}
{"id":"north-star","title":"North Star Women White Sneakers","brand":"North Star","category_path":["Footwear","Shoes","Casual Shoes"],"price":1799,"currency":"INR","attributes":{"gender":"Women","colour":"White","article_type":"Casual Shoes"}}
{"id":"watch-123","title":"Casio XYZ-123 Digital Watch","brand":"Casio","category_path":["Accessories","Watches"],"price":2995,"currency":"INR","attributes":{"gender":"Men","colour":"Black","article_type":"Watches"}}
{"id":"watch-123-joined","title":"Casio XYZ123 Sports Watch","brand":"Casio","category_path":["Accessories","Watches"],"price":3195,"currency":"INR","attributes":{"gender":"Unisex","colour":"Black","article_type":"Watches"}}
{"id":"watch-124","title":"Casio XYZ-124 Digital Watch","brand":"Casio","category_path":["Accessories","Watches"],"price":2995,"currency":"INR","attributes":{"gender":"Men","colour":"Black","article_type":"Watches"}}
{"id":"iphone-11","title":"Apple iPhone 11 Silicone Case","brand":"Apple","category_path":["Electronics","Mobile Accessories","Cases"],"price":1900,"currency":"INR","attributes":{"colour":"Black","article_type":"Cases"}}
{"id":"iphone-12","title":"Apple iPhone 12 Silicone Case","brand":"Apple","category_path":["Electronics","Mobile Accessories","Cases"],"price":1900,"currency":"INR","attributes":{"colour":"Black","article_type":"Cases"}}
{"id":"caliper","title":"Mitutoyo Digital Caliper 25.4mm Jaw","brand":"Mitutoyo","category_path":["Tools","Measuring"],"price":4999,"currency":"INR"}
{"id":"ruler","title":"Steel Ruler with 25.4 mm Marks","category_path":["Tools","Measuring"],"price":298.5,"currency":"INR"}
{"id":"tv-65-mark","title":"Samsung 65\" QLED TV","brand":"Samsung","category_path":["Electronics","Televisions"],"price":89999,"currency":"INR"}
{"id":"tv-65-inch","title":"Sony Bravia 65 inch 4K TV","brand":"Sony","category_path":["Electronics","Televisions"],"price":94999,"currency":"INR"}
{"id":"tv-65-inches","title":"LG 65 inches OLED TV","brand":"LG","category_path":["Electronics","Televisions"],"price":129999,"currency":"INR"}
{"id":"tv-55-mark","title":"Samsung 55\" QLED TV","brand":"Samsung","category_path":["Electronics","Televisions"],"price":59999,"currency":"INR"}
{"id":"levis","title":"Levi's Men 511 Slim Jeans","brand":"Levi's","category_path":["Apparel","Bottomwear","Jeans"],"price":2599,"currency":"INR","attributes":{"gender":"Men","colour":"Blue","article_type":"Jeans"}}
{"id":"socks","title":"Bata Men Ankle Socks","brand":"Bata","category_path":["Accessories","Socks"],"price":798.5,"currency":"INR","attributes":{"gender":"Men","colour":"Black","article_type":"Socks"}}
{"id":"zh-nike","title":"耐克 男士 运动鞋","brand":"耐克","category_path":["Footwear","Shoes","Sports Shoes"],"price":699,"currency":"CNY","attributes":{"gender":"Men","colour":"White","article_type":"Sports Shoes"}}
{"id":"zh-jacket","title":"男士耐磨夹克","category_path":["Apparel","Topwear","Jackets"],"price":459,"currency":"CNY","attributes":{"gender":"Men","colour":"Olive","article_type":"Jackets"}}
{"id":"zh-scarf","title":"巧克力色围巾","category_path":["Accessories","Scarves"],"price":129,"currency":"CNY","attributes":{"gender":"Women","colour":"Brown","article_type":"Scarves"}}
{"id":"zh-flask","title":"耐用保温杯","category_path":["Home","Kitchen"],"price":89,"currency":"CNY"}
{"id":"zh-shirt","title":"男士藏青色衬衫","category_path":["Apparel","Topwear","Shirts"],"price":199,"currency":"CNY","attributes":{"gender":"Men","colour":"Navy Blue","article_type":"Shirts"}}
)jsonl";

// Query synonyms in the Solr format: an equivalence and a one-way Chinese-to-English rule.
constexpr const char* kSynonyms = "tshirt, tee\n衬衫 => shirts\n";

class LexicalRegressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tessera-lexical-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "synonyms.txt") << kSynonyms;
    Open();
    ASSERT_NE(engine_, nullptr);

    std::istringstream in(kCatalogue);
    Result<IngestReport> report = engine_->IngestJsonl(in, dir_.string());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_EQ(report->rejected, 0u);
  }

  void TearDown() override {
    engine_.reset();
    fs::remove_all(dir_);
  }

  // Opens the engine on dir_, closing any engine already open on it.
  void Open() {
    engine_.reset();
    EngineOptions options;
    options.data_dir = (dir_ / "data").string();
    options.synonyms_path = (dir_ / "synonyms.txt").string();
    Result<std::unique_ptr<Engine>> engine = Engine::Open(options, &clock_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }

  // Returns the ids of the first page, best first. On an error it fails the test and returns none.
  Ids SearchIds(const SearchRequest& request) {
    Result<SearchResponse> response = engine_->Search(request);
    EXPECT_TRUE(response.ok()) << request.text << ": " << response.status().ToString();
    Ids ids;
    if (!response.ok()) return ids;
    EXPECT_FALSE(response->partial) << request.text << ": the time budget ran out";
    for (const SearchHit& hit : response->hits) ids.push_back(hit.product->id);
    return ids;
  }

  Ids SearchIds(const std::string& text) {
    SearchRequest request;
    request.text = text;
    request.per_page = kMaxPerPage;
    return SearchIds(request);
  }

  // The ids of a search in id order, for checks where the order does not matter.
  Ids SortedIds(const SearchRequest& request) {
    Ids ids = SearchIds(request);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  Ids SortedIds(const std::string& text) {
    Ids ids = SearchIds(text);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Products without text: the browse a request with filters and no query returns.
  SearchRequest Browse(const SearchFilters& filters) {
    SearchRequest request;
    request.filters = filters;
    request.per_page = kMaxPerPage;
    return request;
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<Engine> engine_;
};

bool Contains(const Ids& ids, const std::string& id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// Position of `id` in `ids`, or ids.size() when absent.
size_t RankOf(const Ids& ids, const std::string& id) {
  return static_cast<size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
}

// ---------------------------------------------------------------------------------------------
// Unicode folding

TEST_F(LexicalRegressionTest, FullWidthCodeWithMinusSignFindsCode) {
  // Full-width letters and digits, and U+2212 MINUS SIGN between them.
  EXPECT_EQ(SortedIds("ＸＹＺ−１２３"), (Ids{"watch-123", "watch-123-joined"}));
}

TEST_F(LexicalRegressionTest, EnDashCodeFindsCode) {
  // U+2013 EN DASH, as word processors write it.
  EXPECT_EQ(SortedIds("XYZ–123"), (Ids{"watch-123", "watch-123-joined"}));
}

TEST_F(LexicalRegressionTest, FullWidthWordFindsShirts) {
  const Ids full_width = SortedIds("ＳＨＩＲＴ");
  EXPECT_TRUE(Contains(full_width, "shirt-navy"));
  EXPECT_EQ(full_width, SortedIds("shirt"));
}

TEST_F(LexicalRegressionTest, CurlyApostropheFindsStraightApostrophe) {
  // The query has U+2019 RIGHT SINGLE QUOTATION MARK, and the catalogue writes "Levi's".
  EXPECT_EQ(SearchIds("Levi’s jeans"), Ids{"levis"});
}

TEST_F(LexicalRegressionTest, DoublePrimeFindsInchMarkAndInchWord) {
  // U+2033 DOUBLE PRIME, which NFKC turns into two primes.
  EXPECT_EQ(SortedIds("65″"), (Ids{"tv-65-inch", "tv-65-inches", "tv-65-mark"}));
}

TEST_F(LexicalRegressionTest, CurlyDoubleQuoteFindsInchMark) {
  // U+201D RIGHT DOUBLE QUOTATION MARK after the number.
  EXPECT_EQ(SortedIds("65” TV"), (Ids{"tv-65-inch", "tv-65-inches", "tv-65-mark"}));
}

TEST_F(LexicalRegressionTest, TwoPrimesFindInchMark) {
  // 65′′ with two U+2032 PRIME, and 65'' with two ASCII apostrophes.
  EXPECT_EQ(SortedIds("65′′"), (Ids{"tv-65-inch", "tv-65-inches", "tv-65-mark"}));
  EXPECT_EQ(SortedIds("65''"), (Ids{"tv-65-inch", "tv-65-inches", "tv-65-mark"}));
}

// ---------------------------------------------------------------------------------------------
// Model numbers

TEST_F(LexicalRegressionTest, DashedCodeFindsOnlySameCode) {
  const Ids ids = SortedIds("XYZ-123");
  EXPECT_EQ(ids, (Ids{"watch-123", "watch-123-joined"}));
  EXPECT_FALSE(Contains(ids, "watch-124"));
}

TEST_F(LexicalRegressionTest, JoinedCodeFindsDashedAndJoined) {
  EXPECT_EQ(SortedIds("xyz123"), (Ids{"watch-123", "watch-123-joined"}));
}

TEST_F(LexicalRegressionTest, PhoneModelNumberNeverMatchesOtherModel) {
  EXPECT_EQ(SearchIds("iphone 11"), Ids{"iphone-11"});
  EXPECT_EQ(SearchIds("iphone 12"), Ids{"iphone-12"});
}

TEST_F(LexicalRegressionTest, AbsentModelNumberGetsNoTypoCorrection) {
  // "13" is one edit from "11" and "12", but numbers get no typo tolerance.
  const Ids ids = SearchIds("iphone 13");
  EXPECT_FALSE(Contains(ids, "iphone-11"));
  EXPECT_FALSE(Contains(ids, "iphone-12"));
}

TEST_F(LexicalRegressionTest, AbsentCodeGetsNoTypoCorrection) {
  // "xyz125" is one edit from "xyz124" and "xyz123".
  const Ids joined = SearchIds("xyz125");
  EXPECT_FALSE(Contains(joined, "watch-124"));
  EXPECT_FALSE(Contains(joined, "watch-123"));
  EXPECT_FALSE(Contains(joined, "watch-123-joined"));

  const Ids dashed = SearchIds("XYZ-125");
  EXPECT_FALSE(Contains(dashed, "watch-124"));
  EXPECT_FALSE(Contains(dashed, "watch-123"));
  EXPECT_FALSE(Contains(dashed, "watch-123-joined"));
}

// ---------------------------------------------------------------------------------------------
// Units

TEST_F(LexicalRegressionTest, MillimetresJoinedAndSpacedAreEqual) {
  const Ids joined = SortedIds("25.4mm");
  EXPECT_EQ(joined, (Ids{"caliper", "ruler"}));
  EXPECT_EQ(SortedIds("25.4 mm"), joined);
}

TEST_F(LexicalRegressionTest, InchMarkInchAndInchesAreEqual) {
  const Ids mark = SortedIds("65\"");
  EXPECT_EQ(mark, (Ids{"tv-65-inch", "tv-65-inches", "tv-65-mark"}));
  EXPECT_EQ(SortedIds("65 inch"), mark);
  EXPECT_EQ(SortedIds("65 inches"), mark);
  EXPECT_EQ(SortedIds("65inch"), mark);
}

TEST_F(LexicalRegressionTest, InchQueryOmitsOtherScreenSize) {
  EXPECT_FALSE(Contains(SearchIds("65 inch tv"), "tv-55-mark"));
  EXPECT_EQ(SearchIds("55\" tv"), Ids{"tv-55-mark"});
}

// ---------------------------------------------------------------------------------------------
// Chinese

TEST_F(LexicalRegressionTest, ChineseBrandNeedsBothCharactersTogether) {
  // 男士耐磨夹克 contains 耐 and 克 apart, 巧克力色围巾 only 克, and 耐用保温杯 only 耐.
  EXPECT_EQ(SearchIds("耐克"), Ids{"zh-nike"});
}

TEST_F(LexicalRegressionTest, ChineseBrandWithProductWordNeedsBrand) {
  const Ids ids = SearchIds("耐克 夹克");
  EXPECT_FALSE(Contains(ids, "zh-jacket"));
  EXPECT_FALSE(Contains(ids, "zh-scarf"));
  EXPECT_FALSE(Contains(ids, "zh-flask"));
}

TEST_F(LexicalRegressionTest, ChineseWordFoundInsideLongerWord) {
  EXPECT_EQ(SearchIds("藏青"), Ids{"zh-shirt"});
  EXPECT_EQ(SearchIds("藏青色"), Ids{"zh-shirt"});
}

TEST_F(LexicalRegressionTest, ChineseSynonymReachesEnglishProducts) {
  const Ids ids = SearchIds("衬衫");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "zh-shirt");
  EXPECT_TRUE(Contains(ids, "shirt-navy"));
  EXPECT_TRUE(Contains(ids, "shirt-white"));
  EXPECT_TRUE(Contains(ids, "shirt-pink"));
  EXPECT_TRUE(Contains(ids, "shirt-unpriced"));
}

TEST_F(LexicalRegressionTest, ChineseWordInLongerQueryUsesSynonym) {
  // The synonym key 衬衫 applies even where 藏青色衬衫 is segmented as one word.
  const Ids ids = SearchIds("藏青色衬衫");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "zh-shirt");
}

// ---------------------------------------------------------------------------------------------
// Stemming and stop words

TEST_F(LexicalRegressionTest, ShirtDoesNotFindTShirt) {
  // "T-Shirt" is one word: its part "shirt" is not indexed on its own.
  EXPECT_FALSE(Contains(SearchIds("shirt"), "tshirt-puma"));
  EXPECT_TRUE(Contains(SearchIds("t-shirt"), "tshirt-puma"));
}

TEST_F(LexicalRegressionTest, PluralQueryFindsSingularTitle) {
  const Ids ids = SearchIds("shirts");
  EXPECT_TRUE(Contains(ids, "shirt-navy"));
  EXPECT_TRUE(Contains(ids, "shirt-white"));
  EXPECT_EQ(SortedIds("shirts"), SortedIds("shirt"));
}

TEST_F(LexicalRegressionTest, StopWordKeepsTopProduct) {
  const Ids with_stop_word = SearchIds("shirt for men");
  const Ids without = SearchIds("shirt men");
  ASSERT_FALSE(with_stop_word.empty());
  ASSERT_FALSE(without.empty());
  EXPECT_EQ(with_stop_word[0], without[0]);
}

TEST_F(LexicalRegressionTest, StopWordExcludesNoProduct) {
  EXPECT_EQ(SortedIds("shirt for men"), SortedIds("shirt men"));
}

TEST_F(LexicalRegressionTest, BrandWithStopWordRanksItsJacketFirst) {
  const Ids ids = SearchIds("the north face jacket");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "tnf-jacket");
}

TEST_F(LexicalRegressionTest, BrandWithStopWordFindsBrand) {
  const Ids ids = SearchIds("the north face");
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(SortedIds("the north face"), SortedIds("north face"));
  EXPECT_LT(RankOf(ids, "tnf-jacket"), RankOf(ids, "face-wash"));
  EXPECT_LT(RankOf(ids, "tnf-backpack"), RankOf(ids, "face-wash"));
}

// ---------------------------------------------------------------------------------------------
// Synonyms

TEST_F(LexicalRegressionTest, SynonymFindsTShirt) {
  EXPECT_TRUE(Contains(SearchIds("tee"), "tshirt-puma"));
}

TEST_F(LexicalRegressionTest, ExactWordRanksAboveSynonym) {
  const Ids ids = SearchIds("tee");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], "tee-graphic");
  EXPECT_EQ(ids[1], "tshirt-puma");
}

TEST_F(LexicalRegressionTest, SynonymWorksBothWays) {
  const Ids ids = SearchIds("t-shirt");
  EXPECT_TRUE(Contains(ids, "tee-graphic"));
  EXPECT_TRUE(Contains(ids, "tshirt-puma"));
}

// ---------------------------------------------------------------------------------------------
// Typos

TEST_F(LexicalRegressionTest, TransposedLettersFindShirt) {
  const Ids ids = SearchIds("shrit");
  EXPECT_TRUE(Contains(ids, "shirt-navy"));
  EXPECT_TRUE(Contains(ids, "shirt-white"));
  EXPECT_TRUE(Contains(ids, "shirt-pink"));
}

TEST_F(LexicalRegressionTest, ThreeLetterWordGetsNoCorrection) {
  // "hst" is one substitution from "hat".
  EXPECT_EQ(SearchIds("hst"), Ids{});
  EXPECT_EQ(SearchIds("hat"), Ids{"hat"});
}

TEST_F(LexicalRegressionTest, LongWordToleratesTwoEdits) {
  // "swaetshrit" (10 letters) is two transpositions from "sweatshirt".
  EXPECT_EQ(SearchIds("swaetshrit"), Ids{"sweatshirt"});
}

TEST_F(LexicalRegressionTest, SevenLetterWordToleratesOneEdit) {
  // "swaeter" is one transposition from "sweater", and "swaetre" is two.
  EXPECT_EQ(SearchIds("swaeter"), Ids{"sweater"});
  EXPECT_EQ(SearchIds("swaetre"), Ids{});
}

TEST_F(LexicalRegressionTest, ExactWordRanksAboveCorrection) {
  // Once a product is titled with the misspelling itself, that product comes first.
  Product product;
  product.id = "shrit-brand";
  product.title = "Shrit Linen Kurta";
  product.brand = "Shrit";
  product.price = 1099;
  product.currency = "INR";
  ASSERT_TRUE(engine_->Upsert(product).ok());

  const Ids ids = SearchIds("shrit");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "shrit-brand");
}

TEST_F(LexicalRegressionTest, TypoInTwoWordQueryFindsMatch) {
  const Ids ids = SearchIds("navy shrit");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "shirt-navy");
}

// ---------------------------------------------------------------------------------------------
// Search-as-you-type

TEST_F(LexicalRegressionTest, PrefixFindsShirtWhileTyping) {
  SearchRequest request;
  request.text = "shi";
  request.prefix = true;
  request.per_page = kMaxPerPage;
  const Ids ids = SearchIds(request);
  EXPECT_TRUE(Contains(ids, "shirt-navy"));
  EXPECT_TRUE(Contains(ids, "shirt-white"));
}

TEST_F(LexicalRegressionTest, PrefixOffFindsNoShirt) {
  EXPECT_EQ(SearchIds("shi"), Ids{});
}

TEST_F(LexicalRegressionTest, PrefixAppliesToLastWordOnly) {
  SearchRequest request;
  request.text = "navy shi";
  request.prefix = true;
  request.per_page = kMaxPerPage;
  const Ids ids = SearchIds(request);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], "shirt-navy");
}

// ---------------------------------------------------------------------------------------------
// All words first, then relaxation

TEST_F(LexicalRegressionTest, AllWordsRankAboveRarestWordOnly) {
  // "corduroy-plain" has the higher BM25 for "corduroy" (a two-word title) but lacks "navy".
  const Ids ids = SearchIds("navy corduroy");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], "corduroy-navy");
  EXPECT_EQ(ids[1], "corduroy-plain");
}

TEST_F(LexicalRegressionTest, RelaxationNeverDropsRarestWord) {
  // Products with only the common word "navy" must not be returned for "navy corduroy".
  const Ids ids = SearchIds("navy corduroy");
  EXPECT_FALSE(Contains(ids, "shirt-navy"));
  EXPECT_FALSE(Contains(ids, "zh-shirt"));
}

// ---------------------------------------------------------------------------------------------
// Pages cut before the rerank depth

// The ids and total of a first page of `per_page`. With explain=true the engine ranks the full
// rerank depth, so that request gives the full ranking to compare with.
struct Page {
  Ids ids;
  size_t total = 0;
};

Page FirstPage(Engine& engine, const std::string& text, size_t per_page, bool explain) {
  SearchRequest request;
  request.text = text;
  request.per_page = per_page;
  request.explain = explain;
  Result<SearchResponse> response = engine.Search(request);
  EXPECT_TRUE(response.ok()) << text << ": " << response.status().ToString();
  Page page;
  if (!response.ok()) return page;
  for (const SearchHit& hit : response->hits) page.ids.push_back(hit.product->id);
  page.total = response->total;
  return page;
}

TEST_F(LexicalRegressionTest, ShortPageIsStartOfFullRanking) {
  for (const std::string text : {"shirt", "navy shirt", "men", "black", "casio watch", "tv", "shrit", "tee",
                                 "the north face", "navy corduroy", "65 inch tv", "衬衫", "men white shirt"}) {
    const Page full = FirstPage(*engine_, text, kMaxPerPage, /*explain=*/true);
    ASSERT_FALSE(full.ids.empty()) << text;
    for (size_t per_page = 1; per_page <= full.ids.size(); ++per_page) {
      const Page page = FirstPage(*engine_, text, per_page, /*explain=*/false);
      EXPECT_EQ(page.ids, Ids(full.ids.begin(), full.ids.begin() + static_cast<std::ptrdiff_t>(per_page)))
          << text << ", per_page " << per_page;
      EXPECT_EQ(page.total, full.total) << text << ", per_page " << per_page;
    }
  }
}

TEST_F(LexicalRegressionTest, ShortPageInMergedBandMatchesFullDepth) {
  // Three and four synonym matches share a retrieval band, ordered by score alone. The long
  // title matches one query word itself and three through synonyms (the lower score), the short
  // title all four through synonyms (the highest score), so the index ranks the long title first
  // and the full ranking the short one.
  std::ofstream(dir_ / "synonyms.txt") << kSynonyms << "velvet, alpha\nwalnut, bravo\nharbor, charlie\nsaddle, delta\n";
  Open();
  ASSERT_NE(engine_, nullptr);
  auto add = [&](const std::string& id, const std::string& title) {
    Product product;
    product.id = id;
    product.title = title;
    product.price = 999;
    product.currency = "INR";
    ASSERT_TRUE(engine_->Upsert(product).ok());
  };
  add("three-synonyms-a", "Velvet Bravo Charlie Delta Bag with Brass Buckle and Long Canvas Strap");
  add("three-synonyms-b", "Velvet Bravo Charlie Delta Bag with Steel Buckle and Wide Leather Strap");
  add("four-synonyms", "Alpha Bravo Charlie Delta");
  const std::string query = "velvet walnut harbor saddle";
  const Page full = FirstPage(*engine_, query, kMaxPerPage, /*explain=*/true);
  ASSERT_EQ(full.ids.size(), 3u);
  ASSERT_EQ(full.ids[0], "four-synonyms");
  EXPECT_EQ(FirstPage(*engine_, query, 1, /*explain=*/false).ids, Ids{"four-synonyms"});
  EXPECT_EQ(FirstPage(*engine_, query, 2, /*explain=*/false).ids, Ids(full.ids.begin(), full.ids.begin() + 2));
}

// ---------------------------------------------------------------------------------------------
// Filters

TEST_F(LexicalRegressionTest, PriceRangeIncludesBothBounds) {
  SearchFilters filters;
  filters.price_min = 799;
  filters.price_max = 899;
  // 798.5 (socks) and 899.5 (tshirt-puma) lie just outside.
  EXPECT_EQ(SortedIds(Browse(filters)), (Ids{"shirt-navy", "shirt-white"}));
}

TEST_F(LexicalRegressionTest, PriceRangeWithTextIncludesBothBounds) {
  SearchRequest request;
  request.text = "shirt";
  request.filters.price_min = 799;
  request.filters.price_max = 899;
  EXPECT_EQ(SortedIds(request), (Ids{"shirt-navy", "shirt-white"}));
}

TEST_F(LexicalRegressionTest, PriceFilterExcludesUnpriced) {
  SearchRequest request;
  request.text = "shirt";
  request.filters.price_min = 0;
  const Ids ids = SearchIds(request);
  EXPECT_TRUE(Contains(ids, "shirt-navy"));
  EXPECT_FALSE(Contains(ids, "shirt-unpriced"));

  SearchFilters upper;
  upper.price_max = 1'000'000;
  EXPECT_FALSE(Contains(SearchIds(Browse(upper)), "shirt-unpriced"));
}

TEST_F(LexicalRegressionTest, CategoryFilterIgnoresCase) {
  SearchFilters filters;
  filters.category = "Shirts";
  const Ids expected = {"shirt-navy", "shirt-pink", "shirt-unpriced", "shirt-white", "zh-shirt"};
  EXPECT_EQ(SortedIds(Browse(filters)), expected);
  filters.category = "shirts";
  EXPECT_EQ(SortedIds(Browse(filters)), expected);
  filters.category = "SHIRTS";
  EXPECT_EQ(SortedIds(Browse(filters)), expected);
}

TEST_F(LexicalRegressionTest, CategoryFilterMatchesAnyLevel) {
  SearchRequest request;
  request.text = "jacket";
  request.filters.category = "topwear";
  // zh-jacket has a Chinese title but the English category "Jackets".
  EXPECT_EQ(SortedIds(request), (Ids{"denim-jacket", "tnf-jacket", "zh-jacket"}));
}

TEST_F(LexicalRegressionTest, GenderFilterIgnoresCase) {
  SearchRequest request;
  request.text = "shirt";
  request.filters.gender = "women";
  EXPECT_EQ(SortedIds(request), Ids{"shirt-pink"});
  request.filters.gender = "WOMEN";
  EXPECT_EQ(SortedIds(request), Ids{"shirt-pink"});
}

TEST_F(LexicalRegressionTest, ColourFilterIgnoresCase) {
  SearchFilters filters;
  filters.colour = "navy blue";
  const Ids expected = {"corduroy-navy", "shirt-navy", "zh-shirt"};
  EXPECT_EQ(SortedIds(Browse(filters)), expected);
  filters.colour = "NAVY BLUE";
  EXPECT_EQ(SortedIds(Browse(filters)), expected);
}

TEST_F(LexicalRegressionTest, ColourFilterIgnoresNonAsciiCase) {
  Product product;
  product.id = "creme-kurta";
  product.title = "Fabindia Women Cotton Kurta";
  product.brand = "Fabindia";
  product.price = 1490;
  product.currency = "INR";
  product.attributes = {{"gender", "Women"}, {"colour", "Crème"}, {"article_type", "Kurtas"}};
  ASSERT_TRUE(engine_->Upsert(product).ok());

  SearchFilters filters;
  filters.colour = "Crème";
  EXPECT_EQ(SearchIds(Browse(filters)), Ids{"creme-kurta"});
  filters.colour = "crème";
  EXPECT_EQ(SearchIds(Browse(filters)), Ids{"creme-kurta"});
  filters.colour = "CRÈME";
  EXPECT_EQ(SearchIds(Browse(filters)), Ids{"creme-kurta"});
}

TEST_F(LexicalRegressionTest, InvalidPriceRejectedNamingField) {
  struct Case {
    const char* name;
    std::optional<double> price_min;
    std::optional<double> price_max;
    const char* field;  // expected in the message
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double infinity = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      {"NaN minimum", nan, std::nullopt, "price_min"},
      {"NaN maximum", std::nullopt, nan, "price_max"},
      {"infinite minimum", infinity, std::nullopt, "price_min"},
      {"infinite maximum", std::nullopt, infinity, "price_max"},
      {"negative infinite maximum", std::nullopt, -infinity, "price_max"},
      {"negative minimum", -1.0, std::nullopt, "price_min"},
      {"negative maximum", std::nullopt, -0.01, "price_max"},
      {"minimum above maximum", 900.0, 800.0, "price_min"},
      {"maximum below minimum", 900.0, 800.0, "price_max"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SearchRequest request;
    request.text = "shirt";
    request.filters.price_min = c.price_min;
    request.filters.price_max = c.price_max;

    const Status validated = ValidateSearchRequest(request);
    EXPECT_EQ(validated.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(validated.message().find(c.field), std::string::npos) << validated.message();

    const Result<SearchResponse> searched = engine_->Search(request);
    EXPECT_EQ(searched.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(LexicalRegressionTest, EqualPriceBoundsSelectOnePrice) {
  SearchFilters filters;
  filters.price_min = 799;
  filters.price_max = 799;
  EXPECT_EQ(SortedIds(Browse(filters)), Ids{"shirt-white"});
}

// ---------------------------------------------------------------------------------------------
// Live catalogue changes

TEST_F(LexicalRegressionTest, UpsertFoundByNextSearch) {
  Product product;
  product.id = "flannel";
  product.title = "Urbano Men Red Flannel Overshirt";
  product.brand = "Urbano";
  product.category_path = {"Apparel", "Topwear", "Shirts"};
  product.price = 1299;
  product.currency = "INR";
  product.attributes = {{"gender", "Men"}, {"colour", "Red"}, {"article_type", "Shirts"}};
  ASSERT_TRUE(engine_->Upsert(product).ok());
  EXPECT_EQ(SearchIds("flannel"), Ids{"flannel"});

  // Replacing the product replaces its words.
  product.title = "Urbano Men Red Plaid Overshirt";
  ASSERT_TRUE(engine_->Upsert(product).ok());
  EXPECT_EQ(SearchIds("flannel"), Ids{});
  EXPECT_EQ(SearchIds("plaid"), Ids{"flannel"});
}

TEST_F(LexicalRegressionTest, DeletedProductNeverReturned) {
  ASSERT_TRUE(engine_->Delete("shirt-navy").ok());

  // Every way the product used to be found: title, brand, colour, synonym, typo, prefix, filters.
  auto expect_gone = [&](const std::string& stage) {
    SCOPED_TRACE(stage);
    for (const char* text : {"roadster men navy blue casual shirt", "navy shirt", "roadster", "casual", "shirt",
                             "shirts", "shrit", "衬衫", "navy blue", "ＲＯＡＤＳＴＥＲ"}) {
      EXPECT_FALSE(Contains(SearchIds(text), "shirt-navy")) << text;
    }
    SearchRequest typing;
    typing.text = "roadst";
    typing.prefix = true;
    EXPECT_FALSE(Contains(SearchIds(typing), "shirt-navy"));

    SearchFilters colour;
    colour.colour = "Navy Blue";
    EXPECT_FALSE(Contains(SearchIds(Browse(colour)), "shirt-navy"));
    SearchFilters price;
    price.price_min = 899;
    price.price_max = 899;
    EXPECT_EQ(SearchIds(Browse(price)), Ids{});
    EXPECT_FALSE(Contains(SearchIds(Browse(SearchFilters())), "shirt-navy"));

    EXPECT_EQ(engine_->GetProduct("shirt-navy").status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(engine_->GetProduct("shirt-white").ok());
    EXPECT_TRUE(Contains(SearchIds("roadster"), "denim-jacket"));
  };
  expect_gone("after delete");
  Open();
  ASSERT_NE(engine_, nullptr);
  expect_gone("after reopen");
}

TEST_F(LexicalRegressionTest, DeleteOfUnknownProductNotFound) {
  EXPECT_EQ(engine_->Delete("no-such-product").code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// Pathological input

TEST_F(LexicalRegressionTest, RepeatedWordQueryAnswersLikeOneWord) {
  // As many repetitions as the 1024-byte limit allows (170 x 6 bytes).
  std::string text;
  for (int i = 0; i < 170; ++i) text += "shirt ";
  ASSERT_LE(text.size(), kMaxQueryBytes);

  const auto start = std::chrono::steady_clock::now();
  const Ids ids = SortedIds(text);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ids, SortedIds("shirt"));
  // A loose sanity bound only, because the benchmarks measure query speed.
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST(LexicalPathologicalQuery, ThousandRepeatedWordsParseToOneGroup) {
  // A thousand words are above the engine's byte limit, so the parser is checked directly on a
  // real analyzer and index.
  Result<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create();
  ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
  InvertedIndex index({{"title", 1.0f}});
  index.Add(0, {(*analyzer)->IndexTerms("Roadster Men Navy Blue Shirt")});
  index.Add(1, {(*analyzer)->IndexTerms("Puma Men Grey Shirt")});
  QueryParser parser(**analyzer, nullptr, index, QueryParserOptions());

  std::string text;
  for (int i = 0; i < 1000; ++i) text += "shirt ";

  const auto start = std::chrono::steady_clock::now();
  Result<LexicalQuery> query = parser.Parse(text);
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  const TermQueryResult result = index.Search(*query, nullptr, 10);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(query->groups.size(), 1u);
  EXPECT_EQ(result.top.size(), 2u);
  EXPECT_FALSE(result.partial);
  // A loose sanity bound only, because the benchmarks measure query speed.
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST_F(LexicalRegressionTest, ThousandRepeatedWordsRejectedByByteLimit) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "shirt ";
  SearchRequest request;
  request.text = text;
  const Result<SearchResponse> response = engine_->Search(request);
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(response.status().message().find("1024"), std::string::npos) << response.status().message();
}

TEST_F(LexicalRegressionTest, LongWordAtByteLimitAnswersQuickly) {
  // One 1024-letter word without spaces, such as a pasted slug or token. Letters vary so that
  // few of the word's deletions coincide.
  std::string text;
  for (size_t i = 0; i < kMaxQueryBytes; ++i) text += static_cast<char>('a' + (i * 7) % 26);

  SearchRequest request;
  request.text = text;
  const auto start = std::chrono::steady_clock::now();
  const Result<SearchResponse> response = engine_->Search(request);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(response.ok()) << response.status().ToString();
  // A loose sanity bound only, because the benchmarks measure query speed.
  EXPECT_LT(elapsed, std::chrono::seconds(1))
      << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
}

TEST_F(LexicalRegressionTest, FortyDistinctWordsRejectedNamingLimit) {
  const char* words[] = {"navy",   "blue",     "white",   "black",  "red",    "green",  "slim",    "fit",
                         "cotton", "linen",    "casual",  "formal", "party",  "shirt",  "jeans",   "jacket",
                         "dress",  "skirt",    "shoes",   "sandal", "watch",  "belt",   "wallet",  "bag",
                         "cap",    "hat",      "scarf",   "socks",  "shorts", "kurta",  "saree",   "hoodie",
                         "sweater", "blazer",  "coat",    "vest",   "boots",  "heels",  "loafers", "trousers"};
  std::string text;
  for (const char* word : words) text += std::string(word) + " ";
  ASSERT_LE(text.size(), kMaxQueryBytes);

  SearchRequest request;
  request.text = text;
  const Result<SearchResponse> response = engine_->Search(request);
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(response.status().message().find("40"), std::string::npos) << response.status().message();
  EXPECT_NE(response.status().message().find("32"), std::string::npos) << response.status().message();
}

TEST_F(LexicalRegressionTest, ThirtyTwoDistinctWordsAccepted) {
  const char* words[] = {"navy",   "blue",  "white",  "black", "red",    "green", "slim",    "fit",
                         "cotton", "linen", "casual", "formal", "party", "shirt", "jeans",   "jacket",
                         "dress",  "skirt", "shoes",  "sandal", "watch", "belt",  "wallet",  "bag",
                         "cap",    "hat",   "scarf",  "socks",  "shorts", "kurta", "saree",  "hoodie"};
  std::string text;
  for (const char* word : words) text += std::string(word) + " ";
  SearchRequest request;
  request.text = text;
  EXPECT_TRUE(engine_->Search(request).ok());
}

TEST_F(LexicalRegressionTest, QueryOverByteLimitRejected) {
  SearchRequest request;
  request.text = std::string(kMaxQueryBytes, 'a');
  request.text.back() = ' ';
  request.text += "a";
  ASSERT_EQ(request.text.size(), kMaxQueryBytes + 1);
  const Result<SearchResponse> response = engine_->Search(request);
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(response.status().message().find("1024"), std::string::npos) << response.status().message();
}

TEST_F(LexicalRegressionTest, QueryAtByteLimitAccepted) {
  std::string text;
  for (int i = 0; i < 170; ++i) text += "shirt ";
  text += "navy";
  ASSERT_EQ(text.size(), kMaxQueryBytes);
  SearchRequest request;
  request.text = text;
  EXPECT_TRUE(engine_->Search(request).ok());
}

TEST_F(LexicalRegressionTest, EmptyQueryWithFiltersBrowses) {
  SearchFilters filters;
  filters.gender = "Women";
  EXPECT_EQ(SortedIds(Browse(filters)),
            (Ids{"north-star", "shirt-pink", "sweater", "tee-graphic", "zh-scarf"}));
}

TEST_F(LexicalRegressionTest, BlankQueryWithFiltersBrowses) {
  SearchFilters filters;
  filters.category = "Televisions";
  SearchRequest request = Browse(filters);
  request.text = "  ";
  EXPECT_EQ(SortedIds(request), (Ids{"tv-55-mark", "tv-65-inch", "tv-65-inches", "tv-65-mark"}));
}

}  // namespace
}  // namespace tessera
