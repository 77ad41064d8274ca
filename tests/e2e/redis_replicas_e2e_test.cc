// End to end with several replicas: a redis-server and three `tessera serve` processes on
// loopback, each with its own copy of one ingested slice of the fashion catalogue, all sharing
// events, profiles and catalogue changes through the Redis.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_support.h"
#include "personalize/user_key.h"
#include "store/redis_client.h"
#include "support/redis_test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tessera::e2e;
using tessera::RedisClient;
using tessera::RedisOptions;
using tessera::RedisReply;
using tessera::Result;
using tessera::testing_support::FreeRedisPort;
using tessera::testing_support::RedisServerProcess;

// Rows of styles.csv in the slice: about 75 T-shirts in many colours, and a fast ingest.
constexpr size_t kSliceRows = 600;
const std::vector<std::string> kReplicaNames = {"a", "b", "c"};

class RedisReplicasEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path fashion = DataDir() / "fashion";
    if (!fs::exists(fashion / "styles.csv")) GTEST_SKIP() << "fashion catalogue not found at " << fashion;
    if (RunCommand("command -v redis-server > /dev/null") != 0) GTEST_SKIP() << "redis-server not installed";
    root_ = fs::temp_directory_path() / ("tessera-redis-e2e-" + std::to_string(getpid()));
    fs::remove_all(root_);
    const fs::path slice = MakeFashionSlice(root_ / "fashion-slice", kSliceRows);

    // One ingest; each replica gets a copy, with the same user-id key.
    const fs::path first = root_ / "var-a";
    const std::string ingest = std::string(TESSERA_BINARY) + " --data-dir " + first.string() +
                               " --photo-encoder colour-shape ingest --skip-speech --fashion " + slice.string() +
                               " > " + (root_ / "ingest.log").string() + " 2>&1";
    ingest_exit_code_ = RunCommand(ingest);
    if (ingest_exit_code_ != 0) return;
    if (with_joint_space_) {
      TrainJointSpace(first);
      if (ingest_exit_code_ != 0) return;
    }
    for (size_t i = 1; i < kReplicaNames.size(); ++i) {
      fs::copy(first, DataDirOf(i), fs::copy_options::recursive);
    }

    redis_ = new RedisServerProcess(root_ / "redis", FreeRedisPort());
    redis_started_ = redis_->Start();
    RedisOptions options;
    options.port = redis_->port();
    options.min_retry_delay = std::chrono::milliseconds(1);
    options.max_retry_delay = std::chrono::milliseconds(1);
    redis_client_ = new RedisClient(options);
    for (size_t i = 0; i < kReplicaNames.size(); ++i) StartReplica(i);
  }

  // Trains a small joint space (about 2 s) into `data_dir`, so that its replicas keep session
  // vectors. The other tests run without one, because its vector retrieval adds results to
  // their queries.
  static void TrainJointSpace(const fs::path& data_dir) {
    const std::string train = std::string(TESSERA_BINARY) + " --data-dir " + data_dir.string() +
                              " train-encoders --photo-encoder colour-shape-v1 --epochs 2 --dim 16"
                              " --photo-hidden-dim 16 --threads 1 --holdout 0 --validation 0 --patience 0"
                              " --type-loss-weight 0 --type-colour-loss-weight 0 >> " +
                              (root_ / "ingest.log").string() + " 2>&1";
    ingest_exit_code_ = RunCommand(train);
  }

  static void TearDownTestSuite() {
    for (auto& replica : replicas_) replica.reset();
    delete redis_client_;
    redis_client_ = nullptr;
    delete redis_;
    redis_ = nullptr;
    if (!root_.empty()) fs::remove_all(root_);
  }

  void SetUp() override {
    ASSERT_EQ(ingest_exit_code_, 0) << ReadFile(root_ / "ingest.log");
    ASSERT_TRUE(redis_started_) << ReadFile(root_ / "redis" / "redis.log");
    for (size_t i = 0; i < kReplicaNames.size(); ++i) ASSERT_TRUE(ready_[i]) << ReadFile(LogOf(i));
  }

  static fs::path DataDirOf(size_t replica) { return root_ / ("var-" + kReplicaNames[replica]); }
  static fs::path LogOf(size_t replica) { return root_ / ("server-" + kReplicaNames[replica] + ".log"); }

  // Starts replica `i` (again) on its port with its data dir, and waits until it serves.
  static void StartReplica(size_t i, const fs::path& data_dir = {}, const std::string& name = "") {
    if (ports_[i] == 0) ports_[i] = FreeLoopbackPort();
    replicas_[i].reset();
    replicas_[i] = std::make_unique<ServerProcess>(
        data_dir.empty() ? DataDirOf(i) : data_dir, ports_[i], LogOf(i),
        std::vector<std::string>{"--profile-store", redis_->url(), "--replica-name",
                                 name.empty() ? kReplicaNames[i] : name, "--photo-encoder", "colour-shape",
                                 "--web-dir", ""});
    ready_[i] = replicas_[i]->WaitReady();
  }

  static httplib::Result Send(size_t replica, const std::string& method, const std::string& path,
                              const std::string& body = "") {
    httplib::Client client("127.0.0.1", ports_[replica]);
    client.set_read_timeout(30, 0);
    if (method == "GET") return client.Get(path);
    if (method == "DELETE") return client.Delete(path);
    if (method == "PUT") return client.Put(path, body, "application/json");
    return client.Post(path, body, "application/json");
  }

  static json Get(size_t replica, const std::string& path, int expected_status = 200) {
    auto res = Send(replica, "GET", path);
    EXPECT_TRUE(res) << "GET " << path << " failed";
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << path << ": " << res->body;
    return json::parse(res->body, nullptr, false);
  }

  static json Click(size_t replica, const std::string& user, const std::string& product_id, const std::string& event_id = "") {
    json event = {{"user_id", user}, {"type", "click"}, {"product_id", product_id}};
    if (!event_id.empty()) event["event_id"] = event_id;
    auto res = Send(replica, "POST", "/api/events", event.dump());
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body, nullptr, false);
  }

  static std::vector<std::string> Ids(const json& response) {
    std::vector<std::string> ids;
    for (const json& r : response["results"]) ids.push_back(r["id"].get<std::string>());
    return ids;
  }

  // Searches replica `i` until `accept` holds for the response or 5 s pass; returns the last one.
  template <typename Predicate>
  static json SearchUntil(size_t replica, const std::string& path, Predicate accept) {
    json response;
    for (int attempt = 0; attempt < 100; ++attempt) {
      response = Get(replica, path);
      if (accept(response)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return response;
  }

  // Product id -> weighted event count (views + 2 clicks + 4 carts + 8 purchases) and
  // click-through, read from the ranking features of the top `per_page` results of "tshirts".
  static std::map<std::string, std::pair<double, double>> ProductCounts(size_t replica, size_t per_page = 10) {
    std::map<std::string, std::pair<double, double>> counts;
    const json response = Get(replica, "/api/search?q=tshirts&explain=true&per_page=" + std::to_string(per_page));
    for (const json& r : response["results"]) {
      const json& features = r["explain"]["features"];
      // popularity = log(1 + weighted count), a float: round back to the count.
      counts[r["id"]] = {std::round(std::expm1(features["popularity"].get<double>())),
                         features["click_through"].get<double>()};
    }
    return counts;
  }

  // Every Redis key whose name contains `text`.
  static std::vector<std::string> RedisKeysContaining(const std::string& text) {
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      Result<RedisReply> page = redis_client_->Command({"SCAN", cursor, "MATCH", "*" + text + "*", "COUNT", "1000"});
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      cursor = page->elements[0].text;
      for (const RedisReply& key : page->elements[1].elements) keys.push_back(key.text);
    } while (cursor != "0");
    return keys;
  }

  static std::string UserKeyHex(const std::string& user_id) {
    Result<tessera::UserKeyer> keyer = tessera::UserKeyer::LoadOrCreate((DataDirOf(0) / "secrets" / "user-id.key").string());
    EXPECT_TRUE(keyer.ok());
    return keyer.ok() ? keyer->Key(user_id).substr(1) : "";
  }

  static inline fs::path root_;
  static inline int ingest_exit_code_ = -1;
  // Set by the fixture of the session tests before the suite starts.
  static inline bool with_joint_space_ = false;
  static inline RedisServerProcess* redis_ = nullptr;
  static inline RedisClient* redis_client_ = nullptr;
  static inline bool redis_started_ = false;
  static inline std::unique_ptr<ServerProcess> replicas_[3];
  static inline int ports_[3] = {0, 0, 0};
  static inline bool ready_[3] = {false, false, false};
};

TEST_F(RedisReplicasEndToEnd, ClickReranksSearchOnOtherReplica) {
  const std::string query = "/api/search?q=tshirts&per_page=10";
  const json before_ana = Get(1, query + "&user=ana");
  const json before_bob = Get(1, query + "&user=bob");
  ASSERT_EQ(Ids(before_ana), Ids(before_bob));

  // A colour rare in the top 10 but present deeper down; ana clicks three of its products on A.
  const json deep = Get(1, "/api/search?q=tshirts&per_page=100");
  std::map<std::string, int> colours_in_top;
  for (const json& r : before_ana["results"]) ++colours_in_top[r["attributes"].value("colour", "")];
  std::map<std::string, std::vector<std::string>> deeper_by_colour;
  for (size_t i = 10; i < deep["results"].size(); ++i) {
    const json& r = deep["results"][i];
    if (r["attributes"]["article_type"] != "Tshirts") continue;
    deeper_by_colour[r["attributes"].value("colour", "")].push_back(r["id"]);
  }
  std::string target;
  for (const auto& [colour, ids] : deeper_by_colour) {
    if (!colour.empty() && ids.size() >= 3 && colours_in_top[colour] <= 1) target = colour;
  }
  ASSERT_FALSE(target.empty()) << "no colour to click in the slice";
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(Click(0, "ana", deeper_by_colour[target][i])["accepted"], 1);

  // The very next search on B, with no wait, moves toward the colour for ana only.
  const json after_ana = Get(1, query + "&user=ana");
  const json after_bob = Get(1, query + "&user=bob");
  auto count_target = [&](const json& response) {
    int count = 0;
    for (const json& r : response["results"]) count += r["attributes"].value("colour", "") == target;
    return count;
  };
  EXPECT_GT(count_target(after_ana), count_target(before_ana)) << "colour " << target;
  EXPECT_TRUE(after_ana["personalized"].get<bool>());
  EXPECT_EQ(Ids(after_bob), Ids(before_bob));
  EXPECT_FALSE(after_bob["personalized"].get<bool>());
  // The third replica reads the same profile.
  EXPECT_EQ(Get(2, "/api/users/ana/profile")["events"], 3);
}

