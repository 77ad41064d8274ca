// End to end, neural click model. The real `tessera` binary ingests a slice of the real catalogue,
// and espeak-ng speaks some judged queries. The click model trains on simulated clicks and on the
// real Best Buy sample, and must report on the test queries that train-ranker uses.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/model_file.h"
#include "e2e/e2e_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tessera::e2e;

constexpr size_t kClickSliceRows = 2000;

class ClickModelEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(DataDir() / "fashion" / "styles.csv")) GTEST_SKIP() << "fashion catalogue not found";
    root_ = fs::temp_directory_path() / ("tessera-click-e2e-" + std::to_string(getpid()));
    fs::remove_all(root_);
    const fs::path slice = MakeFashionSlice(root_ / "fashion-slice", kClickSliceRows);
    const std::string tessera = std::string(TESSERA_BINARY) + " --data-dir " + (root_ / "var").string();
    const std::string log = " 2>> " + (root_ / "setup.log").string();
    const std::string judgments = (root_ / "judgments.jsonl").string();
    const std::string voices = (root_ / "voices").string();

    setup_exit_code_ = RunCommand(tessera + " ingest --skip-speech --fashion " + slice.string() + " >/dev/null" + log);
    if (setup_exit_code_ == 0) {
      setup_exit_code_ = RunCommand(tessera + " eval --write-judgments " + judgments + " >/dev/null" + log);
    }
    if (setup_exit_code_ == 0) {
      setup_exit_code_ = RunCommand(std::string(TESSERA_SOURCE_DIR) + "/scripts/speak-judged-queries.sh " + judgments +
                                    " " + voices + " 8" + log);
    }
    if (setup_exit_code_ == 0) {
      // The same judged file as train-click-model, so both hold out the same queries.
      setup_exit_code_ = RunCommand(tessera + " train-ranker --rounds 20 --judgments " + judgments + " > " +
                                    (root_ / "ranker.json").string() + log);
    }
    if (setup_exit_code_ == 0) {
      setup_exit_code_ = RunCommand(tessera + " train-click-model --sessions 1000 --epochs 1 --judgments " + judgments +
                                    " --voice-dir " + voices + " > " + (root_ / "click.json").string() + log);
    }
  }

  static void TearDownTestSuite() {
    if (!root_.empty()) fs::remove_all(root_);
  }

  void SetUp() override { ASSERT_EQ(setup_exit_code_, 0) << ReadFile(root_ / "setup.log"); }

  static json ReadJson(const std::string& name) { return json::parse(ReadFile(root_ / name), nullptr, false); }

  static inline fs::path root_;
  static inline int setup_exit_code_ = -1;
};

// One test, because ctest runs every test in its own process and the setup (ingest, photo
// encoding, speech, training) takes minutes.
TEST_F(ClickModelEndToEnd, ReportsOnTrainRankerTestQueries) {
  const json click = ReadJson("click.json");
  const json ranker = ReadJson("ranker.json");
  ASSERT_TRUE(click.is_object());
  ASSERT_TRUE(ranker.is_object());

  // The same test queries as train-ranker.
  const int test_queries = ranker["test_queries"].get<int>();
  ASSERT_GT(test_queries, 0);
  EXPECT_EQ(click["split"]["test_queries"].get<int>(), test_queries);
  for (const char* method : {"bm25f", "retrieval", "neural_click", "neural_click_shown"}) {
    ASSERT_TRUE(click["test"].contains(method)) << method;
    EXPECT_EQ(click["test"][method]["all"]["queries"].get<int>(), test_queries) << method;
  }
  // The baselines are computed from the same rows, so they must agree with train-ranker's.
  EXPECT_DOUBLE_EQ(click["test"]["bm25f"]["all"]["ndcg_at_10"].get<double>(),
                   ranker["test"]["bm25f"]["all"]["ndcg_at_10"].get<double>());
  EXPECT_DOUBLE_EQ(click["test"]["retrieval"]["all"]["ndcg_at_10"].get<double>(),
                   ranker["test"]["retrieval"]["all"]["ndcg_at_10"].get<double>());

  // Held-out click metrics and the learned examination.
  const json& test = click["test_clicks"];
  EXPECT_GT(test["examples"].get<int>(), 0);
  EXPECT_GT(test["auc"].get<double>(), 0.5);
  EXPECT_GT(test["loss"].get<double>(), 0.0);
  EXPECT_GE(test["accuracy"].get<double>(), 0.0);
  EXPECT_EQ(click["simulation"]["sessions"].get<int>(), 1000);
  ASSERT_EQ(click["training"]["examination"].size(), 10u);
  EXPECT_DOUBLE_EQ(click["training"]["examination"][0].get<double>(), 1.0);

  // Spoken queries reached the audio branch.
  EXPECT_GT(click["spoken_queries"].get<int>(), 0);

  // The model file, in the common container, with its report beside it.
  const std::string path = click["model"]["path"].get<std::string>();
  EXPECT_EQ(path, (root_ / "var" / "models" / "click.model").string());
  const tessera::ModelFileKind kind{"TSCLICKM", 1, "click model", "tessera train-click-model"};
  tessera::Result<tessera::ModelFileParts> parts = tessera::ReadModelFile(kind, path);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  const json header = json::parse(parts->header, nullptr, false);
  EXPECT_EQ(header["model"], "tessera-click-model");
  EXPECT_EQ(header["features"].size(), 8u);
  EXPECT_TRUE(fs::exists(root_ / "var" / "models" / "click.report.json"));
}

// The Best Buy mode reads no store, so it needs no ingest.
TEST(ClickModelBestBuy, ReportsWhatTheSampleAllows) {
  const fs::path sample = DataDir() / "behaviour" / "bestbuy_search_clicks";
  if (!fs::exists(sample / "train.csv")) GTEST_SKIP() << "Best Buy sample not found";
  const fs::path root = fs::temp_directory_path() / ("tessera-bestbuy-e2e-" + std::to_string(getpid()));
  fs::create_directories(root);
  const int exit_code = RunCommand(std::string(TESSERA_BINARY) + " train-click-model --epochs 2 --bestbuy " +
                                   sample.string() + " --out " + (root / "bestbuy.model").string() + " > " +
                                   (root / "bestbuy.json").string() + " 2> " + (root / "bestbuy.log").string());
  ASSERT_EQ(exit_code, 0) << ReadFile(root / "bestbuy.log");
  const json report = json::parse(ReadFile(root / "bestbuy.json"), nullptr, false);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["clicks"].get<int>(), 999);
  EXPECT_GT(report["test"]["examples"].get<int>(), 0);
  const double auc = report["test"]["auc"].get<double>();
  EXPECT_GE(auc, 0.0);
  EXPECT_LE(auc, 1.0);
  EXPECT_TRUE(report.contains("test_sku_popularity_auc"));
  EXPECT_LT(report["test_clicked_skus_seen_in_training"].get<double>(), 0.5);
  EXPECT_TRUE(fs::exists(root / "bestbuy.model"));
  fs::remove_all(root);
}

}  // namespace
