// Feature rows written like `tessera features` writes them, read back for `tessera train-ranker
// --feature-rows`: the round trip, and every kind of bad row rejected with its line and fix.
#include <cmath>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/train_ranker.h"
#include "support/test_support.h"

namespace tessera {
namespace {

using nlohmann::json;
using testing_support::TempDir;

// A row of every feature, feature f set to f + offset, the photo cosine missing.
std::array<float, kFeatureCount> RowValues(float offset) {
  std::array<float, kFeatureCount> values;
  for (size_t f = 0; f < kFeatureCount; ++f) values[f] = static_cast<float>(f) + offset;
  values[static_cast<size_t>(Feature::kCosinePhoto)] = kMissingFeature;
  return values;
}

class FeatureRowsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()) << dir_.error(); }

  // Writes `lines` to a file and reads it back.
  Result<LoggedQueries> Read(const std::vector<std::string>& lines) {
    const std::string path = (dir_.path() / "rows.jsonl").string();
    std::ofstream out(path, std::ios::trunc);
    for (const std::string& line : lines) out << line << "\n";
    out.close();
    return ReadFeatureRows(path);
  }

  // A valid row of query `query_id` for `product_id`, as `tessera features` writes it.
  static json Row(const std::string& query_id, const std::string& product_id, float grade) {
    JudgedQuery query;
    query.id = query_id;
    query.text = "shirts";
    query.kind = "personal";
    return FeatureRowJson(query, 1, product_id, grade, RowValues(grade));
  }

  // Expects `lines` to be rejected with kInvalidArgument naming `line` and `fragment`.
  void ExpectRejected(const std::vector<std::string>& lines, int line, const std::string& fragment) {
    Result<LoggedQueries> read = Read(lines);
    ASSERT_FALSE(read.ok()) << fragment;
    EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument) << read.status().ToString();
    const std::string& message = read.status().message();
    EXPECT_NE(message.find("line " + std::to_string(line) + ":"), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_NE(message.find("tessera features"), std::string::npos) << message;
  }

  TempDir dir_{"tessera-feature-rows-"};
};

TEST_F(FeatureRowsTest, RowsReadBackAsWritten) {
  Result<LoggedQueries> read = Read({Row("s1-q1-e1", "p1", 2).dump(), Row("s1-q1-e1", "p2", 0).dump(),
                                     Row("s2-q1-e3", "p1", 3).dump()});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->rows.size(), 2u);
  const QueryRows& first = read->rows[0];
  EXPECT_EQ(first.query->id, "s1-q1-e1");
  EXPECT_EQ(first.query->text, "shirts");
  EXPECT_EQ(first.query->kind, "personal");
  EXPECT_EQ(first.rows.product_ids, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(first.labels, (std::vector<float>{2, 0}));
  // Only graded products enter the query's grades; its maximum is the highest grade.
  EXPECT_EQ(first.query->grades, (std::unordered_map<std::string, int>{{"p1", 2}}));
  EXPECT_EQ(first.query->max_grade, 2);
  ASSERT_EQ(first.rows.features.rows(), 2u);
  for (size_t f = 0; f < kFeatureCount; ++f) {
    const float expected = RowValues(2)[f];
    const float got = first.rows.features.Row(0)[f];
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(got)) << FeatureInfos()[f].name;
    } else {
      EXPECT_EQ(got, expected) << FeatureInfos()[f].name;
    }
  }
  EXPECT_EQ(read->rows[1].query->id, "s2-q1-e3");
  EXPECT_EQ(read->rows[1].labels, (std::vector<float>{3}));
}

TEST_F(FeatureRowsTest, BadRowsAreRejectedWithTheirLine) {
  const std::string good = Row("q1", "p1", 1).dump();
  ExpectRejected({good, "{\"query_id\": "}, 2, "not JSON");
  ExpectRejected({good, "[1, 2]"}, 2, "JSON object");

  json unknown_key = Row("q1", "p2", 1);
  unknown_key["user"] = "u1";
  ExpectRejected({good, unknown_key.dump()}, 2, "unknown key 'user'");

  json unknown_feature = Row("q1", "p2", 1);
  unknown_feature["features"]["shoe_size"] = 42;
  ExpectRejected({good, unknown_feature.dump()}, 2, "unknown feature 'shoe_size'");

  json missing_feature = Row("q1", "p2", 1);
  missing_feature["features"].erase("bm25f");
  ExpectRejected({good, missing_feature.dump()}, 2, "feature 'bm25f' is missing");

  json text_value = Row("q1", "p2", 1);
  text_value["features"]["price"] = "cheap";
  ExpectRejected({good, text_value.dump()}, 2, "feature 'price' must be a number or null");

  for (const json& grade : {json(-1), json(32), json(1.5), json("2")}) {
    json bad_grade = Row("q1", "p2", 1);
    bad_grade["grade"] = grade;
    ExpectRejected({good, bad_grade.dump()}, 2, "'grade' must be a whole number from 0 to 31");
  }

  json no_query = Row("q1", "p2", 1);
  no_query.erase("query_id");
  ExpectRejected({good, no_query.dump()}, 2, "'query_id' must be a non-empty string");

  ExpectRejected({good, good}, 2, "product 'p1' appears twice in query 'q1'");
  ExpectRejected({good, Row("q2", "p1", 1).dump(), Row("q1", "p3", 1).dump()}, 3,
                 "the rows of query 'q1' are not together");
}

TEST_F(FeatureRowsTest, EmptyAndMissingFilesAreRejected) {
  Result<LoggedQueries> empty = Read({"", "  "});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("has no feature rows"), std::string::npos) << empty.status().message();

  Result<LoggedQueries> missing = ReadFeatureRows((dir_.path() / "absent.jsonl").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera
