// End to end: the real `tessera` binary ingests a slice of the real fashion catalogue, serves it
// on loopback, and returns results for text, photo and voice queries. Click events re-rank the
// clicking shopper's next search and no one else's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tessera::e2e;

// Rows of styles.csv in the slice: enough for every common article type and colour.
constexpr size_t kSliceRows = 4000;

class ServerEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path fashion = DataDir() / "fashion";
    if (!fs::exists(fashion / "styles.csv")) GTEST_SKIP() << "fashion catalogue not found at " << fashion;
    root_ = fs::temp_directory_path() / ("tessera-e2e-" + std::to_string(getpid()));
    // Every test of the suite gets its own copy of one ingest of the slice.
    ingest_exit_code_ = CopyPrepared("server-slice-" + std::to_string(kSliceRows), root_, [](const fs::path& folder) {
      const fs::path slice = MakeFashionSlice(folder / "fashion-slice", kSliceRows);
      return RunCommand(std::string(TESSERA_BINARY) + " --data-dir " + (folder / "var").string() + " ingest --fashion " +
                        slice.string() + " > " + (folder / "ingest.log").string() + " 2>&1");
    });
    data_dir_ = root_ / "var";
    log_ = root_ / "server.log";
    port_ = FreeLoopbackPort();
    server_ = new ServerProcess(data_dir_, port_, log_);
    ready_ = server_->WaitReady();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    if (!root_.empty()) fs::remove_all(root_);
  }

  void SetUp() override {
    ASSERT_EQ(ingest_exit_code_, 0) << ReadFile(root_ / "ingest.log");
    ASSERT_TRUE(ready_) << ReadFile(log_);
  }

  static json Get(const std::string& path, int expected_status = 200) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    auto res = client.Get(path);
    EXPECT_TRUE(res) << "GET " << path << " failed";
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << path << ": " << res->body;
    return json::parse(res->body, nullptr, false);
  }

  static json Post(const std::string& path, const std::string& body, const std::string& type,
                   int expected_status = 200) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60, 0);
    auto res = client.Post(path, body, type);
    EXPECT_TRUE(res) << "POST " << path << " failed";
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << path << ": " << res->body;
    return json::parse(res->body, nullptr, false);
  }

  static std::vector<std::string> Ids(const json& response) {
    std::vector<std::string> ids;
    for (const json& r : response["results"]) ids.push_back(r["id"].get<std::string>());
    return ids;
  }

  static inline fs::path root_, data_dir_, log_;
  static inline int port_ = 0;
  static inline int ingest_exit_code_ = -1;
  static inline bool ready_ = false;
  static inline ServerProcess* server_ = nullptr;
};

TEST_F(ServerEndToEnd, IngestAcceptsEverySliceRow) {
  const std::string log = ReadFile(root_ / "ingest.log");
  EXPECT_NE(log.find("accepted " + std::to_string(kSliceRows) + ", deleted 0, rejected 0"), std::string::npos) << log;
  const json health = Get("/api/health");
  EXPECT_EQ(health["products"].get<size_t>(), kSliceRows);
  EXPECT_GT(health["photo_vectors"].get<size_t>(), 0u);
  EXPECT_TRUE(health["speech_ready"].get<bool>());
}

TEST_F(ServerEndToEnd, TextQueryFindsMatchingProducts) {
  const json response = Get("/api/search?q=navy%20blue%20men%20shirts&per_page=10");
  ASSERT_FALSE(response["results"].empty());
  const json& top = response["results"][0];
  EXPECT_EQ(top["attributes"]["article_type"], "Shirts") << top.dump();
  EXPECT_EQ(top["attributes"]["colour"], "Navy Blue") << top.dump();
  EXPECT_EQ(top["attributes"]["gender"], "Men") << top.dump();
  EXPECT_GT(response["total"].get<uint64_t>(), 10u);
  EXPECT_TRUE(response["facets"]["colour"].contains("Navy Blue"));
}

TEST_F(ServerEndToEnd, ChineseQueryReachesEnglishTitles) {
  // 男士藏青色衬衫: men's navy blue shirt, typed without spaces; the shipped synonym list maps
  // each word onto the English catalogue.
  const json response = Get("/api/search?per_page=5&q=%E7%94%B7%E5%A3%AB%E8%97%8F%E9%9D%92%E8%89%B2%E8%A1%AC%E8%A1%AB");
  ASSERT_FALSE(response["results"].empty()) << response.dump();
  const json& top = response["results"][0];
  EXPECT_EQ(top["attributes"]["article_type"], "Shirts") << top.dump();
  EXPECT_EQ(top["attributes"]["colour"], "Navy Blue") << top.dump();
  EXPECT_EQ(top["attributes"]["gender"], "Men") << top.dump();
}

TEST_F(ServerEndToEnd, TypoAndPrefixQueriesFindShirts) {
  const json typo = Get("/api/search?per_page=5&q=shrits");
  ASSERT_FALSE(typo["results"].empty());
  EXPECT_EQ(typo["results"][0]["attributes"]["article_type"], "Shirts");

  const json typing = Get("/api/search?per_page=5&prefix=true&q=navy%20blue%20shi");
  ASSERT_FALSE(typing["results"].empty());
  const std::string title = typing["results"][0]["title"];
  EXPECT_NE(title.find("Shi"), std::string::npos) << title;
}

TEST_F(ServerEndToEnd, MissingFilterSelectsUnpricedProducts) {
  const json unpriced = Get("/api/search?q=shirt&missing=price&per_page=50");
  ASSERT_FALSE(unpriced["results"].empty());
  for (const json& r : unpriced["results"]) EXPECT_FALSE(r.contains("price")) << r["id"];
  const json unknown = Get("/api/search?q=shirt&missing=size", 400);
  EXPECT_NE(unknown["error"]["message"].get<std::string>().find("size"), std::string::npos);
}

TEST_F(ServerEndToEnd, FiltersAndPagingApply) {
  const json page1 = Get("/api/search?q=shoes&gender=women&per_page=5&page=1");
  const json page2 = Get("/api/search?q=shoes&gender=women&per_page=5&page=2");
  ASSERT_EQ(page1["results"].size(), 5u);
  ASSERT_EQ(page2["results"].size(), 5u);
  for (const json& r : page1["results"]) EXPECT_EQ(r["attributes"]["gender"], "Women");

  // A filter value no product has is not an error, but the response warns and lists values.
  const json martian = Get("/api/search?q=shoes&gender=Martian");
  EXPECT_EQ(martian["total"], 0);
  ASSERT_EQ(martian["warnings"].size(), 1u) << martian.dump();
  const std::string warning = martian["warnings"][0];
  EXPECT_NE(warning.find("Martian"), std::string::npos) << warning;
  EXPECT_NE(warning.find("Women"), std::string::npos) << warning;
  EXPECT_FALSE(page1.contains("warnings"));

  // Several values of one filter: any of them matches, comma-separated or repeated.
  const json both = Get("/api/search?q=shoes&gender=Men,Women&per_page=1");
  const json repeated = Get("/api/search?q=shoes&gender=Men&gender=Women&per_page=1");
  const json men = Get("/api/search?q=shoes&gender=Men&per_page=1");
  EXPECT_EQ(both["total"].get<uint64_t>(), page1["total"].get<uint64_t>() + men["total"].get<uint64_t>());
  EXPECT_EQ(repeated["total"], both["total"]);
  const std::vector<std::string> first_ids = Ids(page1);
  const std::set<std::string> first(first_ids.begin(), first_ids.end());
  for (const std::string& id : Ids(page2)) EXPECT_FALSE(first.count(id)) << id << " on both pages";
  EXPECT_EQ(page1["total"], page2["total"]);
}

TEST_F(ServerEndToEnd, PagingKeepsTotalAndNeverRepeats) {
  // Deep pages once changed the relaxation depth, so the total grew and products repeated.
  // 100 a page reaches past the 200 products re-ranked per query by page 3.
  const json first = Get("/api/search?q=navy%20blue%20men%20shirts&per_page=100&page=1");
  const uint64_t total = first["total"];
  ASSERT_GT(total, 100u);
  std::set<std::string> seen;
  size_t pages = 0;
  for (size_t page = 1; page <= 100; ++page) {
    const json response = Get("/api/search?q=navy%20blue%20men%20shirts&per_page=100&page=" + std::to_string(page));
    EXPECT_EQ(response["total"].get<uint64_t>(), total) << "page " << page;
    if (response["results"].empty()) break;
    ++pages;
    for (const std::string& id : Ids(response)) EXPECT_TRUE(seen.insert(id).second) << id << " repeated on page " << page;
  }
  EXPECT_EQ(seen.size(), total);
  EXPECT_LT(pages, 100u);
}

