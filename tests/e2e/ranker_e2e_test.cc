// End to end, learned ranking: `tessera train-ranker` trains on a slice of the real catalogue,
// `tessera features` logs the feature rows offline, and the server, started with the trained
// model, must serve the same feature values, explain every score, and swap models under load.
#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/model_file.h"
#include "e2e/e2e_support.h"
#include "rank/features.h"
#include "rank/xgboost_ranker.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tessera::e2e;

// Rows of styles.csv in this suite's slice: enough judged queries for a training split.
constexpr size_t kRankerSliceRows = 2000;

class RankerEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(DataDir() / "fashion" / "styles.csv")) GTEST_SKIP() << "fashion catalogue not found";
    root_ = fs::temp_directory_path() / ("tessera-ranker-e2e-" + std::to_string(getpid()));
    // Every test of the suite gets its own copy of one ingest, training and feature log.
    setup_exit_code_ = CopyPrepared("ranker-slice-" + std::to_string(kRankerSliceRows), root_, [](const fs::path& folder) {
      const fs::path slice = MakeFashionSlice(folder / "fashion-slice", kRankerSliceRows);
      // The consensus features are off by default; on here, so the served ones are compared too.
      const std::string tessera = std::string(TESSERA_BINARY) + " --data-dir " + (folder / "var").string() +
                                  " --synonyms " + TESSERA_SOURCE_DIR + "/config/synonyms/fashion.txt" +
                                  " --consensus-depth 3";
      const std::string log = " >> " + (folder / "setup.log").string() + " 2>&1";
      int exit_code = RunCommand(tessera + " ingest --skip-speech --fashion " + slice.string() + log);
      if (exit_code == 0) {
        exit_code = RunCommand(tessera + " train-ranker --rounds 60 > " + (folder / "train.json").string() + " 2>> " +
                               (folder / "setup.log").string());
      }
      if (exit_code == 0) {
        exit_code = RunCommand(tessera + " features --out " + (folder / "features.jsonl").string() + log);
      }
      return exit_code;
    });
    data_dir_ = root_ / "var";
    if (setup_exit_code_ != 0) return;
    port_ = FreeLoopbackPort();
    server_ = new ServerProcess(data_dir_, port_, root_ / "server.log");
    ready_ = server_->WaitReady();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    if (!root_.empty()) fs::remove_all(root_);
  }

  void SetUp() override {
    ASSERT_EQ(setup_exit_code_, 0) << ReadFile(root_ / "setup.log");
    ASSERT_TRUE(ready_) << ReadFile(root_ / "server.log");
  }

  static httplib::Result Send(const std::string& method, const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    return method == "GET" ? client.Get(path) : client.Post(path, "", "application/json");
  }

  static json Search(const std::string& query, const std::string& extra = "") {
    auto res = Send("GET", "/api/search?explain=true&facets=false&q=" + httplib::detail::encode_query_param(query) + extra);
    EXPECT_TRUE(res) << query;
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body, nullptr, false);
  }

  static inline fs::path root_, data_dir_;
  static inline int port_ = 0;
  static inline int setup_exit_code_ = -1;
  static inline bool ready_ = false;
  static inline ServerProcess* server_ = nullptr;
};

TEST_F(RankerEndToEnd, TrainingReportComparesEveryMethod) {
  const json report = json::parse(ReadFile(root_ / "train.json"), nullptr, false);
  ASSERT_TRUE(report.is_object());
  for (const char* method : {"bm25f", "retrieval", "linear", "lambdamart"}) {
    ASSERT_TRUE(report["test"].contains(method)) << method;
    EXPECT_GT(report["test"][method]["all"]["ndcg_at_10"].get<double>(), 0.0) << method;
  }
  EXPECT_GT(report["test_queries"].get<int>(), 0);
  EXPECT_EQ(report["model"]["kind"], "lambdamart");
}

TEST_F(RankerEndToEnd, ContributionsSumToTheRelevance) {
  const json response = Search("navy blue men shirts", "&per_page=20");
  EXPECT_EQ(response["ranker"], "lambdamart");
  ASSERT_FALSE(response["results"].empty());
  for (const json& result : response["results"]) {
    const json& explain = result["explain"];
    double sum = explain["bias"].get<double>();
    for (const auto& [name, contribution] : explain["contributions"].items()) sum += contribution.get<double>();
    EXPECT_NEAR(sum, explain["relevance"].get<double>(), 1e-3) << result["id"];
    EXPECT_EQ(explain["features"].size(), tessera::kFeatureCount) << result["id"];
    EXPECT_NEAR(result["score"].get<double>(), explain["relevance"].get<double>() + explain["personal_boost"].get<double>(),
                1e-5);
  }
}

