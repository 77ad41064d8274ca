#include "ingest/jsonl_reader.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/text.h"
#include "support/test_support.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

constexpr const char* kValidLine =
    R"({"id":"sku-1","title":"Navy Blue Shirt","description":"Cotton","brand":"Turtle",)"
    R"("category_path":["Apparel","Topwear","Shirts"],"price":649.5,"currency":"INR",)"
    R"("attributes":{"colour":"Navy Blue","year":2011},"images":["/photos/1.jpg"],"availability":"preorder"})";

// Reads `text` as a JSONL catalogue and keeps every record the reader accepts.
struct ReadOutcome {
  Result<IngestReport> report = Status::Internal("not read");
  std::vector<CatalogRecord> records;
};

ReadOutcome Read(const std::string& text, const std::string& base_dir = "/catalogue") {
  ReadOutcome outcome;
  std::istringstream in(text);
  outcome.report = ReadJsonlCatalog(in, base_dir, [&](CatalogRecord&& record) {
    outcome.records.push_back(std::move(record));
    return Status::Ok();
  });
  return outcome;
}

// Parses one line that must be rejected and returns the field the reader would report.
std::string RejectedField(const std::string& line) {
  ReadOutcome outcome = Read(line);
  EXPECT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  if (!outcome.report.ok()) return "";
  EXPECT_EQ(outcome.report->accepted, 0u) << line;
  EXPECT_EQ(outcome.records.size(), 0u) << line;
  EXPECT_EQ(outcome.report->rejected, 1u) << line;
  if (outcome.report->rejections.size() != 1) return "";
  EXPECT_EQ(outcome.report->rejections[0].line, 1u);
  EXPECT_FALSE(outcome.report->rejections[0].reason.empty());
  return outcome.report->rejections[0].field;
}

TEST(JsonlReader, ValidLineBecomesUpsert) {
  ReadOutcome outcome = Read(kValidLine);
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->accepted, 1u);
  EXPECT_EQ(outcome.report->rejected, 0u);
  ASSERT_EQ(outcome.records.size(), 1u);

  const CatalogRecord& record = outcome.records[0];
  EXPECT_EQ(record.op, CatalogRecord::Op::kUpsert);
  EXPECT_EQ(record.line, 1u);
  const Product& p = record.product;
  EXPECT_EQ(p.id, "sku-1");
  EXPECT_EQ(p.title, "Navy Blue Shirt");
  EXPECT_EQ(p.description, "Cotton");
  EXPECT_EQ(p.brand, "Turtle");
  EXPECT_EQ(p.category_path, (std::vector<std::string>{"Apparel", "Topwear", "Shirts"}));
  ASSERT_TRUE(p.price.has_value());
  EXPECT_DOUBLE_EQ(*p.price, 649.5);
  EXPECT_EQ(p.currency, "INR");
  EXPECT_EQ(p.Attribute("colour"), "Navy Blue");
  EXPECT_EQ(p.Attribute("year"), "2011");
  EXPECT_EQ(p.image_paths, (std::vector<std::string>{"/photos/1.jpg"}));
  EXPECT_EQ(p.availability, Availability::kPreorder);
}

TEST(JsonlReader, Latin1LineRejectedWithUtf8Reason) {
  // The import endpoint sends each reason inside a JSON body, which cannot carry invalid UTF-8.
  ReadOutcome outcome = Read("{\"id\": \"sku-1\", \"title\": \"Caf\xE9 Shirt\"}");
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  ASSERT_EQ(outcome.report->rejections.size(), 1u);
  const std::string& reason = outcome.report->rejections[0].reason;
  EXPECT_TRUE(IsValidUtf8(reason)) << reason;
  EXPECT_NE(reason.find("Caf\xEF\xBF\xBD Shirt"), std::string::npos) << reason;
}

TEST(JsonlReader, RejectsMissingId) {
  EXPECT_EQ(RejectedField(R"({"title":"Shirt"})"), "id");
}

TEST(JsonlReader, RejectsMissingTitle) {
  EXPECT_EQ(RejectedField(R"({"id":"a"})"), "title");
}

TEST(JsonlReader, RejectsIdWithBadCharacters) {
  EXPECT_EQ(RejectedField(R"({"id":"a b","title":"Shirt"})"), "id");
  EXPECT_EQ(RejectedField(R"({"id":"a/b","title":"Shirt"})"), "id");
}

TEST(JsonlReader, RejectsNegativePrice) {
  EXPECT_EQ(RejectedField(R"({"id":"a","title":"Shirt","price":-3,"currency":"USD"})"), "price");
}

TEST(JsonlReader, RejectsNanPrice) {
  // JSON has no NaN literal, so a sender's NaN is malformed JSON and names no field.
  EXPECT_EQ(RejectedField(R"({"id":"a","title":"Shirt","price":NaN,"currency":"USD"})"), "record");
}

TEST(JsonlReader, RejectsPriceWithoutCurrency) {
  EXPECT_EQ(RejectedField(R"({"id":"a","title":"Shirt","price":10})"), "currency");
}

TEST(JsonlReader, RejectsUnknownField) {
  EXPECT_EQ(RejectedField(R"({"id":"a","title":"Shirt","colour":"red"})"), "colour");
}

TEST(JsonlReader, RejectsWrongTypes) {
  const struct {
    const char* line;
    const char* field;
  } cases[] = {
      {R"({"id":1.5,"title":"Shirt"})", "id"},
      {R"({"id":"a","title":7})", "title"},
      {R"({"id":"a","title":"Shirt","description":["x"]})", "description"},
      {R"({"id":"a","title":"Shirt","brand":true})", "brand"},
      {R"({"id":"a","title":"Shirt","price":"10","currency":"USD"})", "price"},
      {R"({"id":"a","title":"Shirt","currency":5})", "currency"},
      {R"({"id":"a","title":"Shirt","category_path":"Apparel"})", "category_path"},
      {R"({"id":"a","title":"Shirt","category_path":["Apparel",3]})", "category_path"},
      {R"({"id":"a","title":"Shirt","images":"a.jpg"})", "images"},
      {R"({"id":"a","title":"Shirt","attributes":["red"]})", "attributes"},
      {R"({"id":"a","title":"Shirt","attributes":{"colour":true}})", "colour"},
      {R"({"id":"a","title":"Shirt","availability":1})", "availability"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RejectedField(c.line), c.field) << c.line;
  }
}

TEST(JsonlReader, RejectsUnknownAvailability) {
  EXPECT_EQ(RejectedField(R"({"id":"a","title":"Shirt","availability":"sold_out"})"), "availability");
}

TEST(JsonlReader, RejectsInvalidUtf8) {
  // The JSON parser rejects the line before any field is read.
  EXPECT_EQ(RejectedField("{\"id\":\"a\",\"title\":\"bad \xC3( title\"}"), "record");
}

TEST(JsonlReader, RejectsMalformedJson) {
  EXPECT_EQ(RejectedField(R"({"id":"a","title":)"), "record");
}

TEST(JsonlReader, RejectsNonObjectLine) {
  EXPECT_EQ(RejectedField(R"(["a","Shirt"])"), "record");
}

TEST(JsonlReader, RejectsUnknownOp) {
  EXPECT_EQ(RejectedField(R"({"op":"remove","id":"a"})"), "op");
}

TEST(JsonlReader, RejectsOverlongLine) {
  const std::string line = R"({"id":"a","title":"Shirt","description":")" +
                           std::string(kMaxJsonlLineBytes, 'x') + R"("})";
  EXPECT_EQ(RejectedField(line), "record");
}

TEST(JsonlReader, RejectedLinesReportedValidLinesKept) {
  const std::string text = std::string(R"({"id":"a","title":"First"})") + "\n" +
                           R"({"id":"b"})" + "\n" +
                           R"({"id":"c","title":"Third"})" + "\n" +
                           R"({"id":"d","title":"Shirt","price":-1,"currency":"USD"})" + "\n" +
                           R"({"id":"e","title":"Fifth"})" + "\n";
  ReadOutcome outcome = Read(text);
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->accepted, 3u);
  EXPECT_EQ(outcome.report->rejected, 2u);

  ASSERT_EQ(outcome.records.size(), 3u);
  EXPECT_EQ(outcome.records[0].product.id, "a");
  EXPECT_EQ(outcome.records[1].product.id, "c");
  EXPECT_EQ(outcome.records[2].product.id, "e");
  EXPECT_EQ(outcome.records[2].line, 5u);

  ASSERT_EQ(outcome.report->rejections.size(), 2u);
  EXPECT_EQ(outcome.report->rejections[0].line, 2u);
  EXPECT_EQ(outcome.report->rejections[0].field, "title");
  EXPECT_EQ(outcome.report->rejections[1].line, 4u);
  EXPECT_EQ(outcome.report->rejections[1].field, "price");
}

TEST(JsonlReader, EveryLineAccountedFor) {
  // Every non-blank line is accepted, deleted or rejected, so none is dropped silently.
  std::string text;
  for (int i = 0; i < 30; ++i) {
    if (i % 3 == 0) {
      text += R"({"id":"p)" + std::to_string(i) + R"(","title":"Shirt"})";
    } else if (i % 3 == 1) {
      text += R"({"op":"delete","id":"p)" + std::to_string(i) + R"("})";
    } else {
      text += R"({"id":"p)" + std::to_string(i) + R"("})";
    }
    text += "\n";
  }
  ReadOutcome outcome = Read(text);
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->accepted, 10u);
  EXPECT_EQ(outcome.report->deleted, 10u);
  EXPECT_EQ(outcome.report->rejected, 10u);
  EXPECT_EQ(outcome.records.size(), 20u);
}

TEST(JsonlReader, DeleteRecordCarriesOnlyId) {
  ReadOutcome outcome = Read(R"({"op":"delete","id":"sku-1"})");
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->deleted, 1u);
  EXPECT_EQ(outcome.report->accepted, 0u);
  ASSERT_EQ(outcome.records.size(), 1u);
  EXPECT_EQ(outcome.records[0].op, CatalogRecord::Op::kDelete);
  EXPECT_EQ(outcome.records[0].product.id, "sku-1");
  EXPECT_EQ(outcome.records[0].product.title, "");
  EXPECT_EQ(outcome.records[0].line, 1u);
}

TEST(JsonlReader, DeleteWithoutIdRejected) {
  EXPECT_EQ(RejectedField(R"({"op":"delete"})"), "id");
  EXPECT_EQ(RejectedField(R"({"op":"delete","id":""})"), "id");
  EXPECT_EQ(RejectedField(R"({"op":"delete","id":5})"), "id");
}

TEST(JsonlReader, ExplicitUpsertOpAccepted) {
  ReadOutcome outcome = Read(R"({"op":"upsert","id":"a","title":"Shirt"})");
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  ASSERT_EQ(outcome.records.size(), 1u);
  EXPECT_EQ(outcome.records[0].op, CatalogRecord::Op::kUpsert);
}

TEST(JsonlReader, CrlfAndBlankLinesHandled) {
  const std::string text = std::string(R"({"id":"a","title":"First"})") + "\r\n" +
                           "\r\n" +
                           "   \t \r\n" +
                           R"({"id":"b"})" + "\r\n" +
                           R"({"id":"c","title":"Last"})" + "\r\n";
  ReadOutcome outcome = Read(text);
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->accepted, 2u);
  EXPECT_EQ(outcome.report->rejected, 1u);
  ASSERT_EQ(outcome.records.size(), 2u);
  EXPECT_EQ(outcome.records[0].product.title, "First");
  EXPECT_EQ(outcome.records[1].product.title, "Last");
  EXPECT_EQ(outcome.records[1].line, 5u);
  ASSERT_EQ(outcome.report->rejections.size(), 1u);
  EXPECT_EQ(outcome.report->rejections[0].line, 4u);
}

TEST(JsonlReader, LastLineWithoutNewlineRead) {
  ReadOutcome outcome = Read(std::string(R"({"id":"a","title":"A"})") + "\n" + R"({"id":"b","title":"B"})");
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->accepted, 2u);
}

TEST(JsonlReader, EmptyInputGivesEmptyReport) {
  ReadOutcome outcome = Read("");
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->accepted, 0u);
  EXPECT_EQ(outcome.report->rejected, 0u);
  EXPECT_EQ(outcome.report->deleted, 0u);
}

TEST(JsonlReader, SinkErrorStopsReading) {
  std::istringstream in(std::string(R"({"id":"a","title":"A"})") + "\n" + R"({"id":"b","title":"B"})" + "\n");
  int calls = 0;
  Result<IngestReport> report = ReadJsonlCatalog(in, "", [&](CatalogRecord&&) {
    ++calls;
    return Status::IoError("store write failed");
  });
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kIoError);
  EXPECT_EQ(calls, 1);
}

TEST(JsonlReader, KeepsFirstThousandRejectionsCountsAll) {
  std::string text;
  const size_t bad_lines = IngestReport::kMaxKeptRejections + 5;
  for (size_t i = 0; i < bad_lines; ++i) text += "{\"id\":\"a\"}\n";
  text += "{\"id\":\"a\",\"title\":\"Kept\"}\n";
  ReadOutcome outcome = Read(text);
  ASSERT_TRUE(outcome.report.ok()) << outcome.report.status().ToString();
  EXPECT_EQ(outcome.report->rejected, bad_lines);
  EXPECT_EQ(outcome.report->rejections.size(), IngestReport::kMaxKeptRejections);
  EXPECT_EQ(outcome.report->accepted, 1u);
}

TEST(ParseCatalogLine, ResolvesRelativeImagesAgainstBaseDir) {
  Result<CatalogRecord> record =
      ParseCatalogLine(R"({"id":"a","title":"Shirt","images":["img/a.jpg","/abs/b.jpg"]})", "/feeds/spring");
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->product.image_paths, (std::vector<std::string>{"/feeds/spring/img/a.jpg", "/abs/b.jpg"}));
}

class JsonlFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty()) << temp_dir_.error();
    dir_ = temp_dir_.path();
  }

  void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good()) << path;
  }

  TempDir temp_dir_{"tessera-jsonl-"};
  fs::path dir_;
};

TEST_F(JsonlFileTest, RelativeImagesResolveAgainstFileFolder) {
  const fs::path file = dir_ / "feeds" / "catalogue.jsonl";
  Write(file, R"({"id":"a","title":"Shirt","images":["photos/a.jpg","../photos/b.jpg","/abs/c.jpg"]})" "\n");

  std::vector<CatalogRecord> records;
  Result<IngestReport> report = ReadJsonlCatalogFile(file.string(), [&](CatalogRecord&& record) {
    records.push_back(std::move(record));
    return Status::Ok();
  });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(records.size(), 1u);
  const std::vector<std::string> expected = {(dir_ / "feeds" / "photos" / "a.jpg").string(),
                                             (dir_ / "photos" / "b.jpg").string(), "/abs/c.jpg"};
  EXPECT_EQ(records[0].product.image_paths, expected);
}

TEST_F(JsonlFileTest, RelativeFilePathResolvesAgainstAbsoluteFolder) {
  Write(dir_ / "catalogue.jsonl", R"({"id":"a","title":"Shirt","images":["a.jpg"]})" "\n");
  const fs::path previous = fs::current_path();
  fs::current_path(dir_);

  std::vector<CatalogRecord> records;
  Result<IngestReport> report = ReadJsonlCatalogFile("catalogue.jsonl", [&](CatalogRecord&& record) {
    records.push_back(std::move(record));
    return Status::Ok();
  });
  fs::current_path(previous);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(records.size(), 1u);
  ASSERT_EQ(records[0].product.image_paths.size(), 1u);
  EXPECT_EQ(records[0].product.image_paths[0], (fs::canonical(dir_) / "a.jpg").string());
}

TEST_F(JsonlFileTest, MissingFileIsNotFound) {
  Result<IngestReport> report =
      ReadJsonlCatalogFile((dir_ / "absent.jsonl").string(), [](CatalogRecord&&) { return Status::Ok(); });
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera
