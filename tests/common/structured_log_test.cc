#include "common/structured_log.h"

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

namespace tessera {
namespace {

// Logs through a default logger that writes to a string, in `format`.
class CapturedLog {
 public:
  explicit CapturedLog(LogFormat format) : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    SetLogFormat(format);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(StructuredLog, TextQuotesValuesThatNeedIt) {
  CapturedLog log(LogFormat::kText);
  LogEvent(spdlog::level::warn, "slow request",
           {{"route", "search.text"}, {"query", "navy \"blue\" shirt"}, {"took_ms", 1204}, {"empty", ""}});
  const std::string line = log.text();
  EXPECT_NE(line.find(" level=warning msg=\"slow request\" route=search.text query=\"navy \\\"blue\\\" shirt\" took_ms=1204 empty=\"\"\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.rfind("ts=", 0), 0u) << line;
}

TEST(StructuredLog, JsonKeepsNumbersAndEscapesText) {
  CapturedLog log(LogFormat::kJson);
  LogEvent(spdlog::level::err, "request failed", {{"status", 500}, {"error", "bad\nline \x01"}, {"ok", false}});
  const nlohmann::json line = nlohmann::json::parse(log.text());
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["msg"], "request failed");
  EXPECT_EQ(line["status"], 500);
  EXPECT_EQ(line["error"], "bad\nline \x01");
  EXPECT_EQ(line["ok"], false);
}

TEST(StructuredLog, PlainMessagesBecomeMsgField) {
  CapturedLog log(LogFormat::kJson);
  spdlog::info("ranker {} loaded", "lambdamart");
  const nlohmann::json line = nlohmann::json::parse(log.text());
  EXPECT_EQ(line["msg"], "ranker lambdamart loaded");
}

TEST(StructuredLog, UnknownFormatNameRejected) {
  EXPECT_TRUE(LogFormatFromName("json").ok());
  const Result<LogFormat> unknown = LogFormatFromName("xml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("xml"), std::string::npos);
}

}  // namespace
}  // namespace tessera