// The offline feature log and the server compute every feature identically, missing values
// (null) included, for text queries and for photo queries (the photo file posted to the server,
// its stored vector offline).
TEST_F(RankerEndToEnd, ServedFeaturesEqualTheFeatureLog) {
  struct LoggedQuery {
    std::string text;
    std::string photo_product_id;              // photo queries only
    std::map<std::string, json> by_product;    // product id -> features
  };
  std::map<std::string, LoggedQuery> logged;   // query id -> rows
  std::vector<std::string> text_ids, photo_ids;
  std::ifstream in(root_ / "features.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json row = json::parse(line);
    const std::string id = row["query_id"];
    if (!logged.contains(id)) {
      const bool photo = row["kind"] == "photo";
      (photo ? photo_ids : text_ids).push_back(id);
      logged[id] = {row["query"], photo ? row["photo_product_id"].get<std::string>() : "", {}};
    }
    logged[id].by_product[row["product_id"]] = row["features"];
  }
  ASSERT_GE(text_ids.size(), 10u);
  ASSERT_GE(photo_ids.size(), 5u);

  size_t compared = 0, nulls = 0, photo_compared = 0, photo_consensus = 0;
  auto compare = [&](const std::string& id, const json& response) {
    const LoggedQuery& query = logged[id];
    for (const json& result : response["results"]) {
      if (result["id"] == query.photo_product_id) continue;  // the photo's own product is not logged
      auto row = query.by_product.find(result["id"]);
      ASSERT_NE(row, query.by_product.end()) << id << ": " << result["id"] << " not in the log";
      for (const auto& [name, value] : row->second.items()) {
        EXPECT_EQ(result["explain"]["features"][name], value) << id << ", " << result["id"] << ", " << name;
        if (value.is_null()) ++nulls;
      }
      // The consensus features read the head of the retrieval order, which the server must
      // rebuild exactly for photo queries too.
      if (!query.photo_product_id.empty() && !row->second["consensus_article_type"].is_null()) ++photo_consensus;
      ++compared;
      if (!query.photo_product_id.empty()) ++photo_compared;
    }
  };
  for (size_t q = 0; q < text_ids.size(); q += text_ids.size() / 10) {
    compare(text_ids[q], Search(logged[text_ids[q]].text, "&per_page=100"));
  }
  for (size_t q = 0; q < photo_ids.size(); q += std::max<size_t>(1, photo_ids.size() / 5)) {
    const std::string& product = logged[photo_ids[q]].photo_product_id;
    const std::string photo = ReadFile(DataDir() / "fashion" / "images" / (product + ".jpg"));
    ASSERT_FALSE(photo.empty()) << product;
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    auto res = client.Post("/api/search/image?explain=true&facets=false&per_page=100", photo, "image/jpeg");
    ASSERT_TRUE(res) << photo_ids[q];
    ASSERT_EQ(res->status, 200) << res->body;
    compare(photo_ids[q], json::parse(res->body));
  }
  EXPECT_GT(compared, 100u);
  EXPECT_GT(photo_compared, 50u);
  EXPECT_GT(photo_consensus, 50u);
  EXPECT_GT(nulls, 0u);  // the fashion catalogue has no prices: missing values were compared
}

TEST_F(RankerEndToEnd, ModelReloadKeepsServingUnderLoad) {
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, requests{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&] {
      // Bounded: at most 300 requests per client, and the main thread stops them after its reloads.
      for (int i = 0; i < 300 && !stop; ++i) {
        auto res = Send("GET", "/api/search?q=shirts&per_page=24&facets=false");
        ++requests;
        if (!res || res->status != 200) ++failures;
      }
    });
  }
  for (int reload = 0; reload < 5; ++reload) {
    auto res = Send("POST", "/api/models/ranker/reload");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_GT(requests.load(), 0);
  EXPECT_EQ(failures.load(), 0) << "of " << requests.load() << " requests";
}

TEST_F(RankerEndToEnd, MismatchedModelIsRejectedAndTheOldOneStays) {
  const fs::path model = data_dir_ / "models" / "ranker.model";
  const std::string original = ReadFile(model);
  const tessera::ModelFileKind kind{"TSRANKER", tessera::kRankerFormatVersion, "ranker model", "tessera train-ranker"};
  tessera::Result<tessera::ModelFileParts> parts = tessera::ReadModelFile(kind, model.string());
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  json header = json::parse(parts->header);
  header["features"][0] = "shoe_size";
  ASSERT_TRUE(tessera::WriteFileAtomically(model.string(), tessera::PackModelFile(kind, header.dump(), parts->payload)).ok());

  auto rejected = Send("POST", "/api/models/ranker/reload");
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 400) << rejected->body;
  EXPECT_NE(rejected->body.find("shoe_size"), std::string::npos) << rejected->body;
  EXPECT_EQ(Search("shirts")["ranker"], "lambdamart");

  ASSERT_TRUE(tessera::WriteFileAtomically(model.string(), original).ok());
  auto restored = Send("POST", "/api/models/ranker/reload");
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->status, 200) << restored->body;
  auto status = Send("GET", "/api/models");
  ASSERT_TRUE(status);
  EXPECT_EQ(json::parse(status->body)["ranker"]["name"], "lambdamart");
  // Trained on judged queries alone, whose searches name no shopper.
  EXPECT_EQ(json::parse(status->body)["ranker"]["learned_personal"], false);
}

}  // namespace