TEST_F(ServerEndToEnd, PhotoQueryReturnsThePhotographedProductFirst) {
  // A product of the slice that has a photo: take the first one the catalogue lists.
  const json browse = Get("/api/search?q=shirt&per_page=50");
  std::string id;
  for (const json& r : browse["results"]) {
    if (!r["image_url"].is_null()) {
      id = r["id"];
      break;
    }
  }
  ASSERT_FALSE(id.empty());
  const std::string photo = ReadFile(DataDir() / "fashion" / "images" / (id + ".jpg"));
  ASSERT_FALSE(photo.empty());
  const json response = Post("/api/search/image?per_page=5", photo, "image/jpeg");
  ASSERT_FALSE(response["results"].empty());
  EXPECT_EQ(response["results"][0]["id"], id);
}

TEST_F(ServerEndToEnd, VoiceQueryIsTranscribedAndSearched) {
  if (RunCommand("command -v espeak-ng > /dev/null") != 0) GTEST_SKIP() << "espeak-ng is not installed";
  // Voice: espeak-ng's en-us voice at 140 words per minute.
  const fs::path wav = root_ / "voice.wav";
  ASSERT_EQ(RunCommand("espeak-ng -v en-us -s 140 -w " + wav.string() + " 'blue shirt'"), 0);
  const json response = Post("/api/search/voice?per_page=10", ReadFile(wav), "audio/wav");
  ASSERT_TRUE(response.contains("transcript")) << response.dump();
  EXPECT_EQ(response["transcript"]["text"], "blue shirt");
  ASSERT_FALSE(response["results"].empty());
  EXPECT_EQ(response["results"][0]["attributes"]["article_type"], "Shirts");
}

TEST_F(ServerEndToEnd, ClicksReRankOnlyTheClickingShopper) {
  const std::string query = "/api/search?q=casual%20shoes&per_page=10";
  const json before_a = Get(query + "&user=shopper-a");
  const json before_b = Get(query + "&user=shopper-b");
  ASSERT_EQ(Ids(before_a), Ids(before_b));

  // Pick a colour that is rare in the unpersonalized top 10 but present deeper down, and click
  // three products of that colour.
  const json deep = Get("/api/search?q=casual%20shoes&per_page=100");
  std::map<std::string, int> colours_in_top;
  for (const json& r : before_a["results"]) ++colours_in_top[r["attributes"].value("colour", "")];
  std::map<std::string, std::vector<std::string>> deeper_by_colour;
  for (size_t i = 10; i < deep["results"].size(); ++i) {
    const json& r = deep["results"][i];
    if (r["attributes"]["article_type"] != "Casual Shoes") continue;
    deeper_by_colour[r["attributes"].value("colour", "")].push_back(r["id"]);
  }
  std::string target;
  for (const auto& [colour, ids] : deeper_by_colour) {
    if (!colour.empty() && ids.size() >= 3 && colours_in_top[colour] <= 1) target = colour;
  }
  ASSERT_FALSE(target.empty()) << "no colour to click in the slice";
  for (size_t i = 0; i < 3; ++i) {
    const json event = {{"user_id", "shopper-a"}, {"type", "click"}, {"product_id", deeper_by_colour[target][i]}};
    const json ack = Post("/api/events", event.dump(), "application/json");
    EXPECT_EQ(ack["accepted"], 1);
  }

  // The very next query of shopper-a moves toward the clicked colour; shopper-b's does not move.
  const json after_a = Get(query + "&user=shopper-a");
  const json after_b = Get(query + "&user=shopper-b");
  auto count_target = [&](const json& response) {
    int count = 0;
    for (const json& r : response["results"]) count += r["attributes"].value("colour", "") == target;
    return count;
  };
  EXPECT_GT(count_target(after_a), count_target(before_a)) << "colour " << target;
  EXPECT_TRUE(after_a["personalized"].get<bool>());
  EXPECT_EQ(Ids(after_b), Ids(before_b));

  // The slice has no joint model, so no session term, but explain shows its place.
  const json explained = Get(query + "&user=shopper-a&session=visit-1&explain=true");
  ASSERT_FALSE(explained["results"].empty());
  const json& explanation = explained["results"][0]["explain"];
  ASSERT_TRUE(explanation.contains("personal_boost_session")) << explanation.dump();
  EXPECT_EQ(explanation["personal_boost_session"].get<double>(), 0.0);
  EXPECT_GT(explanation["personal_boost"].get<double>(), 0.0);

  const json profile = Get("/api/users/shopper-a/profile");
  EXPECT_EQ(profile["events"], 3);
  EXPECT_GT(profile["affinities"]["colour"][target].get<double>(), 0.5);
}

TEST_F(ServerEndToEnd, ErasedShopperLosesPersonalization) {
  const json event = {{"user_id", "shopper-erase"}, {"type", "purchase"}, {"product_id", Ids(Get("/api/search?q=watch"))[0]}};
  Post("/api/events", event.dump(), "application/json");
  EXPECT_EQ(Get("/api/users/shopper-erase/profile")["events"], 1);

  // The export contains everything kept about the shopper: events, profile and opt-out flag.
  const json exported = Get("/api/users/shopper-erase/export");
  ASSERT_EQ(exported["events"].size(), 1u);
  EXPECT_EQ(exported["events"][0]["user_id"], "shopper-erase");
  EXPECT_EQ(exported["events"][0]["product_id"], event["product_id"]);
  EXPECT_EQ(exported["profile"]["event_count"], 1);
  EXPECT_EQ(exported["opted_out"], false);

  httplib::Client client("127.0.0.1", port_);
  auto res = client.Delete("/api/users/shopper-erase");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Get("/api/users/shopper-erase/profile")["events"], 0);
  EXPECT_TRUE(Get("/api/users/shopper-erase/export")["events"].empty());
  EXPECT_FALSE(Get("/api/search?q=watch&user=shopper-erase")["personalized"].get<bool>());
}

// The storefront in Debian's Chromium, driven by tests/browser/storefront.mjs (playwright-core,
// installed by scripts/setup.sh). It types, filters by facets and price, searches with a photo from
// the picker and one dropped on the page, and records speech from Chromium's fake microphone. It
// also opens "why this result", re-ranks a shopper by a click, switches the language, and erases
// the shopper's profile.
TEST_F(ServerEndToEnd, StorefrontWorksInTheBrowser) {
  const fs::path photo = DataDir() / "fashion" / "images" / "15970.jpg";  // the slice's first product
  ASSERT_TRUE(fs::exists(photo)) << photo;
  const fs::path script = fs::path(TESSERA_SOURCE_DIR) / "tests" / "browser" / "storefront.mjs";
  const fs::path log = root_ / "browser.log";
  const std::string command = "TESSERA_URL=http://127.0.0.1:" + std::to_string(port_) +
                              " TESSERA_PHOTO=" + photo.string() + " node " + script.string() + " > " +
                              log.string() + " 2>&1";
  EXPECT_EQ(RunCommand(command), 0) << ReadFile(log)
                                   << "\n(scripts/setup.sh installs Chromium, playwright-core, espeak-ng and sox)";
}

TEST_F(ServerEndToEnd, BadInputGetsClearErrors) {
  const json malformed = Post("/api/events", "{not json", "application/json", 400);
  EXPECT_EQ(malformed["error"]["code"], "invalid_argument");

  const json unknown_product = Post("/api/events", R"({"user_id":"u","type":"click","product_id":"no-such-id"})",
                                    "application/json", 404);
  EXPECT_NE(unknown_product["error"]["message"].get<std::string>().find("no-such-id"), std::string::npos);

  const json unknown_type = Post("/api/events", R"({"user_id":"u","type":"like","product_id":"1"})",
                                 "application/json", 400);
  EXPECT_NE(unknown_type["error"]["message"].get<std::string>().find("like"), std::string::npos);

  const json broken_photo = Post("/api/search/image", "definitely not a photo", "image/jpeg", 415);
  EXPECT_EQ(broken_photo["error"]["code"], "unsupported");

  const json broken_audio = Post("/api/search/voice", "definitely not audio", "audio/wav", 415);
  EXPECT_EQ(broken_audio["error"]["code"], "unsupported");

  const json bad_price = Get("/api/search?q=shirt&price_min=NaN", 400);
  EXPECT_NE(bad_price["error"]["message"].get<std::string>().find("price_min"), std::string::npos);

  const json text_price = Get("/api/search?q=shirt&price_max=cheap", 400);
  EXPECT_NE(text_price["error"]["message"].get<std::string>().find("price_max"), std::string::npos);
  EXPECT_NE(text_price["error"]["message"].get<std::string>().find("cheap"), std::string::npos);

  const json infinite_price = Get("/api/search?q=shirt&price_min=inf", 400);
  EXPECT_NE(infinite_price["error"]["message"].get<std::string>().find("price_min"), std::string::npos);

  const json bad_flag = Get("/api/search?q=shirt&prefix=yes", 400);
  EXPECT_NE(bad_flag["error"]["message"].get<std::string>().find("prefix"), std::string::npos);

  const json unknown_parameter = Get("/api/search?q=shirt&colur=red", 400);
  EXPECT_NE(unknown_parameter["error"]["message"].get<std::string>().find("colur"), std::string::npos);

  // Above the 1024-byte query limit but within --max-query-bytes (4096).
  const json huge_query = Get("/api/search?q=" + std::string(2000, 'a'), 400);
  EXPECT_EQ(huge_query["error"]["code"], "invalid_argument");
}

TEST_F(ServerEndToEnd, OpenServerWarnsAtStart) {
  EXPECT_NE(ReadFile(log_).find("no --api-keys file"), std::string::npos) << ReadFile(log_);
  EXPECT_NE(ReadFile(log_).find("no rate limits"), std::string::npos) << ReadFile(log_);
}

TEST_F(ServerEndToEnd, Latin1InputGetsClientErrors) {
  // Error messages quote the input, and the response is JSON, which cannot carry the byte 0xE9 of
  // a Latin-1 "é". The server must still respond with a client error, not fail with 500.
  const json imported = Post("/api/products/import", "{\"id\": \"latin-1\", \"title\": \"Caf\xE9 Shirt\"}\n",
                             "application/x-ndjson");
  EXPECT_EQ(imported["accepted"], 0);
  EXPECT_EQ(imported["rejected"], 1);

  const json event = Post("/api/events", "{\"user_id\": \"caf\xE9\"}", "application/json", 400);
  EXPECT_EQ(event["error"]["code"], "invalid_argument");

  const json missing = Get("/api/search?q=shirt&missing=pr%E9ce", 400);
  EXPECT_EQ(missing["error"]["code"], "invalid_argument");
}

TEST_F(ServerEndToEnd, PageNearTwoToTheSixtyFourRejected) {
  // 9223372036854775809 x 2 wraps around to 2 in 64 bits.
  const json response = Get("/api/search?q=shirt&page=9223372036854775809&per_page=2", 400);
  EXPECT_EQ(response["error"]["code"], "invalid_argument");
}

TEST_F(ServerEndToEnd, UpsertAndDeleteAreLiveAndSurviveRestart) {
  const json product = {{"id", "e2e-1"},
                        {"title", "Zanzibar Unicorn Scarf"},
                        {"brand", "Zanzibar"},
                        {"price", 12.5},
                        {"currency", "EUR"},
                        {"attributes", {{"colour", "Purple"}, {"article_type", "Scarves"}}}};
  httplib::Client client("127.0.0.1", port_);
  auto put = client.Put("/api/products/e2e-1", product.dump(), "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(Ids(Get("/api/search?q=zanzibar%20unicorn")), std::vector<std::string>{"e2e-1"});

  auto put2 = client.Put("/api/products/e2e-2", json{{"title", "Zanzibar Unicorn Mittens"}}.dump(), "application/json");
  ASSERT_TRUE(put2);
  auto removed = client.Delete("/api/products/e2e-2");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->status, 200);
  Get("/api/products/e2e-2", 404);

  // Restart: the store is reloaded without re-ingesting, and the acknowledged events remain.
  const size_t products_before = Get("/api/health")["products"];
  const json event = {{"user_id", "shopper-restart"}, {"type", "click"}, {"product_id", "e2e-1"}};
  Post("/api/events", event.dump(), "application/json");
  EXPECT_EQ(server_->Stop(), 0) << "graceful shutdown failed";
  delete server_;
  server_ = new ServerProcess(data_dir_, port_, log_);
  ASSERT_TRUE(server_->WaitReady()) << ReadFile(log_);
  EXPECT_EQ(Get("/api/health")["products"].get<size_t>(), products_before);
  EXPECT_EQ(Ids(Get("/api/search?q=zanzibar%20unicorn")), std::vector<std::string>{"e2e-1"});
  Get("/api/products/e2e-2", 404);
  EXPECT_EQ(Get("/api/users/shopper-restart/profile")["events"], 1);
}

TEST_F(ServerEndToEnd, BatchKeepsEventsBeforeTheInvalidOne) {
  const std::vector<std::string> ids = Ids(Get("/api/search?q=watch"));
  ASSERT_GE(ids.size(), 2u);
  const json batch = {{"events",
                       {{{"user_id", "shopper-batch"}, {"type", "view"}, {"product_id", ids[0]}, {"event_id", "b-1"}},
                        {{"user_id", "shopper-batch"}, {"type", "click"}, {"product_id", ids[1]}, {"event_id", "b-1"}},
                        {{"user_id", "shopper-batch"}, {"type", "click"}, {"product_id", "no-such-id"}},
                        {{"user_id", "shopper-batch"}, {"type", "click"}, {"product_id", ids[0]}}}}};
  const json ack = Post("/api/events", batch.dump(), "application/json", 404);
  EXPECT_EQ(ack["accepted"], 2);
  EXPECT_EQ(ack["duplicates"], 1);
  const std::string message = ack["error"]["message"];
  EXPECT_NE(message.find("event 2"), std::string::npos) << message;
  EXPECT_NE(message.find("no-such-id"), std::string::npos) << message;
  EXPECT_EQ(Get("/api/users/shopper-batch/profile")["events"], 1);

  const json old = {{"user_id", "shopper-batch"}, {"type", "click"}, {"product_id", ids[0]}, {"timestamp", 1000000000000}};
  const json rejected = Post("/api/events", old.dump(), "application/json", 400);
  EXPECT_NE(rejected["error"]["message"].get<std::string>().find("retention cut-off"), std::string::npos)
      << rejected.dump();
}

TEST_F(ServerEndToEnd, MergeMovesAnonymousShopperAtLogin) {
  const std::vector<std::string> ids = Ids(Get("/api/search?q=watch"));
  ASSERT_FALSE(ids.empty());
  const json event = {{"user_id", "anon-e2e"}, {"type", "add_to_cart"}, {"product_id", ids[0]}};
  Post("/api/events", event.dump(), "application/json");

  const json merged = Post("/api/users/shopper-login/merge", json{{"from", "anon-e2e"}}.dump(), "application/json");
  EXPECT_EQ(merged["events_moved"], 1);
  EXPECT_EQ(Get("/api/users/shopper-login/profile")["events"], 1);
  EXPECT_EQ(Get("/api/users/anon-e2e/profile")["events"], 0);
  EXPECT_TRUE(Get("/api/users/anon-e2e/export")["events"].empty());
  EXPECT_TRUE(Get("/api/search?q=watch&user=shopper-login")["personalized"].get<bool>());

  const json same = Post("/api/users/shopper-login/merge", json{{"from", "shopper-login"}}.dump(), "application/json", 400);
  EXPECT_EQ(same["error"]["code"], "invalid_argument");
  const json unknown_field =
      Post("/api/users/shopper-login/merge", json{{"from", "anon-e2e"}, {"into", "x"}}.dump(), "application/json", 400);
  EXPECT_EQ(unknown_field["error"]["code"], "invalid_argument");
}

}  // namespace