// The same replicas with a joint space, so that they keep session vectors.
class RedisReplicaSessionsEndToEnd : public RedisReplicasEndToEnd {
 protected:
  static void SetUpTestSuite() {
    with_joint_space_ = true;
    RedisReplicasEndToEnd::SetUpTestSuite();
  }
  static void TearDownTestSuite() {
    RedisReplicasEndToEnd::TearDownTestSuite();
    with_joint_space_ = false;
  }
};

TEST_F(RedisReplicaSessionsEndToEnd, ClickSetsSessionTermOnOtherReplica) {
  const std::string query = "/api/search?q=tshirts&per_page=10&explain=true";
  const std::vector<std::string> before = Ids(Get(1, query));
  ASSERT_GE(before.size(), 2u);
  const std::string clicked = before[1];
  // An explained hit's session fields, by product id.
  auto session_of = [](const json& response) {
    std::map<std::string, std::pair<double, double>> by_id;
    for (const json& r : response["results"]) {
      by_id[r["id"]] = {r["explain"]["session_cosine"].get<double>(),
                        r["explain"]["personal_boost_session"].get<double>()};
    }
    return by_id;
  };

  // cara clicks on A in the session visit-1. dan clicked another product on C in a session of
  // the same id three hours ago, past the two hours after which a session expires, so he has a
  // profile but no live session.
  const json click = {{"user_id", "cara"}, {"type", "click"}, {"product_id", clicked}, {"session_id", "visit-1"}};
  auto sent = Send(0, "POST", "/api/events", click.dump());
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;
  const int64_t three_hours_ago_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() -
      3 * 3600 * 1000;
  const json old_click = {{"user_id", "dan"},         {"type", "click"},
                          {"product_id", before[0]},  {"session_id", "visit-1"},
                          {"timestamp", three_hours_ago_ms}};
  sent = Send(2, "POST", "/api/events", old_click.dump());
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;

  // cara's very next search on B, with no wait, has the session term of the clicked product:
  // the session contains only that product, so the cosine is 1.
  for (const char* session : {"", "&session=visit-1"}) {
    const json response = Get(1, query + "&user=cara" + session);
    EXPECT_FALSE(response.contains("warnings")) << response.value("warnings", json()).dump();
    auto hits = session_of(response);
    ASSERT_TRUE(hits.contains(clicked)) << session;
    EXPECT_NEAR(hits[clicked].first, 1.0, 1e-4) << session;
    EXPECT_GT(hits[clicked].second, 0.0) << session;
  }
  // A rebuilds the session from the same stored events, so its term is the same.
  auto on_b = session_of(Get(1, query + "&user=cara"));
  auto on_a = session_of(Get(0, query + "&user=cara"));
  ASSERT_TRUE(on_a.contains(clicked));
  EXPECT_NEAR(on_a[clicked].second, on_b[clicked].second, 1e-6);
  // A session cara never had adds nothing.
  for (const auto& [id, hit] : session_of(Get(1, query + "&user=cara&session=visit-9"))) {
    EXPECT_EQ(hit.second, 0.0) << id;
  }

  // No other shopper gets a session term: not dan, whose session of the same id expired, and not a
  // shopper without events.
  for (const char* other : {"dan&session=visit-1", "dan", "erin"}) {
    const json response = Get(1, query + "&user=" + other);
    for (const auto& [id, hit] : session_of(response)) {
      EXPECT_EQ(hit.first, 0.0) << other << " " << id;
      EXPECT_EQ(hit.second, 0.0) << other << " " << id;
    }
  }
  EXPECT_TRUE(Get(1, query + "&user=dan")["personalized"].get<bool>());

  // Erasure on C removes cara's session on every replica.
  ASSERT_EQ(Send(2, "DELETE", "/api/users/cara")->status, 200);
  for (size_t replica = 0; replica < 2; ++replica) {
    for (const auto& [id, hit] : session_of(Get(replica, query + "&user=cara"))) {
      EXPECT_EQ(hit.second, 0.0) << "replica " << kReplicaNames[replica] << " " << id;
    }
  }
}

TEST_F(RedisReplicasEndToEnd, ErasureLeavesNothingOnAnyReplica) {
  const json deep = Get(0, "/api/search?q=tshirts&per_page=5");
  ASSERT_FALSE(deep["results"].empty());
  const std::string product = deep["results"][0]["id"];
  Click(0, "erin", product, "erin-1");
  Click(1, "erin", product, "erin-2");
  ASSERT_EQ(Get(2, "/api/users/erin/profile")["events"], 2);
  const std::string hex = UserKeyHex("erin");
  ASSERT_FALSE(RedisKeysContaining(hex).empty());

  auto erased = Send(2, "DELETE", "/api/users/erin");
  ASSERT_TRUE(erased);
  EXPECT_EQ(erased->status, 200) << erased->body;

  for (size_t replica = 0; replica < kReplicaNames.size(); ++replica) {
    const json exported = Get(replica, "/api/users/erin/export");
    EXPECT_TRUE(exported["events"].empty()) << "replica " << kReplicaNames[replica];
    EXPECT_TRUE(exported["profile"].is_null()) << "replica " << kReplicaNames[replica];
    EXPECT_FALSE(Get(replica, "/api/search?q=tshirts&user=erin")["personalized"].get<bool>());
  }
  EXPECT_TRUE(RedisKeysContaining(hex).empty());
  EXPECT_TRUE(RedisKeysContaining("erin").empty());
  // Nor is the shopper in any value: the shared streams carry no user key.
  for (const char* stream : {"tessera:events", "tessera:catalog"}) {
    Result<RedisReply> entries = redis_client_->Command({"XRANGE", stream, "-", "+"});
    ASSERT_TRUE(entries.ok());
    for (const RedisReply& entry : entries->elements) {
      for (const RedisReply& field : entry.elements[1].elements) {
        EXPECT_EQ(field.text.find(hex), std::string::npos) << stream << " " << entry.elements[0].text;
      }
    }
  }
}

TEST_F(RedisReplicasEndToEnd, RedisDownKeepsSearchRejectsEvents) {
  const json results = Get(0, "/api/search?q=tshirts&per_page=5");
  ASSERT_FALSE(results["results"].empty());
  const std::string product = results["results"][0]["id"];
  Click(0, "dana", product, "dana-1");
  Click(1, "dana", product, "dana-2");

  redis_->Stop(SIGKILL);
  // Searches go on, unpersonalized and saying so.
  const json degraded = Get(0, "/api/search?q=tshirts&user=dana&per_page=5");
  EXPECT_FALSE(degraded["personalized"].get<bool>());
  EXPECT_EQ(Ids(degraded), Ids(Get(0, "/api/search?q=tshirts&per_page=5")));
  EXPECT_NE(degraded["warnings"].dump().find("profile store"), std::string::npos) << degraded.dump();
  // Events are rejected with a retryable error naming the store, not dropped.
  auto rejected = Send(1, "POST", "/api/events",
                      json{{"user_id", "dana"}, {"type", "click"}, {"product_id", product}, {"event_id", "dana-3"}}.dump());
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 503) << rejected->body;
  EXPECT_EQ(rejected->get_header_value("Retry-After"), "1");
  const json error = json::parse(rejected->body, nullptr, false);
  EXPECT_EQ(error["error"]["code"], "profile_store_unavailable") << rejected->body;
  auto metrics = Send(0, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("tessera_profile_store_errors_total 0\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("tessera_profile_store_errors_total "), std::string::npos);

  // Back up on the same files: the retried event is accepted, and none acknowledged was lost.
  ASSERT_TRUE(redis_->Start()) << ReadFile(root_ / "redis" / "redis.log");
  int retried_status = 0;
  std::string retried_body;
  for (int attempt = 0; attempt < 100 && retried_status != 200; ++attempt) {
    auto retried = Send(1, "POST", "/api/events",
                        json{{"user_id", "dana"}, {"type", "click"}, {"product_id", product}, {"event_id", "dana-3"}}.dump());
    retried_status = retried ? retried->status : 0;
    retried_body = retried ? retried->body : "no response";
    if (retried_status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(retried_status, 200) << retried_body;
  const json exported = Get(2, "/api/users/dana/export");
  ASSERT_EQ(exported["events"].size(), 3u) << exported.dump();
  EXPECT_TRUE(SearchUntil(0, "/api/search?q=tshirts&user=dana", [](const json& r) {
                return r["personalized"].get<bool>();
              })["personalized"].get<bool>());
}

TEST_F(RedisReplicasEndToEnd, CatalogueChangeReachesOtherReplicas) {
  const json product = {{"id", "redis-e2e-1"},
                        {"title", "Zanzibar Unicorn Scarf"},
                        {"brand", "Zanzibar"},
                        {"price", 12.5},
                        {"currency", "EUR"},
                        {"attributes", {{"colour", "Purple"}, {"article_type", "Scarves"}}}};
  auto put = Send(0, "PUT", "/api/products/redis-e2e-1", product.dump());
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 200) << put->body;
  // Searchable on the receiving replica when the PUT returns, and on the others moments later.
  EXPECT_EQ(Ids(Get(0, "/api/search?q=zanzibar%20unicorn")), std::vector<std::string>{"redis-e2e-1"});
  for (size_t replica : {1, 2}) {
    const json found = SearchUntil(replica, "/api/search?q=zanzibar%20unicorn",
                                   [](const json& r) { return !r["results"].empty(); });
    EXPECT_EQ(Ids(found), std::vector<std::string>{"redis-e2e-1"}) << "replica " << kReplicaNames[replica];
  }

  auto removed = Send(1, "DELETE", "/api/products/redis-e2e-1");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->status, 200) << removed->body;
  for (size_t replica : {0, 2}) {
    const json after_delete = SearchUntil(replica, "/api/search?q=zanzibar%20unicorn",
                                  [](const json& r) { return r["results"].empty(); });
    EXPECT_TRUE(after_delete["results"].empty()) << "replica " << kReplicaNames[replica];
  }
}

TEST_F(RedisReplicasEndToEnd, StoppedAndNewReplicasCatchUp) {
  const json product = {{"id", "redis-e2e-2"}, {"title", "Quokka Velvet Slippers"}, {"brand", "Quokka"}};
  ASSERT_EQ(Send(0, "PUT", "/api/products/redis-e2e-2", product.dump())->status, 200);
  ASSERT_EQ(Ids(SearchUntil(2, "/api/search?q=quokka", [](const json& r) { return !r["results"].empty(); })),
            std::vector<std::string>{"redis-e2e-2"});

  // C stops; its data dir is copied for a new replica D; the catalogue changes meanwhile.
  ASSERT_EQ(replicas_[2]->Stop(), 0);
  const fs::path copy = root_ / "var-d";
  fs::copy(DataDirOf(2), copy, fs::copy_options::recursive);
  const std::string first_id = Ids(Get(0, "/api/search?q=tshirts&per_page=1")).at(0);
  ASSERT_EQ(Send(1, "DELETE", "/api/products/redis-e2e-2")->status, 200);
  ASSERT_EQ(Send(0, "PUT", "/api/products/redis-e2e-3",
                 json{{"id", "redis-e2e-3"}, {"title", "Quokka Linen Hat"}, {"brand", "Quokka"}}.dump())->status,
            200);
  ASSERT_EQ(Send(1, "DELETE", "/api/products/" + first_id)->status, 200);

  // C resumes from its consumer group, D from the position saved in the copied data dir.
  StartReplica(2);
  ASSERT_TRUE(ready_[2]) << ReadFile(LogOf(2));
  EXPECT_EQ(Ids(Get(2, "/api/search?q=quokka")), std::vector<std::string>{"redis-e2e-3"});
  Get(2, "/api/products/" + first_id, 404);

  const int d_port = FreeLoopbackPort();
  ServerProcess d(copy, d_port, root_ / "server-d.log",
                  {"--profile-store", redis_->url(), "--replica-name", "d", "--photo-encoder", "colour-shape",
                   "--web-dir", ""});
  ASSERT_TRUE(d.WaitReady()) << ReadFile(root_ / "server-d.log");
  httplib::Client client("127.0.0.1", d_port);
  auto found = client.Get("/api/search?q=quokka");
  ASSERT_TRUE(found);
  EXPECT_EQ(Ids(json::parse(found->body)), std::vector<std::string>{"redis-e2e-3"});
  auto deleted = client.Get("/api/products/" + first_id);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 404);
  EXPECT_NE(ReadFile(root_ / "server-d.log").find("consumer group d created at entry"), std::string::npos);
}

TEST_F(RedisReplicasEndToEnd, KilledReplicaLosesNoAcknowledgedWrite) {
  // C acknowledges a catalogue change and a shopper's event, then dies without a chance to flush.
  const json product = {{"id", "redis-e2e-5"}, {"title", "Wombat Corduroy Jacket"}, {"brand", "Wombat"}};
  ASSERT_EQ(Send(2, "PUT", "/api/products/redis-e2e-5", product.dump())->status, 200);
  EXPECT_EQ(Click(2, "cara", "redis-e2e-5", "cara-click-1")["accepted"], 1);
  EXPECT_EQ(replicas_[2]->Stop(SIGKILL), -1);

  // Both writes reached the shared log before C acknowledged them, so A has them.
  EXPECT_EQ(Ids(SearchUntil(0, "/api/search?q=wombat", [](const json& r) { return !r["results"].empty(); })),
            std::vector<std::string>{"redis-e2e-5"});
  EXPECT_EQ(Get(0, "/api/users/cara/profile")["events"], 1);

  // C restarts from its killed data dir and serves both.
  StartReplica(2);
  ASSERT_TRUE(ready_[2]) << ReadFile(LogOf(2));
  EXPECT_EQ(Ids(SearchUntil(2, "/api/search?q=wombat", [](const json& r) { return !r["results"].empty(); })),
            std::vector<std::string>{"redis-e2e-5"});
  EXPECT_EQ(Get(2, "/api/users/cara/profile")["events"], 1);
}

TEST_F(RedisReplicasEndToEnd, KilledReplicaCountsEachEventOnce) {
  const std::map<std::string, std::pair<double, double>> before = ProductCounts(0);
  ASSERT_EQ(before.size(), 10u);
  std::vector<std::string> products;
  for (const auto& [id, counts] : before) products.push_back(id);

  // Clicks flow to A while C is killed and restarted; at most 2,000, and they stop when C is back.
  std::atomic<bool> stop = false;
  std::map<std::string, int> accepted_clicks;
  std::thread sender([&] {
    for (int i = 0; i < 2000 && !stop.load(); ++i) {
      const std::string& product = products[i % products.size()];
      const json event = {{"user_id", "flow-" + std::to_string(i % 7)}, {"type", "click"}, {"product_id", product},
                          {"event_id", "flow-" + std::to_string(i)}};
      auto res = Send(0, "POST", "/api/events", event.dump());
      if (res && res->status == 200) ++accepted_clicks[product];
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(replicas_[2]->Stop(SIGKILL), -1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  StartReplica(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop.store(true);
  sender.join();
  ASSERT_TRUE(ready_[2]) << ReadFile(LogOf(2));
  ASSERT_FALSE(accepted_clicks.empty());

  // Every replica, the restarted one included, counts each accepted click exactly once.
  std::map<std::string, double> expected;
  for (const auto& [id, counts] : before) expected[id] = counts.first + 2.0 * accepted_clicks[id];
  std::vector<std::map<std::string, std::pair<double, double>>> counts(kReplicaNames.size());
  for (size_t replica = 0; replica < kReplicaNames.size(); ++replica) {
    // Replicas apply the shared stream within milliseconds; wait up to 5 s.
    for (int attempt = 0; attempt < 100; ++attempt) {
      counts[replica] = ProductCounts(replica);
      bool settled = counts[replica].size() == expected.size();
      for (const auto& [id, weighted] : expected) settled = settled && counts[replica][id].first == weighted;
      if (settled) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (const auto& [id, weighted] : expected) {
      EXPECT_EQ(counts[replica][id].first, weighted) << "replica " << kReplicaNames[replica] << ", product " << id;
      // Click-through also reads the catalogue-wide totals, which must agree too.
      EXPECT_EQ(counts[replica][id].second, counts[0][id].second)
          << "replica " << kReplicaNames[replica] << ", product " << id;
    }
  }
}

TEST_F(RedisReplicasEndToEnd, CopiedDataDirResumesCounts) {
  // Clicks that C counts before its data dir is copied, so that the copy contains counts.
  const std::map<std::string, std::pair<double, double>> before = ProductCounts(0);
  ASSERT_FALSE(before.empty());
  const std::string product = before.begin()->first;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Click(0, "precopy-" + std::to_string(i), product, "precopy-" + std::to_string(i))["accepted"], 1);
  }
  double counted_by_c = -1;
  for (int attempt = 0; attempt < 100 && counted_by_c != before.at(product).first + 6; ++attempt) {
    counted_by_c = ProductCounts(2)[product].first;
    if (counted_by_c != before.at(product).first + 6) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(counted_by_c, before.at(product).first + 6);

  // C stops and its data dir, counts included, is copied for a new replica E.
  ASSERT_EQ(replicas_[2]->Stop(), 0);
  const fs::path copy = root_ / "var-e";
  fs::copy(DataDirOf(2), copy, fs::copy_options::recursive);
  StartReplica(2);
  ASSERT_TRUE(ready_[2]) << ReadFile(LogOf(2));

  // Clicks made after the copy: E must count them once, on top of the copied counts.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Click(1, "copy-" + std::to_string(i), product, "copy-" + std::to_string(i))["accepted"], 1);
  }
  const double expected = before.at(product).first + 2.0 * (3 + 5);

  const int e_port = FreeLoopbackPort();
  ServerProcess e(copy, e_port, root_ / "server-e.log",
                  {"--profile-store", redis_->url(), "--replica-name", "e", "--photo-encoder", "colour-shape",
                   "--web-dir", ""});
  ASSERT_TRUE(e.WaitReady()) << ReadFile(root_ / "server-e.log");
  httplib::Client client("127.0.0.1", e_port);
  double counted = -1;
  for (int attempt = 0; attempt < 100 && counted != expected; ++attempt) {
    auto found = client.Get("/api/search?q=tshirts&explain=true&per_page=10");
    ASSERT_TRUE(found);
    const json response = json::parse(found->body);
    for (const json& r : response["results"]) {
      if (r["id"] == product) counted = std::round(std::expm1(r["explain"]["features"]["popularity"].get<double>()));
    }
    if (counted != expected) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(counted, expected) << "product " << product;
  EXPECT_NE(ReadFile(root_ / "server-e.log").find("consumer group e of tessera:events created at entry"),
            std::string::npos);
}

}  // namespace
